"""Knowledge injection: retrieve a culture's knowledge entries for an input and inject them.

* :class:`BM25Retriever` — the default lexical retriever: Okapi BM25 over *character n-grams*
  (see :func:`char_ngrams`), so it works for Chinese, Japanese or Thai as well as for spaced
  scripts. Its scores are normalized so that one threshold means the same thing for every
  query and corpus: a score counts *distinctive n-grams matched* (one n-gram that only one
  entry has, found once in an entry of average length, scores 1; a tag counts
  ``tag_weight`` = 3 times). Entries must score above ``min_score``
  (:data:`DEFAULT_MIN_SCORE` = 2.5): one or two shared character pairs — generic overlaps
  such as 的人 or 我们 — never reach it; a mention of one of an entry's own tags, or three
  consecutive characters (two pairs and the triple) of its text, does.
* :class:`KnowledgeInjector` — merges every knowledge source of a profile; for encoder heads
  (``seq-cls``, ``token-cls``) the retrieved knowledge becomes a second segment (a text pair,
  K-BERT style), for ``causal-lm`` heads prompt context through the source's template
  (default ``"{knowledge}\\n{text}"``); :meth:`KnowledgeInjector.augment` builds
  knowledge-augmented training examples.
* :func:`encode_with_knowledge` — tokenizes texts with their knowledge under a token budget:
  the text is never cut to make room for knowledge; knowledge gets what the text leaves of
  ``max_length`` and is dropped when that is under :data:`MIN_KNOWLEDGE_TOKENS`.
  :class:`EncodingStats` counts how often knowledge went in and how much text was cut.

Injection is off by default for encoder heads (:data:`DEFAULT_ENABLED`): measured on real
product reviews it cost accuracy (see docs/adapters.md). Everything is deterministic: ties
are broken by source order, then entry order. ``top_k`` and on/off can be set per call.
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

__all__ = [
    "DEFAULT_ENABLED",
    "DEFAULT_MIN_SCORE",
    "MIN_KNOWLEDGE_TOKENS",
    "BM25Retriever",
    "EncodingStats",
    "Injected",
    "KnowledgeInjector",
    "Retrieved",
    "char_ngrams",
    "default_enabled",
    "encode_with_knowledge",
]

DEFAULT_TEMPLATES: dict[str, str] = {
    "seq-cls": "{knowledge}",
    "token-cls": "{knowledge}",
    "causal-lm": "{knowledge}\n{text}",
    "masked-lm": "{knowledge}",
}
#: whether knowledge is injected by default, per head type. Off for encoder heads: on real
#: product reviews injection cost 2.0 accuracy points (sentiment, 1000 training examples)
#: and 0.7 NER F1; causal LMs read knowledge as prompt context and keep it on.
DEFAULT_ENABLED: dict[str, bool] = {"seq-cls": False, "token-cls": False, "causal-lm": True}
#: the default relevance threshold of :class:`BM25Retriever` (in distinctive n-grams matched)
DEFAULT_MIN_SCORE = 2.5
#: the fewest knowledge tokens worth injecting; with less room left, nothing is injected
MIN_KNOWLEDGE_TOKENS = 8
_WORD_SPLIT = re.compile(r"\s+")


def default_enabled(head_type: str) -> bool:
    """Whether knowledge is injected by default for ``head_type`` (see :data:`DEFAULT_ENABLED`)."""
    return DEFAULT_ENABLED.get(head_type, False)


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
_HIRAGANA = re.compile(r"[\u3040-\u309f]+")


def _units(text: str, ngram_range: tuple[int, int]) -> list[dict[str, float]]:
    """The matching units of ``text``: each maps its n-grams to their weights.

    In a chunk of a script written without spaces every n-gram is a unit of weight 1 (1/2
    for n-grams written only in hiragana: Japanese endings and particles such as でした);
    a word of a spaced script is one unit whose ``len(word)`` n-grams weigh ``1/len(word)``
    each.
    """
    low, high = ngram_range
    units: list[dict[str, float]] = []
    for chunk in _WORD_SPLIT.split(_fold(text)):
        if not chunk:
            continue
        if _UNSPACED.search(chunk):
            if len(chunk) < low:
                units.append({chunk: 1.0})
                continue
            for n in range(low, high + 1):
                for i in range(len(chunk) - n + 1):
                    gram = chunk[i : i + n]
                    units.append({gram: 0.5 if _HIRAGANA.fullmatch(gram) else 1.0})
        else:
            padded = f" {chunk} "
            grams = [padded[i : i + high] for i in range(len(padded) - high + 1)]
            unit: dict[str, float] = {}
            for gram in grams:
                unit[gram] = unit.get(gram, 0.0) + 1.0 / len(grams)
            units.append(unit)
    return units


def char_ngrams(text: str, ngram_range: tuple[int, int] = (2, 3)) -> list[str]:
    """Character n-grams of ``text``, per white-space separated chunk (case-folded,
    punctuation dropped).

    A chunk holding characters of a script written without spaces (Han, kana, Thai, ...)
    gives all its n-grams for n in ``ngram_range`` (a single character is kept whole); a word
    of a spaced script gives the n-grams of the largest n of the word padded with a space on
    each side (``" cd"``, ``"cd "``), so ``festivals`` shares 7 of its 9 with ``festival``
    while a word inside another (``safi`` in ``usafiri``) shares fewer. Unigrams are left
    out: single common characters match almost every entry.
    """
    return [gram for unit in _units(text, ngram_range) for gram in unit]


class _Index:
    """One BM25 field: term frequencies, lengths and IDF of character n-grams."""

    def __init__(
        self, docs: Sequence[str], ngram_range: tuple[int, int], k1: float, b: float
    ) -> None:
        self.k1, self.b = k1, b
        self.tf = [Counter(char_ngrams(d, ngram_range)) for d in docs]
        self.len = [sum(tf.values()) for tf in self.tf]
        self.avg = (sum(self.len) / len(self.len)) if self.len else 0.0
        df: Counter[str] = Counter()
        for tf in self.tf:
            df.update(tf.keys())
        n = len(self.tf)
        self.idf = {g: math.log(1 + (n - f + 0.5) / (f + 0.5)) for g, f in df.items()}

    def scores(self, units: Sequence[dict[str, float]]) -> list[float]:
        """BM25 of every document for the query ``units``. A unit counts only where more
        than half of its weight is found (a word, not a piece of a longer one)."""
        out = []
        for tf, length in zip(self.tf, self.len, strict=True):
            score = 0.0
            norm = self.k1 * (1 - self.b + self.b * length / self.avg) if self.avg else self.k1
            for unit in units:
                found = [(gram, weight) for gram, weight in unit.items() if gram in tf]
                if sum(w for _, w in found) * 2 <= sum(unit.values()):
                    continue
                for gram, weight in found:
                    f = tf[gram]
                    score += weight * self.idf[gram] * f * (self.k1 + 1) / (f + norm)
            out.append(score)
        return out


class BM25Retriever:
    """Okapi BM25 over character n-grams with normalized scores; ``search(query, k)`` ->
    ``[(entry, score)]``.

    Two fields are indexed: an entry's text and its tags (without length normalization: an
    entry with many tags is no less about each); the score is
    ``(bm25(text) + tag_weight * bm25(tags)) / idf1`` where ``idf1`` is the IDF of an n-gram
    that only one entry has. So the score counts *distinctive n-grams matched*: such an n-gram
    found once in an entry of average length adds 1 (n-grams many entries share add less);
    a spaced-script word adds 1 as a whole, spread over its n-grams; a tag counts
    ``tag_weight`` times. The input's n-grams count once however often it repeats them.

    Only entries scoring above ``min_score`` are returned (default
    :data:`DEFAULT_MIN_SCORE` = 2.5, i.e. more than two distinctive n-grams): a shared
    character pair or two (的人, 我们) stay below it; a whole tag no other entry has (3),
    three consecutive characters of the text (two pairs and the triple: about 3) or three
    shared words pass it. Ties keep entry order.
    """

    def __init__(
        self,
        entries: Sequence[KnowledgeEntry],
        *,
        ngram_range: tuple[int, int] = (2, 3),
        k1: float = 1.2,
        b: float = 0.75,
        tag_weight: float = 3.0,
        min_score: float = DEFAULT_MIN_SCORE,
    ) -> None:
        self.entries = tuple(entries)
        self.ngram_range = ngram_range
        self.tag_weight = tag_weight
        self.min_score = min_score
        self._text = _Index([e.text for e in self.entries], ngram_range, k1, b)
        self._tags = _Index([" ".join(e.tags) for e in self.entries], ngram_range, k1, 0.0)
        n = len(self.entries)
        self._unit = math.log(1 + (n - 0.5) / 1.5) if n else 1.0

    def scores(self, query: str) -> list[float]:
        """The normalized score of every entry for ``query``, in entry order."""
        distinct = {tuple(sorted(u.items())): u for u in _units(query, self.ngram_range)}
        units = list(distinct.values())
        text, tags = self._text.scores(units), self._tags.scores(units)
        return [(t + self.tag_weight * g) / self._unit for t, g in zip(text, tags, strict=True)]

    def search_indices(self, query: str, k: int = 3) -> list[tuple[int, float]]:
        """``[(entry index, score)]`` of the best ``k`` entries scoring above ``min_score``."""
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
    injection on, ``pairs`` (the knowledge segment per text; ``""`` where nothing matched);
    ``contexts``: with injection on, the retrieved knowledge per text before any template
    (``""`` where nothing matched), what :func:`encode_with_knowledge` budgets.

    ``texts`` and ``pairs`` hold the knowledge uncut; :meth:`CulturalModel.encode
    <cultura.adapt.cultural_model.CulturalModel.encode>` cuts it to the token budget.
    """

    texts: list[str]
    pairs: list[str] | None
    retrieved: list[list[Retrieved]]
    contexts: list[str] | None = None


@dataclass
class _Source:
    source: KnowledgeSource
    provenance: Provenance | None
    entries: tuple[KnowledgeEntry, ...]
    retriever: Any


def _normalized(
    entries: Sequence[KnowledgeEntry], normalize: Callable[[list[str]], list[str]]
) -> tuple[KnowledgeEntry, ...]:
    """``entries`` with their texts and tags normalized, in one batched call (tags are key
    terms: they must be in the inputs' script convention to match them)."""
    from dataclasses import replace

    flat = normalize([e.text for e in entries] + [t for e in entries for t in e.tags])
    texts, tags = iter(flat[: len(entries)]), iter(flat[len(entries) :])
    return tuple(
        replace(e, text=next(texts), tags=tuple(next(tags) for _ in e.tags)) for e in entries
    )


class KnowledgeInjector:
    """Retrieve from every knowledge source of a culture and inject into model inputs.

    Args:
        sources: ``(KnowledgeSource, Provenance | None)`` pairs, least specific first.
        head_type: the head being fed (decides pair vs prompt injection).
        top_k: entries injected per input (default 2).
        enabled: whether :meth:`inject` injects by default.
        normalize: batched normalizer applied to entry texts and tags once, when indexing,
            so knowledge is in the same script convention as the normalized inputs.
        max_chars: the knowledge segment is cut to this many characters.
        separator: joins several entries in one segment.
        min_score: the relevance threshold of the default retriever (normalized BM25, see
            :class:`BM25Retriever`); a source's own retriever decides relevance itself (its
            entries with a positive score are kept).
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
        min_score: float = DEFAULT_MIN_SCORE,
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
                entries = _normalized(entries, normalize)
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
        """The best ``top_k`` relevant entries for ``text`` over all sources: default-retriever
        entries scoring above ``min_score``, a source retriever's entries scoring above 0."""
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
                if score > 0:
                    found.append((float(score), idx, rank, Retrieved(entry, float(score), s.source.name)))
        found.sort(key=lambda x: (-x[0], x[1], x[2]))
        return [r for *_, r in found[:k]]

    def context(self, retrieved: Sequence[Retrieved]) -> str:
        """The knowledge segment for retrieved entries (joined, cut to ``max_chars``)."""
        text = self.separator.join(r.entry.text for r in retrieved)
        return text[: self.max_chars]

    def prompt(self, text: str, knowledge: str) -> str:
        """A causal LM's input: ``text`` with ``knowledge`` through the template (``text``
        alone when there is no knowledge)."""
        return self.template.format(knowledge=knowledge, text=text) if knowledge else text

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
            prompts = [self.prompt(t, c) for t, c in zip(texts, contexts, strict=True)]
            return Injected(prompts, None, retrieved, contexts)
        pairs = [self.template.format(knowledge=c) if c else "" for c in contexts]
        return Injected(texts, pairs, retrieved, contexts)

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


# ---------------------------------------------------------------------- budgeted encoding
@dataclass
class EncodingStats:
    """How inputs were encoded, summed over :func:`encode_with_knowledge` calls: rows with
    knowledge and its tokens, and text tokens cut by ``max_length`` (never for knowledge)."""

    rows: int = 0
    knowledge_rows: int = 0
    knowledge_tokens: int = 0
    text_tokens: int = 0
    truncated_rows: int = 0
    text_tokens_cut: int = 0

    def as_dict(self) -> dict[str, int | float]:
        """The counts and their rates: ``knowledge_injected_rate`` (share of rows with
        knowledge), ``knowledge_tokens_mean`` (knowledge tokens per row with knowledge),
        ``text_truncated_rate`` (share of rows whose text was cut) and
        ``text_tokens_cut_rate`` (share of text tokens cut)."""
        return {
            "rows": self.rows,
            "knowledge_injected_rows": self.knowledge_rows,
            "knowledge_injected_rate": _rate(self.knowledge_rows, self.rows),
            "knowledge_tokens_mean": _rate(self.knowledge_tokens, self.knowledge_rows),
            "text_tokens": self.text_tokens,
            "text_truncated_rows": self.truncated_rows,
            "text_truncated_rate": _rate(self.truncated_rows, self.rows),
            "text_tokens_cut": self.text_tokens_cut,
            "text_tokens_cut_rate": _rate(self.text_tokens_cut, self.text_tokens),
        }


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def encode_with_knowledge(
    tokenizer: Any,
    texts: Sequence[str] | Sequence[Sequence[str]],
    knowledge: Sequence[str] | None,
    *,
    max_length: int,
    prompt: Callable[[str, str], str] | None = None,
    split_into_words: bool = False,
    return_tensors: str | None = "pt",
    stats: EncodingStats | None = None,
) -> Any:
    """Tokenize ``texts`` with their ``knowledge`` (``""`` where none; ``None``: injection
    off) into at most ``max_length`` tokens, padded, without ever cutting text for knowledge.

    Each text is tokenized alone first. A text longer than ``max_length`` with its special
    tokens is truncated — its own length is the only reason to cut it — and gets no
    knowledge. Otherwise the knowledge gets what is left, cut at a token boundary, and is
    dropped when that is under :data:`MIN_KNOWLEDGE_TOKENS`. A row without knowledge is
    encoded exactly as with injection off (the text alone, no empty second segment).

    Encoders (``prompt=None``): the knowledge is the second segment of a pair
    (``split_into_words``: ``texts`` are word lists, as for token classification). Causal
    LMs: ``prompt(text, knowledge)`` builds the input. ``tokenizer`` must be a fast
    tokenizer; call this inside ``normalized_input()`` for a cultura-wrapped one.
    """
    texts = list(texts)
    lengths = [len(ids) for ids in _ids(tokenizer, texts, split_into_words)]
    room = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    stats = stats if stats is not None else EncodingStats()
    stats.rows += len(texts)
    stats.text_tokens += sum(lengths)
    for length in lengths:
        if length > room:
            stats.truncated_rows += 1
            stats.text_tokens_cut += length - room
    options = {"padding": True, "max_length": max_length, "return_tensors": return_tensors}
    if prompt is not None:
        if knowledge is not None:
            texts = _fit_prompts(tokenizer, texts, knowledge, lengths, room, prompt, stats)
        return tokenizer(texts, truncation=True, **options)
    words = {"is_split_into_words": split_into_words}
    if knowledge is None:
        return tokenizer(texts, truncation=True, **options, **words)
    pair_room = max_length - tokenizer.num_special_tokens_to_add(pair=True)
    pairs = [
        k if k and pair_room - n >= MIN_KNOWLEDGE_TOKENS else ""
        for k, n in zip(knowledge, lengths, strict=True)
    ]
    for n, k_len in zip(lengths, _lengths(tokenizer, pairs), strict=True):
        if k_len:
            stats.knowledge_rows += 1
            stats.knowledge_tokens += min(k_len, pair_room - n)
    if not any(pairs):
        return tokenizer(texts, truncation=True, **options, **words)
    segments = [[p] if split_into_words else p for p in pairs]
    if all(pairs):
        return tokenizer(texts, segments, truncation="only_second", **options, **words)
    with_k = [i for i, p in enumerate(pairs) if p]
    without = [i for i, p in enumerate(pairs) if not p]
    parts = [
        (with_k, tokenizer([texts[i] for i in with_k], [segments[i] for i in with_k],
                           truncation="only_second", max_length=max_length, **words)),
        (without, tokenizer([texts[i] for i in without], truncation=True, max_length=max_length,
                            **words)),
    ]
    return _merge(tokenizer, parts, len(texts), return_tensors)


def _ids(tokenizer: Any, texts: list[Any], split_into_words: bool) -> list[list[int]]:
    if not texts:
        return []
    # counting only: a text longer than the model's maximum is expected here (verbose=False
    # keeps transformers from warning that it would not fit)
    encoded = tokenizer(texts, add_special_tokens=False, is_split_into_words=split_into_words,
                        verbose=False)
    return encoded["input_ids"]


def _lengths(tokenizer: Any, segments: list[str]) -> list[int]:
    """Token counts of ``segments`` (0 for ``""``), tokenizing only the non-empty ones."""
    present = [s for s in segments if s]
    counts = iter(len(ids) for ids in _ids(tokenizer, present, False))
    return [next(counts) if s else 0 for s in segments]


def _fit_prompts(
    tokenizer: Any,
    texts: list[str],
    knowledge: Sequence[str],
    lengths: list[int],
    room: int,
    prompt: Callable[[str, str], str],
    stats: EncodingStats,
) -> list[str]:
    """Causal-LM inputs: each text with as much of its knowledge as fits in ``room`` tokens
    (cut at a token boundary; the template's own tokens count too), or the text alone."""
    out = list(texts)
    for i, (text, context, length) in enumerate(zip(texts, knowledge, lengths, strict=True)):
        budget = room - length
        if not context or budget < MIN_KNOWLEDGE_TOKENS:
            continue
        offsets = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)
        ends = [end for _, end in offsets["offset_mapping"]]
        while ends and budget >= MIN_KNOWLEDGE_TOKENS:
            used = min(budget, len(ends))
            candidate = prompt(text, context[: ends[used - 1]])
            total = len(_ids(tokenizer, [candidate], False)[0])
            if total <= room:
                out[i] = candidate
                stats.knowledge_rows += 1
                stats.knowledge_tokens += used
                break
            budget = used - (total - room)  # the template or merges at the seams took more
    return out


def _merge(
    tokenizer: Any, parts: list[tuple[list[int], Any]], n: int, return_tensors: str | None
) -> Any:
    """One padded batch from unpadded encodings of row subsets (``(row indices, encoding)``),
    in row order, as the tokenizer itself would pad it (word and sequence ids included)."""
    from transformers import BatchEncoding

    encodings: list[Any] = [None] * n
    for rows, enc in parts:
        for row, encoding in zip(rows, enc.encodings, strict=True):
            encodings[row] = encoding
    longest = max(len(e.ids) for e in encodings)
    for encoding in encodings:
        encoding.pad(
            longest,
            direction=tokenizer.padding_side,
            pad_id=tokenizer.pad_token_id,
            pad_type_id=tokenizer.pad_token_type_id,
            pad_token=tokenizer.pad_token,
        )
    data: dict[str, list[list[int]]] = {"input_ids": [e.ids for e in encodings]}
    if "token_type_ids" in tokenizer.model_input_names:
        data["token_type_ids"] = [e.type_ids for e in encodings]
    if "attention_mask" in tokenizer.model_input_names:
        data["attention_mask"] = [e.attention_mask for e in encodings]
    return BatchEncoding(data, encoding=encodings, tensor_type=return_tensors)
