"""cultura-zh's `ner` head: labels per script, the authored sample data, the MSRA label map
the README documents."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path

import pytest
from cultura_zh import MSRA_LABEL_MAP, NER_LABELS

import cultura
from cultura.adapt.cultural_model import _WORD  # how predict splits raw text into words
from cultura.adapt.data import load_examples
from cultura.core.plugins import PluginManager

PLUGIN = Path(__file__).resolve().parents[1]
HANS = ("O", "B-人名", "I-人名", "B-地名", "I-地名", "B-机构名", "I-机构名")
HANT = ("O", "B-人名", "I-人名", "B-地名", "I-地名", "B-機構名", "I-機構名")
#: the Hugging Face msra_ner ClassLabel ids (O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC) mapped
MSRA_IDS = {0: "O", 1: "B-人名", 2: "I-人名", 3: "B-机构名", 4: "I-机构名", 5: "B-地名", 6: "I-地名"}


@pytest.fixture(scope="module")
def pm() -> PluginManager:
    return PluginManager(allowed={"zh"})


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(
    ("tag", "labels", "sample"),
    [("zh", HANS, "ner.jsonl"), ("zh-CN", HANS, "ner.jsonl"), ("zh-Hant", HANT, "ner_hant.jsonl"),
     ("zh-TW", HANT, "ner_hant.jsonl"), ("zh-HK", HANT, "ner_hant.jsonl")],
)
def test_ner_head_per_culture(pm: PluginManager, tag: str, labels: tuple[str, ...], sample: str) -> None:
    head = cultura.culture(tag, manager=pm).head("ner")
    assert (head.head_type, head.labels) == ("token-cls", labels)
    assert head.sample_data().name == sample  # type: ignore[misc]
    for kind in ("人名", "地名", labels[-1][2:]):
        assert kind in head.description
    assert "BIO" in head.description and "--label-map" in head.description


@pytest.mark.parametrize(("labels", "sample"), [(HANS, "ner.jsonl"), (HANT, "ner_hant.jsonl")])
def test_sample_rows_are_tokenized_as_predict_splits_text(labels: tuple[str, ...], sample: str) -> None:
    data = rows(PLUGIN / "src" / "cultura_zh" / "data" / sample)
    assert len(data) >= 20
    used = {tag for row in data for tag in row["tags"]}
    assert used == set(labels)  # every type both begins and continues an entity somewhere
    for row in data:
        assert row["tokens"] == _WORD.findall(row["text"]), row["text"]
        assert len(row["tags"]) == len(row["tokens"])
        for before, tag in zip(["O", *row["tags"]], row["tags"], strict=False):
            if tag.startswith("I-"):  # BIO: I-X only after B-X or I-X
                assert before[2:] == tag[2:], row


def test_traditional_sample_is_the_simplified_one_converted() -> None:
    from cultura_zh.normalize import opencc_convert

    data = PLUGIN / "src" / "cultura_zh" / "data"
    hans, hant = rows(data / "ner.jsonl"), rows(data / "ner_hant.jsonl")
    assert opencc_convert("s2t")([r["text"] for r in hans]) == [r["text"] for r in hant]
    to_hant = dict(zip(HANS, HANT, strict=True))
    assert [[to_hant[t] for t in r["tags"]] for r in hans] == [r["tags"] for r in hant]


def test_the_build_script_reproduces_the_shipped_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = runpy.run_path(str(PLUGIN / "scripts" / "build_ner_sample.py"))
    monkeypatch.setitem(script["main"].__globals__, "OUT", tmp_path)
    script["main"]()
    for name in ("ner.jsonl", "ner_hant.jsonl"):
        shipped = (PLUGIN / "src" / "cultura_zh" / "data" / name).read_text(encoding="utf-8")
        assert (tmp_path / name).read_text(encoding="utf-8") == shipped, name


def test_readme_label_map_is_the_msra_map() -> None:
    readme = (PLUGIN / "README.md").read_text(encoding="utf-8")
    maps = set(re.findall(r"--label-map (B-PER=\S+)", readme))
    assert maps == {",".join(f"{k}={v}" for k, v in MSRA_LABEL_MAP.items())}
    (ids,) = re.findall(r"--label-map (0=\S+)`", readme)  # msra_ner's ClassLabel ids
    assert ids == ",".join(f"{i}={name}" for i, name in MSRA_IDS.items())
    assert NER_LABELS == {"zh": HANS, "zh-Hant": HANT}


@pytest.mark.parametrize("tag", ["zh", "zh-TW", "zh-HK"])
def test_msra_tags_map_onto_every_culture(pm: PluginManager, tag: str) -> None:
    """The one (Simplified) map serves the Traditional cultures: labels match after the
    culture's script conversion."""
    profile = cultura.culture(tag, manager=pm)
    labels = profile.head("ner").labels
    record = {"tokens": list("李娜在北京大学"), "tags": ["B-PER", "I-PER", "O", "B-ORG", "I-ORG", "I-ORG", "I-LOC"]}
    (example,) = load_examples([record], "token-cls", labels, label_map=MSRA_LABEL_MAP,
                               normalize=profile.normalize)
    org = labels[-1][2:]
    assert [labels[i] for i in example.tags] == [  # type: ignore[union-attr]
        "B-人名", "I-人名", "O", f"B-{org}", f"I-{org}", f"I-{org}", "I-地名"]
    (example,) = load_examples([{"tokens": ["北", "大"], "tags": [3, 4]}], "token-cls", labels,
                               label_map=MSRA_IDS, normalize=profile.normalize)
    assert [labels[i] for i in example.tags] == [f"B-{org}", f"I-{org}"]  # type: ignore[union-attr]
