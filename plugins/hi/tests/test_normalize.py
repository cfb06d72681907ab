"""Golden tests for the Hindi normalizers, written from the Unicode Devanagari rules."""

from __future__ import annotations

import unicodedata

import pytest
from cultura_hi.normalize import (
    NUKTA,
    chandrabindu_to_anusvara,
    decompose_nukta,
    nasal_to_anusvara,
    normalize_danda,
    remove_joiners,
)

import cultura

ZWJ, ZWNJ = "\u200d", "\u200c"


@pytest.mark.parametrize("code", [0x0929, 0x0931, 0x0934, *range(0x0958, 0x0960)])
def test_every_precomposed_nukta_letter_decomposes_to_base_plus_nukta(code: int) -> None:
    letter = chr(code)
    # the Unicode decomposition is exactly base + U+093C, and that is our canonical form
    base = unicodedata.decomposition(letter).split()
    expected = "".join(chr(int(c, 16)) for c in base)
    assert expected.endswith(NUKTA)
    assert decompose_nukta([letter]) == [expected]
    assert decompose_nukta([expected]) == [expected]


def test_nfc_and_nukta_step_agree_for_both_kinds_of_nukta_letters() -> None:
    # U+0958 is a composition exclusion (NFC decomposes it); U+0929 is composed by NFC: the
    # culture's chain gives both the same decomposed shape, however they were typed
    profile = cultura.culture("hi")
    assert profile.normalize("\u0958") == "\u0915\u093c"  # क़
    assert profile.normalize("\u0928\u093c") == "\u0928\u093c"  # न + ़ (NFC would give ऩ)
    assert profile.normalize("\u0929") == "\u0928\u093c"
    assert profile.normalize("ज़्यादा") == "\u091c\u093c\u094d\u092f\u093e\u0926\u093e"


def test_joiners_inside_devanagari_are_removed() -> None:
    half_form = f"क्{ZWJ}ष"  # requests the half form of क
    explicit_virama = f"क्{ZWNJ}ष"  # requests a visible virama
    assert remove_joiners([half_form, explicit_virama]) == ["क्ष", "क्ष"]


def test_joiners_outside_devanagari_are_kept() -> None:
    family = f"👨{ZWJ}👩{ZWJ}👧"  # emoji ZWJ sequence
    persian = f"می{ZWNJ}خواهم"  # Persian uses ZWNJ meaningfully
    assert remove_joiners([family, persian]) == [family, persian]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("मेँ", "में"),  # े rises above the headline
        ("नहीँ", "नहीं"),  # ी
        ("हैँ", "हैं"),  # ै
        ("सिँह", "सिंह"),  # ि
        ("गोँद", "गोंद"),  # ो
        ("हँसना", "हँसना"),  # no vowel sign above: chandrabindu kept (हँस "laugh" ≠ हंस "swan")
        ("माँ", "माँ"),  # ा does not rise above the headline
        ("पूँछ", "पूँछ"),
    ],
)
def test_chandrabindu_becomes_anusvara_only_over_upper_vowel_signs(raw: str, expected: str) -> None:
    assert chandrabindu_to_anusvara([raw]) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("हिन्दी", "हिंदी"),  # न् + द (त-वर्ग)
        ("सम्बन्ध", "संबंध"),  # म् + ब (प-वर्ग), न् + ध
        ("गङ्गा", "गंगा"),  # ङ् + ग (क-वर्ग)
        ("चञ्चल", "चंचल"),  # ञ् + च (च-वर्ग)
        ("पण्डित", "पंडित"),  # ण् + ड (ट-वर्ग)
        ("सम्मान", "सम्मान"),  # doubled nasal: kept
        ("अन्न", "अन्न"),
        ("अन्य", "अन्य"),  # nasal before य: kept
        ("जन्म", "जन्म"),  # न् + म is not the same class: kept
        ("तुम्हारा", "तुम्हारा"),  # म् + ह: kept
    ],
)
def test_homorganic_nasal_becomes_anusvara(raw: str, expected: str) -> None:
    assert nasal_to_anusvara([raw]) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("यह अच्छा है ।", "यह अच्छा है।"),
        ("यह अच्छा है|", "यह अच्छा है।"),
        ("राम राम ।।", "राम राम॥"),
        ("राम राम||", "राम राम॥"),
        ("राम राम ॥", "राम राम॥"),
        ("a | b", "a | b"),  # a pipe in Latin text is not a danda
        ("२०२४ |", "२०२४।"),  # Devanagari digits end a sentence too
    ],
)
def test_danda(raw: str, expected: str) -> None:
    assert normalize_danda([raw]) == [expected]


def test_profile_chain() -> None:
    profile = cultura.culture("hi-IN")
    assert profile.served_level == "hi"
    assert profile.normalizer_ids == (
        "und.nfc", "und.whitespace", "hi.nukta", "hi.joiners", "hi.chandrabindu", "hi.anusvara", "hi.danda",
    )
    text = f"  मैं  हिन्दी मेँ क्{ZWJ}षमा माँगता हूँ |  "
    assert profile.normalize(text) == "मैं हिंदी में क्षमा माँगता हूँ।"
    assert profile.normalize(profile.normalize(text)) == profile.normalize(text)


def test_dropping_a_joiner_between_marks_puts_them_in_canonical_order() -> None:
    # virama, ZWJ, nukta: without the joiner the virama (ccc 9) would precede the nukta (ccc 7)
    text = "\u0927\u093e\u094d\u200d\u093c\u0949"
    once = remove_joiners([text])[0]
    assert once == unicodedata.normalize("NFC", once) == "\u0927\u093e\u093c\u094d\u0949"
    assert remove_joiners([once]) == [once]
