"""cultura-ja's `ner` head: IREX types in Japanese, the authored sample data, the Hironsan
corpus label map the README documents."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path

import pytest
from cultura_ja import HIRONSAN_LABEL_MAP, NER_LABELS, NER_TYPES

from cultura.adapt.cultural_model import _WORD  # how predict splits raw text into words
from cultura.adapt.data import load_examples

PLUGIN = Path(__file__).resolve().parents[1]
SAMPLE = PLUGIN / "src" / "cultura_ja" / "data" / "ner.jsonl"
LABELS = ("O", "B-人名", "I-人名", "B-地名", "I-地名", "B-組織名", "I-組織名", "B-固有物名", "I-固有物名",
          "B-日付", "I-日付", "B-時間", "I-時間", "B-金額", "I-金額", "B-割合", "I-割合")


def rows() -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


@pytest.mark.cultura_plugin("cultura-ja")
def test_ner_head(cultura_profile) -> None:  # type: ignore[no-untyped-def]
    for tag in ("ja", "ja-JP"):
        head = cultura_profile(tag).head("ner")
        assert (head.head_type, head.labels) == ("token-cls", LABELS) and NER_LABELS == LABELS
        assert head.sample_data() == SAMPLE
        assert "BIO" in head.description
        assert all(f"{kind} {meaning}" in head.description for kind, meaning in NER_TYPES.items())


def test_sample_rows_use_every_label_and_split_text_as_predict_does() -> None:
    data = rows()
    assert len(data) >= 30
    entities = [t[2:] for r in data for t in r["tags"] if t.startswith("B-")]
    assert {kind: entities.count(kind) >= 5 for kind in NER_TYPES} == dict.fromkeys(NER_TYPES, True)
    assert {t for r in data for t in r["tags"]} == set(LABELS)
    for row in data:
        assert row["tokens"] == _WORD.findall(row["text"]), row["text"]
        assert len(row["tags"]) == len(row["tokens"])
        for before, tag in zip(["O", *row["tags"]], row["tags"], strict=False):
            if tag.startswith("I-"):  # BIO: I-X only after B-X or I-X
                assert before[2:] == tag[2:], row


def test_the_build_script_reproduces_the_shipped_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = runpy.run_path(str(PLUGIN / "scripts" / "build_ner_sample.py"))
    monkeypatch.setitem(script["main"].__globals__, "OUT", tmp_path / "ner.jsonl")
    script["main"]()
    assert (tmp_path / "ner.jsonl").read_text(encoding="utf-8") == SAMPLE.read_text(encoding="utf-8")


def test_readme_label_map_reads_the_hironsan_corpus() -> None:
    """The documented map covers the corpus's tags (its PER is percent, PSN a person)."""
    readme = (PLUGIN / "README.md").read_text(encoding="utf-8")
    (documented,) = re.findall(r"--label-map (B-PSN=\S+)", readme)
    assert documented == ",".join(f"{k}={v}" for k, v in HIRONSAN_LABEL_MAP.items())
    corpus_tags = {f"{bio}-{t}" for t in ("ART", "DAT", "LOC", "MON", "ORG", "PER", "PSN", "TIM") for bio in "BI"}
    assert set(HIRONSAN_LABEL_MAP) == corpus_tags
    assert HIRONSAN_LABEL_MAP["B-PER"] == "B-割合" and HIRONSAN_LABEL_MAP["B-PSN"] == "B-人名"
    record = {"tokens": ["田中", "さん", "は", "93", "%"], "tags": ["B-PSN", "O", "O", "B-PER", "I-PER"]}
    (example,) = load_examples([record], "token-cls", LABELS, label_map=HIRONSAN_LABEL_MAP)
    assert [LABELS[i] for i in example.tags] == ["B-人名", "O", "O", "B-割合", "I-割合"]  # type: ignore[union-attr]
