"""Saved adapters get the modes the user's umask gives, not a temporary directory's 0700/0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cultura.adapt import artifact
from cultura.adapt.artifact import atomic_directory, current_umask


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[path.relative_to(root).as_posix()] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.mark.parametrize(("mask", "dir_mode", "file_mode"), [
    (0o022, 0o755, 0o644), (0o077, 0o700, 0o600), (0o027, 0o750, 0o640),
])
def test_atomic_directory_follows_the_umask(umask, tmp_path: Path, mask: int, dir_mode: int,
                                            file_mode: int) -> None:
    os.umask(mask)
    target = tmp_path / "adapter"
    with atomic_directory(target) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "a.json").write_text("{}")
        private = tmp / "weights.safetensors"  # what a writer using mkstemp leaves
        private.write_bytes(b"")
        private.chmod(0o600)
    assert modes(target) == {".": dir_mode, "sub": dir_mode, "sub/a.json": file_mode,
                             "weights.safetensors": file_mode}


def test_umask_is_read_with_and_without_proc(umask, monkeypatch: pytest.MonkeyPatch) -> None:
    os.umask(0o027)
    assert current_umask() == 0o027

    def no_proc(*args: object, **kwargs: object) -> None:
        raise OSError("no /proc here")

    monkeypatch.setattr(artifact, "open", no_proc, raising=False)
    assert current_umask() == 0o027
    assert os.umask(0o027) == 0o027  # the fallback restored it


def test_saved_adapter_follows_the_umask(umask, trained, tmp_path: Path) -> None:
    os.umask(0o022)
    out = trained.model.save_pretrained(tmp_path / "adapter")
    found = modes(Path(out))
    assert found["."] == 0o755
    assert {found[rel] for rel in found if (Path(out) / rel).is_file()} == {0o644}


@pytest.mark.parametrize(("mask", "file_mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_write_atomic_follows_the_umask_and_replaces_whole(
    umask, tmp_path: Path, mask: int, file_mode: int
) -> None:
    from cultura.adapt.artifact import write_atomic
    from cultura.registry.lockfile import Lockfile

    os.umask(mask)
    target = tmp_path / "cultura.json"
    target.write_text("old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == file_mode
    assert [p.name for p in tmp_path.iterdir()] == ["cultura.json"]  # no temporary left
    lock = Lockfile(tmp_path / "cultura.lock")
    lock.write()  # a lockfile is meant to be shared: not mkstemp's 0600
    assert stat.S_IMODE(lock.path.stat().st_mode) == file_mode
