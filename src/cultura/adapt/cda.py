"""Counterfactual data augmentation (CDA) from the same term groups the bias checks use.

For every training text that mentions terms of a check's groups, :func:`augment` adds
counterfactual copies in which each term is replaced by the term with the same index in
another group, keeping the label. With two groups this is the classic bidirectional swap
(她 <-> 他 in one pass, so "他和她" becomes "她和他"); with ``k`` groups the groups are rotated
``k - 1`` times (group ``i`` -> group ``(i + s) mod k`` for ``s = 1 .. k-1``), so every text
gets one copy in which each mentioned group is replaced by each other group.

A term only ever replaces a *whole word* (it may span several words, never part of one):

* words come from the culture's word segmenter (:class:`~cultura.core.types.WordRules`, given
  by a plugin through ``cultura_word_rules``; cultura-zh segments with jieba, so 其他, 吉他 and
  本市民营企业 keep their 他 and 市民). Without one, a boundary is wherever a letter, mark or
  digit does not meet another one: right for text written with spaces, while in text written
  without spaces (Chinese, Japanese, Thai, ...) a term then matches only between spaces or
  punctuation, and :class:`CDAWarning` says so;
* agreement rules of the culture rewrite what follows a swapped term (Korean particles);
* with a culture profile (``profile=``, as training passes it), the terms are converted with
  the culture's normalizers, the conversion the bias checks' texts go through before the model
  sees them, and matched against the normalized text: a zh-Hant adapter's CDA finds the
  Traditional forms of the Simplified terms the checks are written in.

Matching is longest-term-first; a term also matches with the case of its first letter changed
(``Mama`` finds ``mama``, ``she`` finds ``She``), and its replacement takes that case. A term
listed in several groups of one check is ambiguous and is not swapped.

Training uses it (``CulturalModel.train(..., counterfactual_augmentation=True)``), so it sits
in the adaptation layer; :mod:`cultura.bias.cda` re-exports it with the other bias tools.

>>> from cultura.core.types import BiasCheck
>>> check = BiasCheck("x.g", "gender", "ctf_gap", 0.1, term_groups={"f": ("she",), "m": ("he",)},
...                   templates=("{term} came",), license="CC0-1.0")
>>> augment(["she said the shelf was hers"], ["pos"], [check])
(['she said the shelf was hers', 'he said the shelf was hers'], ['pos', 'pos'])
"""

from __future__ import annotations

import unicodedata
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from cultura.core.errors import CulturaError
from cultura.core.types import BiasCheck, WordRules

__all__ = ["augment", "counterfactuals", "default_boundaries", "CDAWarning", "SwapTable", "Words"]

L = TypeVar("L")
Normalize = Callable[[list[str]], list[str]]
#: Unicode name prefixes of scripts written without spaces between words
_UNSPACED = (
    "CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH", "HIRAGANA", "KATAKANA", "THAI",
    "LAO", "KHMER", "MYANMAR",
)
#: joiners and the underscore continue a word like letters do
_WORD_EXTRA = frozenset("_\u200c\u200d")


class CDAWarning(UserWarning):
    """Counterfactual augmentation cannot find whole words in some text (no word segmenter
    for a script written without spaces)."""


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LMN" or char in _WORD_EXTRA


def _unspaced_script(term: str) -> str | None:
    """The first script of ``term`` written without spaces ("CJK", "THAI", ...), or ``None``."""
    for char in term:
        name = unicodedata.name(char, "")
        for prefix in _UNSPACED:
            if name.startswith(prefix):
                return prefix.split()[0]
    return None


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def default_boundaries(text: str) -> frozenset[int]:
    """Word boundaries without a segmenter: the ends of ``text`` and every position where a
    letter, mark or digit (Unicode categories L, M, N) does not meet another one."""
    inner = (
        i for i in range(1, len(text)) if not (_is_word_char(text[i - 1]) and _is_word_char(text[i]))
    )
    return frozenset((0, len(text), *inner))


class Words:
    """The word rules in force for one augmentation: the segmenter of the last rules that give
    one (a profile lists the most specific level last), and every agreement rule, in order.

    ``rules``: :class:`~cultura.core.types.WordRules` or profile contributions of them
    (``cultura.culture(tag).word_rules``).
    """

    def __init__(self, rules: Iterable[Any] = ()) -> None:
        found: list[WordRules] = []
        for item in rules:
            value = getattr(item, "value", item)  # a profile Contribution or WordRules
            if not isinstance(value, WordRules):
                raise CulturaError(
                    f"word rules must be WordRules registrations (or profile contributions), "
                    f"got {type(value).__name__}; e.g. cultura.culture('zh').word_rules"
                )
            found.append(value)
        segmenters = [r for r in found if r.segment is not None]
        self.segmenter: WordRules | None = segmenters[-1] if segmenters else None
        self.agreement: tuple[WordRules, ...] = tuple(r for r in found if r.agree is not None)

    def boundaries(self, texts: Sequence[str]) -> list[frozenset[int]]:
        """The word boundaries (character offsets) of each text."""
        if self.segmenter is None:
            return [default_boundaries(text) for text in texts]
        out = []
        for words in self.segmenter.split(texts):
            offsets, at = [0], 0
            for word in words:
                at += len(word)
                offsets.append(at)
            out.append(frozenset(offsets))
        return out

    def rewrite(self, old: str, new: str, after: str) -> str:
        """``after`` (the text following a swapped term) through every agreement rule."""
        for rules in self.agreement:
            after = rules.rewrite(old, new, after)
        return after


class SwapTable:
    """The aligned terms of one check, as they are matched: converted by ``normalize`` (the
    culture's normalizers) when it is given."""

    def __init__(self, check: BiasCheck, normalize: Normalize | None = None) -> None:
        self.check_id = check.id
        groups = [tuple(t) for t in check.term_groups.values()]
        if normalize is not None:
            flat = normalize([t for terms in groups for t in terms])
            sizes = [len(terms) for terms in groups]
            starts = [sum(sizes[:g]) for g in range(len(groups))]
            groups = [tuple(flat[s : s + n]) for s, n in zip(starts, sizes, strict=True)]
        self.groups: list[tuple[str, ...]] = groups
        where: dict[str, set[tuple[int, int]]] = {}
        for g, terms in enumerate(self.groups):
            for i, term in enumerate(terms):
                where.setdefault(term, set()).add((g, i))
        # a term in two groups is ambiguous; within one group the first index wins
        self.lookup: dict[str, tuple[int, int]] = {}
        for term, places in where.items():
            if len({g for g, _ in places}) == 1:
                self.lookup[term] = min(places)
        # a term also matches with its first letter's case changed (Mama/mama, she/She), and
        # its replacement takes that case; a written form that is itself a term keeps its own
        self._recase: dict[str, Callable[[str], str]] = {}
        for term, place in list(self.lookup.items()):
            for variant, recase in ((_upper_first(term), _upper_first),
                                    (_lower_first(term), _lower_first)):
                if variant != term and variant not in where and variant not in self.lookup:
                    self.lookup[variant] = place
                    self._recase[variant] = recase
        self._by_first: dict[str, list[str]] = {}
        for term in sorted(self.lookup, key=lambda t: (-len(t), t)):
            self._by_first.setdefault(term[0], []).append(term)

    def mentions(self, text: str) -> bool:
        """Whether some term occurs in ``text`` at all (whole word or not)."""
        return any(term in text for term in self.lookup)

    def matches(self, text: str, boundaries: frozenset[int]) -> list[tuple[int, int, str]]:
        """The whole-word mentions ``(start, end, term)``, left to right, longest term first
        at each position; a term matches only from a boundary to a boundary."""
        found: list[tuple[int, int, str]] = []
        pos = 0
        while pos < len(text):
            term = self._term_at(text, pos, boundaries)
            if term is None:
                pos += 1
                continue
            found.append((pos, pos + len(term), term))
            pos += len(term)
        return found

    def _term_at(self, text: str, pos: int, boundaries: frozenset[int]) -> str | None:
        if pos not in boundaries:
            return None
        for term in self._by_first.get(text[pos], ()):
            if pos + len(term) in boundaries and text.startswith(term, pos):
                return term
        return None

    def rotations(
        self, text: str, words: Words | None = None, boundaries: frozenset[int] | None = None
    ) -> list[str]:
        """The counterfactual copies of ``text`` (empty when it mentions no term as a whole
        word). ``boundaries``: the text's word boundaries, when already computed."""
        words = words or Words()
        if boundaries is None:
            boundaries = words.boundaries([text])[0]
        found = self.matches(text, boundaries)
        if not found:
            return []
        k = len(self.groups)
        out: list[str] = []
        for shift in range(1, k):
            parts = [text[: found[0][0]]]
            for n, (_, end, old) in enumerate(found):
                g, i = self.lookup[old]
                new = self.groups[(g + shift) % k][i]
                if old in self._recase:
                    new = self._recase[old](new)
                stop = found[n + 1][0] if n + 1 < len(found) else len(text)
                parts += [new, words.rewrite(old, new, text[end:stop])]
            copy = "".join(parts)
            if copy != text and copy not in out:
                out.append(copy)
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


def _warn_unsegmented(tables: list[SwapTable], words: Words) -> None:
    if words.segmenter is not None:
        return
    scripts = sorted({s for t in tables for term in t.lookup if (s := _unspaced_script(term))})
    if scripts:
        warnings.warn(
            f"counterfactual augmentation has no word segmenter, and terms are written in "
            f"{', '.join(scripts)} script, without spaces between words: they are swapped only "
            "between spaces or punctuation. Pass the culture's profile (profile="
            "cultura.culture(tag)) with a plugin that gives word rules (cultura-zh does), or "
            "rules=[WordRules(...)]",
            CDAWarning,
            stacklevel=3,
        )


def counterfactuals(
    text: str, checks: Iterable[Any], *, profile: Any = None, rules: Iterable[Any] | None = None
) -> list[str]:
    """Every counterfactual copy of one text under ``checks`` (deduplicated, original
    excluded); ``profile`` and ``rules`` as in :func:`augment`."""
    return augment([text], [None], checks, keep_original=False, profile=profile, rules=rules)[0]


def augment(
    texts: Sequence[str],
    labels: Sequence[L],
    checks: Iterable[Any],
    *,
    keep_original: bool = True,
    profile: Any = None,
    rules: Iterable[Any] | None = None,
) -> tuple[list[str], list[L]]:
    """Counterfactual data augmentation: the originals (unless ``keep_original=False``) followed
    by their counterfactual copies, each with its original's label.

    ``checks``: :class:`~cultura.core.types.BiasCheck` objects or profile contributions
    (``cultura.culture(tag).bias_checks``); only those with term groups are used. Texts that
    mention no term are kept unchanged; a counterfactual copy is not added when the same text
    with the same label is already in the data. Labels are per text (sequence-level tasks).

    ``profile``: the culture's :class:`~cultura.core.profile.CultureProfile`. Its normalizers
    convert the terms and the texts before matching (the copies are in that normalized form,
    which is what the model reads anyway), and its word rules apply.
    ``rules``: :class:`~cultura.core.types.WordRules` (or contributions) to use instead of the
    profile's. A segmenter or agreement rule that fails raises
    :class:`~cultura.core.errors.PluginError` naming its plugin.
    """
    if len(texts) != len(labels):
        raise CulturaError(
            f"augment(): got {len(texts)} texts but {len(labels)} labels; pass one label per text"
        )
    normalize: Normalize | None = profile.normalize if profile is not None else None
    if rules is None:
        rules = profile.word_rules if profile is not None else ()
    words = Words(rules)
    tables = [SwapTable(c, normalize) for c in _checks(checks)]
    _warn_unsegmented(tables, words)
    matched = normalize(list(texts)) if normalize is not None and texts else list(texts)
    out_texts: list[str] = list(texts) if keep_original else []
    out_labels: list[L] = list(labels) if keep_original else []
    seen = {(t, repr(label)) for t, label in zip(texts, labels, strict=True)}
    seen |= {(t, repr(label)) for t, label in zip(matched, labels, strict=True)}
    candidates = [n for n, text in enumerate(matched) if any(t.mentions(text) for t in tables)]
    found = words.boundaries([matched[n] for n in candidates]) if candidates else []
    boundaries = dict(zip(candidates, found, strict=True))
    for n in candidates:
        text, label = matched[n], labels[n]
        for table in tables:
            for new in table.rotations(text, words, boundaries[n]):
                key = (new, repr(label))
                if key in seen:
                    continue
                seen.add(key)
                out_texts.append(new)
                out_labels.append(label)
    return out_texts, out_labels
