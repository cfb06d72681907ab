"""Tokenizer tweaks: a culture's normalizers on every encode path, and vocabulary extension.

Normalizers
    :func:`wrap_tokenizer` turns a Hugging Face tokenizer into a subclass of its own class whose
    single encode entry point (``_encode_plus``, which ``__call__``, ``encode``, ``tokenize``,
    batches, text pairs, pre-tokenized input and pipelines all go through in transformers 5)
    runs the culture's normalizer chain once per call, batched over every string of the call.
    Code that already normalized its input (e.g. to retrieve knowledge on the normalized text)
    encodes inside :meth:`CulturalTokenizerMixin.normalized_input` so nothing runs twice.
    The wrapped tokenizer saves as its original class: the normalizers are Python code that
    lives in the plugins and is re-attached on load from the artifact's manifest.

Vocabulary extension
    :func:`plan_vocabulary` picks the plugins' tokens the base tokenizer lacks (a token the base
    tokenizer already encodes as one known piece is skipped); :func:`extend_vocabulary` adds
    them, resizes the model's input embeddings (and an untied LM head) and initializes each new
    row with FVT — the mean of the old tokenizer's pieces for that string (Gee et al. 2022) —,
    the embedding mean when every piece is unknown, or a given source word's pieces.

Split patterns
    :func:`apply_split_patterns` prepends ``Split(pattern, "isolated")`` pre-tokenizers to the
    backend, so they are saved with the tokenizer files.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cultura.adapt.knowledge import (
    DEFAULT_MIN_SCORE,
    EncodingStats,
    KnowledgeInjector,
    encode_with_knowledge,
)
from cultura.core.errors import CulturaError

if TYPE_CHECKING:
    from cultura.core.profile import CultureProfile
    from cultura.core.types import EmbeddingSource, Provenance

__all__ = [
    "AddedVocabulary",
    "CulturalTokenizerMixin",
    "VocabPlan",
    "apply_split_patterns",
    "extend_vocabulary",
    "is_wrapped",
    "plan_vocabulary",
    "source_texts",
    "tokenize_report",
    "tokenize_stats",
    "unwrap_tokenizer",
    "wrap_tokenizer",
]

NormalizeFn = Callable[[list[str]], list[str]]


# --------------------------------------------------------------------------- normalizers
class CulturalTokenizerMixin:
    """Mixed into a tokenizer's class by :func:`wrap_tokenizer`; see the module docstring."""

    _cultura_base: type
    _cultura_normalizers: tuple[NormalizeFn, ...]
    _cultura_normalizer_ids: tuple[str, ...]
    _cultura_skip: set[int]

    def normalize(self, texts: str | Sequence[str]) -> Any:
        """Apply the culture's normalizer chain to one text or a batch (one call per normalizer)."""
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        if batch:
            for fn in self._cultura_normalizers:
                batch = fn(batch)
        return batch[0] if single else batch

    @property
    def culture_normalizer_ids(self) -> tuple[str, ...]:
        return self._cultura_normalizer_ids

    @contextmanager
    def normalized_input(self) -> Iterator[None]:
        """Encode already-normalized text: the normalizers are skipped inside this block."""
        ident = threading.get_ident()
        nested = ident in self._cultura_skip
        self._cultura_skip.add(ident)
        try:
            yield
        finally:
            if not nested:
                self._cultura_skip.discard(ident)

    def _encode_plus(self, text: Any = None, text_pair: Any = None, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() not in self._cultura_skip:
            text, text_pair = _normalize_structure(self.normalize, (text, text_pair))
        return super()._encode_plus(text, text_pair, *args, **kwargs)  # type: ignore[misc]

    def save_pretrained(self, *args: Any, **kwargs: Any) -> Any:
        """Save as the original tokenizer class (normalizers are re-attached on load)."""
        cls = type(self)
        self.__class__ = self._cultura_base
        try:
            return self.save_pretrained(*args, **kwargs)
        finally:
            self.__class__ = cls


def _normalize_structure(normalize: NormalizeFn, obj: Any) -> Any:
    """Normalize every string leaf of nested lists/tuples with ONE batched call."""
    leaves: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, str):
            leaves.append(node)
        elif isinstance(node, (list, tuple)):
            for item in node:
                collect(item)

    collect(obj)
    if not leaves:
        return obj
    normalized = iter(normalize(leaves))

    def rebuild(node: Any) -> Any:
        if isinstance(node, str):
            return next(normalized)
        if isinstance(node, list):
            return [rebuild(item) for item in node]
        if isinstance(node, tuple):
            return tuple(rebuild(item) for item in node)
        return node

    return rebuild(obj)


_CLASSES: dict[type, type] = {}
_CLASSES_LOCK = threading.Lock()


def _wrapped_class(base: type) -> type:
    with _CLASSES_LOCK:
        cls = _CLASSES.get(base)
        if cls is None:
            cls = type(
                f"Cultural{base.__name__}",
                (CulturalTokenizerMixin, base),
                {"_cultura_base": base, "__module__": __name__},
            )
            _CLASSES[base] = cls
        return cls


def _as_chain(
    normalizers: CultureProfile | Iterable[Any],
) -> tuple[tuple[NormalizeFn, ...], tuple[str, ...]]:
    from cultura.core.profile import CultureProfile

    if isinstance(normalizers, CultureProfile):
        items: list[Any] = [c.value for c in normalizers.normalizers]
    else:
        items = list(normalizers)
    fns: list[NormalizeFn] = []
    ids: list[str] = []
    for i, item in enumerate(items):
        if not callable(item):
            raise CulturaError(f"normalizer {i} is not callable: {item!r}")
        fns.append(item)
        ids.append(getattr(item, "id", getattr(item, "__name__", f"normalizer-{i}")))
    return tuple(fns), tuple(ids)


def wrap_tokenizer(tokenizer: Any, normalizers: CultureProfile | Iterable[Any]) -> Any:
    """Attach a normalizer chain (a profile, :class:`Normalizer` objects or batched callables).

    The tokenizer object itself is changed (its class becomes a cultural subclass of its class)
    and returned. Wrapping again replaces the chain; it never stacks.
    """
    from transformers import PreTrainedTokenizerBase

    if not isinstance(tokenizer, PreTrainedTokenizerBase):
        raise CulturaError(
            f"expected a Hugging Face tokenizer, got {type(tokenizer).__name__}"
        )
    fns, ids = _as_chain(normalizers)
    base = tokenizer._cultura_base if is_wrapped(tokenizer) else type(tokenizer)
    tokenizer.__class__ = _wrapped_class(base)
    tokenizer._cultura_normalizers = fns
    tokenizer._cultura_normalizer_ids = ids
    if not hasattr(tokenizer, "_cultura_skip"):
        tokenizer._cultura_skip = set()
    return tokenizer


def is_wrapped(tokenizer: Any) -> bool:
    return isinstance(tokenizer, CulturalTokenizerMixin)


def unwrap_tokenizer(tokenizer: Any) -> Any:
    """Restore the tokenizer's original class (the normalizers no longer run)."""
    if is_wrapped(tokenizer):
        tokenizer.__class__ = tokenizer._cultura_base
    return tokenizer


@contextmanager
def _raw(tokenizer: Any) -> Iterator[None]:
    if is_wrapped(tokenizer):
        with tokenizer.normalized_input():
            yield
    else:
        yield


# --------------------------------------------------------------------------- split patterns
def apply_split_patterns(tokenizer: Any, patterns: Sequence[str]) -> None:
    """Isolate matches of ``patterns`` as pre-tokens before the tokenizer's pre-tokenizer."""
    if not patterns:
        return
    from tokenizers import Regex, pre_tokenizers

    backend = _backend(tokenizer)
    splits = [pre_tokenizers.Split(Regex(p), behavior="isolated") for p in patterns]
    current = backend.pre_tokenizer
    backend.pre_tokenizer = pre_tokenizers.Sequence(splits + ([current] if current else []))


def _backend(tokenizer: Any) -> Any:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not getattr(tokenizer, "is_fast", False):
        raise CulturaError(
            f"{type(tokenizer).__name__} is not a fast (Rust) tokenizer; cultura needs one "
            "(load it with AutoTokenizer.from_pretrained(..., use_fast=True))"
        )
    return backend


# --------------------------------------------------------------------------- vocabulary
@dataclass(frozen=True)
class VocabPlan:
    """Tokens to add to one tokenizer, with how to initialize each.

    Attributes:
        tokens: the tokens to add, in order.
        init: per token, ``"fvt"``, ``"mean"``, ``"word:<source word>"`` or the label of the
            :class:`~cultura.core.types.EmbeddingSource` that gave its texts
            (``"gloss:cc-cedict"``).
        texts: per token, the source's texts (empty unless ``init`` names a source).
        extensions: per vocabulary extension id, how many of its tokens are added.
        skipped: tokens the base tokenizer already knows.
    """

    tokens: tuple[str, ...] = ()
    init: tuple[str, ...] = ()
    texts: tuple[tuple[str, ...], ...] = ()
    extensions: dict[str, int] = field(default_factory=dict)
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.tokens)


def plan_vocabulary(tokenizer: Any, profile: CultureProfile) -> VocabPlan:
    """Choose which of the profile's vocabulary extensions' tokens ``tokenizer`` lacks, and
    where each one's embedding comes from (the extension's ``init_from`` sources, in order)."""
    vocab = tokenizer.get_vocab()
    candidates: list[tuple[str, str, str]] = []  # token, init, extension id
    seen: set[str] = set()
    for contribution in profile.vocabulary:
        ext = contribution.value
        for token in ext.resolve():
            if token in seen:
                continue
            seen.add(token)
            if ext.init == "word" and token in ext.source_words:
                init = f"word:{ext.source_words[token]}"
            else:
                init = "mean" if ext.init == "mean" else "fvt"
            candidates.append((token, init, contribution.key))
    missing = [c for c in candidates if c[0] not in vocab]
    if missing:
        unk = tokenizer.unk_token_id
        with _raw(tokenizer):
            pieces = tokenizer([c[0] for c in missing], add_special_tokens=False)["input_ids"]
        missing = [
            c for c, ids in zip(missing, pieces, strict=True) if not (len(ids) == 1 and ids[0] != unk)
        ]
    sourced = _source_texts(profile, [(c[0], c[2]) for c in missing])
    counts: dict[str, int] = {}
    for _, _, ext_id in missing:
        counts[ext_id] = counts.get(ext_id, 0) + 1
    return VocabPlan(
        tokens=tuple(c[0] for c in missing),
        init=tuple(sourced[c[0]][0] if c[0] in sourced else c[1] for c in missing),
        texts=tuple(sourced[c[0]][1] if c[0] in sourced else () for c in missing),
        extensions=counts,
        skipped=len(candidates) - len(missing),
    )


def _source_texts(
    profile: CultureProfile, tokens: Sequence[tuple[str, str]]
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """token -> (source label, texts) from each extension's ``init_from`` sources, first
    source that covers a token wins. A source that raises is named with its plugin."""
    by_ext: dict[str, list[str]] = {}
    for token, ext_id in tokens:
        by_ext.setdefault(ext_id, []).append(token)
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for contribution in profile.vocabulary:
        todo = by_ext.get(contribution.key, [])
        for source in contribution.value.init_from:
            todo = [t for t in todo if t not in found]
            if not todo:
                break
            texts = source_texts(
                source, todo, contribution.provenance,
                f"vocabulary {contribution.key!r}",
                "or build without added vocabulary (extend_vocab=False / --no-vocab)",
            )
            for token, token_texts in texts.items():
                found[token] = (source.label, token_texts)
    return found


def source_texts(
    source: EmbeddingSource, tokens: Sequence[str], provenance: Provenance, used_by: str,
    instead: str = "or uninstall it",
) -> dict[str, tuple[str, ...]]:
    """``source.texts(tokens)``; anything it raises becomes a :class:`PluginError` naming the
    plugin (``provenance``), the source and what used it (``used_by``)."""
    from cultura.core.errors import PluginError, describe_exception

    try:
        return source.texts(tokens)
    except Exception as exc:  # a plugin's lookup: name it, keep the cause
        raise PluginError(
            provenance.plugin,
            f"embedding source {source.label!r} of {used_by} failed: "
            f"{describe_exception(exc)}. Fix the plugin, {instead}",
            distribution=str(provenance),
        ) from exc


def add_tokens(tokenizer: Any, tokens: Sequence[str]) -> list[int]:
    """Add ``tokens`` (normalized, not special) and return their ids."""
    from tokenizers import AddedToken

    before = len(tokenizer)
    tokenizer.add_tokens([AddedToken(t, normalized=True, special=False) for t in tokens])
    ids = tokenizer.convert_tokens_to_ids(list(tokens))
    if len(tokenizer) - before != len(tokens) or len(set(ids)) != len(tokens):
        raise CulturaError(
            f"adding {len(tokens)} tokens grew the tokenizer by {len(tokenizer) - before}; some "
            "plugin tokens collide after the base tokenizer's normalization (e.g. case folding)"
        )
    return list(ids)


@dataclass(frozen=True)
class AddedVocabulary:
    """What :func:`extend_vocabulary` did to a model (recorded in the artifact manifest)."""

    tokens: tuple[str, ...]
    token_ids: tuple[int, ...]
    vocab_size_before: int
    vocab_size_after: int
    tied: bool
    init_counts: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "added_tokens": len(self.tokens),
            "vocab_size_before": self.vocab_size_before,
            "vocab_size_after": self.vocab_size_after,
            "tied_lm_head": self.tied,
            "init": dict(self.init_counts),
        }


def has_untied_output(model: Any) -> bool:
    """Whether ``model`` has an LM head whose weight is not the input embedding matrix."""
    out = model.get_output_embeddings()
    if out is None or getattr(out, "weight", None) is None:
        return False
    emb = model.get_input_embeddings().weight
    return out.weight.data_ptr() != emb.data_ptr() and out.weight.shape[0] == emb.shape[0]


def extend_vocabulary(model: Any, tokenizer: Any, plan: VocabPlan) -> AddedVocabulary:
    """Add ``plan``'s tokens to ``tokenizer``, resize ``model`` and initialize the new rows.

    Each row, in this order of preference: the weighted mean of the base embeddings of its
    source texts' pieces (glosses, decomposition, transliteration; weights 1, 1/2, ... by
    rank), the base embedding of its source word (``init="word"``), FVT (the mean of the base
    tokenizer's pieces for the token itself), the mean of its characters' rows when those are
    new tokens initialized by the steps before ("overlap"), and the mean of the vocabulary.
    The counts per kind are recorded in :attr:`AddedVocabulary.init_counts`.
    """
    import torch

    emb = model.get_input_embeddings()
    rows_before = int(emb.weight.shape[0])
    untied = has_untied_output(model)
    if not plan.tokens:
        return AddedVocabulary((), (), rows_before, rows_before, not untied, {})
    texts = plan.texts or tuple(() for _ in plan.tokens)
    recipes = _row_recipes(tokenizer, plan, texts, rows_before)
    ids = add_tokens(tokenizer, plan.tokens)
    rows_after = max(rows_before, len(tokenizer))
    model.resize_token_embeddings(rows_after, mean_resizing=False)
    recipes = _overlap_recipes(plan.tokens, ids, recipes, tokenizer, rows_before)
    counts: dict[str, int] = {}
    for kind, _ in recipes:
        counts[kind] = counts.get(kind, 0) + 1

    def init_rows(weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        old = weight[:rows_before]
        mean = old.mean(dim=0)
        bias_mean = bias[:rows_before].mean() if bias is not None else None
        # overlap rows average other new rows: those first
        order = sorted(zip(ids, recipes, strict=True), key=lambda item: item[1][0] == "overlap")
        for token_id, (_, parts) in order:
            if not parts:
                weight[token_id] = mean
                if bias is not None:
                    bias[token_id] = bias_mean
                continue
            total = sum(w for w, _ in parts)
            weight[token_id] = sum(w * weight[rows].mean(dim=0) for w, rows in parts) / total
            if bias is not None:
                bias[token_id] = sum(w * bias[rows].mean() for w, rows in parts) / total

    with torch.no_grad():
        init_rows(model.get_input_embeddings().weight)
        if untied:
            out = model.get_output_embeddings()
            bias = getattr(out, "bias", None)
            init_rows(out.weight, bias if bias is not None and bias.shape[0] == rows_after else None)
    return AddedVocabulary(
        tokens=tuple(plan.tokens),
        token_ids=tuple(ids),
        vocab_size_before=rows_before,
        vocab_size_after=rows_after,
        tied=not untied,
        init_counts=counts,
    )


#: one row's initialization: its kind and weighted groups of rows whose means are averaged
_Recipe = tuple[str, list[tuple[float, list[int]]]]


def _row_recipes(
    tokenizer: Any, plan: VocabPlan, texts: Sequence[tuple[str, ...]], rows_before: int
) -> list[_Recipe]:
    """Each planned token's recipe from its source texts, source word or own pieces (before
    the tokens are added, so the base tokenizer still splits them). Tokens with none get
    ``("", [])`` (``"mean"`` when the extension asked for the mean)."""
    unk = tokenizer.unk_token_id
    flat: list[str] = []
    for token, how, token_texts in zip(plan.tokens, plan.init, texts, strict=True):
        flat.extend(token_texts)
        flat.append(how.split(":", 1)[1] if how.startswith("word:") else token)
    with _raw(tokenizer):
        pieces = tokenizer(flat, add_special_tokens=False)["input_ids"] if flat else []
    known = [[p for p in ids if p != unk and p < rows_before] for ids in pieces]
    recipes: list[_Recipe] = []
    at = 0
    for how, token_texts in zip(plan.init, texts, strict=True):
        parts = [
            (1.0 / (rank + 1), rows)
            for rank, rows in enumerate(known[at : at + len(token_texts)])
            if rows
        ]
        own = known[at + len(token_texts)]
        at += len(token_texts) + 1
        if parts:
            recipes.append((how, parts))
        elif how == "mean":
            recipes.append(("mean", []))
        elif own:
            recipes.append(("word" if how.startswith("word:") else "fvt", [(1.0, own)]))
        else:
            recipes.append(("", []))
    return recipes


def _overlap_recipes(
    tokens: Sequence[str], ids: Sequence[int], recipes: list[_Recipe], tokenizer: Any, rows_before: int
) -> list[_Recipe]:
    """Give a token without a recipe the mean of its characters' rows where each character is
    a base token or an added token that has a recipe ("overlap"), else the mean ("mean")."""
    known: dict[str, int] = {
        token: token_id for token, token_id, (kind, _) in zip(tokens, ids, recipes, strict=True) if kind
    }
    vocab = tokenizer.get_vocab()
    usable = set(known.values())
    out: list[_Recipe] = []
    for token, (kind, parts) in zip(tokens, recipes, strict=True):
        if kind:
            out.append((kind, parts))
            continue
        rows = [known.get(ch, vocab.get(ch, -1)) for ch in token] if len(token) > 1 else []
        if rows and all(0 <= r < rows_before or r in usable for r in rows):
            out.append(("overlap", [(1.0, rows)]))
        else:
            out.append(("mean", []))
    return out


# --------------------------------------------------------------------------- report
#: default of ``max_pieces``: a word split into more pieces than this counts as fragmented
DEFAULT_MAX_PIECES = 4
_WORD = re.compile(r"\S+")


def _word_pieces(text: str, ids: Sequence[int], offsets: Sequence[tuple[int, int]]) -> list[list[int]]:
    """The token ids of each white-space separated word of ``text``, by character offsets.

    A token belongs to every word its span overlaps (white space in a span is ignored); tokens
    with an empty span (nothing of the text) belong to none.
    """
    spans = [m.span() for m in _WORD.finditer(text)]
    starts = [start for start, _ in spans]
    pieces: list[list[int]] = [[] for _ in spans]
    for token_id, (start, end) in zip(ids, offsets, strict=True):
        if end <= start:
            continue
        i = bisect_right(starts, start) - 1
        if i < 0 or spans[i][1] <= start:  # the span starts in white space before word i + 1
            i += 1
        while i < len(spans) and spans[i][0] < end:
            pieces[i].append(token_id)
            i += 1
    return pieces


def tokenize_stats(
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 256,
    max_pieces: int = DEFAULT_MAX_PIECES,
) -> dict[str, Any]:
    """Token- and word-level figures of ``tokenizer`` over ``texts``.

    Token level: tokens, UNK tokens, characters (non-space, of the raw texts) and their
    ratios. Word level: the words are the white-space separated chunks of the text the
    tokenizer's model sees (for a tokenizer wrapped by :func:`wrap_tokenizer`, the text after
    the culture's normalizers; in scripts written without spaces a chunk is a phrase), and
    ``words_with_unk`` / ``words_all_unk`` / ``words_over_max_pieces`` count the words whose
    pieces include an UNK, are all UNK (nothing of the word survives; WordPiece turns such a
    word into one lone UNK), or number more than ``max_pieces``. Needs a fast tokenizer
    (character offsets).
    """
    if max_pieces < 1:
        raise CulturaError(f"max_pieces must be a positive integer, got {max_pieces}")
    _backend(tokenizer)
    unk = tokenizer.unk_token_id
    unk_is_real = unk is not None and tokenizer.unk_token not in (
        tokenizer.eos_token,
        tokenizer.bos_token,
    )
    tokens = unks = words = with_unk = all_unk = over = 0
    for start in range(0, len(texts), batch_size):
        batch = list(texts[start : start + batch_size])
        if is_wrapped(tokenizer):
            batch = tokenizer.normalize(batch)
        with _raw(tokenizer):
            encoded = tokenizer(batch, add_special_tokens=False, return_offsets_mapping=True)
        for text, ids, offsets in zip(
            batch, encoded["input_ids"], encoded["offset_mapping"], strict=True
        ):
            tokens += len(ids)
            if unk_is_real:
                unks += sum(1 for i in ids if i == unk)
            for pieces in _word_pieces(text, ids, offsets):
                words += 1
                unknown = sum(1 for i in pieces if i == unk) if unk_is_real else 0
                with_unk += unknown > 0
                all_unk += unknown > 0 and unknown == len(pieces)
                over += len(pieces) > max_pieces
    chars = sum(len("".join(t.split())) for t in texts)
    return {
        "tokens": tokens,
        "unk": unks,
        "chars": chars,
        "unk_rate": unks / tokens if tokens else 0.0,
        "tokens_per_char": tokens / chars if chars else 0.0,
        "words": words,
        "words_with_unk": with_unk,
        "words_all_unk": all_unk,
        "words_over_max_pieces": over,
        "word_unk_rate": with_unk / words if words else 0.0,
        "word_all_unk_rate": all_unk / words if words else 0.0,
        "word_over_max_pieces_rate": over / words if words else 0.0,
    }


#: the :func:`tokenize_stats` figures :func:`tokenize_report` gives as ``<key>_before`` and
#: ``<key>_after``
REPORTED = (
    "tokens", "unk", "unk_rate", "tokens_per_char", "words", "words_with_unk", "words_all_unk",
    "words_over_max_pieces", "word_unk_rate", "word_all_unk_rate", "word_over_max_pieces_rate",
)


def tokenize_report(
    texts: Sequence[str],
    base: str,
    culture: str,
    *,
    manager: Any = None,
    extend_vocab: bool = True,
    max_pieces: int = DEFAULT_MAX_PIECES,
    head_type: str = "seq-cls",
    max_length: int = 128,
    knowledge_top_k: int = 1,
    knowledge_min_score: float = DEFAULT_MIN_SCORE,
) -> dict[str, Any]:
    """Token- and word-level figures of ``base``'s tokenizer before/after the tweaks.

    Each figure of :func:`tokenize_stats` is given as ``<name>_before`` (the base tokenizer on
    the raw texts) and ``<name>_after`` (the tweaked tokenizer: normalizers, added vocabulary,
    split patterns). Characters are counted on the raw texts without white space, the same for
    both sides; words are counted on the text each side's model sees, so normalizers that
    join or split words change ``words_after``. A base whose configuration asks for remote
    code is refused.

    ``encoding`` tells how the texts would be fed to a ``head_type`` head with the culture's
    knowledge injected (as ``adapt(..., knowledge=True, knowledge_top_k=...,
    knowledge_min_score=...)`` would) within ``max_length``
    tokens: :meth:`~cultura.adapt.knowledge.EncodingStats.as_dict` (share of texts with
    knowledge, knowledge tokens per such text, texts and text tokens cut by ``max_length``)
    plus those settings and the number of knowledge entries. ``token-cls`` texts are split
    into words at white space.
    """
    from transformers import AutoTokenizer

    from cultura.adapt.heads import refuse_remote_base
    from cultura.core.profile import culture as get_profile

    if max_pieces < 1:
        raise CulturaError(f"max_pieces must be a positive integer, got {max_pieces}")
    profile = get_profile(culture, manager=manager)
    refuse_remote_base(base)
    before_tok = AutoTokenizer.from_pretrained(base, trust_remote_code=False)
    after_tok = AutoTokenizer.from_pretrained(base, trust_remote_code=False)
    _backend(after_tok)
    plan = plan_vocabulary(after_tok, profile) if extend_vocab else VocabPlan()
    if plan.tokens:
        add_tokens(after_tok, plan.tokens)
    apply_split_patterns(after_tok, [c.value for c in profile.split_patterns])
    wrap_tokenizer(after_tok, profile)
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise CulturaError("no text to report on: the input is empty")
    before = tokenize_stats(before_tok, texts, max_pieces=max_pieces)
    after = tokenize_stats(after_tok, texts, max_pieces=max_pieces)
    report: dict[str, Any] = {
        "culture": profile.tag,
        "base": base,
        "lines": len(texts),
        "chars": before["chars"],
        "normalizers": list(profile.normalizer_ids),
        "added_tokens": len(plan.tokens),
        "skipped_tokens": plan.skipped,
        "vocab_size_before": len(before_tok),
        "vocab_size_after": len(after_tok),
        "max_pieces": max_pieces,
    }
    for key in REPORTED:
        report[f"{key}_before"] = before[key]
        report[f"{key}_after"] = after[key]
    report["encoding"] = _encoding_report(
        after_tok, profile, texts, head_type, max_length, knowledge_top_k, knowledge_min_score
    )
    return report


def _encoding_report(
    tokenizer: Any,
    profile: CultureProfile,
    texts: list[str],
    head_type: str,
    max_length: int,
    top_k: int,
    min_score: float,
) -> dict[str, Any]:
    """How ``texts`` are encoded with the culture's knowledge (see :func:`tokenize_report`)."""
    injector = KnowledgeInjector.from_profile(
        profile, head_type, top_k=top_k, max_chars=128, min_score=min_score
    )
    if tokenizer.pad_token is None:  # this report's copy only: batches are padded
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    stats = EncodingStats()
    causal = head_type == "causal-lm"
    for start in range(0, len(texts), 256):
        batch = tokenizer.normalize(texts[start : start + 256])
        injected = injector.inject(batch, enabled=True)
        with tokenizer.normalized_input():
            encode_with_knowledge(
                tokenizer,
                [t.split() for t in batch] if head_type == "token-cls" else batch,
                injected.contexts if causal else injected.pairs,
                max_length=max_length,
                prompt=injector.prompt if causal else None,
                split_into_words=head_type == "token-cls",
                return_tensors=None,
                stats=stats,
            )
    return {
        "head_type": head_type,
        "max_length": max_length,
        "knowledge_entries": len(injector),
        "knowledge_top_k": top_k,
        "knowledge_min_score": min_score,
        **stats.as_dict(),
    }
