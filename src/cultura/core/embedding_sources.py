"""Ready-made :class:`~cultura.core.types.EmbeddingSource` s for scripts whose characters
decompose by rule, for plugins to put in a vocabulary's ``init_from``.

Hangul: every syllable block is an initial consonant, a vowel and an optional final (Unicode
arithmetic, no data). :func:`hangul_jamo` gives a token's compatibility jamo (``한`` ->
``ㅎㅏㄴ``), :func:`hangul_romanization` its Revised Romanization (``한국`` -> ``hanguk``), which
an English base vocabulary knows as ordinary word pieces; both cover words of several syllables
and leave tokens with other characters to the next source.

>>> hangul_romanization().texts(["한국", "abc"])
{'한국': ('hanguk',)}
>>> hangul_jamo().texts(["한"])
{'한': ('ㅎㅏㄴ',)}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cultura.core.types import EmbeddingSource

__all__ = ["hangul_jamo", "hangul_romanization", "hangul_syllables"]

_FIRST, _LAST = 0xAC00, 0xD7A3
_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_FINALS = ("", "ㄱ", "ㄲ", "ㄳ", "ㄴ", "ㄵ", "ㄶ", "ㄷ", "ㄹ", "ㄺ", "ㄻ", "ㄼ", "ㄽ", "ㄾ", "ㄿ", "ㅀ",
           "ㅁ", "ㅂ", "ㅄ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ")
_RR_INITIALS = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t",
                "p", "h")
_RR_VOWELS = ("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo",
              "we", "wi", "yu", "eu", "ui", "i")
_RR_FINALS = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p",
              "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t")


def hangul_syllables(token: str) -> list[tuple[int, int, int]] | None:
    """``(initial, vowel, final)`` indices of each syllable block of ``token``; ``None`` when
    ``token`` has a character that is not a precomposed Hangul syllable."""
    parts = []
    for ch in token:
        code = ord(ch) - _FIRST
        if not 0 <= code <= _LAST - _FIRST:
            return None
        parts.append((code // 588, (code % 588) // 28, code % 28))
    return parts or None


def _source(name: str, kind: str, spell: Callable[[list[tuple[int, int, int]]], str],
            description: str) -> EmbeddingSource:
    def lookup(tokens: tuple[str, ...]) -> Mapping[str, str]:
        found = {}
        for token in tokens:
            parts = hangul_syllables(token)
            if parts:
                found[token] = spell(parts)
        return found

    return EmbeddingSource(name, kind, lookup, description=description,
                           source="Unicode Hangul syllable arithmetic", license="CC0-1.0")


def hangul_jamo() -> EmbeddingSource:
    """Hangul syllables -> their compatibility jamo (``decomposition:hangul-jamo``)."""
    return _source(
        "hangul-jamo", "decomposition",
        lambda parts: "".join(_INITIALS[i] + _VOWELS[v] + _FINALS[f] for i, v, f in parts),
        "Hangul syllables decomposed into their jamo",
    )


def hangul_romanization() -> EmbeddingSource:
    """Hangul syllables -> Revised Romanization, syllable by syllable without the
    sound-change rules (``transliteration:hangul-rr``)."""
    return _source(
        "hangul-rr", "transliteration",
        lambda parts: "".join(_RR_INITIALS[i] + _RR_VOWELS[v] + _RR_FINALS[f] for i, v, f in parts),
        "Hangul syllables in Revised Romanization",
    )
