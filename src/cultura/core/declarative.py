"""Declarative plugins: a culture plugin written as a class of data.

As spaCy keeps a language in a ``Language.Defaults`` class naming its data, a cultura plugin
can be a :class:`Plugin` subclass that *declares* what it contributes — cultures, normalizers
per culture level, word lists, knowledge files with their templates, adapter heads, a bias
file, word rules, the data license — and cultura derives the hook implementations from it::

    from cultura import (
        BiasFile, CultureInfo, Head, KnowledgeFile, Normalizer, Plugin, VocabularyFile)

    class Yoruba(Plugin):
        \"\"\"Yoruba: sub-dot look-alikes folded, frequent words added, sentiment.\"\"\"

        CULTURA_API_VERSION = "1.0"
        cultures = CultureInfo("yo", native_name="Èdè Yorùbá")
        data_license = "CC-BY-4.0"
        normalizers = Normalizer("yo.subdots", fold_subdots, "dot-below look-alikes -> U+0323")
        vocabulary = VocabularyFile("yo.words", "vocab.txt", "frequent Yoruba words")
        knowledge = KnowledgeFile("yo.culture", "knowledge.jsonl", "greetings and festivals")
        heads = Head("sentiment", "seq-cls", labels=("rere", "búburú", "àárín"),
                     sample_data="sentiment.jsonl")
        bias = BiasFile("bias.json")

    plugin = Yoruba()           # validates the declaration (errors name the class and field)
    plugin.export(globals())    # the module (the entry point) now carries the hooks

Rules:

* A contribution field (``normalizers``, ``vocabulary``, ``split_patterns``, ``knowledge``,
  ``heads``, ``bias``, ``word_rules``, ``perturbations``) is either a mapping *culture tag -> item(s)*, or item(s)
  for the first declared culture. Items are the registrations a hook would return
  (``Normalizer``, ``VocabularyExtension``, ``KnowledgeSource``, ``AdapterHeadSpec``,
  ``BiasCheck``, ``WordRules``, ``Perturbation``, a pattern string) or their file-based declarations (:class:`VocabularyFile`, :class:`KnowledgeFile`,
  :class:`Head`, :class:`BiasFile`), whose files live in the plugin package's ``data/``
  folder.
* Constructing the plugin validates everything it can without reading data (tags, levels,
  files exist, registrations build) and raises :class:`DeclarationError` naming the class and
  the field. Construct it at module level, so a broken declaration is reported as that
  plugin's import error. Word lists, knowledge entries and bias files are read only when a
  hook's result is used.
* ``probes = "probes.txt"`` names a probe file in ``data/``: script-specific edge cases, one
  per line, that the conformance suite feeds to every normalizer (format:
  :mod:`cultura.testing.conformance.probes`). The plugin (and, after :meth:`Plugin.export`,
  its module) carries its path as ``CULTURA_PROBES``.
* Anything dynamic stays code: override a hook in the subclass with ``@hookimpl`` (it may call
  ``super()`` for the declared result). A hook with nothing declared and no override is not
  offered, so ``cultura plugins`` lists only what the plugin gives.

Only the standard library and :mod:`cultura.core` are imported here (no torch).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, partial
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from cultura.core.errors import CulturaError, RegistrationError, TagError
from cultura.core.hookspecs import ALL_HOOKS, PROJECT, hookimpl
from cultura.core.plugin_data import (
    DATA_DIR,
    bias_checks_from_json,
    data_file,
    knowledge_entries,
    word_list,
)
from cultura.core.tags import Culture
from cultura.core.types import (
    AdapterHeadSpec,
    BiasCheck,
    CultureInfo,
    EmbeddingSource,
    HeadType,
    InitStrategy,
    KnowledgeEntry,
    KnowledgeSource,
    Normalizer,
    PeftSpec,
    Perturbation,
    PromptTemplate,
    PublishedAdapter,
    TokenizerTweaks,
    VocabularyExtension,
    WordRules,
)

__all__ = [
    "BiasFile",
    "category_pair_checks",
    "DeclarationError",
    "Head",
    "KnowledgeFile",
    "PerCulture",
    "Plugin",
    "VocabularyFile",
]

T = TypeVar("T")
#: A contribution field: item(s) for the first declared culture, or culture tag -> item(s).
PerCulture = T | Sequence[T] | Mapping[str, T | Sequence[T]]
Batched = Callable[[list[str]], list[str]]


class DeclarationError(RegistrationError):
    """A :class:`Plugin` subclass declares something wrong.

    ``kind`` is the plugin class's name and ``field`` the declaration field, so the message
    reads ``Yoruba.heads: culture 'yo': Head 'sentiment': ...``.
    """


# ------------------------------------------------------------------------- declarations
@dataclass(frozen=True)
class VocabularyFile:
    """Tokens to add, read from word lists in the plugin's ``data/`` folder.

    Becomes a :class:`~cultura.core.types.VocabularyExtension` whose tokens load on first use.

    Attributes:
        id: key within a culture profile, e.g. ``"yo.words"``.
        files: a word-list file name, or several whose tokens are concatenated in order
            (format: :func:`cultura.core.plugin_data.read_word_list`).
        description: one line for ``cultura show``.
        init: embedding initialization, as in ``VocabularyExtension`` (``"fvt"`` default).
        source_words: for ``init="word"``: token -> source word.
        normalize: optional batched function applied to the tokens when they load, e.g. the
            culture's own normalizer so the tokens match normalized text.
        init_from: where the tokens' embeddings come from before ``init`` applies: glosses,
            decomposition, transliteration (:class:`~cultura.core.types.EmbeddingSource`).
    """

    id: str
    files: str | tuple[str, ...]
    description: str = ""
    init: InitStrategy = "fvt"
    source_words: Mapping[str, str] = field(default_factory=dict)
    normalize: Batched | None = None
    init_from: tuple[EmbeddingSource, ...] = ()


@dataclass(frozen=True)
class KnowledgeFile:
    """A knowledge source read from a JSONL file in the plugin's ``data/`` folder.

    Becomes a :class:`~cultura.core.types.KnowledgeSource` whose entries load on first use.

    Attributes:
        name: key within a culture profile, e.g. ``"yo.culture"``.
        file: the JSONL file (format: :func:`cultura.core.plugin_data.read_knowledge`).
        description: one line for ``cultura show``.
        templates: head type -> injection template with ``{knowledge}`` (and optionally
            ``{text}``); default: the plugin's :attr:`Plugin.templates`.
        select: keep only the rows whose ``field`` equals this (one file, several sources or
            cultures); default: every row.
        field: the selector field, removed from every row (default ``"culture"``).
        source: fills rows that state no ``source``.
        license: license of the entries; default: the plugin's :attr:`Plugin.data_license`.
        normalize: optional batched function applied to each entry's text and tags when they
            load (e.g. a script conversion, so one file serves several cultures).
        retriever: optional retriever factory, as in ``KnowledgeSource``.
    """

    name: str
    file: str
    description: str = ""
    templates: Mapping[str, str] | None = None
    select: str | None = None
    field: str = "culture"
    source: str = ""
    license: str = ""
    normalize: Batched | None = None
    retriever: Callable[[Sequence[KnowledgeEntry]], Any] | None = None


@dataclass(frozen=True)
class Head:
    """An adapter head whose sample data is a file in the plugin's ``data/`` folder.

    Becomes an :class:`~cultura.core.types.AdapterHeadSpec`; the fields are the same, except
    that ``sample_data`` is a file name (JSONL rows ``{"text", "label"}``, or
    ``{"tokens", "tags"}`` for ``token-cls``).

    Attributes:
        task: key within a culture profile, e.g. ``"sentiment"``.
        head_type: ``"seq-cls"``, ``"token-cls"`` or ``"causal-lm"``.
        labels: label names in the culture's language, in id order.
        peft: the adapter configuration (LoRA by default).
        sample_data: file name of labelled examples, or ``None``.
        published: adapters for this task already on the Hub.
        description: one line for ``cultura show``.
        prompt: how to ask a language model for the label, a
            :class:`~cultura.core.types.PromptTemplate` (``seq-cls``; plugin API 1.3).
    """

    task: str
    head_type: HeadType
    labels: tuple[str, ...] = ()
    peft: PeftSpec = field(default_factory=PeftSpec)
    sample_data: str | None = None
    published: tuple[PublishedAdapter, ...] = ()
    description: str = ""
    prompt: PromptTemplate | None = None


@dataclass(frozen=True)
class BiasFile:
    """Bias checks read from a ``bias.json`` in the plugin's ``data/`` folder.

    Layout: :data:`cultura.core.plugin_data.BIAS_JSON_LAYOUT`; read each time the bias hook
    is called (see :func:`cultura.core.plugin_data.bias_checks_from_json`).

    Attributes:
        file: the file name (default ``"bias.json"``).
        pairs_check: id, category, metric, threshold and description of one check built from
            all the file's ``"pairs"``.
        pairs_checks: several such mappings instead, one check each, of the pairs whose
            ``bias_type`` is its ``category`` (one check per category, and per metric: a
            ``crows_pairs`` and a ``pair_ll`` check of one category share its pairs). Every
            pair must have the category of one of them. One of the two is required when the
            file has pairs.
        license: license of the checks; default: the plugin's :attr:`Plugin.data_license`.
    """

    file: str = "bias.json"
    pairs_check: Mapping[str, Any] | None = None
    pairs_checks: Sequence[Mapping[str, Any]] = ()
    license: str = ""


def category_pair_checks(
    plugin: str,
    categories: Mapping[str, str],
    description: str,
    models: Mapping[str, str],
    *,
    threshold: float = 20.0,
    without_pair_ll: Sequence[str] = (),
) -> tuple[dict[str, Any], ...]:
    """The :attr:`BiasFile.pairs_checks` of a file whose pairs come in several categories:
    per category a ``crows_pairs`` check for masked LMs (id ``<plugin>.<category>.pairs.mlm``)
    and a ``pair_ll`` check for causal LMs (``...pairs.lm``), except for the categories in
    ``without_pair_ll`` (whole-sentence likelihood needs pairs of equal length).

    ``categories`` maps each category (the pairs' ``bias_type``) to its name in the culture's
    language; ``description`` is a format string with ``{what}`` (that name) and ``{model}``,
    and ``models`` gives ``{model}`` for ``"crows_pairs"`` and ``"pair_ll"``.

    >>> [c["id"] for c in category_pair_checks("xx", {"age": "age"}, "{what}: {model}",
    ...  {"crows_pairs": "masked LM", "pair_ll": "causal LM"})]
    ['xx.age.pairs.mlm', 'xx.age.pairs.lm']
    """
    return tuple(
        {"id": f"{plugin}.{category}.pairs.{suffix}", "category": category, "metric": metric,
         "threshold": threshold,
         "description": description.format(what=what, model=models[metric])}
        for category, what in categories.items()
        for suffix, metric in (("mlm", "crows_pairs"), ("lm", "pair_ll"))
        if metric == "crows_pairs" or category not in without_pair_ll
    )


# ------------------------------------------------------------------------- the plugin
#: Contribution fields: name -> (registration type, its file-based declaration or None).
_FIELDS: dict[str, tuple[type, type | None]] = {
    "normalizers": (Normalizer, None),
    "vocabulary": (VocabularyExtension, VocabularyFile),
    "split_patterns": (str, None),
    "knowledge": (KnowledgeSource, KnowledgeFile),
    "heads": (AdapterHeadSpec, Head),
    "bias": (BiasCheck, BiasFile),
    "word_rules": (WordRules, None),
    "perturbations": (Perturbation, None),
}
_SETTINGS = ("CULTURA_API_VERSION", "package", "cultures", "data_license", "templates", "probes")
#: The fields that make up a level's TokenizerTweaks.
_TWEAK_FIELDS = ("normalizers", "vocabulary", "split_patterns")


class Plugin:
    """A culture plugin declared as data; subclass it and set the fields below.

    Construct the subclass once at module level (``plugin = Yoruba()``): construction
    validates the declaration and raises :class:`DeclarationError` naming the class and
    field. Register the instance, or call :meth:`export` so the plugin module itself (the
    usual entry-point target) carries the hooks.

    Attributes:
        CULTURA_API_VERSION: the plugin API the declaration targets (required), e.g. ``"1.0"``.
        package: import name of the package whose ``data/`` folder holds the files; default:
            the package of the module defining the class.
        cultures: the :class:`~cultura.core.types.CultureInfo` (one or several) the plugin
            serves; the first is where contributions without a culture key go.
        data_license: license (SPDX) of the knowledge and bias files that state none.
        templates: head type -> injection template, for knowledge files that give none.
        probes: a probe file in ``data/`` (one edge case per line) that the conformance suite
            feeds to every normalizer; the instance carries its path as ``CULTURA_PROBES``
            (``None`` when none is declared).
        normalizers: :class:`~cultura.core.types.Normalizer` per culture, applied in order.
        vocabulary: :class:`VocabularyFile` or ``VocabularyExtension`` per culture.
        split_patterns: pre-tokenization regular expressions per culture.
        knowledge: :class:`KnowledgeFile` or ``KnowledgeSource`` per culture.
        heads: :class:`Head` or ``AdapterHeadSpec`` per culture.
        bias: :class:`BiasFile` or ``BiasCheck`` per culture.
        word_rules: :class:`~cultura.core.types.WordRules` per culture (a word segmenter
            and/or agreement rules for counterfactual data augmentation).
        perturbations: :class:`~cultura.core.types.Perturbation` per culture (realistic
            variants of the culture's writing, for ``cultura robustness``; plugin API 1.2).
    """

    CULTURA_API_VERSION: ClassVar[str]
    package: ClassVar[str] = ""
    cultures: ClassVar[CultureInfo | Sequence[CultureInfo]] = ()
    data_license: ClassVar[str] = ""
    templates: ClassVar[Mapping[str, str]] = MappingProxyType({})
    probes: ClassVar[str] = ""
    normalizers: ClassVar[PerCulture[Normalizer]] = ()
    vocabulary: ClassVar[PerCulture[VocabularyFile | VocabularyExtension]] = ()
    split_patterns: ClassVar[PerCulture[str]] = ()
    knowledge: ClassVar[PerCulture[KnowledgeFile | KnowledgeSource]] = ()
    heads: ClassVar[PerCulture[Head | AdapterHeadSpec]] = ()
    bias: ClassVar[PerCulture[BiasFile | BiasCheck]] = ()
    word_rules: ClassVar[PerCulture[WordRules]] = ()
    perturbations: ClassVar[PerCulture[Perturbation]] = ()

    def __init__(self) -> None:
        cls = type(self)
        self._check_class()
        self._package = cls.package or _defining_package(cls)
        self._data_dir: Path | None = None  # found on the first data-file check
        self._present: set[str] = set()  # data files already checked to exist
        self._infos = self._declared_cultures()
        self.CULTURA_PROBES: Path | None = self._probe_file()
        self._tags = tuple(info.tag for info in self._infos)
        self._tweaks: dict[str, TokenizerTweaks] = {}
        tweaks = {name: self._per_culture(name) for name in _TWEAK_FIELDS}
        for tag in self._tags:
            parts = {name: by_tag.get(tag, ()) for name, by_tag in tweaks.items()}
            if any(parts.values()):
                try:
                    self._tweaks[tag] = TokenizerTweaks(**parts)
                except RegistrationError as exc:
                    raise self._error(exc.field, f"culture {tag!r}: {exc.message}") from None
        self._knowledge = self._per_culture("knowledge")
        self._heads = self._per_culture("heads")
        self._bias = self._per_culture("bias")
        self._word_rules = self._per_culture("word_rules")
        self._perturbations = self._per_culture("perturbations")
        declared = {
            "cultura_tokenizer_tweaks": self._tweaks,
            "cultura_knowledge": self._knowledge,
            "cultura_adapter_heads": self._heads,
            "cultura_bias_checks": self._bias,
            "cultura_word_rules": self._word_rules,
            "cultura_perturbations": self._perturbations,
        }
        for hook, by_tag in declared.items():
            if not by_tag and getattr(cls, hook) is getattr(Plugin, hook):
                # nothing to give: not offered (pluggy and cultura skip non-callables)
                setattr(self, hook, None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} plugin ({', '.join(self._tags)})>"

    # ----------------------------------------------------------------- the derived hooks
    @hookimpl
    def cultura_cultures(self) -> list[CultureInfo]:
        """The declared :attr:`cultures`."""
        return list(self._infos)

    @hookimpl
    def cultura_tokenizer_tweaks(self, culture: Culture) -> TokenizerTweaks | None:
        """The declared normalizers, vocabulary and split patterns of ``culture``'s level."""
        return self._tweaks.get(culture.tag)

    @hookimpl
    def cultura_knowledge(self, culture: Culture) -> list[KnowledgeSource] | None:
        """The declared knowledge sources of ``culture``'s level."""
        return list(self._knowledge.get(culture.tag, ())) or None

    @hookimpl
    def cultura_adapter_heads(self, culture: Culture) -> list[AdapterHeadSpec] | None:
        """The declared adapter heads of ``culture``'s level."""
        return list(self._heads.get(culture.tag, ())) or None

    @hookimpl
    def cultura_bias_checks(self, culture: Culture) -> list[BiasCheck] | None:
        """The declared bias checks of ``culture``'s level (bias files are read now)."""
        checks: list[BiasCheck] = []
        for item in self._bias.get(culture.tag, ()):
            checks.extend((item,) if isinstance(item, BiasCheck) else item())
        return checks or None

    @hookimpl
    def cultura_word_rules(self, culture: Culture) -> list[WordRules] | None:
        """The declared word rules (segmenter, agreement) of ``culture``'s level."""
        return list(self._word_rules.get(culture.tag, ())) or None

    @hookimpl
    def cultura_perturbations(self, culture: Culture) -> list[Perturbation] | None:
        """The declared perturbations of ``culture``'s level."""
        return list(self._perturbations.get(culture.tag, ())) or None

    # ----------------------------------------------------------------- module export
    def export(self, namespace: MutableMapping[str, Any]) -> None:
        """Give the module whose ``globals()`` is ``namespace`` this plugin's hooks.

        Sets ``CULTURA_API_VERSION``, ``CULTURA_PROBES`` (when :attr:`probes` is declared)
        and every offered hook as module attributes, so the entry point can name the module
        (``yo = "cultura_yo"``) as for a hand-written plugin. The module must not define them
        itself: override hooks in the class.
        """
        names = ["CULTURA_API_VERSION", *(h for h in ALL_HOOKS if callable(getattr(self, h)))]
        if self.CULTURA_PROBES is not None:
            names.append("CULTURA_PROBES")
        for name in names:
            if name in namespace:
                raise self._error(
                    name,
                    f"module {namespace.get('__name__', '?')} already defines {name}; declare it "
                    "once, in the class (override a hook there with @hookimpl)",
                )
        namespace.update({name: getattr(self, name) for name in names})

    # ----------------------------------------------------------------- validation
    def _error(self, field_name: str, message: str) -> DeclarationError:
        return DeclarationError(type(self).__name__, field_name, message)

    def _check_class(self) -> None:
        cls = type(self)
        version = getattr(cls, "CULTURA_API_VERSION", None)
        if not isinstance(version, str):
            raise self._error(
                "CULTURA_API_VERSION",
                'is missing (or not a string); add CULTURA_API_VERSION = "1.0" (the plugin API '
                "the declaration targets) to the class",
            )
        known = (*_SETTINGS, *_FIELDS)
        for klass in cls.__mro__[: cls.__mro__.index(Plugin)]:
            for name, value in vars(klass).items():
                marked = hasattr(value, f"{PROJECT}_impl")
                if name in ALL_HOOKS and not marked:
                    raise self._error(
                        name,
                        "overrides a hook without @hookimpl, so cultura would never call it; "
                        "decorate it with @cultura.hookimpl",
                    )
                if marked and name not in ALL_HOOKS:
                    close = _close_match(name, ALL_HOOKS, 0.6)
                    hint = f"did you mean {close}?" if close else "see cultura.core.hookspecs"
                    raise self._error(name, f"is marked @hookimpl but is no cultura hook; {hint}")
                if not name.startswith("_") and name not in known and not callable(value):
                    close = _close_match(name, known, 0.8)
                    if close:
                        raise self._error(
                            name, f"is not a declaration field; did you mean {close!r}?"
                        )

    def _probe_file(self) -> Path | None:
        """The path of the declared probe file (checked to exist), or ``None``."""
        name = type(self).probes
        if not name:
            return None
        if not isinstance(name, str):
            raise self._error(
                "probes",
                f"must be the name of a file in {DATA_DIR}/, e.g. 'probes.txt'; got {name!r:.80}",
            )
        return _Where(self, "probes", f"probe file {name!r}").data_files(name)[0]

    def _declared_cultures(self) -> tuple[CultureInfo, ...]:
        value = type(self).cultures
        infos = (value,) if isinstance(value, CultureInfo) else value
        if isinstance(infos, (str, bytes)) or not isinstance(infos, Iterable):
            raise self._error("cultures", f"must be CultureInfo objects, got {value!r}")
        infos = tuple(infos)
        bad = [i for i in infos if not isinstance(i, CultureInfo)]
        if bad or not infos:
            got = f"got {bad[0]!r}" if bad else "none is declared"
            raise self._error(
                "cultures", f"must hold at least one CultureInfo, {got}; e.g. CultureInfo('yo')"
            )
        tags = [i.tag for i in infos]
        twice = sorted({t for t in tags if tags.count(t) > 1})
        if twice:
            raise self._error("cultures", f"{', '.join(twice)} declared more than once")
        return infos

    def _per_culture(self, name: str) -> dict[str, tuple[Any, ...]]:
        """Field ``name`` as canonical tag -> built items (declarations resolved)."""
        value = getattr(type(self), name)
        pairs = value.items() if isinstance(value, Mapping) else [(self._tags[0], value)]
        out: dict[str, tuple[Any, ...]] = {}
        seen: dict[str, object] = {}
        for key, items in pairs:
            try:
                tag = Culture.parse(key).tag
            except TagError as exc:
                raise self._error(name, f"key {key!r}: {exc}") from None
            if tag not in self._tags:
                raise self._error(
                    name,
                    f"culture {key!r} is not declared in cultures ({', '.join(self._tags)}); "
                    "declare it there or fix the key",
                )
            if seen.setdefault(tag, key) != key:
                raise self._error(name, f"culture {tag!r} is given twice ({seen[tag]!r}, {key!r})")
            built = tuple(self._item(name, tag, item) for item in self._items(name, tag, items))
            if built:
                out[tag] = built
        return out

    def _items(self, name: str, tag: str, items: object) -> tuple[object, ...]:
        kinds = tuple(k for k in _FIELDS[name] if k is not None)
        if isinstance(items, kinds):
            return (items,)
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
            raise self._error(name, f"culture {tag!r}: {self._expected(name)}, got {items!r:.80}")
        return tuple(items)

    def _expected(self, name: str) -> str:
        kinds = " or ".join(k.__name__ for k in _FIELDS[name] if k is not None)
        return f"expected {kinds} (or a list of them)"

    def _item(self, name: str, tag: str, item: object) -> Any:
        """A registration (kept), or a declaration resolved against the package's data."""
        registration, declaration = _FIELDS[name]
        if isinstance(item, registration):
            return item
        if declaration is None or not isinstance(item, declaration):
            raise self._error(name, f"culture {tag!r}: {self._expected(name)}, got {item!r:.80}")
        where = _Where(self, name, f"culture {tag!r}: {_label(item)}")
        if isinstance(item, VocabularyFile):
            files = (item.files,) if isinstance(item.files, str) else tuple(item.files)
            where.data_files(*files)
            tokens = self._tokens(files, item.normalize)
            return where.build(VocabularyExtension, id=item.id, tokens=tokens, init=item.init,
                               source_words=item.source_words, description=item.description,
                               init_from=item.init_from)
        if isinstance(item, KnowledgeFile):
            where.data_files(item.file)
            license = where.license(item.license)
            entries = knowledge_entries(self._package, item.file, license=license,
                                        source=item.source, culture=item.select, field=item.field)
            return where.build(
                KnowledgeSource, name=item.name, license=license,
                entries=_normalized(entries, item.normalize), retriever=item.retriever,
                templates=type(self).templates if item.templates is None else item.templates,
                description=item.description,
            )
        if isinstance(item, Head):
            sample = None
            if item.sample_data is not None:
                where.data_files(item.sample_data)
                sample = partial(data_file, self._package, item.sample_data)
            return where.build(AdapterHeadSpec, task=item.task, head_type=item.head_type,
                               labels=item.labels, peft=item.peft, sample_data=sample,
                               published=item.published, description=item.description,
                               prompt=item.prompt)
        assert isinstance(item, BiasFile)
        where.data_files(item.file)
        if item.pairs_check is not None and not isinstance(item.pairs_check, Mapping):
            raise where.error("pairs_check must be a mapping with id, category, metric, "
                              "threshold and description")
        specs = item.pairs_checks
        if isinstance(specs, (str, Mapping)) or not isinstance(specs, Sequence) or not all(
                isinstance(spec, Mapping) for spec in specs):
            raise where.error("pairs_checks must be a list of mappings, each with id, category, "
                              "metric, threshold and description")
        if item.pairs_check is not None and specs:
            raise where.error("give pairs_check (one check of all pairs) or pairs_checks (one "
                              "check per category), not both")
        return partial(bias_checks_from_json, self._package, item.file,
                       license=where.license(item.license), pairs_check=item.pairs_check,
                       pairs_checks=tuple(specs))

    def _tokens(self, files: tuple[str, ...], normalize: Batched | None) -> Callable[[], list[str]]:
        lists = [word_list(self._package, file) for file in files]

        @cache
        def load() -> list[str]:
            tokens = [token for words in lists for token in words()]
            return normalize(tokens) if normalize is not None else tokens

        return load


@dataclass(frozen=True)
class _Where:
    """One declaration being resolved: builds its registration and words its errors."""

    plugin: Plugin
    field: str
    context: str  # "culture 'yo': Head 'sentiment'"

    def error(self, message: str) -> DeclarationError:
        return self.plugin._error(self.field, f"{self.context}: {message}")

    def build(self, kind: Callable[..., T], /, **fields: Any) -> T:
        try:
            return kind(**fields)
        except RegistrationError as exc:
            raise self.error(str(exc)) from None

    def data_files(self, *files: str) -> list[Path]:
        """The paths of ``files`` in the package's data folder, each checked to exist (the
        folder is located once per plugin, and each file checked once)."""
        plugin = self.plugin
        if plugin._data_dir is None:
            try:
                plugin._data_dir = data_file(plugin._package, "")
            except CulturaError as exc:
                raise plugin._error(
                    "package", f"{exc}; set package = '<import name>' in the class"
                ) from None
        paths = [plugin._data_dir / file for file in files]
        for file, path in zip(files, paths, strict=True):
            if file not in plugin._present and not path.is_file():
                raise self.error(
                    f"{path} does not exist; put {file!r} in the {DATA_DIR}/ folder of package "
                    f"{plugin._package!r} (and list it in [tool.setuptools.package-data])"
                )
            plugin._present.add(file)
        return paths

    def license(self, own: str) -> str:
        license = own or type(self.plugin).data_license
        if not isinstance(license, str) or not license.strip():
            raise self.error(
                "has no license; set data_license on the plugin (e.g. 'CC-BY-4.0') or "
                "license= on the declaration"
            )
        return license


def _label(item: object) -> str:
    """``Head 'sentiment'``: a declaration or registration named by its key."""
    for key in ("id", "name", "task", "file"):
        if hasattr(item, key):
            return f"{type(item).__name__} {getattr(item, key)!r}"
    return type(item).__name__


def _normalized(
    entries: Callable[[], tuple[KnowledgeEntry, ...]], normalize: Batched | None
) -> Callable[[], tuple[KnowledgeEntry, ...]]:
    """``entries`` with ``normalize`` applied to each entry's text and tags (cached)."""
    if normalize is None:
        return entries

    @cache
    def load() -> tuple[KnowledgeEntry, ...]:
        raw = entries()
        flat = normalize([part for e in raw for part in (e.text, *e.tags)])  # one batched call
        out, at = [], 0
        for entry in raw:
            size = 1 + len(entry.tags)
            text, *tags = flat[at : at + size]
            out.append(replace(entry, text=text, tags=tuple(tags)))
            at += size
        return tuple(out)

    return load


def _close_match(name: str, options: Sequence[str], cutoff: float) -> str | None:
    """The option ``name`` was probably meant to be (difflib loads only on this error path)."""
    from difflib import get_close_matches

    found = get_close_matches(name, options, n=1, cutoff=cutoff)
    return found[0] if found else None


def _defining_package(cls: type) -> str:
    """The package of the module that defines ``cls`` (``cultura_yo`` for ``cultura_yo``)."""
    module = sys.modules.get(cls.__module__)
    return getattr(module, "__package__", None) or cls.__module__
