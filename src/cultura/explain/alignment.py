"""Character alignment between a text and its normalized form.

A culture's normalizers are black boxes (``list[str] -> list[str]``, :class:`~cultura.core.types.Normalizer`)
that may change the text's length anywhere: Simplified/Traditional phrase conversion, width
folding (``ｶﾞ`` -> ``ガ``), tatweel and harakat removal, lam-alef ligature decomposition
(``ﻻ`` -> ``لا``), white-space folding. They record no offsets, so the alignment is rebuilt:

1. every distinct character of the text is normalized alone (one batched call); their
   concatenation ``P`` is what the text would become if the normalizers worked character by
   character, and each character of ``P`` knows the original character it came from;
2. ``P`` is aligned to the real normalized text ``N`` (:class:`difflib.SequenceMatcher`).
   Equal runs map one to one; a replaced run (a context-dependent change such as the phrase
   conversion 软件 -> 軟體, or a composition the per-character pass could not see) maps
   proportionally, each character of ``N`` to the original characters of the ``P``
   characters it overlaps; a character of ``N`` with no counterpart in ``P`` belongs to the
   original character before it. Characters of ``P`` with no counterpart (deleted in
   context) map to nothing.

The result gives, for every character of ``N``, a span ``[start, end)`` of the original text;
:meth:`Alignment.original_span` turns a span of ``N`` (a tokenizer piece's offsets) into a span
of the original text. No torch, no model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

__all__ = ["Alignment", "align"]


@dataclass(frozen=True)
class Alignment:
    """How the characters of ``normalized`` map back to ``original``.

    Attributes:
        original: the text as given.
        normalized: the text after the culture's normalizers.
        spans: per character of ``normalized``, the ``[start, end)`` span of ``original`` it
            comes from.
    """

    original: str
    normalized: str
    spans: tuple[tuple[int, int], ...]

    def original_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The span of ``original`` that the characters ``normalized[start:end]`` come from
        (``None`` for an empty span)."""
        covered = self.spans[max(0, start) : max(0, end)]
        if not covered:
            return None
        return min(s for s, _ in covered), max(e for _, e in covered)


def align(originals: Sequence[str], normalize: Callable[[list[str]], list[str]]) -> list[Alignment]:
    """Align each text of ``originals`` with its normalized form (see the module docstring).

    ``normalize`` is the batched normalizer chain (a cultura tokenizer's ``normalize``); it is
    called twice: on the texts, and on their distinct characters.
    """
    texts = list(originals)
    normalized = normalize(texts) if texts else []
    chars = sorted({c for text in texts for c in text})
    alone = dict(zip(chars, normalize(chars), strict=True)) if chars else {}
    return [_align(text, norm, alone) for text, norm in zip(texts, normalized, strict=True)]


def _align(original: str, normalized: str, alone: dict[str, str]) -> Alignment:
    per_char: list[str] = []
    owner: list[int] = []  # per character of P: its original index
    for i, char in enumerate(original):
        piece = alone[char]
        per_char.append(piece)
        owner.extend([i] * len(piece))
    joined = "".join(per_char)
    spans: list[tuple[int, int] | None] = [None] * len(normalized)
    matcher = SequenceMatcher(None, joined, normalized, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            for k in range(b2 - b1):
                spans[b1 + k] = (owner[a1 + k], owner[a1 + k] + 1)
        elif op == "replace":
            la, lb = a2 - a1, b2 - b1
            for k in range(lb):
                lo = a1 + (k * la) // lb
                hi = a1 + -(-((k + 1) * la) // lb)
                mapped = owner[lo:hi]
                spans[b1 + k] = (min(mapped), max(mapped) + 1)
    # inserted characters belong to the original character before them (else after them)
    previous: tuple[int, int] | None = None
    for j, span in enumerate(spans):
        if span is None:
            spans[j] = previous
        else:
            previous = span
    following: tuple[int, int] | None = None
    for j in range(len(spans) - 1, -1, -1):
        if spans[j] is None:
            spans[j] = following
        else:
            following = spans[j]
    whole = (0, len(original))
    return Alignment(original, normalized, tuple(s if s is not None else whole for s in spans))
