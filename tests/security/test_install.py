"""Installs stay under the registry root, whatever the artifact says; the local registry cleans
the leftovers of killed pulls; a lockfile is data too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cultura.adapt.artifact import ArtifactError
from cultura.core.errors import DataError
from cultura.registry.lockfile import Lockfile
from cultura.registry.store import LocalRegistry, _host

from .conftest import Sandbox, sha256


def _edit(folder: Path, **fields: object) -> Path:
    path = folder / "cultura.json"
    manifest = json.loads(path.read_text())
    manifest.update(fields)
    path.write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize("task", ["../../../outside/pwned", "/ABSOLUTE", "Sentiment", "a/b"])
def test_a_local_artifact_with_a_path_as_task_is_refused(
    sandbox: Sandbox, artifact: Callable[..., Path], task: str
) -> None:
    folder = _edit(artifact(), task=str(sandbox.outside / "abs") if task == "/ABSOLUTE" else task)
    before = sandbox.snapshot()
    with pytest.raises(ArtifactError, match="task"):
        LocalRegistry().install(folder)
    sandbox.assert_untouched(before)


def test_a_local_artifact_must_obey_the_allow_list(
    sandbox: Sandbox, artifact: Callable[..., Path]
) -> None:
    folder = artifact()
    (folder / "evil.py").write_text("print('pwned')\n")
    manifest = json.loads((folder / "cultura.json").read_text())
    manifest["files"]["evil.py"] = sha256(folder / "evil.py")
    (folder / "cultura.json").write_text(json.dumps(manifest))
    before = sandbox.snapshot()
    with pytest.raises(ArtifactError, match="evil.py.*not an allowed artifact file type"):
        LocalRegistry().install(folder)
    sandbox.assert_untouched(before)


def test_a_local_artifact_asking_for_remote_code_is_refused(
    sandbox: Sandbox, artifact: Callable[..., Path]
) -> None:
    folder = artifact()
    config = json.loads((folder / "adapter_config.json").read_text())
    config["auto_map"] = {"AutoModel": "evil.Model"}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    before = sandbox.snapshot()
    with pytest.raises(ArtifactError, match="auto_map"):
        LocalRegistry().install(folder)
    sandbox.assert_untouched(before)


def test_a_symlink_in_the_registry_cannot_redirect_an_install(
    sandbox: Sandbox, artifact: Callable[..., Path]
) -> None:
    adapters = sandbox.home / "adapters"
    adapters.mkdir(parents=True)
    (adapters / "zh").symlink_to(sandbox.outside, target_is_directory=True)
    source = artifact()
    before = sandbox.snapshot()
    with pytest.raises(ArtifactError, match="outside .*the adapter was refused"):
        LocalRegistry().install(source)
    assert not (sandbox.outside / "sentiment").exists()
    assert before == sandbox.snapshot()


def test_a_symlinked_source_file_is_not_followed_out_of_the_artifact(
    sandbox: Sandbox, artifact: Callable[..., Path]
) -> None:
    folder = artifact()
    secret = sandbox.outside / "secret.md"
    secret.write_bytes((folder / "README.md").read_bytes())
    (folder / "README.md").unlink()
    (folder / "README.md").symlink_to(secret)
    with pytest.raises(ArtifactError, match="the file .*README.md resolves to .*outside"):
        LocalRegistry().install(folder)
    assert LocalRegistry().entries() == []


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_leftovers_of_killed_pulls_are_removed_when_an_operation_starts(
    registry_env: Path, artifact: Callable[..., Path]
) -> None:
    registry = LocalRegistry()
    tmp = registry.tmp_dir()
    dead = tmp / f"pull-{_host()}-{_dead_pid()}-abc123"
    alive = tmp / f"pull-{_host()}-{os.getpid()}-def456"
    old_foreign = tmp / "pull-otherhost-1-ghi789"
    fresh_foreign = tmp / "pull-otherhost-2-jkl012"
    for folder in (dead, alive, old_foreign, fresh_foreign):
        (folder / "artifact").mkdir(parents=True)
        (folder / "artifact" / "adapter_model.safetensors").write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(old_foreign, (two_hours_ago, two_hours_ago))
    registry.install(artifact())  # any registry operation cleans first
    assert sorted(p.name for p in tmp.iterdir()) == sorted([alive.name, fresh_foreign.name])
    with registry.staging() as staging:
        assert staging.parent == tmp and staging.name.startswith(f"pull-{_host()}-{os.getpid()}-")
    assert not staging.exists()


@pytest.mark.parametrize(("field", "value", "match"), [
    ("repo", "../../x", "field 'repo'"),
    ("commit", "../../..", "field 'commit'"),
    ("task", "../../../x", "field 'task'"),
    ("culture", "../x", "field 'culture'"),
    ("files", {"../../etc/passwd.json": "0" * 64}, "unsafe file name"),
    ("files", {"adapter_config.json": "not-a-sha"}, "not a sha256"),
    ("entry", "../../x", "field 'entry'"),
])
def test_a_lockfile_is_validated_before_it_is_used(
    tmp_path: Path, field: str, value: object, match: str
) -> None:
    pin = {"repo": "org/zh", "commit": "0" * 40, "entry": "org--zh--000000000000",
           "culture": "zh", "task": "sentiment", "base_model": "x",
           "files": {"adapter_config.json": "0" * 64}}
    pin[field] = value
    path = tmp_path / "cultura.lock"
    path.write_text(json.dumps({"version": 1, "adapters": {"zh/sentiment": pin}}))
    with pytest.raises(DataError, match=match):
        Lockfile.read(path)
