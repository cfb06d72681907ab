"""Checks on bias checks: balanced, disjoint term groups, templates that fill and vary,
existing target labels, minimal pairs that are minimal."""

from __future__ import annotations

from cultura.testing.conformance.loading import PluginUnderTest
from cultura.testing.conformance.registry import CheckSkipped, needs, register
from cultura.testing.conformance.texts import fill

__all__ = ["check_bias_checks", "check_bias_groups_sizeable", "check_bias_pairs_minimal"]


@register("api", needs("cultura_bias_checks"))
def check_bias_checks(plugin: PluginUnderTest) -> None:
    """Term groups are balanced and disjoint, templates fill, target labels exist."""
    checks = plugin.results("cultura_bias_checks")
    if not checks:
        raise CheckSkipped("cultura_bias_checks returns no check for any declared culture")
    from cultura.core.profile import build_profile

    for tag, check in checks:
        groups = check.term_groups
        sizes = {g: len(t) for g, t in groups.items()}
        assert len(set(sizes.values())) <= 1, f"{check.id} ({tag}): unbalanced groups {sizes}"
        where: dict[str, str] = {}
        for group, terms in groups.items():
            for term in terms:
                assert where.setdefault(term, group) == group, (
                    f"{check.id} ({tag}): term {term!r} is in groups {where[term]!r} and {group!r}"
                )
        for template in check.templates:
            variants = set()
            for terms in groups.values():
                for term in terms:
                    filled = fill(template, term)
                    assert "{" not in filled or "{" in term, (
                        f"{check.id} ({tag}): template {template!r} keeps a placeholder after filling"
                    )
                    variants.add(filled)
            assert len(variants) > 1 or not groups, f"{check.id}: template {template!r} never varies"
        if check.target_label is not None:
            labels = {
                label for c in build_profile(tag, plugin.manager()).heads for label in c.value.labels
            }
            assert check.target_label in labels, (
                f"{check.id} ({tag}): target_label {check.target_label!r} is no label of the "
                f"culture's heads ({sorted(labels)})"
            )


@register("quality", needs("cultura_bias_checks"))
def check_bias_pairs_minimal(plugin: PluginUnderTest) -> None:
    """Minimal pairs differ in a small part of the sentence (not two unrelated sentences)."""
    import difflib

    pairs = [(tag, c, p) for tag, c in plugin.results("cultura_bias_checks") for p in c.pairs]
    if not pairs:
        raise CheckSkipped("no minimal pairs declared")
    for tag, check, pair in pairs:
        ratio = difflib.SequenceMatcher(None, pair.more, pair.less).ratio()
        assert ratio >= 0.5, (
            f"{check.id} ({tag}): pair is not minimal (similarity {ratio:.2f}): "
            f"{pair.more!r} / {pair.less!r}"
        )


@register("quality", needs("cultura_bias_checks"))
def check_bias_groups_sizeable(plugin: PluginUnderTest) -> None:
    """Counterfactual checks have at least 3 aligned terms per group and 3 templates."""
    counterfactual = [
        (tag, c) for tag, c in plugin.results("cultura_bias_checks") if c.term_groups
    ]
    if not counterfactual:
        raise CheckSkipped("no counterfactual (term group) check declared")
    for tag, check in counterfactual:
        size = min(len(t) for t in check.term_groups.values())
        assert size >= 3, f"{check.id} ({tag}): only {size} term(s) per group; use at least 3"
        assert len(check.templates) >= 3, f"{check.id} ({tag}): use at least 3 templates"
