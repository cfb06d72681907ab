"""cultura-ja perturbations: each changes ordinary Japanese text, keeps its words (width folds
back with NFKC, katakana is the same sound), is deterministic."""

from __future__ import annotations

import unicodedata

from cultura_ja.perturb import PERTURBATIONS, half_width

import cultura

TEXTS = ["このお店のラーメンは本当においしくて、また来たいです。",
         "友達と映画を見に行きました。とても楽しかったです！",
         "ありがとうございます。すごくわかりやすい説明でした。"]


def test_every_perturbation_changes_ordinary_text_and_is_deterministic() -> None:
    for p in PERTURBATIONS:
        out = p.apply(TEXTS, seed=0)
        assert any(a != b for a, b in zip(TEXTS, out, strict=True)), p.id
        assert out == p.apply(TEXTS, seed=0), p.id


def test_width_folds_back_and_kana_keep_the_sound() -> None:
    assert half_width("ガイドブックです。ABC") == "ｶﾞｲﾄﾞﾌﾞｯｸです｡ＡＢＣ"
    assert unicodedata.normalize("NFKC", half_width(TEXTS[0])) == TEXTS[0]
    profile = cultura.culture("ja")
    assert profile.normalize(half_width(TEXTS[1])) == profile.normalize(TEXTS[1])
    by_id = {p.id: p for p in PERTURBATIONS}
    assert by_id["ja.kana"].apply(["本当に美味しい"]) == ["ほんとうにおいしい"]
    assert by_id["ja.kanji"].apply(["ありがとう、できます"]) == ["有難う、出来ます"]
    katakana = by_id["ja.katakana"].apply(TEXTS, seed=2)
    # hiragana and katakana are one block apart: mapping back gives the text again
    back = ["".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" and c not in o else c
                    for c, o in zip(k, t, strict=True)) for k, t in zip(katakana, TEXTS, strict=True)]
    assert back == TEXTS
