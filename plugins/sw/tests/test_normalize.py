"""Golden tests for the Swahili normalizers, from the code points Swahili text really uses."""

from __future__ import annotations

import pytest
from cultura_sw.normalize import APOSTROPHES, fold_apostrophes, tidy_punctuation

import cultura


@pytest.mark.parametrize("mark", list(APOSTROPHES))
def test_every_apostrophe_variant_folds_to_ascii_inside_ng(mark: str) -> None:
    # U+2019, U+2018, U+02BC (modifier letter apostrophe, a *letter*), U+02BB, `, ´, ′
    assert fold_apostrophes([f"ng{mark}ombe"]) == ["ng'ombe"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ng’ombe wa jirani", "Ng'ombe wa jirani"),  # casing kept
        ("NG’OMBE", "NG'OMBE"),
        ("ng'ambo ya mto", "ng'ambo ya mto"),  # already canonical
        ("‘Karibu’ alisema", "‘Karibu’ alisema"),  # quotation marks at word edges stay
        ("alisema ’ndiyo’", "alisema ’ndiyo’"),
        ("saa 3’ asubuhi", "saa 3’ asubuhi"),  # not between two letters
        ("", ""),
    ],
)
def test_fold_apostrophes(raw: str, expected: str) -> None:
    assert fold_apostrophes([raw]) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Habari , rafiki !", "Habari, rafiki!"),
        ("Je , umefika ?", "Je, umefika?"),
        ("Bei ni shilingi 3,000 .", "Bei ni shilingi 3,000."),
        ("( leo ) na [ kesho ]", "(leo) na [kesho]"),
        ("Mwisho .", "Mwisho."),
        ("saa 2.30 asubuhi", "saa 2.30 asubuhi"),  # decimal point untouched
        ("Dar es Salaam", "Dar es Salaam"),  # casing and words untouched
        ("hapa ,ndipo", "hapa ,ndipo"),  # only a space *before* a standalone mark
    ],
)
def test_tidy_punctuation(raw: str, expected: str) -> None:
    assert tidy_punctuation([raw]) == [expected]


def test_profile_chain_for_sw_ke_applies_sw_and_universal_rules() -> None:
    profile = cultura.culture("sw-KE")
    assert profile.normalizer_ids == ("und.nfc", "und.whitespace", "sw.apostrophe", "sw.punctuation")
    assert profile.normalize("  Ng’ombe   wangu ,  je ?  ") == "Ng'ombe wangu, je?"


def test_batches_match_single_texts() -> None:
    texts = ["ng’ombe , ng‘ambo", "Habari ?", ""]
    assert tidy_punctuation(fold_apostrophes(texts)) == [
        tidy_punctuation(fold_apostrophes([t]))[0] for t in texts
    ]
