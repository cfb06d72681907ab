"""Fixtures for the hostile-Hub suite: a sandbox whose every file is watched, and a builder of
malicious repos on a :class:`~cultura.testing.hub.LocalHub`.

The registry fixtures (isolated registry, local Hub, tiny base model, real artifacts) are the
ones of ``tests/registry/conftest.py``, imported from there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cultura.registry.store import LocalRegistry
from cultura.testing.hub import LocalHub

_spec = importlib.util.spec_from_file_location(
    "cultura_tests_registry_conftest", Path(__file__).parents[1] / "registry" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_registry = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_registry)

registry_env = _registry.registry_env
local_hub = _registry.local_hub
tiny_base = _registry.tiny_base
other_base = _registry.other_base
artifact_store = _registry.artifact_store
artifact = _registry.artifact
hf_api = _registry.hf_api

CLI = Path(sys.executable).with_name("cultura")


@dataclass
class Sandbox:
    """A test's whole world: the registry root, an ``outside`` folder with a canary file, the
    Hugging Face cache (``HF_HOME``/``HF_HUB_CACHE``) — all under one temporary folder."""

    root: Path
    home: Path
    outside: Path
    hf_home: Path

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """Every file under the sandbox: relative path -> (size, mtime in ns)."""
        out = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file() or path.is_symlink():
                stat = path.lstat()
                out[path.relative_to(self.root).as_posix()] = (stat.st_size, stat.st_mtime_ns)
        return out

    def assert_untouched(self, before: dict[str, tuple[int, int]]) -> None:
        """Nothing changed outside the registry root; the registry holds no adapter and no
        staging leftover; the Hugging Face cache (``HF_HUB_CACHE``) stayed empty."""
        after = self.snapshot()
        home = self.home.relative_to(self.root).as_posix() + "/"
        changed = sorted(p for p in set(before) | set(after)
                         if before.get(p) != after.get(p) and not p.startswith(home))
        assert changed == [], f"files changed outside the registry root: {changed}"
        assert LocalRegistry(self.home).entries() == []
        adapters = self.home / "adapters"
        assert not adapters.exists() or not [p for p in adapters.rglob("*") if p.is_file()]
        tmp = self.home / "tmp"
        assert not tmp.exists() or list(tmp.iterdir()) == [], list(tmp.iterdir())
        cache = self.hf_home / "hub"
        assert not cache.exists() or not [p for p in cache.rglob("*") if p.is_file()]


@pytest.fixture
def sandbox(tmp_path: Path, registry_env: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    from huggingface_hub import constants

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "canary.txt").write_text("must not change\n")
    hf_home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(constants, "HF_HOME", str(hf_home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_home / "hub"))
    return Sandbox(tmp_path, registry_env, outside, hf_home)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def hostile(
    local_hub: LocalHub, hf_api: Any, artifact: Callable[..., Path]
) -> Callable[..., str]:
    """``hostile(repo_id, edit=None, files=None)`` publishes a copy of a real artifact as
    ``repo_id`` the raw way (no cultura checks), after writing ``files`` (name -> bytes; each
    listed in ``cultura.json`` with its true sha256) and applying ``edit`` to the manifest
    dict. Returns the repo id."""

    def build(repo_id: str, edit: Callable[[dict[str, Any]], None] | None = None,
              files: dict[str, bytes] | None = None) -> str:
        folder = artifact()
        manifest = json.loads((folder / "cultura.json").read_text())
        for rel, data in (files or {}).items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
            manifest["files"][rel] = sha256(folder / rel)
        if edit is not None:
            edit(manifest)
        (folder / "cultura.json").write_text(json.dumps(manifest))
        hf_api.create_repo(repo_id)
        hf_api.upload_folder(repo_id=repo_id, folder_path=folder)
        return repo_id

    return build


def requested(hub: LocalHub, suffix: str) -> list[str]:
    """Paths of download requests for files ending with ``suffix``."""
    return [r.path for r in hub.log if "/resolve/" in r.path and r.path.endswith(suffix)]


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``cultura ARGS`` in a subprocess with the current environment (plus ``env``)."""
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def assert_clean_failure(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    """Exit code 1, one ``error:`` line naming ``needle``, no traceback."""
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
