"""cultura.lock: pins to a commit and the sha256 of every file; mismatches are hard errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import cultura
from cultura.adapt.artifact import sha256_file
from cultura.core.errors import DataError
from cultura.registry.errors import LockError, OfflineError
from cultura.registry.hub import publish
from cultura.registry.lockfile import Lockfile
from cultura.registry.resolve import lock, resolve
from cultura.registry.store import LocalRegistry, RegistryError
from cultura.testing.hub import LocalHub

from .conftest import TEXTS


def test_lock_pins_a_commit_and_loads_it_after_the_repo_moves_on(
    local_hub: LocalHub, artifact: Callable[..., Path], tiny_base: Path, tmp_path: Path
) -> None:
    from cultura.adapt.model import load_pretrained

    v1 = artifact("zh", seed=1)
    first = publish(v1, "org/zh")
    lockfile = lock(["zh/sentiment"], base=str(tiny_base))
    data = json.loads((tmp_path / "cultura.lock").read_text())
    pin = data["adapters"]["zh/sentiment"]
    assert (pin["repo"], pin["commit"]) == ("org/zh", first.commit)
    assert pin["files"]["cultura.json"] == sha256_file(v1 / "cultura.json")
    assert pin["files"]["adapter_model.safetensors"] == sha256_file(v1 / "adapter_model.safetensors")
    assert lockfile.get("zh/sentiment") is not None

    second = publish(artifact("zh", seed=2), "org/zh")  # the repo moves on
    LocalRegistry().remove("zh/sentiment")
    model = cultura.load("zh/sentiment", base=str(tiny_base))  # ./cultura.lock is used
    [entry] = LocalRegistry().entries()
    assert entry.origin.commit == first.commit != second.commit
    np.testing.assert_allclose(model.predict_proba(TEXTS)[0],
                               load_pretrained(v1).predict_proba(TEXTS)[0], atol=1e-6)
    res = resolve("zh/sentiment")
    assert res.chosen is not None and res.chosen.source == "lock"
    assert "every sha256 matches" in res.chosen.reason


def test_a_changed_installed_file_is_a_hard_error(
    local_hub: LocalHub, artifact: Callable[..., Path]
) -> None:
    publish(artifact("zh"), "org/zh")
    lock(["hf:org/zh"])
    [entry] = LocalRegistry().entries()
    (entry.path / "tokenizer_config.json").write_text("{}")
    with pytest.raises(LockError, match=r"hf:org/zh does not match .*cultura.lock: "
                       r"tokenizer_config.json has sha256"):
        cultura.load("hf:org/zh")
    with pytest.raises(LockError):
        resolve("hf:org/zh", lock="cultura.lock")
    with pytest.raises(RegistryError, match="damaged: tokenizer_config.json changed"):
        resolve("hf:org/zh", lock=False)  # without the lock, the install record catches it


def test_the_server_changing_files_consistently_is_caught_by_the_lock(
    local_hub: LocalHub, artifact: Callable[..., Path]
) -> None:
    """A server that replaces weights AND cultura.json (so the manifest check passes)."""
    publish(artifact("zh", seed=1), "org/zh")
    lock(["zh/sentiment"])
    LocalRegistry().remove("zh/sentiment")
    evil = artifact("zh", seed=2)
    for rel in ("adapter_model.safetensors", "cultura.json"):
        local_hub.tamper("org/zh", rel, data=(evil / rel).read_bytes())
    with pytest.raises(LockError, match="adapter_model.safetensors has sha256"):
        cultura.load("zh/sentiment")
    assert LocalRegistry().entries() == []  # what did not match the lock is not kept


def test_offline_with_a_pin_that_is_not_installed(
    local_hub: LocalHub, artifact: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(artifact("zh"), "org/zh")
    lock(["zh/sentiment"])
    LocalRegistry().remove("zh/sentiment")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="pinned in .*cultura.lock to hf:org/zh@.*offline"):
        cultura.load("zh/sentiment")


def test_lockfile_location_and_malformed_files(
    local_hub: LocalHub, artifact: Callable[..., Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = artifact("zh")
    publish(folder, "org/zh")
    elsewhere = tmp_path / "locks" / "prod.lock"
    lock(["hf:org/zh", f"{folder}"], output=elsewhere)
    pins = Lockfile.read(elsewhere)
    assert set(pins.entries) == {"hf:org/zh", str(folder)}
    assert pins.entries[str(folder)].repo is None
    monkeypatch.setenv("CULTURA_LOCK", str(elsewhere))
    assert resolve("hf:org/zh").chosen.source == "lock"  # type: ignore[union-attr]
    (folder / "adapter_config.json").write_text("{}")  # a pinned folder is checked too
    with pytest.raises(Exception, match="adapter_config.json"):
        resolve(str(folder))
    bad = tmp_path / "bad.lock"
    bad.write_text(json.dumps({"version": 1, "adapters": {"zh/sentiment": {"entry": "x"}}}))
    with pytest.raises(DataError, match=r"bad.lock: adapters\['zh/sentiment'\]: field 'files'"):
        resolve("zh/sentiment", lock=bad)
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        resolve("zh/sentiment", lock=bad)
    with pytest.raises(LockError, match="lockfile not found"):
        resolve("zh/sentiment", lock=tmp_path / "missing.lock")
