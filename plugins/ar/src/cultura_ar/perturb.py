"""Perturbations of Arabic text (``cultura robustness``): how the same sentence is really
written — partly vocalized, stretched with kashida, with relaxed hamza and final-letter
spelling, or typed in Arabizi (the Latin chat alphabet with digits for the letters Latin
lacks).

* ``ar.harakat`` — short vowels, sukun and shadda added on letters, as in partly vocalized text
  (seeded, 30% of the letters);
* ``ar.tatweel`` — kashida (U+0640) stretching words between two joining letters, as in
  headlines and social media (seeded, 20% of the joins);
* ``ar.spelling`` — informal spelling: hamza seats dropped (أ إ آ -> ا), final ة written ه,
  final ى written ي;
* ``ar.arabizi`` — words written in Arabizi (3 = ع, 7 = ح, 5 = خ, 2 = ء; seeded, 60% of the
  words); ``ar-EG`` gives its Egyptian form (ج = g, ق = 2).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

from cultura.core.types import Perturbation

__all__ = ["ARABIZI", "ARABIZI_EG", "PERTURBATIONS", "PERTURBATIONS_EG"]

HARAKAT_RATE = 0.3
TATWEEL_RATE = 0.2
ARABIZI_RATE = 0.6
_LETTERS = "ءآأؤإئابةتثجحخدذرزسشصضطظعغفقكلمنهوىي"
#: letters that never join the letter after them (so no kashida may follow them)
_RIGHT_JOINING = set("ءآأؤإادذرزوةى")
_HARAKAT = "\u064e\u064f\u0650\u0652\u0651"  # fatha, damma, kasra, sukun, shadda
_MARKS = re.compile("[\u064b-\u0652\u0670\u0640]")

#: the Arabizi chat alphabet (Levantine/Gulf usage; long vowels as vowels)
ARABIZI: Mapping[str, str] = {
    "ء": "2", "آ": "a", "أ": "a", "ؤ": "2", "إ": "e", "ئ": "2", "ا": "a", "ب": "b", "ة": "a",
    "ت": "t", "ث": "th", "ج": "j", "ح": "7", "خ": "5", "د": "d", "ذ": "th", "ر": "r", "ز": "z",
    "س": "s", "ش": "sh", "ص": "s", "ض": "d", "ط": "6", "ظ": "z", "ع": "3", "غ": "gh", "ف": "f",
    "ق": "9", "ك": "k", "ل": "l", "م": "m", "ن": "n", "ه": "h", "و": "w", "ى": "a", "ي": "y",
    "،": ",", "؛": ";", "؟": "?", **{chr(0x0660 + d): str(d) for d in range(10)},
}
#: Egyptian Arabizi: ج is g, ق is a glottal stop (2)
ARABIZI_EG: Mapping[str, str] = {**ARABIZI, "ج": "g", "ق": "2"}
_WORD = re.compile(f"[{_LETTERS}\u064b-\u0652\u0670\u0640]+")


def add_harakat(text: str, rng: random.Random) -> str:
    """A short vowel, sukun or shadda after some letters (never two marks on one letter)."""
    out = []
    for i, char in enumerate(text):
        out.append(char)
        following = text[i + 1] if i + 1 < len(text) else ""
        if char in _LETTERS and char != "ا" and not _MARKS.match(following) \
                and rng.random() < HARAKAT_RATE:
            out.append(rng.choice(_HARAKAT))
    return "".join(out)


def add_tatweel(text: str, rng: random.Random) -> str:
    """Kashida between a letter that joins forward and the letter after it."""
    out = []
    for i, char in enumerate(text):
        out.append(char)
        following = text[i + 1] if i + 1 < len(text) else ""
        if char in _LETTERS and char not in _RIGHT_JOINING and following in _LETTERS \
                and rng.random() < TATWEEL_RATE:
            out.append("\u0640" * rng.randint(1, 3))
    return "".join(out)


_HAMZA_SEATS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا"})
_FINAL_TEH = re.compile("ة(?![" + _LETTERS + "])")
_FINAL_MAKSURA = re.compile("ى(?![" + _LETTERS + "])")


def informal_spelling(text: str) -> str:
    """Hamza seats dropped, word-final ة -> ه and ى -> ي."""
    text = text.translate(_HAMZA_SEATS)
    return _FINAL_MAKSURA.sub("ي", _FINAL_TEH.sub("ه", text))


def _arabizi(table: Mapping[str, str]):  # noqa: ANN202 - a perturbation function
    def romanize(text: str, rng: random.Random) -> str:
        def word(match: re.Match[str]) -> str:
            if rng.random() >= ARABIZI_RATE:
                return match.group()
            plain = _MARKS.sub("", match.group())
            return "".join(table.get(c, c) for c in plain)

        converted = _WORD.sub(word, text)
        return "".join(table.get(c, c) if c in "،؛؟٠١٢٣٤٥٦٧٨٩" else c for c in converted)

    return romanize


def _arabizi_perturbation(table: Mapping[str, str], where: str) -> Perturbation:
    return Perturbation(
        "ar.arabizi", _arabizi(table),
        f"words typed in Arabizi, the Latin chat alphabet ({where}: "
        f"3=ع 7=ح 5=خ, ج={table['ج']}, ق={table['ق']})",
        kind="transliteration", seeded=True, rate=ARABIZI_RATE,
    )


PERTURBATIONS: tuple[Perturbation, ...] = (
    Perturbation("ar.harakat", add_harakat, "partly vocalized: harakat, sukun, shadda added",
                 kind="diacritics", seeded=True, rate=HARAKAT_RATE),
    Perturbation("ar.tatweel", add_tatweel, "words stretched with kashida (U+0640)",
                 kind="spacing", seeded=True, rate=TATWEEL_RATE),
    Perturbation("ar.spelling", informal_spelling,
                 "informal spelling: أ إ آ -> ا, final ة -> ه, final ى -> ي", kind="orthography"),
    _arabizi_perturbation(ARABIZI, "Levantine/Gulf"),
)
#: what ``ar-EG`` adds: its own Arabizi (replacing ``ar``'s under the same id)
PERTURBATIONS_EG: tuple[Perturbation, ...] = (_arabizi_perturbation(ARABIZI_EG, "Egyptian"),)
