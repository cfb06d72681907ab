"""Golden tests for the Japanese normalizers (neologdn's rules, from the Unicode blocks)."""

from __future__ import annotations

import unicodedata

import pytest
from cultura_ja.normalize import fold_dashes, fold_tildes, fold_width, remove_spaces

import cultura


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ﾊﾝｶｸｶﾅ", "ハンカクカナ"),  # half-width katakana U+FF8A.. -> full-width
        ("ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟ", "ガギグ パピ"),  # U+FF9E/U+FF9F voicing marks compose with their kana
        ("ＡＢＣ ａｂｃ １２３", "ABC abc 123"),  # full-width ASCII U+FF21.. -> half-width
        ("全角記号！？＠＃", "全角記号!?@#"),
        ("｢ﾃｽﾄ｣｡､･", "「テスト」。、・"),  # half-width CJK punctuation U+FF61-FF65 -> full-width
        ("全角記号例外「・」", "全角記号例外「・」"),  # already-Japanese punctuation stays
        ("㈱ ① ㍻", "㈱ ① ㍻"),  # outside the Halfwidth and Fullwidth Forms block: untouched
        ("か\uff9e", "が"),  # a half-width voicing mark after full-width kana composes too
        ("(￣▽￣)", "(￣▽￣)"),  # U+FFE3 FULLWIDTH MACRON stays: its NFKC is a space + U+0304
    ],
)
def test_fold_width(raw: str, expected: str) -> None:
    assert fold_width([raw]) == [expected]
    assert unicodedata.is_normalized("NFC", fold_width([raw])[0])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("長音短縮ウェーーーーイ", "長音短縮ウェーイ"),
        ("ラ━メン", "ラーメン"),  # box-drawing heavy line after katakana is a long vowel
        ("カ－ド", "カード"),  # full-width hyphen-minus after katakana
        ("ｶｰﾄﾞ", "ｶーﾄﾞ"),  # half-width prolonged sound mark (width folding is a later step)
        ("すごーーーい", "すごーい"),
        ("彼は―", "彼は―"),  # a dash after hiragana is punctuation
        ("A—B", "A—B"),
        ("ーーー", "ー"),
        ("いろんなハイフン˗֊‐‑‒–⁃⁻₋−", "いろんなハイフン-"),
        ("03‐1234−5678", "03-1234-5678"),
    ],
)
def test_fold_dashes(raw: str, expected: str) -> None:
    assert fold_dashes([raw]) == [expected]


@pytest.mark.parametrize("tilde", ["~", "\u223c", "\u223e", "\u301c", "\u3030", "\uff5e"])
def test_every_tilde_variant_becomes_ascii_tilde(tilde: str) -> None:
    assert fold_tildes([f"1995{tilde}2001年"]) == ["1995~2001年"]


def test_tilde_runs_collapse() -> None:
    assert fold_tildes(["ウェ~∼∾〜〰～イ"]) == ["ウェ~イ"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PRML 副 読 本", "PRML副読本"),
        ("Natural Language Processing", "Natural Language Processing"),
        ("東京 タワー へ 行く", "東京タワーへ行く"),
        ("iPhone 15 を 買った", "iPhone 15を買った"),
        ("スー ー", "スー"),  # the ー run the removal makes is folded, as fold_dashes folds it
        ("カ \u3099 ナ", "ガナ"),  # the voicing mark the removal puts after its kana composes
    ],
)
def test_remove_spaces(raw: str, expected: str) -> None:
    assert remove_spaces([raw]) == [expected]


def test_profile_chain() -> None:
    profile = cultura.culture("ja-JP")
    assert profile.served_level == "ja"
    assert profile.normalizer_ids[-4:] == ("ja.dashes", "ja.tildes", "ja.width", "ja.spaces")
    text = "　ｽｰﾊﾟｰで ＰＣ を 買った〜〜！  "
    assert profile.normalize(text) == "スーパーでPCを買った~!"
    assert profile.normalize(profile.normalize(text)) == profile.normalize(text)
