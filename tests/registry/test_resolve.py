"""Resolution: local registry -> plugin-declared adapters -> Hub search, each walking the
fallback chain and filtering by base-model compatibility; --explain; offline mode."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import cultura
from cultura.core.plugins import reset_plugin_manager
from cultura.core.types import PublishedAdapter
from cultura.registry.errors import OfflineError, ResolutionError
from cultura.registry.hub import publish
from cultura.registry.resolve import resolve
from cultura.registry.store import LocalRegistry, Origin
from cultura.testing.hub import LocalHub

from .conftest import TEXTS, build_artifact, make_manager


def _hub_api_calls(hub: LocalHub) -> list[str]:
    return [r.path for r in hub.log if r.path.startswith("/api/models")]


def test_local_registry_comes_first_and_the_chain_is_walked(
    local_hub: LocalHub, artifact: Callable[..., Path], tiny_base: Path
) -> None:
    publish(artifact("zh-Hant-TW"), "org/zh-tw")  # more specific, but only on the Hub
    calls = len(_hub_api_calls(local_hub))
    local = LocalRegistry().install(artifact("zh-Hant"))
    res = resolve("zh-TW/sentiment", base=str(tiny_base))
    assert res.path == local.path
    assert res.chain == ("zh-Hant-TW", "zh-Hant", "zh", "und")
    chosen = res.chosen
    assert chosen is not None and (chosen.source, chosen.level) == ("local", "zh-Hant")
    assert len(_hub_api_calls(local_hub)) == calls  # the Hub was not consulted
    text = res.explain()
    assert "[TAKEN  ] local  zh-Hant" in text and "fallback chain zh-Hant-TW -> zh-Hant" in text


def test_incompatible_adapters_are_skipped_with_the_reason(
    artifact: Callable[..., Path], tiny_base: Path, other_base: Path
) -> None:
    registry = LocalRegistry()
    specific = registry.install(artifact("zh-Hant-TW", base="other"))
    general = registry.install(artifact("zh"))
    res = resolve("zh-Hant-TW/sentiment", base=str(tiny_base))
    assert res.path == general.path
    skipped = [c for c in res.candidates if not c.taken]
    assert [(c.level, c.base_model) for c in skipped] == [("zh-Hant-TW", str(other_base))]
    assert "fingerprint" in skipped[0].reason and "differs" in skipped[0].reason
    assert resolve("zh-Hant-TW/sentiment", base=str(other_base)).path == specific.path
    # without a base each adapter fits its own base: the most specific one wins
    assert resolve("zh-Hant-TW/sentiment").path == specific.path


def test_the_choice_among_compatible_adapters_is_deterministic(
    artifact: Callable[..., Path], tiny_base: Path, tmp_path: Path
) -> None:
    twin = tmp_path / "tiny-twin"  # same architecture, another id
    shutil.copytree(tiny_base, twin)
    registry = LocalRegistry()
    first = registry.install(artifact("zh"))
    second = registry.install(build_artifact(twin, tmp_path / "twin-adapter", culture="zh"))
    for _ in range(3):
        res = resolve("zh/sentiment", base=str(twin))
        assert res.path == second.path  # the exact base id is preferred
        other = next(c for c in res.candidates if not c.taken)
        assert other.ref.startswith(first.entry_id) and "is preferred" in other.reason
    assert resolve("zh/sentiment", base=str(tiny_base)).path == first.path


def test_adapters_declared_by_plugins_come_before_the_hub(
    local_hub: LocalHub, artifact: Callable[..., Path], tiny_base: Path
) -> None:
    declared = publish(artifact("zh-Hant"), "vendor/zh-hant")
    publish(artifact("zh-Hant", seed=1), "popular/zh-hant")
    local_hub.set_downloads("popular/zh-hant", 1000)
    reset_plugin_manager(make_manager(published={
        "zh-Hant": (PublishedAdapter("vendor/zh-hant", declared.commit, str(tiny_base)),)
    }))
    res = resolve("zh-Hant-TW/sentiment", base=str(tiny_base))
    chosen = res.chosen
    assert chosen is not None and chosen.source == "plugin"
    assert "declared by cultura-regtest 1.0" in chosen.ref
    assert res.entry is not None and res.entry.origin.commit == declared.commit
    # installed now: found offline too, through the same plugin declaration
    again = resolve("zh-Hant-TW/sentiment", base=str(tiny_base), offline=True)
    assert again.path == res.path
    LocalRegistry().remove("zh-Hant/sentiment")  # `cultura pull` follows the same order
    pulled = cultura.pull("zh-Hant-TW/sentiment", base=str(tiny_base))
    assert pulled.origin.repo_id == "vendor/zh-hant"


def test_hub_search_prefers_downloads_and_skips_incompatible(
    local_hub: LocalHub, artifact: Callable[..., Path], tiny_base: Path
) -> None:
    publish(artifact("zh-Hant", base="other"), "big/zh-hant")
    publish(artifact("zh-Hant", seed=1), "mid/zh-hant")
    publish(artifact("zh-Hant", seed=2), "small/zh-hant")
    local_hub.set_downloads("big/zh-hant", 900)
    local_hub.set_downloads("mid/zh-hant", 50)
    local_hub.set_downloads("small/zh-hant", 5)
    res = resolve("zh-Hant-TW/sentiment", base=str(tiny_base), install=False)
    assert res.pending is not None and res.pending[0] == "mid/zh-hant"
    hub = [c for c in res.candidates if c.source == "hub"]
    assert [c.ref.split("@")[0] for c in hub] == ["hf:big/zh-hant", "hf:mid/zh-hant"]
    assert not hub[0].taken and "fingerprint" in hub[0].reason and hub[1].taken
    assert LocalRegistry().entries() == []  # install=False downloads nothing
    model = cultura.load("zh-Hant-TW/sentiment", base=str(tiny_base))
    assert model.predict(TEXTS)  # installed and loaded
    assert [e.origin.repo_id for e in LocalRegistry().entries()] == ["mid/zh-hant"]


def test_nothing_found_explains_every_step(local_hub: LocalHub) -> None:
    with pytest.raises(ResolutionError) as info:
        resolve("zh-Hant-TW/ner")
    text = str(info.value)
    assert "no adapter for zh-Hant-TW/ner" in text
    assert "local registry" in text and "cultura train" in text


def test_offline_mode_uses_the_local_registry_only(
    local_hub: LocalHub, artifact: Callable[..., Path], tiny_base: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    publish(artifact("zh"), "org/zh")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    calls = len(local_hub.log)
    with pytest.raises(ResolutionError, match="skipped: offline mode is on"):
        resolve("zh/sentiment", base=str(tiny_base))
    with pytest.raises(OfflineError, match="not in the local registry.*cultura pull hf:org/zh"):
        cultura.load("hf:org/zh")
    assert len(local_hub.log) == calls  # not one request
    monkeypatch.delenv("HF_HUB_OFFLINE")
    cultura.pull("hf:org/zh")
    monkeypatch.setenv("CULTURA_OFFLINE", "1")
    calls = len(local_hub.log)
    model = cultura.load("zh/sentiment", base=str(tiny_base))
    assert model.predict(TEXTS[:1])
    assert cultura.load("hf:org/zh").predict(TEXTS[:1])
    assert len(local_hub.log) == calls


def test_paths_and_hub_names(
    local_hub: LocalHub, artifact: Callable[..., Path], tiny_base: Path, other_base: Path
) -> None:
    folder = artifact("zh")
    res = resolve(f"{folder}", base=str(tiny_base))
    assert res.path == folder and res.chosen is not None and res.chosen.source == "path"
    with pytest.raises(ResolutionError, match="does not fit the base model: base config"):
        resolve(str(folder), base=str(other_base))
    with pytest.raises(ResolutionError, match="no such adapter directory"):
        resolve("./missing")
    result = publish(folder, "org/zh")
    res = resolve(f"hf:org/zh@{result.commit}", base=str(tiny_base))
    assert res.entry is not None and res.entry.origin == Origin(
        "hub", repo_id="org/zh", commit=result.commit, revision=result.commit,
        endpoint=local_hub.url,
    )
    assert resolve("hf:org/zh").path == res.path  # installed: reused
