"""Perturbations of Chinese text (``cultura robustness``): how the same sentence reaches a model
written by people of another script or region, typed with a pinyin IME, or in the other width.

* ``zh.variant.*`` — the text in the other script and regional conventions, with OpenCC: a
  Simplified reader gets Traditional (``s2t``), Taiwan (``s2twp``, 软件 -> 軟體) and Hong Kong
  (``s2hk``) text; a Traditional one gets Simplified and the other region's text
  (:func:`variant_conversions`).
* ``zh.homophone`` — pinyin IME slips: a character replaced by one of the three most frequent
  characters with the same syllable (tones ignored, as the IME ignores them: 的/得/地, 在/再,
  做/作); seeded, 10% of the characters that have one.
* ``zh.initials`` — words written as their pinyin initials, as in chat (知道 -> zd, 什么 -> sm);
  seeded, 15% of the words of two to four characters (jieba's segmentation).
* ``zh.width`` — full-width letters and digits, half-width punctuation (，-> , 。-> .).

Syllables and candidates come from ``data/pinyin.tsv``: the 3,000 most frequent characters of
jieba's dictionary with their most common syllable in CC-CEDICT (built by
``scripts/build_pinyin.py``), read on first use.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from functools import cache

from cultura.core.plugin_data import data_file
from cultura.core.tags import Culture
from cultura.core.types import Perturbation
from cultura_zh.normalize import OPENCC_PROFILES, opencc_convert

__all__ = ["HOMOPHONE_RATE", "INITIALS_RATE", "perturbations", "variant_conversions"]

#: share of the characters that have a homophone replaced by ``zh.homophone``
HOMOPHONE_RATE = 0.1
#: share of the two- to four-character words ``zh.initials`` writes as initials
INITIALS_RATE = 0.15
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

#: the culture's own convention -> target -> OpenCC profiles applied in turn
VARIANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "zh": {"hant": ("s2t",), "tw": ("s2twp",), "hk": ("s2hk",)},
    "zh-Hant": {"hans": ("t2s",), "tw": ("t2tw",), "hk": ("t2hk",)},
    "zh-Hant-TW": {"hans": ("tw2sp",), "hk": ("tw2t", "t2hk")},
    "zh-Hant-HK": {"hans": ("hk2s",), "tw": ("hk2t", "t2tw")},
}
_TARGETS = {
    "hans": ("script", "Simplified script, mainland phrasing"),
    "hant": ("script", "Traditional script (OpenCC standard)"),
    "tw": ("region", "Taiwan convention: Traditional characters and Taiwanese phrasing"),
    "hk": ("region", "Hong Kong convention: Traditional characters, HK variants"),
}


def _own(requested: Culture) -> str:
    """The convention the requested culture writes in (a key of :data:`VARIANTS`)."""
    return next((tag for tag in requested.chain() if tag in OPENCC_PROFILES), "zh")


def _convert(profiles: tuple[str, ...]) -> Callable[[str], str]:
    steps = [opencc_convert(p) for p in profiles]

    def convert(text: str) -> str:
        for step in steps:
            text = step([text])[0]
        return text

    return convert


def variant_conversions(requested: Culture) -> list[Perturbation]:
    """``zh.variant.<target>`` for each other script/region of :data:`VARIANTS`."""
    out = []
    for target, profiles in VARIANTS[_own(requested)].items():
        kind, what = _TARGETS[target]
        out.append(Perturbation(
            f"zh.variant.{target}", _convert(profiles),
            f"{what} (OpenCC {' then '.join(profiles)})", kind=kind,
        ))
    return out


@cache
def _table() -> tuple[tuple[str, str, str], ...]:
    """``data/pinyin.tsv``: (Simplified, Traditional, toneless syllable), most frequent first."""
    rows = []
    with data_file("cultura_zh", "pinyin.tsv").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip() and not line.startswith("#"):
                simp, trad, syllable = line.rstrip("\n").split("\t")
                rows.append((simp, trad, syllable))
    return tuple(rows)


@cache
def _readings() -> dict[str, str]:
    """character (Simplified and Traditional) -> its toneless syllable."""
    out: dict[str, str] = {}
    for simp, trad, syllable in _table():
        out.setdefault(simp, syllable)
        out.setdefault(trad, syllable)
    return out


@cache
def _homophones(traditional: bool) -> dict[str, tuple[str, ...]]:
    """character -> the three most frequent other characters with its syllable, tones ignored
    as a pinyin IME ignores them (的 -> 得, 德)."""
    by_reading: dict[str, list[str]] = {}
    for simp, trad, syllable in _table():
        by_reading.setdefault(syllable, []).append(trad if traditional else simp)
    return {
        char: tuple(c for c in group if c != char)[:3]
        for group in by_reading.values() if len(group) > 1
        for char in group
    }


def _homophone(traditional: bool) -> Callable[[str, random.Random], str]:
    def typo(text: str, rng: random.Random) -> str:
        table = _homophones(traditional)
        chars = list(text)
        for i, char in enumerate(chars):
            if char in table and rng.random() < HOMOPHONE_RATE:
                chars[i] = rng.choice(table[char])
        return "".join(chars)

    return typo


def _initials(text: str, rng: random.Random) -> str:
    from cultura_zh.words import segment

    readings = _readings()
    out = []
    for word in segment([text])[0]:
        if (
            2 <= len(word) <= 4
            and all(_HAN.match(c) and c in readings for c in word)
            and rng.random() < INITIALS_RATE
        ):
            out.append("".join(readings[c][0] for c in word))
        else:
            out.append(word)
    return "".join(out)


_TO_FULL = {cp: cp + 0xFEE0 for cp in [*range(0x30, 0x3A), *range(0x41, 0x5B), *range(0x61, 0x7B)]}
_TO_HALF_PUNCT = str.maketrans({"，": ",", "。": ".", "！": "!", "？": "?", "：": ":", "；": ";",
                                "（": "(", "）": ")", "“": '"', "”": '"'})


def _width(text: str) -> str:
    return text.translate(_TO_FULL).translate(_TO_HALF_PUNCT)


def perturbations(requested: Culture) -> list[Perturbation]:
    """Every Chinese perturbation for ``requested`` (its script and region decide the variants
    and whether the homophones are Traditional)."""
    traditional = _own(requested) != "zh"
    return [
        *variant_conversions(requested),
        Perturbation("zh.homophone", _homophone(traditional),
                     "pinyin IME slips: a character replaced by a frequent one with the same "
                     "syllable (的/得, 在/再)", kind="typo", seeded=True,
                     rate=HOMOPHONE_RATE),
        Perturbation("zh.initials", _initials,
                     "chat abbreviations: a word written as its pinyin initials (知道 -> zd)",
                     kind="transliteration", seeded=True, rate=INITIALS_RATE),
        Perturbation("zh.width", _width,
                     "full-width letters and digits, half-width punctuation (，-> ,)",
                     kind="width"),
    ]
