"""Checks on perturbations (``cultura_perturbations``): each returns a string for every sample
text, deterministically for a seed, and changes at least one of them (a perturbation that
changes nothing measures nothing)."""

from __future__ import annotations

from typing import Any

from cultura.testing.conformance.loading import PluginUnderTest
from cultura.testing.conformance.probes import show
from cultura.testing.conformance.registry import CheckSkipped, needs, register

__all__ = ["check_perturbations_change_text", "check_perturbations_return_strings"]


def _perturbations(plugin: PluginUnderTest) -> list[tuple[str, Any]]:
    found = plugin.results("cultura_perturbations")
    if not found:
        raise CheckSkipped("cultura_perturbations returns nothing for any declared culture")
    return found


@register("api", needs("cultura_perturbations"))
def check_perturbations_return_strings(plugin: PluginUnderTest) -> None:
    """Every perturbation returns a string for each sample text, the same one twice for one
    seed (whatever the order of the texts)."""
    texts = list(plugin.sample_texts)
    for tag, p in _perturbations(plugin):
        first = p.apply(texts, seed=0)  # raises naming the perturbation when it returns no str
        again = p.apply(list(reversed(texts)), seed=0)[::-1]
        for text, a, b in zip(texts, first, again, strict=True):
            assert a == b, (
                f"perturbation {p.id!r} ({tag}) is not deterministic for seed 0: {show(text)} "
                f"gave {show(a)}, then {show(b)}; draw random choices only from the rng argument "
                "(seeded=True)"
            )


@register("quality", needs("cultura_perturbations"))
def check_perturbations_change_text(plugin: PluginUnderTest) -> None:
    """Every perturbation changes at least one of the plugin's own texts and probes (one that
    changes nothing measures nothing)."""
    texts = list(plugin.sample_texts)
    for tag, p in _perturbations(plugin):
        out = p.apply(texts, seed=0)
        assert any(a != b for a, b in zip(texts, out, strict=True)), (
            f"perturbation {p.id!r} ({tag}) changed none of {len(texts)} sample texts (the "
            "plugin's probes, sample data, knowledge and bias texts); add a probe with what it "
            "applies to, or fix it"
        )
