"""Normalizer ids name the conversion: a zh-TW adapter records ``zh.script.s2twp``, loading
names both ids when the profile's conversion differs, and manifests written before ids named
the conversion (plain ``zh.script``) still load, with a warning."""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cultura.adapt.artifact import MANIFEST, ArtifactError
from cultura.adapt.cultural_model import CulturaWarning
from cultura.adapt.model import adapt, load_pretrained
from cultura.core.plugins import PluginManager

pytestmark = pytest.mark.slow

ZH_TW = ["und.nfc", "und.whitespace", "zh.script.s2twp", "zh.width"]


@pytest.fixture(scope="module")
def zh() -> PluginManager:
    return PluginManager(allowed={"zh"})


@pytest.fixture(scope="module")
def saved(tiny: dict[str, Path], zh: PluginManager, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zh-TW sentiment adapter on the tiny BERT (untrained: only its manifest matters)."""
    model = adapt(str(tiny["bert"]), culture="zh-TW", task="sentiment", manager=zh,
                  knowledge=False, extend_vocab=False)
    directory = tmp_path_factory.mktemp("zh-tw") / "adapter"
    model.save_pretrained(directory)
    return directory


@pytest.fixture
def edited(saved: Path, tmp_path: Path) -> Callable[[Callable[[list[dict[str, Any]]], None]], Path]:
    """A copy of the adapter whose recorded normalizers ``edit`` changed in place."""

    def copy(edit: Callable[[list[dict[str, Any]]], None]) -> Path:
        target = tmp_path / "adapter"
        shutil.copytree(saved, target)
        data = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
        edit(data["tokenizer"]["normalizers"])
        (target / MANIFEST).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return target

    return copy


def _load(directory: Path, zh: PluginManager) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_pretrained(directory, manager=zh)
    return [str(w.message) for w in caught if issubclass(w.category, CulturaWarning)]


def test_manifest_records_the_conversion(saved: Path, zh: PluginManager) -> None:
    recorded = json.loads((saved / MANIFEST).read_text(encoding="utf-8"))["tokenizer"]["normalizers"]
    assert [n["id"] for n in recorded] == ZH_TW
    assert [n["key"] for n in recorded] == ["und.nfc", "und.whitespace", "zh.script", "zh.width"]
    assert "zh.script.s2twp" in (saved / "README.md").read_text(encoding="utf-8")
    assert _load(saved, zh) == [], "same conversion, same plugin versions: no warning"


def test_another_conversion_names_both_ids(edited, zh: PluginManager) -> None:
    def trained_with_s2t(normalizers: list[dict[str, Any]]) -> None:
        normalizers[2]["id"] = "zh.script.s2t"

    (message,) = _load(edited(trained_with_s2t), zh)
    assert "(zh-Hant-TW): inputs are normalized differently than in training" in message
    assert (
        "the adapter was trained with zh.script.s2t but this culture's profile now gives "
        "zh.script.s2twp (cultura-zh 0.1.0)"
    ) in message
    assert message.endswith("or retrain the adapter")


def test_a_normalizer_gone_or_new_is_named(edited, zh: PluginManager) -> None:
    def renamed_width(normalizers: list[dict[str, Any]]) -> None:
        normalizers[3].update(id="zh.fold", key="zh.fold")

    (message,) = _load(edited(renamed_width), zh)
    assert "zh.fold no longer runs (no installed plugin gives 'zh.fold')" in message
    assert "zh.width (cultura-zh 0.1.0) is new, it did not run in training" in message


def test_old_manifest_with_plain_ids_loads_with_a_warning(edited, zh: PluginManager) -> None:
    def before_variants(normalizers: list[dict[str, Any]]) -> None:
        for entry in normalizers:
            entry["id"] = entry.pop("key")

    (message,) = _load(edited(before_variants), zh)
    assert "names normalizers by key only (zh.script (now zh.script.s2twp))" in message
    assert "re-save the adapter" in message


def test_id_must_extend_its_key(edited, zh: PluginManager) -> None:
    def mismatched(normalizers: list[dict[str, Any]]) -> None:
        normalizers[2]["id"] = "zh.width"

    with pytest.raises(ArtifactError) as info:
        load_pretrained(edited(mismatched), manager=zh)
    assert "field 'tokenizer.normalizers[2].id' must be its key 'zh.script'" in str(info.value)
