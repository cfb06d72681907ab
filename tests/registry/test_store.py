"""The local registry: install, list, find, remove; atomic and safe under concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cultura.adapt.artifact import ArtifactError, verify_artifact
from cultura.registry.store import ENTRY_FILE, LocalRegistry, Origin, RegistryError


def test_install_list_find_remove(artifact: Callable[..., Path], registry_env: Path) -> None:
    registry = LocalRegistry()
    assert registry.home == registry_env
    source = artifact("zh-Hant")
    entry = registry.install(source)
    assert entry.name == "zh-Hant/sentiment"
    assert entry.origin.kind == "local" and entry.origin.path == str(source.resolve())
    assert entry.path.parent == registry_env / "adapters" / "zh-Hant" / "sentiment"
    verify_artifact(entry.path)  # a complete, verified copy
    assert set(entry.files) >= {"cultura.json", "adapter_model.safetensors", "README.md"}
    assert json.loads((entry.path / ENTRY_FILE).read_text())["entry_id"] == entry.entry_id

    assert registry.entries() == [entry]
    assert registry.entries("zh") == []
    assert registry.find("zh-TW/sentiment") == []  # find is exact; resolution walks the chain
    assert registry.find("zh-Hant/sentiment") == [entry]
    assert registry.find(f"./{os.path.relpath(entry.path)}") == [entry]

    again = registry.install(source)  # same content: the same entry, not a copy
    assert again == entry and len(registry.entries()) == 1

    other = registry.install(artifact("zh-Hant", seed=1))  # other content: a second entry
    assert other.entry_id != entry.entry_id
    assert len(registry.find("zh-Hant/sentiment")) == 2

    removed = registry.remove("zh-Hant/sentiment")
    assert {e.entry_id for e in removed} == {entry.entry_id, other.entry_id}
    assert registry.entries() == [] and not entry.path.exists()


def test_hub_origin_and_revision_matching(artifact: Callable[..., Path]) -> None:
    registry = LocalRegistry()
    commit = "0123456789abcdef0123456789abcdef01234567"
    entry = registry.install(artifact(), origin=Origin("hub", repo_id="org/zh", commit=commit,
                                                       revision="v1"))
    assert entry.entry_id == "org--zh--0123456789ab"
    assert registry.find("hf:org/zh") == [entry]
    assert registry.find("hf:org/zh@v1") == [entry]
    assert registry.find(f"hf:org/zh@{commit[:7]}") == [entry]
    assert registry.find("hf:org/zh@v2") == []
    assert registry.find("zh/sentiment@v1") == [entry]
    assert registry.find_commit("org/zh", commit) == entry
    assert registry.remove("hf:org/other") == []
    assert registry.remove("hf:org/zh@v1") == [entry]


def test_install_refuses_a_tampered_artifact(artifact: Callable[..., Path]) -> None:
    source = artifact()
    weights = source / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ArtifactError, match="adapter_model.safetensors changed"):
        LocalRegistry().install(source)
    assert LocalRegistry().entries() == []


def test_verify_detects_damage_after_install(artifact: Callable[..., Path]) -> None:
    registry = LocalRegistry()
    entry = registry.install(artifact())
    (entry.path / "adapter_config.json").write_text("{}")
    with pytest.raises(RegistryError, match="adapter_config.json changed since it was installed"):
        registry.verify(entry)


def test_concurrent_installs_of_the_same_name_leave_one_complete_entry(
    artifact: Callable[..., Path], registry_env: Path
) -> None:
    """Six processes install the same adapter (and a second one) at the same time."""
    sources = [artifact(), artifact(seed=1)]
    script = (
        "import sys\n"
        "from cultura.registry.store import LocalRegistry\n"
        "print(LocalRegistry().install(sys.argv[1], overwrite=sys.argv[2] == '1').entry_id)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(sources[i % 2]), str(i % 3 == 0 and 1 or 0)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "CULTURA_HOME": str(registry_env)},
        )
        for i in range(6)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    ids = {out.strip() for out, _ in outputs}
    entries = LocalRegistry().entries()
    assert {e.entry_id for e in entries} == ids and len(entries) == 2
    for entry in entries:
        verify_artifact(entry.path)
        LocalRegistry().verify(entry)
    task_dir = registry_env / "adapters" / "zh" / "sentiment"
    assert sorted(p.name for p in task_dir.iterdir()) == sorted(ids)  # no temp or old dirs left
