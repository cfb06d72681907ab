"""Culture profiles: every plugin's contributions for one culture, merged by specificity.

For ``zh-Hant-TW`` the chain is ``zh-Hant-TW -> zh-Hant -> zh -> und``. Contributions are
collected from the least specific level (``und``) to the most specific; each registration has
a key (normalizer/vocabulary ``id``, knowledge source ``name``, head ``task``, bias check
``id``) and a more specific level's registration replaces the less specific one with the same
key, keeping its position. A normalizer's ``variant`` is not part of its key: zh-Hant-TW's
``zh.script`` (variant ``s2twp``) replaces zh's (``t2s``); its ``full_id`` names the one that
runs. Two plugins giving the same key at the same level is a
:class:`~cultura.core.errors.ConflictError` naming both distributions. Every contribution
records the plugin (distribution and version) and the level it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar, overload

from cultura.core.errors import ConflictError, CulturaError, UnknownCultureError
from cultura.core.hookspecs import CULTURE_HOOKS
from cultura.core.plugins import HookFailure, HookResult, PluginManager, get_plugin_manager
from cultura.core.tags import Culture, match
from cultura.core.types import (
    AdapterHeadSpec,
    BiasCheck,
    CultureInfo,
    KnowledgeSource,
    Normalizer,
    Perturbation,
    Provenance,
    TokenizerTweaks,
    VocabularyExtension,
    WordRules,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Contribution(Generic[T]):
    """A registration in a profile, with where it came from and what it replaced."""

    key: str
    value: T
    provenance: Provenance
    level: str
    replaced: tuple[tuple[Provenance, str], ...] = ()


def _merge(items: list[tuple[str, Any, Provenance, str]], what: str) -> tuple[Contribution, ...]:
    merged: dict[str, Contribution] = {}
    for key, value, prov, level in items:
        previous = merged.get(key)
        if previous is None:
            merged[key] = Contribution(key, value, prov, level)
            continue
        if previous.level == level:
            same = previous.provenance == prov
            raise ConflictError(
                f"{what} {key!r} for culture {level!r} is given twice"
                + (
                    f" by {prov}; give each a unique key"
                    if same
                    else f": by {previous.provenance} and by {prov}. Disable one plugin "
                    f"(CULTURA_DISABLE_PLUGINS={prov.plugin}) or ask its authors to use a "
                    "distinct key"
                )
            )
        merged[key] = Contribution(
            key, value, prov, level, previous.replaced + ((previous.provenance, previous.level),)
        )
    return tuple(merged.values())


@dataclass(frozen=True)
class CultureProfile:
    """Everything installed plugins contribute to one culture, merged along its chain."""

    culture: Culture
    served_level: str
    info: CultureInfo | None
    normalizers: tuple[Contribution[Normalizer], ...]
    vocabulary: tuple[Contribution[VocabularyExtension], ...]
    split_patterns: tuple[Contribution[str], ...]
    knowledge: tuple[Contribution[KnowledgeSource], ...]
    heads: tuple[Contribution[AdapterHeadSpec], ...]
    bias_checks: tuple[Contribution[BiasCheck], ...]
    failures: tuple[HookFailure, ...] = ()
    #: word segmenter and agreement rules for swapping words (``cultura_word_rules``)
    word_rules: tuple[Contribution[WordRules], ...] = ()
    #: realistic ways the culture writes text differently (``cultura_perturbations``)
    perturbations: tuple[Contribution[Perturbation], ...] = ()

    @property
    def tag(self) -> str:
        return self.culture.tag

    @property
    def chain(self) -> tuple[str, ...]:
        return self.culture.chain()

    @property
    def plugins(self) -> tuple[Provenance, ...]:
        """Every plugin that contributed, in first-contribution order."""
        seen: dict[Provenance, None] = {}
        for group in self._groups().values():
            for c in group:
                seen.setdefault(c.provenance, None)
                for prov, _ in c.replaced:
                    seen.setdefault(prov, None)
        return tuple(seen)

    def _groups(self) -> dict[str, tuple[Contribution, ...]]:
        return {
            "normalizers": self.normalizers,
            "vocabulary": self.vocabulary,
            "split_patterns": self.split_patterns,
            "knowledge": self.knowledge,
            "heads": self.heads,
            "bias_checks": self.bias_checks,
            "word_rules": self.word_rules,
            "perturbations": self.perturbations,
        }

    @overload
    def normalize(self, texts: str) -> str: ...
    @overload
    def normalize(self, texts: Sequence[str]) -> list[str]: ...

    def normalize(self, texts: str | Sequence[str]) -> str | list[str]:
        """Apply the merged normalizer chain to one text or a batch.

        A normalizer that raises, or returns anything but one string per input, raises a
        :class:`~cultura.core.errors.PluginError` naming its plugin, distribution and id.
        """
        single = isinstance(texts, str)
        batch: list[str] = [texts] if single else list(texts)  # type: ignore[list-item]
        for contribution in self.normalizers:
            batch = contribution.value(batch)
        return batch[0] if single else batch

    @property
    def normalizer_ids(self) -> tuple[str, ...]:
        """The full ids of the chain, in order (``zh.script.s2twp``: key and conversion)."""
        return tuple(c.value.full_id for c in self.normalizers)

    def added_tokens(self) -> tuple[str, ...]:
        """Every token the vocabulary extensions add, deduplicated in order."""
        seen: dict[str, None] = {}
        for contribution in self.vocabulary:
            for token in contribution.value.resolve():
                seen.setdefault(token, None)
        return tuple(seen)

    def head(self, task: str) -> AdapterHeadSpec:
        """The adapter-head spec for ``task``; the error lists the tasks on offer."""
        for contribution in self.heads:
            if contribution.key == task:
                return contribution.value
        offered = ", ".join(c.key for c in self.heads) or "none"
        raise CulturaError(
            f"culture {self.tag!r} offers no task {task!r}; tasks on offer: {offered}. "
            "Install a plugin that provides it or pass an AdapterHeadSpec explicitly"
        )

    def data_license(self, task: str) -> str | None:
        """The licence the plugin offering ``task`` gives its data, or ``None``.

        Read from the knowledge sources and bias checks that the same distribution contributes
        to this profile; ``None`` when it contributes none or they disagree.
        """
        owner = next((c.provenance.distribution for c in self.heads if c.key == task), None)
        if owner is None:
            return None
        found = {
            c.value.license
            for c in (*self.knowledge, *self.bias_checks)
            if c.provenance.distribution == owner and c.value.license
        }
        return found.pop() if len(found) == 1 else None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready description with provenance (what ``cultura show --json`` prints)."""

        def entry(c: Contribution, extra: dict[str, Any]) -> dict[str, Any]:
            return {
                "key": c.key,
                "level": c.level,
                "plugin": c.provenance.plugin,
                "distribution": c.provenance.distribution,
                "version": c.provenance.version,
                "overrides": [
                    {"distribution": p.distribution, "version": p.version, "level": lvl}
                    for p, lvl in c.replaced
                ],
                **extra,
            }

        return {
            "tag": self.tag,
            "chain": list(self.chain),
            "served_level": self.served_level,
            "info": None
            if self.info is None
            else {
                "english_name": self.info.english_name,
                "native_name": self.info.native_name,
                "script": self.info.script,
                "direction": self.info.direction,
                "description": self.info.description,
            },
            "normalizers": [
                entry(
                    c,
                    {
                        "id": c.value.full_id,
                        "variant": c.value.variant,
                        "description": c.value.description,
                    },
                )
                for c in self.normalizers
            ],
            "vocabulary": [
                entry(
                    c,
                    {
                        "description": c.value.description,
                        "init": c.value.init,
                        "init_from": [source.label for source in c.value.init_from],
                        "tokens": len(c.value.resolve()),
                    },
                )
                for c in self.vocabulary
            ],
            "split_patterns": [entry(c, {}) for c in self.split_patterns],
            "knowledge": [
                entry(c, {"license": c.value.license, "description": c.value.description})
                for c in self.knowledge
            ],
            "heads": [
                entry(
                    c,
                    {
                        "head_type": c.value.head_type,
                        "labels": list(c.value.labels),
                        "peft": c.value.peft.method,
                    },
                )
                for c in self.heads
            ],
            "bias_checks": [
                entry(
                    c,
                    {
                        "category": c.value.category,
                        "metric": c.value.metric,
                        "threshold": c.value.threshold,
                    },
                )
                for c in self.bias_checks
            ],
            "word_rules": [
                entry(
                    c,
                    {
                        "description": c.value.description,
                        "segmenter": c.value.segment is not None,
                        "agreement": c.value.agree is not None,
                    },
                )
                for c in self.word_rules
            ],
            "perturbations": [
                entry(
                    c,
                    {
                        "description": c.value.description,
                        "kind": c.value.kind,
                        "seeded": c.value.seeded,
                        "rate": c.value.rate,
                    },
                )
                for c in self.perturbations
            ],
            "plugins": [str(p) for p in self.plugins],
            "failures": [str(f) for f in self.failures],
        }


def _flatten(
    results: list[HookResult], extract: Callable[[Any], list[tuple[str, Any]]]
) -> list[tuple[str, Any, Provenance, str]]:
    return [
        (key, value, r.provenance, r.level) for r in results for key, value in extract(r.value)
    ]


def build_profile(
    tag: str | Culture, manager: PluginManager | None = None, *, allow_universal: bool = False
) -> CultureProfile:
    """Collect and merge every active plugin's contributions for ``tag``.

    Raises :class:`UnknownCultureError` when no plugin serves the tag or any of its fallback
    levels (besides ``und``), unless ``allow_universal`` is true.
    """
    pm = manager or get_plugin_manager()
    culture = Culture.parse(tag)
    served = pm.served_tags()
    if allow_universal:
        served_level = match(culture, served)
    else:
        try:
            served_level = match(culture, served - {"und"})
        except UnknownCultureError:
            if culture.is_universal:
                served_level = "und"
            else:
                raise
    failures: list[HookFailure] = []
    collected: dict[str, list[HookResult]] = {}
    for hook in CULTURE_HOOKS:
        got, failed = pm.call(hook, culture)
        collected[hook] = got
        failures.extend(failed)
    # a plugin that failed in any hook contributes nothing, not even what it gave before
    broken = {f.provenance for f in failures}

    def results(hook: str) -> list[HookResult]:
        return [r for r in collected[hook] if r.provenance not in broken]

    tweaks = results("cultura_tokenizer_tweaks")

    def tweak_items(
        getter: Callable[[TokenizerTweaks], Sequence[Any]], key: Callable[[Any], str]
    ) -> list[tuple[str, Any, Provenance, str]]:
        return _flatten(tweaks, lambda t: [(key(v), v) for v in getter(t)])

    normalizers = [
        (key, replace(normalizer, provenance=prov), prov, level)
        for key, normalizer, prov, level in tweak_items(lambda t: t.normalizers, lambda n: n.id)
    ]

    infos = {info.tag: info for info_list in pm.cultures().values() for info, _ in info_list}
    info = next((infos[level] for level in culture.chain() if level in infos), None)
    return CultureProfile(
        culture=culture,
        served_level=served_level,
        info=info,
        normalizers=_merge(normalizers, "normalizer"),
        vocabulary=_merge(
            tweak_items(lambda t: t.vocabulary, lambda v: v.id), "vocabulary extension"
        ),
        split_patterns=_merge(tweak_items(lambda t: t.split_patterns, str), "split pattern"),
        knowledge=_merge(
            _flatten(results("cultura_knowledge"), lambda v: [(v.name, v)]), "knowledge source"
        ),
        heads=_merge(
            _flatten(results("cultura_adapter_heads"), lambda v: [(v.task, v)]), "adapter head"
        ),
        bias_checks=_merge(
            _flatten(results("cultura_bias_checks"), lambda v: [(v.id, v)]), "bias check"
        ),
        failures=tuple(failures),
        word_rules=_merge(
            [
                (r.value.id, replace(r.value, provenance=r.provenance), r.provenance, r.level)
                for r in results("cultura_word_rules")
            ],
            "word rules",
        ),
        perturbations=_merge(
            [
                (r.value.id, replace(r.value, provenance=r.provenance), r.provenance, r.level)
                for r in results("cultura_perturbations")
            ],
            "perturbation",
        ),
    )


def culture(tag: str | Culture, *, manager: PluginManager | None = None) -> CultureProfile:
    """The merged :class:`CultureProfile` of ``tag`` (cached by the plugin manager unless a
    plugin failed while it was built).

    >>> import cultura
    >>> cultura.culture("zh-TW").normalize("软件")   # doctest: +SKIP
    '軟體'
    """
    pm = manager or get_plugin_manager()
    key = Culture.parse(tag).tag
    cached = pm.profile_cache.get(key)
    if cached is None:
        cached = build_profile(key, pm)
        if not cached.failures:  # a failed plugin was taken out: the next build differs
            pm.profile_cache[key] = cached
    return cached
