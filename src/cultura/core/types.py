"""Registrations: the frozen dataclasses that plugin hooks return.

Every registration validates and normalizes its fields in ``__post_init__`` and raises
:class:`~cultura.core.errors.RegistrationError` naming the class and field; the plugin manager
re-raises that as a :class:`~cultura.core.errors.PluginError` naming the plugin.

Registrations hold small data and *factories* (callables), never loaded weights, so that
listing plugins stays instant. Each registration has a *key* (``id``, ``name`` or ``task``):
when a culture's profile is merged along its fallback chain, a more specific culture's
registration replaces a less specific one with the same key.
"""

from __future__ import annotations

import random
import re
import reprlib
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from cultura.core.errors import (
    CulturaError,
    PluginError,
    RegistrationError,
    TagError,
    describe_exception,
)
from cultura.core.tags import Culture

__all__ = [
    "AdapterHeadSpec",
    "BiasCheck",
    "CultureInfo",
    "EMBEDDING_SOURCE_KINDS",
    "EmbeddingSource",
    "HEAD_TYPES",
    "INIT_STRATEGIES",
    "LM_HEAD_TYPES",
    "KnowledgeEntry",
    "KnowledgeSource",
    "MinimalPair",
    "Normalizer",
    "PERTURBATION_KINDS",
    "PeftSpec",
    "Perturbation",
    "PromptTemplate",
    "Provenance",
    "PublishedAdapter",
    "TokenizerTweaks",
    "VocabularyExtension",
    "WordRules",
]

HeadType = Literal["seq-cls", "token-cls", "causal-lm", "masked-lm"]
HEAD_TYPES: tuple[str, ...] = ("seq-cls", "token-cls", "causal-lm", "masked-lm")
#: the language-model heads: no labels, trained on plain text (the built-in ``lm`` task of
#: every culture builds one of them; see :mod:`cultura.adapt.lm`)
LM_HEAD_TYPES: tuple[str, ...] = ("masked-lm", "causal-lm")
InitStrategy = Literal["fvt", "mean", "word"]
INIT_STRATEGIES: tuple[str, ...] = ("fvt", "mean", "word")
#: what an :class:`EmbeddingSource` gives for a token: dictionary glosses in the base model's
#: language, a decomposition into parts the base knows, or a transliteration into its script
EMBEDDING_SOURCE_KINDS: tuple[str, ...] = ("gloss", "decomposition", "transliteration")
PEFT_METHODS: tuple[str, ...] = ("lora", "prefix", "ia3")
BIAS_METRICS: tuple[str, ...] = ("ctf_gap", "flip_rate", "max_group_gap", "crows_pairs", "pair_ll")
#: what a :class:`Perturbation` imitates: another script or regional variant of the language,
#: another spelling or encoding of the same words, diacritics, character width, typing slips,
#: a romanization, letter case, spacing and joiners, anything else
PERTURBATION_KINDS: tuple[str, ...] = (
    "script", "region", "orthography", "diacritics", "width", "typo", "transliteration",
    "casing", "spacing", "other",
)

_ID = re.compile(r"[a-z0-9][a-z0-9_.\-]*")
_VARIANT = re.compile(r"[a-z0-9][a-z0-9_\-]*")


def _fail(obj: object, field_name: str, message: str) -> RegistrationError:
    return RegistrationError(type(obj).__name__, field_name, message)


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _check_id(obj: object, name: str) -> None:
    value = getattr(obj, name)
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _fail(
            obj,
            name,
            f"{value!r} is not a valid identifier: use lowercase letters, digits, '.', '_' "
            "or '-', e.g. 'zh.opencc' (prefix it with your plugin's name)",
        )


def _check_text(obj: object, name: str, *, allow_empty: bool = False) -> None:
    value = getattr(obj, name)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise _fail(obj, name, f"must be a non-empty string, got {value!r}")


def _tuple_of_str(obj: object, name: str, *, allow_empty: bool = True) -> None:
    value = getattr(obj, name)
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise _fail(obj, name, f"must be a sequence of strings, got {type(value).__name__}")
    items = tuple(value)
    bad = [v for v in items if not isinstance(v, str) or not v]
    if bad:
        raise _fail(obj, name, f"must hold non-empty strings only; bad items: {bad[:3]!r}")
    if not allow_empty and not items:
        raise _fail(obj, name, "must not be empty")
    _set(obj, name, items)


def _tuple_of(obj: object, name: str, kind: type) -> None:
    value = getattr(obj, name)
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise _fail(obj, name, f"must be a sequence of {kind.__name__}, got {value!r}")
    items = tuple(value)
    bad = [v for v in items if not isinstance(v, kind)]
    if bad:
        raise _fail(
            obj, name, f"must hold {kind.__name__} objects; got {type(bad[0]).__name__}"
        )
    _set(obj, name, items)


def _check_culture(obj: object, name: str) -> None:
    value = getattr(obj, name)
    if not isinstance(value, str):
        raise _fail(obj, name, f"must be a BCP-47 tag string, got {type(value).__name__}")
    try:
        _set(obj, name, Culture.parse(value).tag)
    except TagError as exc:
        raise _fail(obj, name, str(exc)) from None


def _check_callable(obj: object, name: str, *, optional: bool = False) -> None:
    value = getattr(obj, name)
    if value is None and optional:
        return
    if not callable(value):
        raise _fail(obj, name, f"must be callable, got {type(value).__name__}")


@dataclass(frozen=True)
class Provenance:
    """Which plugin produced a registration (attached by the plugin manager)."""

    plugin: str
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}"


class _DefaultedField:
    """A dataclass field whose empty value is computed from the instance on first read.

    ``CultureInfo`` names come from CLDR data that takes ~150 ms to load; computing them only
    when read keeps ``cultura plugins`` (which never shows them) instant. A data descriptor,
    so frozen dataclasses store the given value through ``__set__`` as usual.
    """

    def __init__(self, compute: Callable[[Any], str]) -> None:
        self.compute = compute

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: object, objtype: type | None = None) -> str:
        if obj is None:
            return ""  # the dataclass default
        value = obj.__dict__.get(self.slot, "")
        if not value:
            value = obj.__dict__[self.slot] = self.compute(obj)
        return value

    def __set__(self, obj: object, value: str) -> None:
        if not isinstance(value, str):
            raise _fail(obj, self.slot[1:], f"must be a string, got {type(value).__name__}")
        obj.__dict__[self.slot] = value


def _english_name(info: Any) -> str:
    from cultura.core.tags import display_name

    return display_name(info.tag)


def _native_name(info: Any) -> str:
    from cultura.core.tags import display_name

    return display_name(info.tag, native=True)


def _likely_script(info: Any) -> str:
    import langcodes

    return langcodes.Language.get(info.tag).maximize().script or ""


@dataclass(frozen=True)
class CultureInfo:
    """A culture a plugin serves (returned by ``cultura_cultures``).

    Attributes:
        tag: BCP-47 tag; stored in canonical form (``zh-TW`` -> ``zh-Hant-TW``).
        english_name / native_name: human names; default (computed when first read) to the
            CLDR names.
        script: ISO 15924 script code of the culture's text (``"Hant"``); default: likely script.
        direction: ``"ltr"`` or ``"rtl"``.
        parent: tag this culture falls back to; default: the next level of its fallback chain.
        description: one line shown by ``cultura cultures``.
    """

    tag: str
    english_name: str = _DefaultedField(_english_name)  # type: ignore[assignment]
    native_name: str = _DefaultedField(_native_name)  # type: ignore[assignment]
    script: str = _DefaultedField(_likely_script)  # type: ignore[assignment]
    direction: Literal["ltr", "rtl"] = "ltr"
    parent: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        _check_culture(self, "tag")
        if self.tag == "und":
            raise _fail(self, "tag", "'und' is reserved for the built-in universal plugin")
        culture = Culture.parse(self.tag)
        if self.direction not in ("ltr", "rtl"):
            raise _fail(self, "direction", f"must be 'ltr' or 'rtl', got {self.direction!r}")
        if self.parent is None:
            _set(self, "parent", culture.parent)
        else:
            _check_culture(self, "parent")
            if self.parent not in culture.chain()[1:]:
                raise _fail(
                    self,
                    "parent",
                    f"{self.parent!r} is not on the fallback chain of {self.tag!r} "
                    f"({' -> '.join(culture.chain())})",
                )


@dataclass(frozen=True)
class Normalizer:
    """A batched text normalizer: ``fn(list[str]) -> list[str]``, pure and idempotent.

    Attributes:
        id: key within a culture profile, e.g. ``"zh.script"``; a more specific culture's
            normalizer with the same id replaces a less specific one.
        fn: batched function; must return one string per input and be idempotent.
        description: one line for ``cultura show``.
        variant: names the conversion when levels give different ones under one id
            (``zh.script`` is ``"t2s"`` for zh, ``"s2twp"`` for zh-TW): one segment of
            lowercase letters, digits, ``_`` or ``-``; empty by default. Not part of the merge
            key; with ``id`` it makes the :attr:`full_id` an adapter's ``cultura.json`` records.
        provenance: the plugin that contributed it; set when a culture profile is built (a
            plugin leaves it out), so that a failing normalizer names its plugin.
    """

    id: str
    fn: Callable[[list[str]], list[str]]
    description: str = ""
    variant: str = field(default="", kw_only=True)
    provenance: Provenance | None = field(default=None, kw_only=True, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_id(self, "id")
        _check_callable(self, "fn")
        if not isinstance(self.variant, str) or (
            self.variant and not _VARIANT.fullmatch(self.variant)
        ):
            raise _fail(
                self,
                "variant",
                f"{self.variant!r} is not a valid variant: use one segment of lowercase "
                "letters, digits, '_' or '-' naming the conversion, e.g. 's2twp' (or leave it "
                "empty)",
            )

    @property
    def full_id(self) -> str:
        """The id naming the conversion: ``id`` plus ``.variant`` (``"zh.script.s2twp"``)."""
        return f"{self.id}.{self.variant}" if self.variant else self.id

    def __call__(self, texts: Sequence[str]) -> list[str]:
        """Run ``fn`` on a copy of ``texts``; check it returned one string per input.

        Anything ``fn`` raises (``sys.exit()`` included) and any other result raise a
        :class:`~cultura.core.errors.PluginError` naming the plugin, its distribution and this
        normalizer (a :class:`~cultura.core.errors.RegistrationError` when no plugin is
        known). ``KeyboardInterrupt`` passes through: it may be the user's Ctrl-C.
        """
        batch = list(texts)
        try:
            out = self.fn(batch)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a broken plugin's normalizer, attributed below
            raise self._failure(f"raised {describe_exception(exc)}") from exc
        if (
            not isinstance(out, list)
            or len(out) != len(batch)
            or not all(isinstance(text, str) for text in out)
        ):
            raise self._failure(
                f"returned {_describe_output(out)}; it must return a list holding one string "
                f"per input ({len(batch)} here)"
            )
        return out

    def _failure(self, what: str) -> CulturaError:
        prov = self.provenance
        if prov is None:
            return RegistrationError("Normalizer", "fn", f"normalizer {self.full_id!r} {what}")
        return PluginError(
            prov.plugin,
            f"normalizer {self.full_id!r} {what}. Fix the plugin, or disable it: "
            f"CULTURA_DISABLE_PLUGINS={prov.distribution}",
            distribution=str(prov),
        )


def _describe_output(out: object) -> str:
    if not isinstance(out, list):
        return f"{type(out).__name__} {reprlib.repr(out)}"
    bad = [text for text in out if not isinstance(text, str)]
    if bad:
        return f"a list holding {type(bad[0]).__name__} {reprlib.repr(bad[0])}"
    return f"a list of length {len(out)}"


@dataclass(frozen=True)
class EmbeddingSource:
    """Where added tokens' embeddings can come from: for each token, texts the base model knows.

    A new token's row becomes the mean of the base embeddings of a text's pieces (several texts,
    e.g. a gloss's senses, are averaged with weights 1, 1/2, 1/3, ... in the order given), so a
    character starts near the meaning of its translation instead of at the mean of the
    vocabulary (WECHSEL-style glosses, Minixhofer et al. 2022; decomposition, e.g. a Hangul
    syllable into jamo; transliteration, e.g. a romanization).

    Attributes:
        name: names the source in each adapter's record of how many rows came from where
            (``"<kind>:<name>"``, e.g. ``"gloss:cc-cedict"``).
        kind: one of :data:`EMBEDDING_SOURCE_KINDS`.
        lookup: called once with the tuple of tokens to initialize; returns a mapping token ->
            text, or texts in order of preference. Tokens it leaves out (or whose texts the base
            tokenizer only knows as [UNK]) go to the next source, then FVT, then the mean of
            their characters' new rows, then the vocabulary mean.
        description / source / license: one line for ``cultura show``, where the texts come
            from, and their licence (SPDX id).
    """

    name: str
    kind: str
    lookup: Callable[[tuple[str, ...]], Mapping[str, str | Sequence[str]]]
    description: str = ""
    source: str = ""
    license: str = ""

    def __post_init__(self) -> None:
        _check_id(self, "name")
        if self.kind not in EMBEDDING_SOURCE_KINDS:
            raise _fail(self, "kind", f"must be one of {EMBEDDING_SOURCE_KINDS}, got {self.kind!r}")
        _check_callable(self, "lookup")

    @property
    def label(self) -> str:
        """``"<kind>:<name>"``, as recorded in adapters."""
        return f"{self.kind}:{self.name}"

    def texts(self, tokens: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """``lookup`` on ``tokens``, checked: token -> non-empty texts (tokens not asked for and
        empty texts are dropped). Raises :class:`RegistrationError` naming the source when
        ``lookup`` returns something else than a mapping of strings."""
        wanted = set(tokens)
        found = self.lookup(tuple(tokens))
        if not isinstance(found, Mapping):
            raise RegistrationError(
                "EmbeddingSource", "lookup", f"{self.label}: returned {type(found).__name__}, not a mapping"
            )
        out: dict[str, tuple[str, ...]] = {}
        for token, value in found.items():
            if token not in wanted:
                continue
            texts = (value,) if isinstance(value, str) else value
            if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
                raise RegistrationError(
                    "EmbeddingSource", "lookup",
                    f"{self.label}: the value for {token!r} is {reprlib.repr(value)}, not a text or a list of texts",
                )
            kept = tuple(t for t in texts if t.strip())
            if kept:
                out[token] = kept
        return out


@dataclass(frozen=True)
class VocabularyExtension:
    """Tokens to add to a base tokenizer, with how to initialize their embeddings.

    Attributes:
        id: key within a culture profile, e.g. ``"zh.vocab"``.
        tokens: the tokens (a tuple, or a zero-argument factory returning an iterable so large
            lists load only when used). Tokens already in a base vocabulary are skipped when
            applied.
        init: ``"fvt"`` (mean of the old tokenizer's pieces for the token, Gee et al. 2022),
            ``"mean"`` (the mean of all embeddings) or ``"word"`` (the embedding of a source
            word given in ``source_words``, FVT-initialized when it spans several pieces).
        source_words: for ``init="word"``: token -> source word.
        description: one line for ``cultura show``.
        init_from: :class:`EmbeddingSource` s tried in order before ``init`` for each token
            (glosses, decomposition, transliteration); ``init`` applies to the tokens none of
            them covers.
    """

    id: str
    tokens: tuple[str, ...] | Callable[[], Iterable[str]]
    init: InitStrategy = "fvt"
    source_words: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    init_from: tuple[EmbeddingSource, ...] = ()

    def __post_init__(self) -> None:
        _check_id(self, "id")
        if not callable(self.tokens):
            _tuple_of_str(self, "tokens")
        if self.init not in INIT_STRATEGIES:
            raise _fail(self, "init", f"must be one of {INIT_STRATEGIES}, got {self.init!r}")
        if not isinstance(self.source_words, Mapping):
            raise _fail(self, "source_words", "must be a mapping token -> source word")
        _tuple_of(self, "init_from", EmbeddingSource)
        _set(self, "source_words", MappingProxyType(dict(self.source_words)))

    def resolve(self) -> tuple[str, ...]:
        """The tokens, deduplicated in order (calls the factory if one was given)."""
        raw = self.tokens() if callable(self.tokens) else self.tokens
        seen: dict[str, None] = {}
        for token in raw:
            if not isinstance(token, str) or not token.strip():
                raise RegistrationError(
                    "VocabularyExtension", "tokens", f"{self.id}: bad token {token!r}"
                )
            seen.setdefault(token, None)
        return tuple(seen)


@dataclass(frozen=True)
class TokenizerTweaks:
    """What a plugin changes about tokenization for a culture (``cultura_tokenizer_tweaks``).

    Attributes:
        normalizers: applied in order, after less specific cultures' normalizers.
        vocabulary: token additions (several allowed, each with its own id).
        split_patterns: regular expressions whose matches are isolated as pre-tokens before the
            tokenizer's own pre-tokenization (e.g. a clitic boundary).
    """

    normalizers: tuple[Normalizer, ...] = ()
    vocabulary: tuple[VocabularyExtension, ...] = ()
    split_patterns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _tuple_of(self, "normalizers", Normalizer)
        _tuple_of(self, "vocabulary", VocabularyExtension)
        _tuple_of_str(self, "split_patterns")
        for pattern in self.split_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise _fail(self, "split_patterns", f"{pattern!r}: {exc}") from None


@dataclass(frozen=True)
class KnowledgeEntry:
    """One piece of cultural knowledge."""

    id: str
    text: str
    tags: tuple[str, ...] = ()
    source: str = ""
    license: str = ""

    def __post_init__(self) -> None:
        _check_text(self, "id")
        _check_text(self, "text")
        _tuple_of_str(self, "tags")


@dataclass(frozen=True)
class KnowledgeSource:
    """A knowledge base a plugin contributes (``cultura_knowledge``).

    Attributes:
        name: key within a culture profile, e.g. ``"zh.festivals"``.
        license: SPDX identifier or license text for the entries (required).
        entries: a tuple of :class:`KnowledgeEntry`, or a zero-argument factory returning them.
        retriever: optional factory ``(entries) -> object with .search(query, k) -> list[
            (KnowledgeEntry, score)]``; default: the core's character n-gram BM25 retriever.
        templates: head type -> injection template with ``{knowledge}`` (and for causal LMs
            ``{text}``), e.g. ``{"causal-lm": "背景：{knowledge}\\n{text}"}``.
        description: one line for ``cultura show``.
    """

    name: str
    license: str
    entries: tuple[KnowledgeEntry, ...] | Callable[[], Iterable[KnowledgeEntry]] = ()
    retriever: Callable[[Sequence[KnowledgeEntry]], Any] | None = None
    templates: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        _check_id(self, "name")
        _check_text(self, "license")
        if not callable(self.entries):
            _tuple_of(self, "entries", KnowledgeEntry)
        _check_callable(self, "retriever", optional=True)
        if not isinstance(self.templates, Mapping):
            raise _fail(self, "templates", "must be a mapping head type -> template")
        for head, template in self.templates.items():
            if head not in HEAD_TYPES:
                raise _fail(self, "templates", f"unknown head type {head!r}; use {HEAD_TYPES}")
            if "{knowledge}" not in template:
                raise _fail(self, "templates", f"template for {head!r} lacks '{{knowledge}}'")
        _set(self, "templates", MappingProxyType(dict(self.templates)))

    def resolve(self) -> tuple[KnowledgeEntry, ...]:
        """The entries (calls the factory if one was given), checked for unique ids."""
        raw = tuple(self.entries() if callable(self.entries) else self.entries)
        seen: set[str] = set()
        for entry in raw:
            if not isinstance(entry, KnowledgeEntry):
                raise RegistrationError(
                    "KnowledgeSource", "entries", f"{self.name}: got {type(entry).__name__}"
                )
            if entry.id in seen:
                raise RegistrationError(
                    "KnowledgeSource", "entries", f"{self.name}: duplicate entry id {entry.id!r}"
                )
            seen.add(entry.id)
        return raw


@dataclass(frozen=True)
class PeftSpec:
    """How to build the PEFT adapter. ``method``: ``lora`` (default), ``prefix`` or ``ia3``.

    ``target_modules`` ``None`` lets PEFT choose for the architecture; ``options`` passes extra
    keyword arguments to the PEFT config class.
    """

    method: Literal["lora", "prefix", "ia3"] = "lora"
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] | None = None
    num_virtual_tokens: int = 16
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in PEFT_METHODS:
            raise _fail(self, "method", f"must be one of {PEFT_METHODS}, got {self.method!r}")
        for name in ("r", "alpha", "num_virtual_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise _fail(self, name, f"must be a positive integer, got {value!r}")
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise _fail(self, "dropout", f"must be in [0, 1), got {self.dropout!r}")
        if self.target_modules is not None:
            _tuple_of_str(self, "target_modules", allow_empty=False)
        _set(self, "options", MappingProxyType(dict(self.options)))


@dataclass(frozen=True)
class PublishedAdapter:
    """An adapter already published on the Hub (``repo_id`` at a pinned ``revision``)."""

    repo_id: str
    revision: str
    base_model: str = ""

    def __post_init__(self) -> None:
        _check_text(self, "repo_id")
        if self.repo_id.count("/") != 1:
            raise _fail(self, "repo_id", f"must be 'org/name', got {self.repo_id!r}")
        _check_text(self, "revision")


def _template_fields(obj: object, name: str, allowed: tuple[str, ...]) -> list[str]:
    """The ``{field}`` names of the ``str.format`` template in ``name``, each one of ``allowed``."""
    value = getattr(obj, name)
    try:
        parsed = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(value)
                  if f is not None]
    except ValueError as exc:
        raise _fail(obj, name, f"{value!r} is not a valid template ({exc}); write a literal "
                               "brace as '{{' or '}}'") from None
    found = [f for f, _, _ in parsed]
    if any(spec or conv for _, spec, conv in parsed):
        raise _fail(obj, name, f"{value!r}: write fields plainly, as {{text}}, without a "
                               "conversion (!r) or a format spec (:...)")
    bad = [f for f in found if f not in allowed]
    if bad:
        named = ", ".join("{" + a + "}" for a in allowed) or "no fields"
        raise _fail(obj, name, f"{value!r} uses {{{bad[0]}}}; it may use {named} only "
                               "(write a literal brace as '{{' or '}}')")
    return found


def _label_mapping(obj: object, name: str) -> None:
    value = getattr(obj, name)
    if not isinstance(value, Mapping):
        raise _fail(obj, name, f"must be a mapping label -> text, got {type(value).__name__}")
    bad = [(k, v) for k, v in value.items()
           if not isinstance(k, str) or not isinstance(v, str) or not v.strip()]
    if bad:
        raise _fail(obj, name, f"must map label names to non-empty strings; bad item: {bad[0]!r}")
    _set(obj, name, MappingProxyType(dict(value)))


@dataclass(frozen=True)
class PromptTemplate:
    """How to ask a language model for a classifier head's label, in the culture's language.

    Given on :attr:`AdapterHeadSpec.prompt` (plugin API 1.3); :func:`cultura.prompt` builds
    few- and zero-shot prompts with it, and zero-shot prediction scores the verbalizers
    (docs/zero-shot.md). Templates are ``str.format`` strings: write a literal brace as
    ``{{`` or ``}}``.

    Attributes:
        instruction: the task instruction, first in the prompt; ``{labels}`` becomes the
            verbalizers joined by ``label_separator``, e.g. ``"判断评论的情感：{labels}。"``.
        example: one example with ``{text}`` and then ``{label}``, e.g.
            ``"评论：{text}\\n情感：{label}"``. Few-shot examples are written with it; the
            query is the example cut just before ``{label}``, so the answer follows the prompt
            directly (put no space before ``{label}`` unless the answer starts with one).
        verbalizers: label -> the word the model should answer for it (default: the label
            itself), in the culture's language; they must differ from each other.
        descriptions: label -> a short description in the culture's language; what encoder
            zero-shot compares texts with (default: the verbalizer).
        label_separator: joins the verbalizers in ``{labels}``.
        separator: joins the instruction, the examples and the query.
    """

    instruction: str
    example: str
    verbalizers: Mapping[str, str] = field(default_factory=dict)
    descriptions: Mapping[str, str] = field(default_factory=dict)
    label_separator: str = " / "
    separator: str = "\n\n"

    def __post_init__(self) -> None:
        _check_text(self, "instruction", allow_empty=True)
        _template_fields(self, "instruction", ("labels",))
        _check_text(self, "example")
        found = _template_fields(self, "example", ("text", "label"))
        if sorted(found) != ["label", "text"] or found[0] != "text":
            raise _fail(self, "example", f"{self.example!r} must hold {{text}} and then "
                                         "{label}, once each, e.g. 'Review: {text}\\nLabel: {label}'")
        _label_mapping(self, "verbalizers")
        _label_mapping(self, "descriptions")
        for name in ("label_separator", "separator"):
            if not isinstance(getattr(self, name), str):
                raise _fail(self, name, f"must be a string, got {getattr(self, name)!r}")

    def for_labels(self, labels: Sequence[str]) -> PromptTemplate:
        """This template for a head narrowed to ``labels`` (``adapt(..., labels=...)``): the
        verbalizers and descriptions of the other labels left out."""
        keep = set(labels)
        return replace(
            self,
            verbalizers={k: v for k, v in self.verbalizers.items() if k in keep},
            descriptions={k: v for k, v in self.descriptions.items() if k in keep},
        )

    def query(self, text: str) -> str:
        """The example for ``text`` cut before its label: where the model answers."""
        parts = []
        for literal, name, _, _ in string.Formatter().parse(self.example):
            parts.append(literal)
            if name == "label":
                break
            if name == "text":
                parts.append(text)
        return "".join(parts)

    def shot(self, text: str, verbalizer: str) -> str:
        """A few-shot example: ``text`` answered with ``verbalizer``."""
        return self.example.format(text=text, label=verbalizer)

    def head(self, verbalizers: Sequence[str]) -> str:
        """The instruction with ``{labels}`` filled in."""
        return self.instruction.format(labels=self.label_separator.join(verbalizers))


@dataclass(frozen=True)
class AdapterHeadSpec:
    """A task a culture offers an adapter for (``cultura_adapter_heads``).

    Attributes:
        task: key within a culture profile, e.g. ``"sentiment"``.
        head_type: ``"seq-cls"``, ``"token-cls"``, ``"causal-lm"`` or ``"masked-lm"``.
        labels: label names in the culture's language, in id order (empty for the LM heads,
            ``causal-lm`` and ``masked-lm``).
        peft: the adapter configuration (LoRA by default).
        sample_data: optional zero-argument factory returning a path to a JSONL file of
            labelled examples (``{"text", "label"}`` or ``{"tokens", "tags"}``).
        published: adapters for this task already on the Hub.
        description: one line for ``cultura show``.
        prompt: how to ask a language model for the label (``seq-cls`` heads; a
            :class:`PromptTemplate`, plugin API 1.3); ``None``: a generic one
            (:data:`cultura.adapt.prompting.DEFAULT_TEMPLATE`).
    """

    task: str
    head_type: HeadType
    labels: tuple[str, ...] = ()
    peft: PeftSpec = field(default_factory=PeftSpec)
    sample_data: Callable[[], Path] | None = None
    published: tuple[PublishedAdapter, ...] = ()
    description: str = ""
    prompt: PromptTemplate | None = None

    def __post_init__(self) -> None:
        _check_id(self, "task")
        if self.head_type not in HEAD_TYPES:
            raise _fail(self, "head_type", f"must be one of {HEAD_TYPES}, got {self.head_type!r}")
        _tuple_of_str(self, "labels")
        if self.head_type not in LM_HEAD_TYPES and len(self.labels) < 2:
            raise _fail(self, "labels", f"a {self.head_type} head needs at least two labels")
        if len(set(self.labels)) != len(self.labels):
            raise _fail(self, "labels", f"labels must be unique, got {self.labels!r}")
        if not isinstance(self.peft, PeftSpec):
            raise _fail(self, "peft", f"must be a PeftSpec, got {type(self.peft).__name__}")
        _check_callable(self, "sample_data", optional=True)
        _tuple_of(self, "published", PublishedAdapter)
        if self.prompt is not None:
            self._check_prompt(self.prompt)

    def _check_prompt(self, prompt: object) -> None:
        if not isinstance(prompt, PromptTemplate):
            raise _fail(self, "prompt", f"must be a PromptTemplate, got {type(prompt).__name__}")
        if self.head_type != "seq-cls":
            raise _fail(self, "prompt", f"prompts are for seq-cls heads; {self.task!r} is a "
                                        f"{self.head_type} head")
        for name in ("verbalizers", "descriptions"):
            unknown = [k for k in getattr(prompt, name) if k not in self.labels]
            if unknown:
                raise _fail(self, "prompt", f"{name} names {unknown[0]!r}, which is none of the "
                                            f"labels {self.labels!r}")
        words = [prompt.verbalizers.get(label, label) for label in self.labels]
        if len(set(words)) != len(words):
            raise _fail(self, "prompt", f"two labels share a verbalizer: {words!r}")

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}


@dataclass(frozen=True)
class MinimalPair:
    """Two sentences differing only in a social-group term.

    ``more`` is the more stereotyping sentence, ``less`` the less stereotyping one;
    ``direction`` is ``"stereo"`` or ``"antistereo"`` (CrowS-Pairs' ``stereo_antistereo``).
    """

    more: str
    less: str
    direction: Literal["stereo", "antistereo"] = "stereo"
    bias_type: str = ""

    def __post_init__(self) -> None:
        _check_text(self, "more")
        _check_text(self, "less")
        if self.more == self.less:
            raise _fail(self, "less", f"must differ from 'more' ({self.more!r})")
        if self.direction not in ("stereo", "antistereo"):
            raise _fail(self, "direction", f"must be 'stereo' or 'antistereo', got {self.direction!r}")


@dataclass(frozen=True)
class BiasCheck:
    """A bias check for a culture (``cultura_bias_checks``).

    Counterfactual checks fill each template's ``{term}`` with the aligned terms of every group
    (``term_groups``: group -> terms; all groups have the same number of terms, swapped by
    index) and compare the model's outputs. Minimal-pair checks score ``pairs``.

    Attributes:
        id: key within a culture profile, e.g. ``"zh.gender"``.
        category: bias category, e.g. ``"gender"``, ``"region"``.
        metric: one of ``ctf_gap``, ``flip_rate``, ``max_group_gap`` (classifier heads),
            ``crows_pairs`` (masked LMs), ``pair_ll`` (causal LMs).
        threshold: the check passes when the metric is at most this (for ``crows_pairs`` and
            ``pair_ll``, percentages whose ideal is 50: when ``|score - 50|`` is at most this).
        term_groups / templates: for counterfactual checks.
        pairs: for minimal-pair checks.
        target_label: for classifier checks, the label whose probability is compared
            (default: every label).
        license: license of the check's data (required).
    """

    id: str
    category: str
    metric: str
    threshold: float
    term_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    templates: tuple[str, ...] = ()
    pairs: tuple[MinimalPair, ...] = ()
    target_label: str | None = None
    license: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        _check_id(self, "id")
        _check_text(self, "category")
        _check_text(self, "license")
        if self.metric not in BIAS_METRICS:
            raise _fail(self, "metric", f"must be one of {BIAS_METRICS}, got {self.metric!r}")
        if not isinstance(self.threshold, (int, float)) or self.threshold < 0:
            raise _fail(self, "threshold", f"must be a non-negative number, got {self.threshold!r}")
        if not isinstance(self.term_groups, Mapping):
            raise _fail(self, "term_groups", "must be a mapping group -> terms")
        groups = {}
        for group, terms in self.term_groups.items():
            if isinstance(terms, str) or not all(isinstance(t, str) and t for t in terms):
                raise _fail(self, "term_groups", f"group {group!r} must hold non-empty strings")
            groups[str(group)] = tuple(terms)
        sizes = {len(t) for t in groups.values()}
        if len(sizes) > 1:
            raise _fail(
                self,
                "term_groups",
                "groups must have the same number of aligned terms; got "
                + ", ".join(f"{g}={len(t)}" for g, t in groups.items()),
            )
        _set(self, "term_groups", MappingProxyType(groups))
        _tuple_of_str(self, "templates")
        for template in self.templates:
            if "{term}" not in template:
                raise _fail(self, "templates", f"template {template!r} lacks '{{term}}'")
        _tuple_of(self, "pairs", MinimalPair)
        counterfactual = self.metric in ("ctf_gap", "flip_rate", "max_group_gap")
        if counterfactual and (len(groups) < 2 or not self.templates):
            raise _fail(
                self, "term_groups", f"metric {self.metric!r} needs >= 2 term groups and templates"
            )
        if not counterfactual and not self.pairs:
            raise _fail(self, "pairs", f"metric {self.metric!r} needs minimal pairs")


#: a batched word segmenter: texts -> for each text its words, in order, joining back to it
Segmenter = Callable[[list[str]], list[list[str]]]
#: an agreement rule: (old term, new term, the text after the swapped term) -> that text rewritten
AgreementRule = Callable[[str, str, str], str]


@dataclass(frozen=True)
class WordRules:
    """How a culture's text splits into words, and how swapping a word changes the words after
    it (``cultura_word_rules``). Counterfactual data augmentation
    (:mod:`cultura.adapt.cda`) uses them so that a swap term only ever replaces whole words.

    Attributes:
        id: key within a culture profile, e.g. ``"zh.words"``; a more specific level's rules
            with the same id replace a less specific one's.
        segment: batched word segmenter, ``fn(list[str]) -> list[list[str]]``: for each text
            its words in order, which joined give the text back exactly (spaces and
            punctuation included, as words of their own or attached). A swap term matches only
            where it starts and ends on a boundary between two words (it may span several).
            ``None``: the core's default, a boundary wherever a letter, mark or digit does not
            meet another one, which suits scripts written with spaces; text written without
            spaces (Chinese, Japanese, Thai, ...) needs a segmenter.
        agree: agreement rule, ``fn(old, new, after) -> after``: called for every swapped
            term with the term it replaced, the term put in and the text that follows it (up
            to the next swapped term, or the end); returns that text rewritten to agree with
            the new term (Korean particles: 이/가, 은/는, 을/를 chosen by whether the new word
            ends in a consonant). ``None``: no agreement.
        description: one line for ``cultura show``.
        provenance: the plugin that contributed them; set when a culture profile is built,
            so that a failing segmenter or rule names its plugin.

    At least one of ``segment`` and ``agree`` is given. Call them through :meth:`split` and
    :meth:`rewrite`, which check what they return.
    """

    id: str
    segment: Segmenter | None = None
    agree: AgreementRule | None = None
    description: str = ""
    provenance: Provenance | None = field(default=None, kw_only=True, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_id(self, "id")
        _check_callable(self, "segment", optional=True)
        _check_callable(self, "agree", optional=True)
        _check_text(self, "description", allow_empty=True)
        if self.segment is None and self.agree is None:
            raise _fail(self, "segment", "give a segmenter, an agreement rule or both")

    def split(self, texts: Sequence[str]) -> list[list[str]]:
        """Run ``segment`` on a copy of ``texts``; check it returned, for each text, words that
        join back to that text.

        Anything the segmenter raises, or any other result, raises a
        :class:`~cultura.core.errors.PluginError` naming the plugin, its distribution and these
        rules (a :class:`~cultura.core.errors.RegistrationError` when no plugin is known).
        """
        if self.segment is None:
            raise _fail(self, "segment", f"word rules {self.id!r} give no segmenter")
        batch = list(texts)
        out = self._run("segmenter", self.segment, batch)
        if not isinstance(out, list) or len(out) != len(batch):
            raise self._failure(
                "segmenter", f"returned {_describe_output(out)}; it must return a list holding "
                f"one list of words per text ({len(batch)} here)"
            )
        for text, words in zip(batch, out, strict=True):
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                raise self._failure(
                    "segmenter", f"returned {reprlib.repr(words)} for {reprlib.repr(text)}; "
                    "each item must be a list of strings"
                )
            if "".join(words) != text:
                raise self._failure(
                    "segmenter", f"split {reprlib.repr(text)} into {reprlib.repr(words)}, "
                    "which do not join back to the text; the words must cover the text exactly, "
                    "in order"
                )
        return out

    def rewrite(self, old: str, new: str, after: str) -> str:
        """Run ``agree`` (the text after a swapped term, unchanged without a rule); check it
        returned a string. Failures raise like :meth:`split`'s."""
        if self.agree is None:
            return after
        out = self._run("agreement rule", self.agree, old, new, after)
        if not isinstance(out, str):
            raise self._failure(
                "agreement rule", f"returned {type(out).__name__} {reprlib.repr(out)} for "
                f"{old!r} -> {new!r}; it must return the rewritten text after the term (a str)"
            )
        return out

    def _run(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a broken plugin's code, attributed below
            raise self._failure(what, f"raised {describe_exception(exc)}") from exc

    def _failure(self, what: str, message: str) -> CulturaError:
        prov = self.provenance
        text = f"{what} of word rules {self.id!r} {message}"
        if prov is None:
            return RegistrationError("WordRules", "segment" if what == "segmenter" else "agree",
                                     text)
        return PluginError(
            prov.plugin,
            f"{text}. Fix the plugin, or disable it: CULTURA_DISABLE_PLUGINS={prov.distribution}",
            distribution=str(prov),
        )


@dataclass(frozen=True)
class Perturbation:
    """A realistic way people of a culture write the same thing differently
    (``cultura_perturbations``); ``cultura robustness`` measures how an adapter's predictions
    hold up under it.

    Attributes:
        id: key within a culture profile, e.g. ``"zh.variant.hant"``; a more specific level's
            perturbation with the same id replaces a less specific one's.
        fn: takes one text and returns it perturbed (a ``str``): ``fn(text)``, or
            ``fn(text, rng)`` when ``seeded``. It must keep what the label depends on (a
            script conversion, not a paraphrase), and be deterministic: the same text (and,
            when seeded, the same ``rng`` state) gives the same result.
        description: one line for ``cultura show`` and the robustness report.
        kind: what it imitates, one of :data:`PERTURBATION_KINDS`.
        seeded: ``fn`` draws random choices from the :class:`random.Random` it is given (a
            typo at some positions). The core seeds it from the run's seed, the perturbation's
            id and the text, so a run is reproducible and does not depend on row order.
        rate: for a seeded perturbation, the share of eligible characters or words it changes
            (shown in reports; ``fn`` applies it). ``None`` for a deterministic conversion.
        provenance: the plugin that contributed it; set when a culture profile is built, so
            that a failing perturbation names its plugin.

    Call it through :meth:`apply`, which checks what ``fn`` returns.
    """

    id: str
    fn: Callable[..., str]
    description: str = ""
    kind: str = "other"
    seeded: bool = False
    rate: float | None = None
    provenance: Provenance | None = field(default=None, kw_only=True, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_id(self, "id")
        _check_callable(self, "fn")
        _check_text(self, "description", allow_empty=True)
        if self.kind not in PERTURBATION_KINDS:
            raise _fail(
                self, "kind", f"{self.kind!r} is not a perturbation kind; use one of "
                f"{', '.join(PERTURBATION_KINDS)}"
            )
        if not isinstance(self.seeded, bool):
            raise _fail(self, "seeded", f"must be True or False, got {self.seeded!r}")
        if self.rate is not None:
            if not self.seeded:
                raise _fail(
                    self, "rate", "a rate describes random choices: set seeded=True (fn then "
                    "takes (text, rng)) or leave rate out for a deterministic conversion"
                )
            if (
                isinstance(self.rate, bool)
                or not isinstance(self.rate, (int, float))
                or not 0 < self.rate <= 1
            ):
                raise _fail(self, "rate", f"must be a share in (0, 1], got {self.rate!r}")
            _set(self, "rate", float(self.rate))

    def rng(self, text: str, seed: int = 0) -> random.Random:
        """The random generator :meth:`apply` gives ``fn`` for ``text``: seeded from ``seed``,
        this perturbation's id and the text (a string seed, hashed with SHA-512, so it is the
        same in every process)."""
        return random.Random(f"{seed}\x00{self.id}\x00{text}")

    def apply(self, texts: Sequence[str], *, seed: int = 0) -> list[str]:
        """``fn`` applied to each text (with :meth:`rng` when seeded); checks it returned a
        string.

        Anything ``fn`` raises (``sys.exit()`` included) and any other result raise a
        :class:`~cultura.core.errors.PluginError` naming the plugin, its distribution and this
        perturbation (a :class:`~cultura.core.errors.RegistrationError` when no plugin is
        known). ``KeyboardInterrupt`` passes through: it may be the user's Ctrl-C.
        """
        out: list[str] = []
        for text in texts:
            try:
                result = self.fn(text, self.rng(text, seed)) if self.seeded else self.fn(text)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a broken plugin's perturbation, attributed below
                raise self._failure(
                    f"raised {describe_exception(exc)} on {reprlib.repr(text)}"
                ) from exc
            if not isinstance(result, str):
                raise self._failure(
                    f"returned {type(result).__name__} {reprlib.repr(result)} for "
                    f"{reprlib.repr(text)}; it must return the perturbed text (a str)"
                )
            out.append(result)
        return out

    def _failure(self, what: str) -> CulturaError:
        prov = self.provenance
        if prov is None:
            return RegistrationError("Perturbation", "fn", f"perturbation {self.id!r} {what}")
        return PluginError(
            prov.plugin,
            f"perturbation {self.id!r} {what}. Fix the plugin, or disable it: "
            f"CULTURA_DISABLE_PLUGINS={prov.distribution}",
            distribution=str(prov),
        )
