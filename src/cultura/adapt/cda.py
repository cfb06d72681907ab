"""Counterfactual data augmentation (CDA) from the same term groups the bias checks use.

For every training text that mentions terms of a check's groups, :func:`augment` adds
counterfactual copies in which each term is replaced by the term with the same index in
another group, keeping the label. With two groups this is the classic bidirectional swap
(她 <-> 他 in one pass, so "他和她" becomes "她和他"); with ``k`` groups the groups are rotated
``k - 1`` times (group ``i`` -> group ``(i + s) mod k`` for ``s = 1 .. k-1``), so every text
gets one copy in which each mentioned group is replaced by each other group.

Matching is longest-term-first; terms made of Latin letters/digits only match at word
boundaries, other terms (Chinese, Japanese, ...) match anywhere. A term listed in several
groups of one check is ambiguous and is not swapped.

Training uses it (``CulturalModel.train(..., counterfactual_augmentation=True)``), so it sits
in the adaptation layer; :mod:`cultura.bias.cda` re-exports it with the other bias tools.

>>> from cultura.core.types import BiasCheck
>>> check = BiasCheck("x.g", "gender", "ctf_gap", 0.1, term_groups={"f": ("她",), "m": ("他",)},
...                   templates=("{term}来了",), license="CC0-1.0")
>>> augment(["她很能干"], ["正面"], [check])
(['她很能干', '他很能干'], ['正面', '正面'])
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from cultura.core.errors import CulturaError
from cultura.core.types import BiasCheck

__all__ = ["augment", "counterfactuals", "SwapTable"]

L = TypeVar("L")
_WORDLIKE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 '\-]*[A-Za-z0-9]|[A-Za-z0-9]")


class SwapTable:
    """The aligned terms of one check, compiled into a single matching pattern."""

    def __init__(self, check: BiasCheck) -> None:
        self.check_id = check.id
        self.groups: list[tuple[str, ...]] = [tuple(t) for t in check.term_groups.values()]
        where: dict[str, set[tuple[int, int]]] = {}
        for g, terms in enumerate(self.groups):
            for i, term in enumerate(terms):
                where.setdefault(term, set()).add((g, i))
        # a term in two groups is ambiguous; within one group the first index wins
        self.lookup: dict[str, tuple[int, int]] = {}
        for term, places in where.items():
            if len({g for g, _ in places}) == 1:
                self.lookup[term] = min(places)
        terms = sorted(self.lookup, key=lambda t: (-len(t), t))
        parts = [
            rf"\b{re.escape(t)}\b" if _WORDLIKE.fullmatch(t) else re.escape(t) for t in terms
        ]
        self.pattern = re.compile("|".join(parts)) if parts else None

    def rotations(self, text: str) -> list[str]:
        """The counterfactual copies of ``text`` (empty when it mentions no term)."""
        if self.pattern is None or not self.pattern.search(text):
            return []
        k = len(self.groups)
        out: list[str] = []
        for shift in range(1, k):

            def swap(match: re.Match[str], shift: int = shift) -> str:
                g, i = self.lookup[match.group(0)]
                return self.groups[(g + shift) % k][i]

            new = self.pattern.sub(swap, text)
            if new != text and new not in out:
                out.append(new)
        return out


def _checks(checks: Iterable[Any]) -> list[BiasCheck]:
    out = []
    for item in checks:
        check = getattr(item, "value", item)  # a profile Contribution or a BiasCheck
        if not isinstance(check, BiasCheck):
            raise CulturaError(
                f"augment() takes BiasCheck registrations (or profile contributions), got "
                f"{type(check).__name__}; e.g. cultura.culture('zh').bias_checks"
            )
        if len(check.term_groups) >= 2:
            out.append(check)
    return out


def counterfactuals(text: str, checks: Iterable[Any]) -> list[str]:
    """Every counterfactual copy of one text under ``checks`` (deduplicated, original excluded)."""
    return augment([text], [None], checks, keep_original=False)[0]


def augment(
    texts: Sequence[str],
    labels: Sequence[L],
    checks: Iterable[Any],
    *,
    keep_original: bool = True,
) -> tuple[list[str], list[L]]:
    """Counterfactual data augmentation: the originals (unless ``keep_original=False``) followed
    by their counterfactual copies, each with its original's label.

    ``checks``: :class:`~cultura.core.types.BiasCheck` objects or profile contributions
    (``cultura.culture(tag).bias_checks``); only those with term groups are used. Texts that
    mention no term are kept unchanged; a counterfactual copy is not added when the same text
    with the same label is already in the data. Labels are per text (sequence-level tasks).
    """
    if len(texts) != len(labels):
        raise CulturaError(
            f"augment(): got {len(texts)} texts but {len(labels)} labels; pass one label per text"
        )
    tables = [SwapTable(c) for c in _checks(checks)]
    out_texts: list[str] = list(texts) if keep_original else []
    out_labels: list[L] = list(labels) if keep_original else []
    seen = {(t, repr(label)) for t, label in zip(texts, labels, strict=True)}
    for text, label in zip(texts, labels, strict=True):
        for table in tables:
            for new in table.rotations(text):
                key = (new, repr(label))
                if key in seen:
                    continue
                seen.add(key)
                out_texts.append(new)
                out_labels.append(label)
    return out_texts, out_labels
