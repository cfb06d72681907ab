"""Checks on normalizers: the plugin's probe file, each normalizer's contract (one string per
input, pure, idempotent, batch-independent, never emptying a text) and each culture's whole
chain (clean white space, no added invisible characters, idempotent).

Every check runs over :attr:`PluginUnderTest.sample_texts`: the built-in probes, the plugin's
probes and the texts the plugin ships.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from cultura.testing.conformance.loading import PluginUnderTest
from cultura.testing.conformance.probes import (
    FILLERS,
    PROBES_ATTRIBUTE,
    added_invisible,
    chain_problem,
    show,
    whitespace_problem,
)
from cultura.testing.conformance.registry import needs, register

__all__ = [
    "check_normalizer_batched_equals_single",
    "check_normalizer_idempotent",
    "check_normalizer_keeps_text",
    "check_normalizer_pure",
    "check_normalizer_returns_strings",
    "check_probes",
    "check_profile_normalization_clean",
    "check_profile_normalization_idempotent",
]

def _has_normalizers(plugin: PluginUnderTest) -> str | None:
    reason = needs("cultura_tokenizer_tweaks")(plugin)
    if reason:
        return reason
    return None if plugin.normalizers() else "the plugin contributes no normalizer"


def _each_normalizer(plugin: PluginUnderTest) -> Iterator[tuple[str, Any, list[str]]]:
    texts = list(plugin.sample_texts)
    seen: set[int] = set()
    for tag, normalizer in plugin.normalizers():
        if id(normalizer.fn) in seen:
            continue
        seen.add(id(normalizer.fn))
        yield tag, normalizer, texts


def _has_probe_file(plugin: PluginUnderTest) -> str | None:
    if getattr(plugin.module, PROBES_ATTRIBUTE, None) is None:
        return (
            f"the plugin ships no probe file ({PROBES_ATTRIBUTE}); declare probes = 'probes.txt' "
            "with script-specific edge cases in data/probes.txt"
        )
    return None


@register("api", _has_probe_file)
def check_probes(plugin: PluginUnderTest) -> None:
    """The plugin's probe file (``CULTURA_PROBES``) reads: UTF-8, valid escapes, at least one
    probe."""
    from cultura.core.errors import DataError

    try:
        probes = plugin.probes
    except DataError as exc:
        raise AssertionError(f"probe file: {exc}") from None
    assert probes, (
        f"probe file {plugin.probe_file} holds no probe: write one edge case of your script per "
        "line ('#' starts a comment)"
    )


@register("api", _has_normalizers)
def check_normalizer_returns_strings(plugin: PluginUnderTest) -> None:
    """Normalizers return a list with one string per input (also for an empty batch)."""
    for tag, normalizer, texts in _each_normalizer(plugin):
        out = normalizer.fn(list(texts))
        assert isinstance(out, list) and len(out) == len(texts), (
            f"{normalizer.id} ({tag}) returned {type(out).__name__} of length "
            f"{len(out) if hasattr(out, '__len__') else '?'} for {len(texts)} texts"
        )
        bad = [(t, o) for t, o in zip(texts, out, strict=True) if not isinstance(o, str)]
        assert not bad, (
            f"{normalizer.id} ({tag}) returned a non-string: {show(bad[0][0])} -> {bad[0][1]!r}"
        )
        assert normalizer.fn([]) == [], f"{normalizer.id} ({tag}) must map [] to []"


@register("api", _has_normalizers)
def check_normalizer_pure(plugin: PluginUnderTest) -> None:
    """Normalizers do not modify their input and give the same output when called again."""
    for tag, normalizer, texts in _each_normalizer(plugin):
        batch = list(texts)
        first = normalizer.fn(batch)
        assert batch == list(texts), f"{normalizer.id} ({tag}) modified its input list"
        second = normalizer.fn(list(texts))
        diff = [(t, a, b) for t, a, b in zip(texts, first, second, strict=True) if a != b]
        assert not diff, (
            f"{normalizer.id} ({tag}) is not deterministic: {show(diff[0][0])} -> "
            f"{show(diff[0][1])}, then {show(diff[0][2])}"
        )


@register("api", _has_normalizers)
def check_normalizer_idempotent(plugin: PluginUnderTest) -> None:
    """normalize(normalize(x)) == normalize(x) for every normalizer."""
    for tag, normalizer, texts in _each_normalizer(plugin):
        once = normalizer.fn(list(texts))
        twice = normalizer.fn(list(once))
        diff = [(t, a, b) for t, a, b in zip(texts, once, twice, strict=True) if a != b]
        assert not diff, (
            f"{normalizer.id} ({tag}) is not idempotent on {len(diff)} text(s); e.g. "
            f"{show(diff[0][0])} -> {show(diff[0][1])} -> {show(diff[0][2])}"
        )


@register("api", _has_normalizers)
def check_normalizer_batched_equals_single(plugin: PluginUnderTest) -> None:
    """Normalizing a batch gives the same strings as normalizing each text alone."""
    for tag, normalizer, texts in _each_normalizer(plugin):
        batched = normalizer.fn(list(texts))
        single = [normalizer.fn([t])[0] for t in texts]
        diff = [(t, a, b) for t, a, b in zip(texts, batched, single, strict=True) if a != b]
        assert not diff, (
            f"{normalizer.id} ({tag}) depends on the batch: {show(diff[0][0])} -> batched "
            f"{show(diff[0][1])}, alone {show(diff[0][2])}"
        )


def _has_content(text: str) -> bool:
    """Whether ``text`` has a letter or digit other than an invisible filler."""
    return any(unicodedata.category(c)[0] in "LN" and c not in FILLERS for c in text)


@register("api", _has_normalizers)
def check_normalizer_keeps_text(plugin: PluginUnderTest) -> None:
    """A text with letters or digits never normalizes to an empty (or blank) string."""
    for tag, normalizer, texts in _each_normalizer(plugin):
        out = normalizer.fn(list(texts))
        emptied = [t for t, o in zip(texts, out, strict=True) if _has_content(t) and not o.strip()]
        assert not emptied, f"{normalizer.id} ({tag}) emptied {show(emptied[0])}"


def _explain(profile: Any, text: str) -> str:
    """One line: which normalizer of ``profile``'s chain spoils ``text``, the probe and the
    output (the chain is run one step at a time)."""
    steps = []
    current = text
    for contribution in profile.normalizers:
        after = contribution.value([current])[0]
        steps.append((current, after))
        current = after
    found = chain_problem(steps)
    assert found is not None, f"{show(text)} normalizes cleanly alone but not in the batch"
    index, problem = found
    if index < 0:
        who = f"no normalizer of the chain {list(profile.normalizer_ids)} folds white space"
    else:
        step = profile.normalizers[index]
        before, after = steps[index]
        who = f"plugin {step.provenance.plugin!r}, normalizer {step.key}"
        if (before, after) != (text, current):  # show the step when it is not the whole chain
            who += f" (it made {show(before)} into {show(after)})"
    return f"  {who}: probe {show(text)} -> output {show(current)}, which {problem}"


@register("api", _has_normalizers)
def check_profile_normalization_clean(plugin: PluginUnderTest) -> None:
    """After each culture's whole chain (built-in ``und`` steps first), no text has white space
    at an end, two white-space characters in a row or white space other than U+0020, nor a
    control or format character its input did not have; the failure names the normalizer
    that left it.

    ``und.whitespace`` makes every text meet this rule, so a later normalizer that deletes a
    character between two spaces (a Hangul filler, a stray mark) or inserts white space or an
    invisible mark is what breaks it.
    """
    from cultura.core.profile import build_profile

    texts = list(plugin.sample_texts)
    for tag in plugin.cultures:
        profile = build_profile(tag, plugin.manager())
        outputs = profile.normalize(texts)
        bad = [
            t
            for t, o in zip(texts, outputs, strict=True)
            if whitespace_problem(o) is not None or added_invisible(t, o) is not None
        ]
        assert not bad, (
            f"{tag}: the normalizer chain leaves stray white space or invisible characters in "
            f"{len(bad)} text(s):\n" + "\n".join(_explain(profile, t) for t in bad[:3]) + "\n"
            "A normalizer that deletes or replaces characters must also fold the white space "
            "it leaves (no space at the ends, none twice in a row, only U+0020), as "
            "und.whitespace does, and must not insert control or format characters"
        )


@register("quality", _has_normalizers)
def check_profile_normalization_idempotent(plugin: PluginUnderTest) -> None:
    """The merged normalizer chain of each culture (built-in + plugin) is idempotent."""
    from cultura.core.profile import build_profile

    texts = list(plugin.sample_texts)
    for tag in plugin.cultures:
        profile = build_profile(tag, plugin.manager())
        once = profile.normalize(texts)
        twice = profile.normalize(once)
        diff = [(t, a, b) for t, a, b in zip(texts, once, twice, strict=True) if a != b]
        assert not diff, (
            f"{tag}: chain {profile.normalizer_ids} is not idempotent on {len(diff)} text(s); "
            f"e.g. {show(diff[0][0])} -> {show(diff[0][1])} -> {show(diff[0][2])}"
        )
