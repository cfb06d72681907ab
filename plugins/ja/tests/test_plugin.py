"""cultura-ja: conformance, honorifics knowledge and the UNK-rate target on held-out text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cultura.testing import parametrize_with_plugin_checks, tokenizer_efficacy

HELDOUT = Path(__file__).with_name("heldout_ja.txt")


@parametrize_with_plugin_checks(["cultura-ja"])
def test_conformance(plugin, check) -> None:  # type: ignore[no-untyped-def]
    check(plugin)


@pytest.mark.cultura_plugin("cultura-ja")
def test_honorifics_knowledge(cultura_profile) -> None:  # type: ignore[no-untyped-def]
    sources = {c.key: c.value for c in cultura_profile("ja").knowledge}
    assert set(sources) == {"ja.honorifics", "ja.culture"}
    honorifics = sources["ja.honorifics"].resolve()
    texts = " ".join(e.text for e in honorifics)
    for word in ("尊敬語", "謙譲語", "丁寧語", "いらっしゃる", "申し上げる", "さん", "様"):
        assert word in texts
    assert all(e.license == "CC-BY-4.0" and e.source for e in honorifics)


@pytest.mark.cultura_plugin("cultura-ja")
def test_labels_and_sample_data(cultura_profile) -> None:  # type: ignore[no-untyped-def]
    head = cultura_profile("ja").head("sentiment")
    assert head.labels == ("肯定的", "否定的", "中立")
    rows = [json.loads(x) for x in head.sample_data().read_text(encoding="utf-8").splitlines()]
    counts = {label: sum(r["label"] == label for r in rows) for label in head.labels}
    assert sum(counts.values()) >= 30 and len(set(counts.values())) == 1


@pytest.mark.cultura_plugin("cultura-ja")
def test_vocabulary_covers_joyo_kanji_missing_from_the_base(cultura_profile) -> None:  # type: ignore[no-untyped-def]
    tokens = set(cultura_profile("ja").added_tokens())
    assert {"寝", "坊", "駅", "薬", "曇"} <= tokens  # jōyō kanji absent from BERT's vocabulary
    assert {"ぁ", "ゃ", "ゅ", "ょ", "ヶ", "々"} <= tokens


def test_unk_rate_below_half_a_percent_on_heldout_text() -> None:
    texts = [t for t in HELDOUT.read_text(encoding="utf-8").splitlines() if t.strip()]
    stats = tokenizer_efficacy("ja", texts)
    assert stats["unk_rate_before"] > 0.1, stats
    assert stats["unk_rate_after"] < 0.005, stats
