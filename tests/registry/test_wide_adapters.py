"""Wide adapters through the registry: published to the local Hub, found by name along the
culture chain, pulled, verified, loaded and run; a tampered one refused on the way in."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import cultura
from cultura.adapt.artifact import sha256_file
from cultura.adapt.tagger import WideTagger, fit_wide_tagger
from cultura.registry.errors import IntegrityError
from cultura.registry.hub import publish
from cultura.registry.resolve import lock
from cultura.testing.hub import LocalHub

PLACES = ("台北", "高雄", "台中")


def _rows() -> list[dict[str, Any]]:
    rows = []
    for place in PLACES:
        for frame in ("我住在{}", "{}很熱", "我們去{}"):
            text = frame.format(place)
            at = text.index(place)
            tags = ["O"] * len(text)
            tags[at], tags[at + 1] = "B-LOC", "I-LOC"
            rows.append({"tokens": list(text), "tags": tags})
    rows.append({"tokens": list("今天很熱"), "tags": ["O"] * 4})
    return rows


@pytest.fixture
def tagger_adapter(tmp_path: Path) -> Path:
    """A wide tagger for zh-Hant (the registry test plugin: no segmenter, no glosses)."""
    tagger = fit_wide_tagger(_rows(), "zh-Hant", progress=False)
    return tagger.save_pretrained(tmp_path / "zh-hant-places", task="places")


def test_a_wide_adapter_is_published_pulled_and_loaded_by_name(
        local_hub: LocalHub, tagger_adapter: Path) -> None:
    expected = cultura.load_pretrained(tagger_adapter).predict("我住在高雄")
    result = publish(tagger_adapter, "org/zh-hant-places")
    remote = local_hub.files("org/zh-hant-places")
    assert {"tagger.json", "tagger.safetensors", "cultura.json", "README.md"} <= set(remote)
    meta = yaml.safe_load(remote["README.md"].decode().split("---\n")[1])
    assert meta["library_name"] == "cultura" and "base_model" not in meta
    assert {"cultura-wide", "culture:zh-Hant", "task:places", "head:token-cls"} <= set(meta["tags"])
    assert result.commit in local_hub.commits("org/zh-hant-places")
    # zh-Hant-TW falls back to zh-Hant, on the Hub; the tagger reads no base, so any base fits
    entry = cultura.pull("zh-Hant-TW/places")
    assert entry.origin.repo_id == "org/zh-hant-places" and entry.culture == "zh-Hant"
    model = cultura.load("zh-Hant-TW/places")
    assert isinstance(model, WideTagger) and model.task == "places"
    assert model.predict("我住在高雄") == expected
    assert [e["text"] for e in expected[0]["entities"]] == ["高雄"]
    # pinned like any adapter: the commit and every file's sha256
    lock(["zh-Hant-TW/places"])
    pin = json.loads(Path("cultura.lock").read_text(encoding="utf-8"))["adapters"]["zh-Hant-TW/places"]
    assert (pin["repo"], pin["commit"]) == ("org/zh-hant-places", result.commit)
    assert pin["files"]["tagger.safetensors"] == sha256_file(tagger_adapter / "tagger.safetensors")


def test_a_tampered_wide_adapter_is_refused_when_pulled(
        local_hub: LocalHub, hf_api: Any, tagger_adapter: Path) -> None:
    publish(tagger_adapter, "org/zh-hant-places")
    hf_api.upload_file(path_or_fileobj=b'{"format": "cultura-wide-tagger"}',
                       path_in_repo="tagger.json", repo_id="org/zh-hant-places")
    with pytest.raises(IntegrityError, match="tagger.json changed"):
        cultura.pull("hf:org/zh-hant-places")
    with pytest.raises(cultura.CulturaError):  # nothing of it was installed
        cultura.load("zh-Hant/places", offline=True)


def test_hostile_wide_metadata_with_matching_hashes_is_refused_when_pulled(
        local_hub: LocalHub, hf_api: Any, tagger_adapter: Path) -> None:
    """A repo whose manifest lists the sha256 of a hostile tagger.json: the hashes agree, the
    metadata's own checks refuse it before anything is allocated from it."""
    meta = json.loads((tagger_adapter / "tagger.json").read_text(encoding="utf-8"))
    meta["features"] = ["x"] * 3  # not distinct
    hostile = json.dumps(meta).encode()
    manifest = json.loads((tagger_adapter / "cultura.json").read_text(encoding="utf-8"))
    manifest["files"]["tagger.json"] = hashlib.sha256(hostile).hexdigest()
    publish(tagger_adapter, "org/zh-hant-places")
    for name, data in (("tagger.json", hostile), ("cultura.json", json.dumps(manifest).encode())):
        hf_api.upload_file(path_or_fileobj=data, path_in_repo=name, repo_id="org/zh-hant-places")
    with pytest.raises(IntegrityError, match="field 'features'"):
        cultura.pull("hf:org/zh-hant-places")
