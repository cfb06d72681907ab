"""cultura-ar: conformance, MSA + Egyptian profile with provenance, efficacy on held-out text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cultura.testing import parametrize_with_plugin_checks, tokenizer_efficacy

HELDOUT = Path(__file__).with_name("heldout_ar.txt")


@parametrize_with_plugin_checks(["cultura-ar"])
def test_conformance(plugin, check) -> None:  # type: ignore[no-untyped-def]
    check(plugin)


@pytest.mark.cultura_plugin("cultura-ar")
def test_ar_eg_shows_msa_and_egyptian_contributions_with_provenance(cultura_profile) -> None:  # type: ignore[no-untyped-def]
    data = cultura_profile("ar-EG").as_dict()
    assert data["chain"] == ["ar-EG", "ar", "und"]
    assert data["info"]["direction"] == "rtl"
    levels = {(n["key"], n["level"]) for n in data["normalizers"]}
    assert {("ar.alef", "ar"), ("ar.harakat", "ar"), ("ar.alef_maksura", "ar-EG")} <= levels
    words = next(v for v in data["vocabulary"] if v["key"] == "ar.words")
    # the Egyptian level replaces the MSA list with its re-normalized version, and says so
    assert words["level"] == "ar-EG" and words["overrides"][0]["level"] == "ar"
    assert words["distribution"] == "cultura-ar"
    assert [k["key"] for k in data["knowledge"]] == ["ar.culture", "ar.egypt"]
    assert data["heads"][0]["labels"] == ["إيجابي", "سلبي", "محايد"]


@pytest.mark.cultura_plugin("cultura-ar")
def test_egyptian_word_list_matches_egyptian_normalization(cultura_profile) -> None:  # type: ignore[no-untyped-def]
    egypt = cultura_profile("ar-EG")
    tokens = set(egypt.added_tokens())
    assert "\u0649" not in "".join(tokens)  # no alef maksura left: it could never match
    assert {"دلوقتي", "عايز"} <= tokens


@pytest.mark.cultura_plugin("cultura-ar")
def test_sample_data_is_balanced_arabic(cultura_profile) -> None:  # type: ignore[no-untyped-def]
    head = cultura_profile("ar").head("sentiment")
    rows = [json.loads(x) for x in head.sample_data().read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 30
    assert {r["label"] for r in rows} == set(head.labels)
    assert all(any("\u0621" <= c <= "\u064a" for c in r["text"]) for r in rows)


@pytest.mark.parametrize("tag", ["ar", "ar-EG"])
def test_tokens_per_char_at_least_40_percent_lower_on_heldout_text(tag: str) -> None:
    texts = [t for t in HELDOUT.read_text(encoding="utf-8").splitlines() if t.strip()]
    stats = tokenizer_efficacy(tag, texts)
    assert stats["tokens_per_char_after"] <= 0.6 * stats["tokens_per_char_before"], stats
    assert stats["unk_rate_after"] <= stats["unk_rate_before"]
