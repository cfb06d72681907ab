"""Golden tests for the Arabic normalizers, written from the Unicode Arabic block."""

from __future__ import annotations

import unicodedata

import cultura_ar
import pytest
from cultura_ar.normalize import (
    decompose_ligatures,
    fold_alef,
    fold_alef_maksura,
    fold_teh_marbuta,
    strip_harakat,
    strip_tatweel,
)

import cultura
from cultura.core.plugins import PluginManager
from cultura.core.profile import build_profile

BIDI_CONTROLS = set("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@pytest.mark.parametrize(
    ("ligature", "expected"),
    [
        ("\ufef5", "\u0644\u0622"),  # ARABIC LIGATURE LAM WITH ALEF WITH MADDA ABOVE ISOLATED FORM
        ("\ufef6", "\u0644\u0622"),  # ... FINAL FORM
        ("\ufef7", "\u0644\u0623"),  # LAM WITH ALEF WITH HAMZA ABOVE
        ("\ufef8", "\u0644\u0623"),
        ("\ufef9", "\u0644\u0625"),  # LAM WITH ALEF WITH HAMZA BELOW
        ("\ufefa", "\u0644\u0625"),
        ("\ufefb", "\u0644\u0627"),  # LAM WITH ALEF
        ("\ufefc", "\u0644\u0627"),
    ],
)
def test_every_lam_alef_ligature_decomposes(ligature: str, expected: str) -> None:
    assert unicodedata.name(ligature).startswith("ARABIC LIGATURE LAM WITH ALEF")
    assert decompose_ligatures([ligature]) == [expected]


def test_presentation_forms_from_pdf_extraction_become_letters() -> None:
    # isolated/initial/medial/final shapes of ب س م (U+FE8F.., U+FEB3.., U+FEE3..)
    assert decompose_ligatures(["\ufe91\ufeb4\ufee2"]) == ["بسم"]
    # phrase ligatures stand for whole phrases and stay
    assert decompose_ligatures(["محمد \ufdfa"]) == ["محمد \ufdfa"]


@pytest.mark.parametrize("alef", ["\u0623", "\u0625", "\u0622", "\u0671"])
def test_alef_variants_fold_to_bare_alef(alef: str) -> None:
    assert fold_alef([f"{alef}مل"]) == ["\u0627مل"]


@pytest.mark.parametrize("mark", ["\u0653", "\u0654", "\u0655"])
def test_decomposed_alef_with_combining_hamza_or_madda_folds(mark: str) -> None:
    assert fold_alef([f"\u0627{mark}حمد"]) == ["احمد"]


def test_hamza_on_waw_and_yeh_is_not_alef_and_stays() -> None:
    assert fold_alef(["مسؤول", "رئيس", "ماء"]) == ["مسؤول", "رئيس", "ماء"]


@pytest.mark.parametrize("mark", [chr(c) for c in range(0x064B, 0x0653)] + ["\u0670"])
def test_each_haraka_is_removed(mark: str) -> None:
    # FATHATAN DAMMATAN KASRATAN FATHA DAMMA KASRA SHADDA SUKUN, SUPERSCRIPT ALEF
    assert unicodedata.combining(mark) > 0
    assert strip_harakat([f"ك{mark}تب"]) == ["كتب"]


def test_fully_vocalized_text() -> None:
    assert strip_harakat(["مُحَمَّدٌ رَسُولُ"]) == ["محمد رسول"]
    assert strip_harakat(["هٰذا"]) == ["هذا"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("الفتحة َ علامة", "الفتحة علامة"),  # a haraka named in a grammar text, between spaces
        ("َ في أول النص", "في أول النص"),
        ("في آخر النص ِ", "في آخر النص"),
        ("ب ًب", "ب ب"),  # on the next word's first letter: only the mark goes
    ],
)
def test_harakat_on_no_letter_go_with_the_space_before_them(text: str, expected: str) -> None:
    assert strip_harakat([text]) == [expected]


@pytest.mark.parametrize("form", [*map(chr, range(0xFE70, 0xFE7F, 2)), *map(chr, range(0xFC5E, 0xFC64))])
def test_isolated_forms_of_harakat_leave_no_space_in_the_chain(form: str) -> None:
    # their compatibility decomposition is a space + the marks
    assert unicodedata.normalize("NFKC", form).startswith(" ")
    assert decompose_ligatures([form]) == [unicodedata.normalize("NFKC", form).lstrip(" ")]
    profile = cultura.culture("ar")
    assert profile.normalize([f"كلمة {form} كلمة", f"{form}كلمة", f"كلمة{form}"]) == ["كلمة كلمة", "كلمة", "كلمة"]


def test_tatweel_joined_to_letters_is_removed_but_a_rule_line_stays() -> None:
    assert strip_tatweel(["مـــرحـبـا"]) == ["مرحبا"]
    assert strip_tatweel(["بَـــا"]) == ["بَا"]  # joined through a haraka
    assert strip_tatweel(["ـــ"]) == ["ـــ"]


def test_alef_maksura_and_teh_marbuta_functions() -> None:
    assert fold_alef_maksura(["على مستشفى"]) == ["علي مستشفي"]
    assert fold_teh_marbuta(["مدرسة جميلة"]) == ["مدرسه جميله"]


def test_msa_keeps_alef_maksura_and_teh_marbuta_egypt_folds_yeh() -> None:
    msa, egypt = cultura.culture("ar"), cultura.culture("ar-EG")
    text = "ذهبتُ إلى المدرسةِ على الأقدامِ"
    assert msa.normalize(text) == "ذهبت الى المدرسة على الاقدام"
    assert egypt.normalize(text) == "ذهبت الي المدرسة علي الاقدام"
    assert egypt.normalizer_ids[-1] == "ar.alef_maksura"


def test_teh_marbuta_folding_is_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    def profile():  # type: ignore[no-untyped-def]
        pm = PluginManager(entry_points=False)
        pm.register(cultura_ar, name="ar", distribution="cultura-ar", version=cultura_ar.__version__)
        return build_profile("ar", pm)

    monkeypatch.delenv(cultura_ar.TEH_MARBUTA_ENV, raising=False)
    assert profile().normalize("مدرسة") == "مدرسة"
    monkeypatch.setenv(cultura_ar.TEH_MARBUTA_ENV, "1")
    assert "ar.teh_marbuta" in profile().normalizer_ids
    assert profile().normalize("مدرسة") == "مدرسه"


@pytest.mark.parametrize(
    "text",
    [
        "السلام عليكم ورحمة الله",
        "الإصدار 2.0 من Python متاح الآن",  # mixed directions
        "\u200fقال: «مرحباً» ثم ذهب\u200f",  # with RLM marks already present
        "١٢٣ كيلو",
    ],
)
def test_right_to_left_text_keeps_logical_order_and_gets_no_bidi_controls(text: str) -> None:
    out = cultura.culture("ar-EG").normalize(text)
    assert not (set(out) - set(text)) & BIDI_CONTROLS
    # the output is the input with characters removed or replaced in place: the Latin and
    # digit runs appear in the same order as in the input
    ltr = [c for c in text if c.isascii() and c.isalnum()]
    assert [c for c in out if c.isascii() and c.isalnum()] == ltr
    assert out.count("\u200f") == text.count("\u200f")


def test_chain_is_idempotent_on_messy_text() -> None:
    messy = "ﻷنّ الطـــالبَ ٱلمجتهدَ إلى ﻻ شئ"
    egypt = cultura.culture("ar-EG")
    once = egypt.normalize(messy)
    assert once == "لان الطالب المجتهد الي لا شئ"
    assert egypt.normalize(once) == once
