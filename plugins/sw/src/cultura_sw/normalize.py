"""Swahili normalizers (Latin script). Batched (``list[str] -> list[str]``), pure, idempotent.

Swahili writes the velar nasal /ŋ/ as ``ng'`` (``ng'ombe`` "cow", ``ng'ambo`` "the other
side"), and the apostrophe reaches us in half a dozen code points depending on the keyboard
and the word processor. Casing carries meaning (names, sentence starts), so nothing here
lowercases.

* :func:`fold_apostrophes` — a word-internal apostrophe-like character (U+2019 ’, U+2018 ‘,
  U+02BC ʼ, U+02BB ʻ, U+0060 `, U+00B4 ´, U+2032 ′) between two letters becomes ASCII ``'``.
  Quotation marks at word edges ('‘Karibu’') are left alone.
* :func:`tidy_punctuation` — no space before ``, . ; : ! ?``, and a stray space after an
  opening bracket or before a closing one is removed; casing and letters are never changed.
"""

from __future__ import annotations

import re

APOSTROPHES = "\u2019\u2018\u02bc\u02bb\u0060\u00b4\u2032"
_WORD_APOSTROPHE = re.compile(rf"(?<=[^\W\d_])[{APOSTROPHES}](?=[^\W\d_])")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+(?=[,.;:!?](?:\s|$))")
_SPACE_IN_BRACKETS = re.compile(r"(?<=[(\[])[ \t]+|[ \t]+(?=[)\]])")


def fold_apostrophes(texts: list[str]) -> list[str]:
    """``ng’ombe``, ``ngʼombe``, ``ng`ombe`` -> ``ng'ombe`` (word-internal only)."""
    return [_WORD_APOSTROPHE.sub("'", t) for t in texts]


def tidy_punctuation(texts: list[str]) -> list[str]:
    """``Habari , rafiki !`` -> ``Habari, rafiki!``; ``( leo )`` -> ``(leo)``."""
    return [_SPACE_IN_BRACKETS.sub("", _SPACE_BEFORE_PUNCT.sub("", t)) for t in texts]
