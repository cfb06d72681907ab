"""cultura-hi: conformance, hook content and the UNK-rate target on held-out text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cultura.testing import parametrize_with_plugin_checks, tokenizer_efficacy

HELDOUT = Path(__file__).with_name("heldout_hi.txt")


@parametrize_with_plugin_checks(["cultura-hi"])
def test_conformance(plugin, check) -> None:  # type: ignore[no-untyped-def]
    check(plugin)


@pytest.mark.cultura_plugin("cultura-hi")
def test_hindi_labels_and_balanced_devanagari_sample_data(cultura_profile) -> None:  # type: ignore[no-untyped-def]
    head = cultura_profile("hi").head("sentiment")
    assert head.labels == ("सकारात्मक", "नकारात्मक", "तटस्थ")
    rows = [json.loads(x) for x in head.sample_data().read_text(encoding="utf-8").splitlines()]
    counts = {label: sum(r["label"] == label for r in rows) for label in head.labels}
    assert sum(counts.values()) >= 30 and len(set(counts.values())) == 1
    assert all(any("\u0900" <= c <= "\u097f" for c in r["text"]) for r in rows)


@pytest.mark.cultura_plugin("cultura-hi")
def test_knowledge_is_hindi_with_unique_ids(cultura_profile) -> None:  # type: ignore[no-untyped-def]
    entries = cultura_profile("hi").knowledge[0].value.resolve()
    assert len(entries) >= 20
    assert len({e.id for e in entries}) == len(entries)
    diwas = next(e for e in entries if e.id == "hi.bhasha.hindi.diwas")
    assert "14 सितंबर" in diwas.text


def test_unk_rate_below_half_a_percent_on_heldout_text() -> None:
    texts = [t for t in HELDOUT.read_text(encoding="utf-8").splitlines() if t.strip()]
    stats = tokenizer_efficacy("hi", texts)
    assert stats["unk_rate_before"] > 0.02, stats  # the base vocabulary really misses Hindi
    assert stats["unk_rate_after"] < 0.005, stats
