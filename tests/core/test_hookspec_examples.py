"""Every ``Example::`` in the hook specs (the generated hook reference) runs and returns a
registration that the plugin manager and the conformance suite's rules accept."""

from __future__ import annotations

import inspect
import textwrap

import pytest

import cultura
from cultura.core import hookspecs
from cultura.core.plugins import PluginManager
from cultura.core.tags import Culture
from cultura.core.types import KnowledgeEntry


def _example(hook: str) -> str:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    block = doc.split("Example::", 1)[1].split(".. versionadded", 1)[0]
    return textwrap.dedent(block).strip("\n")


def _run(hook: str) -> object:
    namespace: dict[str, object] = {name: getattr(cultura, name) for name in (
        "CultureInfo", "TokenizerTweaks", "Normalizer", "KnowledgeSource", "AdapterHeadSpec",
        "BiasCheck",
    )}
    namespace.update(
        cultura=cultura,
        fold_batch=lambda texts: [t.strip() for t in texts],
        load_entries=lambda: [KnowledgeEntry("xx.1", "a festival", license="CC-BY-4.0")],
    )
    exec(compile(_example(hook), f"<{hook} example>", "exec"), namespace)  # noqa: S102
    impl = namespace[hook]
    assert callable(impl)
    args = inspect.signature(impl).parameters
    return impl(**({"culture": Culture.parse("zh")} if "culture" in args else {}))


@pytest.mark.parametrize("hook", hookspecs.ALL_HOOKS)
def test_each_hook_example_returns_valid_registrations(hook: str) -> None:
    values = PluginManager._validate(hook, _run(hook))
    assert values, f"the {hook} example returns nothing"


def test_the_bias_example_is_big_enough_for_the_conformance_suite() -> None:
    (check,) = PluginManager._validate("cultura_bias_checks", _run("cultura_bias_checks"))
    assert min(len(terms) for terms in check.term_groups.values()) >= 3
    assert len(check.templates) >= 3
    assert len({len(terms) for terms in check.term_groups.values()}) == 1  # aligned groups
