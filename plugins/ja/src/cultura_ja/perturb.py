"""Perturbations of Japanese text (``cultura robustness``): the same sentence written with other
kana/kanji choices, in katakana for emphasis, or in the other character width.

* ``ja.kana`` — common words written in kana instead of kanji (本当 -> ほんとう, 美味しい ->
  おいしい, 友達 -> ともだち), as in casual writing and children's text (:data:`KANJI_KANA`);
* ``ja.kanji`` — the reverse: words usually written in kana spelled in kanji (ありがとう -> 有難う,
  ください -> 下さい, できる -> 出来る), as in formal or older writing;
* ``ja.katakana`` — hiragana runs written in katakana, the emphatic style of chat and ads
  (すごい -> スゴイ; seeded, 30% of the runs);
* ``ja.width`` — half-width katakana and punctuation (ラーメン -> ﾗｰﾒﾝ, 。 -> ｡), full-width
  Latin letters and digits (ABC123 -> ＡＢＣ１２３), as legacy systems and some IMEs write them.

The word tables were written for this plugin (CC-BY-4.0); only words of two or more characters
are replaced, longest first, so no kanji inside another word is touched.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Mapping

from cultura.core.types import Perturbation

__all__ = ["KANA_KANJI", "KANJI_KANA", "PERTURBATIONS"]

KATAKANA_RATE = 0.3

#: words usually written in kanji -> their kana spelling
KANJI_KANA: Mapping[str, str] = {
    "本当": "ほんとう", "美味しい": "おいしい", "美味しかった": "おいしかった", "友達": "ともだち",
    "今日": "きょう", "明日": "あした", "昨日": "きのう", "一緒": "いっしょ", "綺麗": "きれい",
    "素晴らしい": "すばらしい", "沢山": "たくさん", "色々": "いろいろ", "大丈夫": "だいじょうぶ",
    "面白い": "おもしろい", "楽しい": "たのしい", "楽しかった": "たのしかった", "嬉しい": "うれしい",
    "悲しい": "かなしい", "残念": "ざんねん", "最高": "さいこう", "最悪": "さいあく",
    "映画": "えいが", "料理": "りょうり", "電車": "でんしゃ", "天気": "てんき", "時間": "じかん",
    "会社": "かいしゃ", "仕事": "しごと", "先生": "せんせい", "子供": "こども", "家族": "かぞく",
    "満足": "まんぞく", "値段": "ねだん", "店員": "てんいん", "商品": "しょうひん",
    "頑張": "がんば", "大好き": "だいすき", "上手": "じょうず", "下手": "へた", "簡単": "かんたん",
    "丁寧": "ていねい", "親切": "しんせつ", "便利": "べんり", "不便": "ふべん", "高い": "たかい",
    "安い": "やすい", "遅い": "おそい", "早い": "はやい", "新しい": "あたらしい", "古い": "ふるい",
    "冷めて": "さめて", "午前": "ごぜん", "午後": "ごご", "開店": "かいてん", "閉店": "へいてん",
    "会議": "かいぎ", "予定": "よてい", "駅": "えき",
}
#: words usually written in kana -> a kanji spelling
KANA_KANJI: Mapping[str, str] = {
    "ありがとう": "有難う", "ください": "下さい", "できる": "出来る", "できない": "出来ない",
    "できた": "出来た", "できます": "出来ます", "わかる": "分かる", "わからない": "分からない",
    "わかった": "分かった", "わかります": "分かります", "すごい": "凄い", "おいしい": "美味しい",
    "きれい": "綺麗", "たくさん": "沢山", "いろいろ": "色々", "ほとんど": "殆ど",
    "やっぱり": "矢っ張り", "とても": "迚も", "いただき": "頂き", "ございます": "御座います",
    "いまいち": "今一",
}
_HIRAGANA_RUN = re.compile("[\u3041-\u3096\u309d\u309e]+")
#: full-width katakana and punctuation -> half-width (built from Unicode's compatibility data)
_HALF: dict[str, str] = {}
for _cp in range(0xFF61, 0xFFA0):
    _full = unicodedata.normalize("NFKC", chr(_cp))
    if len(_full) == 1:
        _HALF.setdefault(_full, chr(_cp))
_VOICED = {"\u3099": "\uff9e", "\u309a": "\uff9f"}  # combining (semi-)voiced marks
_TO_FULL_ASCII = {cp: cp + 0xFEE0 for cp in [*range(0x30, 0x3A), *range(0x41, 0x5B), *range(0x61, 0x7B)]}


def _replacer(table: Mapping[str, str]):  # noqa: ANN202 - a perturbation function
    words = sorted((w for w in table if table[w] != w and len(w) >= 2), key=len, reverse=True)
    pattern = re.compile("|".join(map(re.escape, words)))

    def replace(text: str) -> str:
        return pattern.sub(lambda m: table[m.group()], text)

    return replace


def katakana_runs(text: str, rng: random.Random) -> str:
    """Some hiragana runs written in katakana (same sound, one block of code points up)."""

    def run(match: re.Match[str]) -> str:
        if rng.random() >= KATAKANA_RATE:
            return match.group()
        return "".join(chr(ord(c) + 0x60) for c in match.group())

    return _HIRAGANA_RUN.sub(run, text)


def half_width(text: str) -> str:
    """Katakana and Japanese punctuation half-width, Latin letters and digits full-width."""
    out: list[str] = []
    halved = False  # the previous character became half-width katakana
    for char in unicodedata.normalize("NFD", text):
        if char in _VOICED:
            out.append(_VOICED[char] if halved else char)
            continue
        halved = char in _HALF and "\u30a1" <= char <= "\u30fc"
        out.append(_HALF.get(char, char))
    # NFD split kana from their voicing marks; a mark left on hiragana is recomposed
    return unicodedata.normalize("NFC", "".join(out)).translate(_TO_FULL_ASCII)


PERTURBATIONS: tuple[Perturbation, ...] = (
    Perturbation("ja.kana", _replacer(KANJI_KANA),
                 "common words in kana instead of kanji (本当 -> ほんとう)", kind="orthography"),
    Perturbation("ja.kanji", _replacer(KANA_KANJI),
                 "kana words spelled in kanji (ありがとう -> 有難う)", kind="orthography"),
    Perturbation("ja.katakana", katakana_runs, "hiragana runs in katakana (すごい -> スゴイ)",
                 kind="script", seeded=True, rate=KATAKANA_RATE),
    Perturbation("ja.width", half_width,
                 "half-width katakana and punctuation, full-width Latin (ラーメン。 -> ﾗｰﾒﾝ｡)",
                 kind="width"),
)
