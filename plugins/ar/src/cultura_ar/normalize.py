"""Arabic normalizers. Batched (``list[str] -> list[str]``), pure and idempotent.

They follow the orthographic normalization used by Arabic NLP tools (camel-tools'
``normalize_alef_ar`` / ``normalize_alef_maksura_ar`` / ``normalize_teh_marbuta_ar``,
pyarabic's ``strip_tashkeel`` / ``strip_tatweel`` / ``normalize_ligature``), written from the
Unicode Arabic block:

* :func:`decompose_ligatures` — the lam-alef presentation forms U+FEF5–U+FEFC become lam +
  alef (ﻵ ﻶ → لآ, ﻷ ﻸ → لأ, ﻹ ﻺ → لإ, ﻻ ﻼ → لا); every other Arabic presentation form
  (U+FB50–U+FDFF, U+FE70–U+FEFF, the shapes that PDF extraction leaves behind) becomes its
  compatibility decomposition, except the honorific phrase ligatures U+FDFA ﷺ, U+FDFB ﷻ and
  U+FDFD ﷽, which stand for whole phrases and are kept. The isolated (spacing) forms of the
  harakat (U+FE70–U+FE7E, U+FC5E–U+FC63), whose decomposition is a space and the marks,
  become the marks alone.
* :func:`strip_tatweel` — removes U+0640 ـ (kashida, a purely typographic elongation) where
  it is joined to an Arabic letter (or to a mark on one); a free-standing run such as
  ``ـــ`` used as a rule line is text, not elongation, and is kept.
* :func:`strip_harakat` — removes the short-vowel and other diacritic marks: U+064B–U+065F
  (tanween, fatha, damma, kasra, shadda, sukun and the extended marks), U+0670 (superscript
  "dagger" alef: هٰذا → هذا) and the Quranic annotation marks U+06D6–U+06ED. Hamza above and
  below (U+0654, U+0655) and maddah (U+0653) are *letters' parts*, not harakat: they are kept
  (after NFC they are already part of أ إ آ ؤ ئ). Marks that stand on no letter (after white
  space or at the start, as in a grammar text naming the fatha) go with the white space that
  set them apart, so that no space is left doubled or at an end (``الفتحة َ علامة`` →
  ``الفتحة علامة``).
* :func:`fold_alef` — alef with hamza above/below, with maddah, and alef wasla (أ إ آ ٱ,
  U+0623/U+0625/U+0622/U+0671, or bare alef followed by a combining hamza/maddah) become bare
  alef ا (U+0627). Writers drop these hamzas so often that keeping them splits one word into
  several spellings.
* :func:`fold_alef_maksura` — ى (U+0649) → ي (U+064A). Used for Egyptian writing (``ar-EG``),
  where final ي is routinely written dotless, so the two cannot be told apart anyway; MSA
  keeps them distinct (على "on" ≠ علي "Ali").
* :func:`fold_teh_marbuta` — ة (U+0629) → ه (U+0647). Off by default (it merges the feminine
  ending with the pronoun suffix); enable it with ``CULTURA_AR_TEH_MARBUTA=1``.

None of them reorders characters or inserts bidirectional controls: Arabic stays in logical
(reading) order, and existing bidi marks (U+200E/U+200F/U+061C) are left where they are.
"""

from __future__ import annotations

import re
import unicodedata

#: lam-alef ligatures (isolated, final) -> lam + alef variant
LAM_ALEF: dict[str, str] = {
    "\ufef5": "\u0644\u0622",
    "\ufef6": "\u0644\u0622",
    "\ufef7": "\u0644\u0623",
    "\ufef8": "\u0644\u0623",
    "\ufef9": "\u0644\u0625",
    "\ufefa": "\u0644\u0625",
    "\ufefb": "\u0644\u0627",
    "\ufefc": "\u0644\u0627",
}
#: phrase ligatures that stand for whole words and are kept as they are
KEPT_LIGATURES = frozenset("\ufdfa\ufdfb\ufdfd")
_PRESENTATION = re.compile("[\ufb50-\ufdff\ufe70-\ufeff]")

TATWEEL = "\u0640"
_ARABIC_LETTER_OR_MARK = "\u0620-\u063f\u0641-\u065f\u066e-\u06d3\u06d5-\u06ed\u06fa-\u06ff\u0670"
_KASHIDA = re.compile(
    f"(?<=[{_ARABIC_LETTER_OR_MARK}])\u0640+|\u0640+(?=[{_ARABIC_LETTER_OR_MARK}])"
)
_HARAKAT = "[\u064b-\u0652\u0656-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed]"
HARAKAT = re.compile(_HARAKAT)
#: harakat on no letter: after white space and before white space or the end, or at the start
_STRANDED_HARAKAT = re.compile(f"\\s+{_HARAKAT}+(?=\\s|$)|^{_HARAKAT}+\\s*")
ALEF_VARIANTS = re.compile("[\u0622\u0623\u0625\u0671]|\u0627[\u0653\u0654\u0655]+")


def _presentation(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in LAM_ALEF:
        return LAM_ALEF[ch]
    if ch in KEPT_LIGATURES or ch == "\ufeff":  # U+FEFF is the BOM, not a letter shape
        return ch
    # the isolated forms of harakat decompose to a space + marks: keep the marks only
    return unicodedata.normalize("NFKC", ch).lstrip(" ")


def decompose_ligatures(texts: list[str]) -> list[str]:
    """Lam-alef and other Arabic presentation forms -> ordinary letters (ﻻ -> لا)."""
    return [_PRESENTATION.sub(_presentation, t) for t in texts]


def strip_tatweel(texts: list[str]) -> list[str]:
    """Remove kashida U+0640 joined to letters (مـــرحبا -> مرحبا); keep free-standing runs."""
    return [_KASHIDA.sub("", t) for t in texts]


def strip_harakat(texts: list[str]) -> list[str]:
    """Remove short vowels, tanween, shadda, sukun, dagger alef and Quranic marks (marks on no
    letter with the white space before them, or after them at the start)."""
    return [HARAKAT.sub("", _STRANDED_HARAKAT.sub("", t)) for t in texts]


def fold_alef(texts: list[str]) -> list[str]:
    """أ إ آ ٱ (and ا + combining hamza/maddah) -> ا."""
    return [ALEF_VARIANTS.sub("\u0627", t) for t in texts]


def fold_alef_maksura(texts: list[str]) -> list[str]:
    """ى -> ي (Egyptian convention)."""
    return [t.replace("\u0649", "\u064a") for t in texts]


def fold_teh_marbuta(texts: list[str]) -> list[str]:
    """ة -> ه (optional; off by default)."""
    return [t.replace("\u0629", "\u0647") for t in texts]


def normalize_msa(texts: list[str]) -> list[str]:
    """The ``ar`` chain without the built-in NFC/white-space steps (used for word lists)."""
    for step in (decompose_ligatures, strip_harakat, strip_tatweel, fold_alef):
        texts = step(texts)
    return texts


def normalize_egyptian(texts: list[str]) -> list[str]:
    """The ``ar-EG`` chain without the built-in steps (used for word lists)."""
    return fold_alef_maksura(normalize_msa(texts))
