"""Hindi (Devanagari) normalizers. Batched (``list[str] -> list[str]``), pure and idempotent.

Written from the Unicode Devanagari block and the standard Hindi spelling rules of the
Central Hindi Directorate (मानक हिंदी वर्तनी), in the spirit of indic-nlp-library's
``IndicNormalizer``:

* :func:`decompose_nukta` — **one canonical form for nukta letters: base + U+093C NUKTA.**
  The eight precomposed letters क़ ख़ ग़ ज़ ड़ ढ़ फ़ य़ (U+0958–U+095F) are Unicode composition
  exclusions, so NFC already writes them decomposed; the three others that NFC *composes*
  (ऩ U+0929, ऱ U+0931, ऴ U+0934) are decomposed too, so every nukta letter has the same shape
  whatever the keyboard produced. (The built-in ``und.nfc`` runs first; this step runs after
  it and undoes its composition of those three.)
* :func:`remove_joiners` — **ZWJ/ZWNJ policy:** U+200D ZERO WIDTH JOINER and U+200C ZERO WIDTH
  NON-JOINER next to a Devanagari character only choose a rendering (a half form ``क्‍ष``
  or an explicit virama ``क्‌ष``) and never change the word in Hindi, so they are removed
  there. Elsewhere they are kept: emoji sequences such as 👨‍👩‍👧 need their ZWJ, and other
  scripts (Persian, Malayalam) use ZWNJ meaningfully.
* :func:`chandrabindu_to_anusvara` — **chandrabindu:** by the standard rule, chandrabindu
  (ँ U+0901) is written as anusvara (ं U+0902) when the syllable has a vowel sign that rises
  above the headline (ि ी े ै ो ौ): ``मेँ`` → ``में``, ``नहीँ`` → ``नहीं``. Everywhere else
  chandrabindu is kept, because it distinguishes words (हँस "laugh" ≠ हंस "swan").
* :func:`nasal_to_anusvara` — **anusvara:** a nasal consonant with virama before a consonant
  of its own class (ङ् + क-वर्ग, ञ् + च-वर्ग, ण् + ट-वर्ग, न् + त-वर्ग, म् + प-वर्ग) is written
  as anusvara: हिन्दी → हिंदी, सम्बन्ध → संबंध, गङ्गा → गंगा. A doubled nasal (सम्मान, अन्न)
  and a nasal before य र ल व श ष स ह (अन्य, जन्म) are kept.
* :func:`normalize_danda` — **danda:** the sentence-ending danda । (U+0964) and double danda
  ॥ (U+0965) follow the word without a space (``है ।`` → ``है।``); an ASCII pipe used for
  them after Devanagari text becomes a danda (``है|`` → ``है।``), and two dandas or pipes
  become a double danda (``।।`` → ``॥``). Pipes after non-Devanagari text are left alone.
"""

from __future__ import annotations

import re
import unicodedata

NUKTA = "\u093c"
#: letters with a nukta that are written decomposed (base + nukta)
NUKTA_LETTERS: dict[str, str] = {
    "\u0929": "\u0928\u093c",  # ऩ
    "\u0931": "\u0930\u093c",  # ऱ
    "\u0934": "\u0933\u093c",  # ऴ
    "\u0958": "\u0915\u093c",  # क़
    "\u0959": "\u0916\u093c",  # ख़
    "\u095a": "\u0917\u093c",  # ग़
    "\u095b": "\u091c\u093c",  # ज़
    "\u095c": "\u0921\u093c",  # ड़
    "\u095d": "\u0922\u093c",  # ढ़
    "\u095e": "\u092b\u093c",  # फ़
    "\u095f": "\u092f\u093c",  # य़
}
_NUKTA_TABLE = str.maketrans(NUKTA_LETTERS)

DEVANAGARI = "\u0900-\u097f\ua8e0-\ua8ff"
_JOINER = re.compile(f"(?<=[{DEVANAGARI}])[\u200c\u200d]+|[\u200c\u200d]+(?=[{DEVANAGARI}])")

# vowel signs that rise above the headline: ि ी े ै ो ौ (and the rarer ॎ ॕ)
_UPPER_MATRA = "\u093f\u0940\u0947\u0948\u094b\u094c\u094e\u0955"
_CHANDRABINDU = re.compile(f"(?<=[{_UPPER_MATRA}])\u0901")

VIRAMA = "\u094d"
#: class nasal -> the other consonants of its class (nukta variants included via the base)
_CLASSES = {
    "\u0919": "\u0915\u0916\u0917\u0918",  # ङ : क ख ग घ
    "\u091e": "\u091a\u091b\u091c\u091d",  # ञ : च छ ज झ
    "\u0923": "\u091f\u0920\u0921\u0922",  # ण : ट ठ ड ढ
    "\u0928": "\u0924\u0925\u0926\u0927",  # न : त थ द ध
    "\u092e": "\u092a\u092b\u092c\u092d",  # म : प फ ब भ
}
_HOMORGANIC = re.compile(
    "|".join(f"{nasal}{VIRAMA}(?=[{others}])" for nasal, others in _CLASSES.items())
)

_DANDA = re.compile("(?<=[\u0900-\u0963\u0966-\u097f])[ \t]*([|\u0964]{2}|\u0965|[|\u0964])")


def decompose_nukta(texts: list[str]) -> list[str]:
    """क़ (U+0958) -> क + ़ (U+0915 U+093C), and likewise for every precomposed nukta letter."""
    return [t.translate(_NUKTA_TABLE) for t in texts]


def remove_joiners(texts: list[str]) -> list[str]:
    """Drop ZWJ/ZWNJ touching Devanagari characters; keep them elsewhere (emoji, Persian).

    Marks that a dropped joiner kept apart are put back in canonical order (NFC: a virama
    before a nukta, ``्\u200d़``, becomes ``़्``), so that the chain stays idempotent.
    """
    out = []
    for text in texts:
        kept = _JOINER.sub("", text)
        out.append(unicodedata.normalize("NFC", kept) if kept != text else kept)
    return out


def chandrabindu_to_anusvara(texts: list[str]) -> list[str]:
    """ँ -> ं after a vowel sign above the headline (मेँ -> में); kept elsewhere (हँस)."""
    return [_CHANDRABINDU.sub("\u0902", t) for t in texts]


def nasal_to_anusvara(texts: list[str]) -> list[str]:
    """Class nasal + virama before a consonant of its class -> anusvara (हिन्दी -> हिंदी)."""
    return [_HOMORGANIC.sub("\u0902", t) for t in texts]


def _danda(match: re.Match[str]) -> str:
    mark = match.group(1)
    return "\u0965" if len(mark) == 2 or mark == "\u0965" else "\u0964"


def normalize_danda(texts: list[str]) -> list[str]:
    """``है ।`` -> ``है।``; ``है|`` -> ``है।``; ``।।`` / ``||`` -> ``॥`` after Devanagari."""
    return [_DANDA.sub(_danda, t) for t in texts]


def normalize_hindi(texts: list[str]) -> list[str]:
    """The ``hi`` chain without the built-in NFC/white-space steps (used for word lists)."""
    for step in (
        decompose_nukta,
        remove_joiners,
        chandrabindu_to_anusvara,
        nasal_to_anusvara,
        normalize_danda,
    ):
        texts = step(texts)
    return texts
