"""Knowledge injection: retrieve a culture's knowledge entries for an input and inject them.

* :class:`BM25Retriever` — the default lexical retriever. It indexes *character n-grams*
  (2- and 3-grams of text in scripts written without spaces; words and their 3-grams in
  spaced scripts; case-folded, punctuation dropped), so it works for Chinese, Japanese or
  Thai as well as for spaced scripts. Unigrams are left out: single common characters
  match almost every entry and made injection noisy.
* :class:`KnowledgeInjector` — merges every knowledge source of a profile; for encoder heads
  (``seq-cls``, ``token-cls``) the retrieved knowledge becomes a second segment (a text pair,
  K-BERT style), for ``causal-lm`` heads prompt context through the source's template
  (default ``"{knowledge}\\n{text}"``); :meth:`KnowledgeInjector.augment` builds
  knowledge-augmented training examples.

Everything is deterministic: ties are broken by source order, then entry order. ``top_k`` and
on/off can be set per call.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cultura.core.errors import CulturaError
from cultura.core.types import KnowledgeEntry, KnowledgeSource, Provenance

if TYPE_CHECKING:
    from cultura.core.profile import CultureProfile

__all__ = ["BM25Retriever", "Injected", "KnowledgeInjector", "Retrieved", "char_ngrams"]

DEFAULT_TEMPLATES: dict[str, str] = {
    "seq-cls": "{knowledge}",
    "token-cls": "{knowledge}",
    "causal-lm": "{knowledge}\n{text}",
}
_WORD_SPLIT = re.compile(r"\s+")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    # punctuation carries no retrieval signal; keep letters, marks, digits
    return "".join(c if unicodedata.category(c)[0] in "LMN" else " " for c in text)


# scripts written without spaces between words: Han, kana, Hangul syllables are spaced but
# short, Thai, Lao, Khmer, Myanmar, Tibetan
_UNSPACED = re.compile(
    r"[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff"
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
)


def char_ngrams(text: str, ngram_range: tuple[int, int] = (2, 3)) -> list[str]:
    """Character n-grams of ``text``, per white-space separated chunk (case-folded).

    A chunk holding characters of a script written without spaces (Han, kana, Thai, ...)
    gives all its n-grams for n in ``ngram_range``; a word of a spaced script gives itself
    and its n-grams of the largest n (so ``festivals`` still matches ``festival``, while
    short frequent bigrams such as ``th`` match nothing). Chunks shorter than the smallest n
    are kept whole.
    """
    low, high = ngram_range
    grams: list[str] = []
    for chunk in _WORD_SPLIT.split(_fold(text)):
        if not chunk:
            continue
        if len(chunk) < low:
            grams.append(chunk)
            continue
        if _UNSPACED.search(chunk):
            sizes = range(low, high + 1)
        else:
            grams.append(chunk)
            sizes = range(high, high + 1) if len(chunk) > high else range(0)
        for n in sizes:
            grams.extend(chunk[i : i + n] for i in range(len(chunk) - n + 1))
    return grams


class _Index:
    """One BM25 field: term frequencies, lengths and IDF of character n-grams."""

    def __init__(self, docs: Sequence[str], ngram_range: tuple[int, int], k1: float, b: float):
        self.k1, self.b = k1, b
        self.tf = [Counter(char_ngrams(d, ngram_range)) for d in docs]
        self.len = [sum(tf.values()) for tf in self.tf]
        self.avg = (sum(self.len) / len(self.len)) if self.len else 0.0
        df: Counter[str] = Counter()
        for tf in self.tf:
            df.update(tf.keys())
        n = len(self.tf)
        self.idf = {g: math.log(1 + (n - f + 0.5) / (f + 0.5)) for g, f in df.items()}

    def scores(self, query: Counter[str]) -> list[float]:
        out = []
        for tf, length in zip(self.tf, self.len, strict=True):
            score = 0.0
            norm = self.k1 * (1 - self.b + self.b * length / self.avg) if self.avg else self.k1
            for gram, qf in query.items():
                f = tf.get(gram)
                if f:
                    score += qf * self.idf[gram] * f * (self.k1 + 1) / (f + norm)
            out.append(score)
        return out


class BM25Retriever:
    """Okapi BM25 over character n-grams; ``search(query, k)`` -> ``[(entry, score)]``.

    Two fields are indexed: an entry's text and its tags; the score is
    ``bm25(text) + tag_weight * bm25(tags)`` (tags are what an entry is about, so a tag match
    counts more than a word somewhere in a long text). Only entries scoring above
    ``min_score`` (default 0) are returned; ties keep entry order.
    """

    def __init__(
        self,
        entries: Sequence[KnowledgeEntry],
        *,
        ngram_range: tuple[int, int] = (2, 3),
        k1: float = 1.2,
        b: float = 0.75,
        tag_weight: float = 2.0,
        min_score: float = 0.0,
    ) -> None:
        self.entries = tuple(entries)
        self.ngram_range = ngram_range
        self.tag_weight = tag_weight
        self.min_score = min_score
        self._text = _Index([e.text for e in self.entries], ngram_range, k1, b)
        self._tags = _Index([" ".join(e.tags) for e in self.entries], ngram_range, k1, b)

    def scores(self, query: str) -> list[float]:
        """The score of every entry for ``query``, in entry order."""
        grams = Counter(char_ngrams(query, self.ngram_range))
        text, tags = self._text.scores(grams), self._tags.scores(grams)
        return [t + self.tag_weight * g for t, g in zip(text, tags, strict=True)]

    def search_indices(self, query: str, k: int = 3) -> list[tuple[int, float]]:
        """``[(entry index, score)]`` of the best ``k`` entries with a positive score."""
        scored = [(s, i) for i, s in enumerate(self.scores(query)) if s > self.min_score]
        scored.sort(key=lambda x: (-x[0], x[1]))
        return [(i, s) for s, i in scored[:k]]

    def search(self, query: str, k: int = 3) -> list[tuple[KnowledgeEntry, float]]:
        return [(self.entries[i], s) for i, s in self.search_indices(query, k)]


@dataclass(frozen=True)
class Retrieved:
    """One retrieved entry with its score and the source it came from."""

    entry: KnowledgeEntry
    score: float
    source: str


@dataclass(frozen=True)
class Injected:
    """Inputs after injection: ``texts`` (prompts for causal LMs) and, for encoders with
    injection on, ``pairs`` (the knowledge segment per text; ``""`` where nothing matched)."""

    texts: list[str]
    pairs: list[str] | None
    retrieved: list[list[Retrieved]]


@dataclass
class _Source:
    source: KnowledgeSource
    provenance: Provenance | None
    entries: tuple[KnowledgeEntry, ...]
    retriever: Any


class KnowledgeInjector:
    """Retrieve from every knowledge source of a culture and inject into model inputs.

    Args:
        sources: ``(KnowledgeSource, Provenance | None)`` pairs, least specific first.
        head_type: the head being fed (decides pair vs prompt injection).
        top_k: entries injected per input (default 2).
        enabled: whether :meth:`inject` injects by default.
        normalize: batched normalizer applied to entry texts once, when indexing, so
            knowledge is in the same script convention as the normalized inputs.
        max_chars: the knowledge segment is cut to this many characters.
        separator: joins several entries in one segment.
        min_score: entries must score above this to be injected.
    """

    def __init__(
        self,
        sources: Sequence[tuple[KnowledgeSource, Provenance | None]],
        *,
        head_type: str,
        top_k: int = 2,
        enabled: bool = True,
        normalize: Callable[[list[str]], list[str]] | None = None,
        max_chars: int = 256,
        separator: str = " ",
        min_score: float = 0.0,
    ) -> None:
        if top_k < 0:
            raise CulturaError(f"knowledge top_k must be >= 0, got {top_k}")
        self.head_type = head_type
        self.top_k = top_k
        self.enabled = enabled
        self.max_chars = max_chars
        self.separator = separator
        self.min_score = min_score
        self._sources: list[_Source] = []
        for source, provenance in sources:
            entries = source.resolve()
            if normalize is not None and entries:
                from dataclasses import replace

                texts = normalize([e.text for e in entries])
                entries = tuple(replace(e, text=t) for e, t in zip(entries, texts, strict=True))
            if source.retriever is not None:
                retriever = source.retriever(entries)
                if not callable(getattr(retriever, "search", None)):
                    raise CulturaError(
                        f"knowledge source {source.name!r}: its retriever factory returned "
                        f"{type(retriever).__name__}, which has no search(query, k) method"
                    )
            else:
                retriever = None
            self._sources.append(_Source(source, provenance, entries, retriever))
        # (entry, source index) of every source using the default retriever: one BM25 index
        self._default_entries = [
            (e, idx) for idx, s in enumerate(self._sources) if s.retriever is None for e in s.entries
        ]
        self._bm25 = BM25Retriever([e for e, _ in self._default_entries], min_score=min_score)
        self.template = DEFAULT_TEMPLATES[head_type]
        for s in self._sources:  # the most specific source with a template wins
            if head_type in s.source.templates:
                self.template = s.source.templates[head_type]

    @classmethod
    def from_profile(
        cls, profile: CultureProfile, head_type: str, **kwargs: Any
    ) -> KnowledgeInjector:
        """An injector over every knowledge source of ``profile``."""
        if "normalize" not in kwargs:
            kwargs["normalize"] = profile.normalize
        return cls(
            [(c.value, c.provenance) for c in profile.knowledge], head_type=head_type, **kwargs
        )

    @property
    def sources(self) -> list[KnowledgeSource]:
        return [s.source for s in self._sources]

    def __len__(self) -> int:
        return sum(len(s.entries) for s in self._sources)

    def retrieve(self, text: str, top_k: int | None = None) -> list[Retrieved]:
        """The best ``top_k`` entries for ``text`` over all sources (positive scores only)."""
        k = self.top_k if top_k is None else top_k
        if k <= 0 or not len(self):
            return []
        found: list[tuple[float, int, int, Retrieved]] = []
        for i, score in self._bm25.search_indices(text, k):
            entry, idx = self._default_entries[i]
            name = self._sources[idx].source.name
            found.append((float(score), idx, i, Retrieved(entry, float(score), name)))
        for idx, s in enumerate(self._sources):
            if s.retriever is None:
                continue
            for rank, (entry, score) in enumerate(s.retriever.search(text, k)):
                if score > self.min_score:
                    found.append((float(score), idx, rank, Retrieved(entry, float(score), s.source.name)))
        found.sort(key=lambda x: (-x[0], x[1], x[2]))
        return [r for *_, r in found[:k]]

    def context(self, retrieved: Sequence[Retrieved]) -> str:
        """The knowledge segment for retrieved entries (joined, cut to ``max_chars``)."""
        text = self.separator.join(r.entry.text for r in retrieved)
        return text[: self.max_chars]

    def inject(
        self, texts: Sequence[str], *, top_k: int | None = None, enabled: bool | None = None
    ) -> Injected:
        """Retrieve for each (already normalized) text and inject per the head type."""
        texts = list(texts)
        on = self.enabled if enabled is None else enabled
        if not on or not len(self):
            return Injected(texts, None, [[] for _ in texts])
        retrieved = [self.retrieve(t, top_k) for t in texts]
        contexts = [self.context(r) for r in retrieved]
        if self.head_type == "causal-lm":
            prompts = [
                self.template.format(knowledge=c, text=t) if c else t
                for t, c in zip(texts, contexts, strict=True)
            ]
            return Injected(prompts, None, retrieved)
        pairs = [self.template.format(knowledge=c) if c else "" for c in contexts]
        return Injected(texts, pairs, retrieved)

    def augment(
        self, texts: Sequence[str], labels: Sequence[Any], *, top_k: int | None = None
    ) -> tuple[list[str], list[Any]]:
        """Knowledge-augmented training examples: the originals, then for every text with a
        match a copy with the knowledge written into the text (``"{text} {knowledge}"``)."""
        out_texts, out_labels = list(texts), list(labels)
        for text, label in zip(texts, labels, strict=True):
            context = self.context(self.retrieve(text, top_k))
            if context:
                out_texts.append(f"{text}{self.separator}{context}")
                out_labels.append(label)
        return out_texts, out_labels

    def describe(self) -> list[dict[str, Any]]:
        """Per source: name, provenance, license, entry count and a sha256 of the entries."""
        out = []
        for s in self._sources:
            blob = json.dumps(
                [[e.id, e.text, list(e.tags)] for e in s.entries], ensure_ascii=False
            ).encode()
            out.append(
                {
                    "name": s.source.name,
                    "distribution": s.provenance.distribution if s.provenance else "",
                    "version": s.provenance.version if s.provenance else "",
                    "license": s.source.license,
                    "entries": len(s.entries),
                    "sha256": hashlib.sha256(blob).hexdigest(),
                }
            )
        return out
