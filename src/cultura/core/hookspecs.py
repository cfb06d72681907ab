"""The hook specifications every cultura plugin implements a subset of.

A plugin is a module registered under the ``cultura`` entry-point group. It declares the core
API version it targets and implements hooks with :data:`cultura.hookimpl`::

    import cultura

    CULTURA_API_VERSION = "1.0"

    @cultura.hookimpl
    def cultura_cultures():
        return [cultura.CultureInfo("sw", description="Swahili")]

Rules that hold for every hook:

* Implementations may accept any subset of a hook's arguments, so arguments can be added in
  later versions without breaking plugins.
* Culture hooks are called once per level of the requested culture's fallback chain that the
  plugin serves (declared by :func:`cultura_cultures`), with ``culture`` set to that level.
  ``requested`` is the culture the user asked for. Return ``None`` to contribute nothing.
* Hooks return frozen registrations from :mod:`cultura.core.types` (or a list of them); the
  core validates them and records which plugin (distribution, version) gave each one.
* Every import and hook call is isolated: anything a plugin raises (``SystemExit`` and its own
  ``KeyboardInterrupt`` included), a bad return or a call that outlives
  ``CULTURA_PLUGIN_TIMEOUT`` is reported with the plugin's name and hook, the plugin is taken
  out for the rest of the process (status ``error`` or ``hung``), and the others keep working.

The hook reference in the docs is generated from these docstrings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from cultura.core.tags import Culture
    from cultura.core.types import (
        AdapterHeadSpec,
        BiasCheck,
        CultureInfo,
        KnowledgeSource,
        Perturbation,
        TokenizerTweaks,
        WordRules,
    )

PROJECT = "cultura"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Version of the plugin API this core implements. A plugin declares the version it targets in
#: a module-level ``CULTURA_API_VERSION``; it loads when the major versions are equal and its
#: minor version is not newer than the core's. 1.1 added :func:`cultura_word_rules`, 1.2
#: :func:`cultura_perturbations`, 1.3 the ``prompt`` of an adapter head
#: (:class:`~cultura.core.types.PromptTemplate`).
API_VERSION = "1.3"


@hookspec
def cultura_cultures() -> list[CultureInfo] | None:
    """Declare the cultures this plugin serves.

    When: once, when plugins are loaded (``cultura plugins``, ``cultura cultures``, any
    profile). Keep it cheap: no model or data loading.

    Parameters: none.

    Returns: a list of :class:`~cultura.core.types.CultureInfo`. The other culture hooks are
    only called with these cultures. Not ``firstresult``: every plugin's list is collected.

    Example::

        @cultura.hookimpl
        def cultura_cultures():
            return [CultureInfo("zh"), CultureInfo("zh-Hant"), CultureInfo("zh-TW")]

    .. versionadded:: 1.0
    """


@hookspec
def cultura_tokenizer_tweaks(culture: Culture, requested: Culture) -> TokenizerTweaks | None:
    """Contribute text normalizers, vocabulary additions and pre-tokenization rules.

    When: building a culture profile (``cultura.culture(tag)``, ``cultura normalize``,
    ``cultura.adapt``), once per fallback level the plugin serves.

    Parameters:
        culture: the fallback level being asked for (e.g. ``zh-Hant`` when ``zh-Hant-TW`` was
            requested).
        requested: the culture the user asked for.

    Returns: a :class:`~cultura.core.types.TokenizerTweaks` or ``None``. Normalizers are
    keyed by ``id`` and vocabulary extensions by ``id``: a more specific level replaces a less
    specific one with the same id. Not ``firstresult``.

    Example::

        @cultura.hookimpl
        def cultura_tokenizer_tweaks(culture):
            return TokenizerTweaks(normalizers=[Normalizer("xx.fold", fold_batch)])

    .. versionadded:: 1.0
    """


@hookspec
def cultura_knowledge(culture: Culture, requested: Culture) -> list[KnowledgeSource] | None:
    """Contribute cultural knowledge sources (entries, optional retriever, templates).

    When: building a culture profile, once per fallback level the plugin serves. Entries are
    loaded lazily when a knowledge injector is built.

    Parameters:
        culture: the fallback level being asked for.
        requested: the culture the user asked for.

    Returns: a list of :class:`~cultura.core.types.KnowledgeSource` (keyed by ``name``) or
    ``None``. Not ``firstresult``.

    Example::

        @cultura.hookimpl
        def cultura_knowledge(culture):
            return [KnowledgeSource("xx.festivals", license="CC-BY-4.0", entries=load_entries)]

    .. versionadded:: 1.0
    """


@hookspec
def cultura_adapter_heads(culture: Culture, requested: Culture) -> list[AdapterHeadSpec] | None:
    """Contribute adapter-head specs: tasks with head type, localized labels and PEFT config.

    When: building a culture profile, once per fallback level the plugin serves;
    ``cultura.adapt(..., task=...)`` picks the spec by ``task``.

    Parameters:
        culture: the fallback level being asked for.
        requested: the culture the user asked for.

    Returns: a list of :class:`~cultura.core.types.AdapterHeadSpec` (keyed by ``task``) or
    ``None``. Not ``firstresult``. A ``seq-cls`` spec may carry a
    :class:`~cultura.core.types.PromptTemplate` (``prompt=``, API 1.3): the instruction, the
    example layout and the verbalizers that :func:`cultura.prompt` and zero-shot prediction use.

    Example::

        @cultura.hookimpl
        def cultura_adapter_heads(culture):
            return [AdapterHeadSpec(
                "sentiment", "seq-cls", labels=("正面", "负面", "中性"),
                prompt=cultura.PromptTemplate("判断评论的情感（{labels}）。", "评论：{text}\\n情感：{label}"),
            )]

    .. versionadded:: 1.0
    .. versionchanged:: 1.3 ``AdapterHeadSpec.prompt``
    """


@hookspec
def cultura_bias_checks(culture: Culture, requested: Culture) -> list[BiasCheck] | None:
    """Contribute bias checks: counterfactual term groups and templates, or minimal pairs.

    When: building a culture profile, once per fallback level the plugin serves; run by
    ``cultura check-bias`` and before publishing.

    Parameters:
        culture: the fallback level being asked for.
        requested: the culture the user asked for.

    Returns: a list of :class:`~cultura.core.types.BiasCheck` (keyed by ``id``) or ``None``.
    Not ``firstresult``.

    Example::

        @cultura.hookimpl
        def cultura_bias_checks(culture):
            return [BiasCheck(
                "xx.gender", "gender", "ctf_gap", 0.1,
                # aligned lists: the i-th term of each group differ only in the attribute
                term_groups={"f": ("她", "女儿", "妈妈"), "m": ("他", "儿子", "爸爸")},
                templates=("{term}很能干。", "{term}工作很认真。", "大家都喜欢{term}。"),
                license="CC-BY-4.0",
            )]

    .. versionadded:: 1.0
    """


@hookspec
def cultura_word_rules(culture: Culture, requested: Culture) -> list[WordRules] | None:
    """Contribute word rules: a word segmenter and/or agreement rules for swapping words.

    When: building a culture profile, once per fallback level the plugin serves; used by
    counterfactual data augmentation (``cultura.adapt.cda``, ``train(...,
    counterfactual_augmentation=True)``), which swaps a bias check's group terms only where
    they are whole words, and rewrites what follows a swapped term with the agreement rules.

    Parameters:
        culture: the fallback level being asked for.
        requested: the culture the user asked for.

    Returns: a list of :class:`~cultura.core.types.WordRules` (keyed by ``id``) or ``None``.
    The segmenter of the most specific level wins (by plugin order within a level); every
    agreement rule applies, in profile order. The segmenter and rules run in the caller's
    thread, like normalizers: one that raises or returns words that do not join back to the
    text raises a :class:`~cultura.core.errors.PluginError` naming the plugin. Not
    ``firstresult``.

    Example::

        import re

        @cultura.hookimpl
        def cultura_word_rules(culture):
            # words: runs of anything but spaces and punctuation; each of those stands alone
            def segment(texts):
                return [re.findall(r"\\s+|[^\\s.,;:!?]+|.", text) for text in texts]

            return [cultura.WordRules("xx.words", segment, description="words between spaces")]

    .. versionadded:: 1.1
    """


@hookspec
def cultura_perturbations(culture: Culture, requested: Culture) -> list[Perturbation] | None:
    """Contribute perturbations: realistic ways the culture writes the same text differently.

    When: building a culture profile, once per fallback level the plugin serves; run by
    ``cultura robustness`` (:func:`cultura.robustness.robustness_report`), which measures an
    adapter's accuracy and flip rate under each, and by its gate before publishing.

    Parameters:
        culture: the fallback level being asked for.
        requested: the culture the user asked for (a plugin may give, at one level, what suits
            the requested script or region: the zh plugin converts zh-TW text to Simplified
            and Hong Kong variants, and zh text to Traditional ones).

    Returns: a list of :class:`~cultura.core.types.Perturbation` (keyed by ``id``) or
    ``None``. A perturbation takes one text and returns it perturbed; it keeps what the label
    depends on and is deterministic (a seeded one draws from the ``random.Random`` the core
    gives it). Perturbations run in an isolated thread with the plugin time limit: one that
    raises, hangs or returns anything but a string is reported with its plugin's name and
    skipped. Not ``firstresult``.

    Example::

        import unicodedata

        @cultura.hookimpl
        def cultura_perturbations(culture):
            def drop_accents(text):
                return "".join(c for c in unicodedata.normalize("NFD", text)
                               if not unicodedata.combining(c))

            def swap_letters(text, rng):  # seeded: one adjacent pair swapped
                if len(text) < 2:
                    return text
                i = rng.randrange(len(text) - 1)
                return text[:i] + text[i + 1] + text[i] + text[i + 2:]

            return [
                cultura.Perturbation("xx.accents", drop_accents, "accents dropped",
                                     kind="diacritics"),
                cultura.Perturbation("xx.swap", swap_letters, "two letters swapped",
                                     kind="typo", seeded=True),
            ]

    .. versionadded:: 1.2
    """


#: Hooks that take a culture, in the order profiles list them.
CULTURE_HOOKS: tuple[str, ...] = (
    "cultura_tokenizer_tweaks",
    "cultura_knowledge",
    "cultura_adapter_heads",
    "cultura_bias_checks",
    "cultura_word_rules",
    "cultura_perturbations",
)
ALL_HOOKS: tuple[str, ...] = ("cultura_cultures", *CULTURE_HOOKS)
