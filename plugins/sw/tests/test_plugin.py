"""cultura-sw: conformance, hook content and the tokenizer efficacy target on held-out text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cultura.testing import parametrize_with_plugin_checks, tokenizer_efficacy

HELDOUT = Path(__file__).with_name("heldout_sw.txt")


@parametrize_with_plugin_checks(["cultura-sw"])
def test_conformance(plugin, check) -> None:  # type: ignore[no-untyped-def]
    check(plugin)


@pytest.mark.cultura_plugin("cultura-sw")
def test_regional_cultures_add_their_own_knowledge(cultura_profile) -> None:  # type: ignore[no-untyped-def]
    ke, tz = cultura_profile("sw-KE"), cultura_profile("sw-TZ")
    assert [c.key for c in ke.knowledge] == ["sw.culture", "sw.kenya"]
    assert [c.key for c in tz.knowledge] == ["sw.culture", "sw.tanzania"]
    assert {c.level for c in ke.knowledge} == {"sw", "sw-KE"}
    jamhuri = next(e for e in ke.knowledge[1].value.resolve() if e.id == "sw.kenya.jamhuri")
    assert "12 Desemba" in jamhuri.text and jamhuri.license == "CC-BY-4.0"


@pytest.mark.cultura_plugin("cultura-sw")
def test_sentiment_head_has_swahili_labels_and_balanced_data(cultura_profile) -> None:  # type: ignore[no-untyped-def]
    head = cultura_profile("sw").head("sentiment")
    assert head.labels == ("chanya", "hasi", "wastani")
    rows = [json.loads(line) for line in head.sample_data().read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 30
    counts = {label: sum(r["label"] == label for r in rows) for label in head.labels}
    assert len(set(counts.values())) == 1, counts


@pytest.mark.cultura_plugin("cultura-sw")
def test_gender_check_is_counterfactual(cultura_profile) -> None:  # type: ignore[no-untyped-def]
    checks = {c.key: c.value for c in cultura_profile("sw").bias_checks}
    gender = checks["sw.gender"]
    women, men = gender.term_groups["mwanamke"], gender.term_groups["mwanamume"]
    assert len(women) == len(men) >= 3 and not set(women) & set(men)
    pairs = checks["sw.gender.pairs.mlm"]
    assert pairs.metric == "crows_pairs" and {p.bias_type for p in pairs.pairs} == {"gender"}
    assert checks["sw.gender.pairs.lm"].pairs == pairs.pairs and "sw.age.pairs.lm" not in checks


def test_vocabulary_lowers_tokens_per_char_by_20_percent_on_heldout_text() -> None:
    texts = [t for t in HELDOUT.read_text(encoding="utf-8").splitlines() if t.strip()]
    stats = tokenizer_efficacy("sw", texts)
    assert stats["tokens_per_char_after"] <= 0.8 * stats["tokens_per_char_before"], stats
    assert stats["unk_rate_after"] <= stats["unk_rate_before"]

