"""Meta-tests: every hook is documented and tested (datasette's rule)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from cultura.core import hookspecs

HOOKS = [name for name in dir(hookspecs) if name.startswith("cultura_")]


def test_hook_list_matches_module() -> None:
    assert sorted(HOOKS) == sorted(hookspecs.ALL_HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_full_docstring(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    for section in ("When:", "Returns:", "Example::", "versionadded"):
        assert section in doc, f"{hook} docstring lacks {section!r}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_dedicated_test(hook: str) -> None:
    tests = "\n".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    assert f"def test_hook_{hook.removeprefix('cultura_')}" in tests


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_reference_shows_exact_signature(hook: str) -> None:
    from cultura.core.reference import hook_reference

    signature = f"{hook}{inspect.signature(getattr(hookspecs, hook))}"
    assert signature in hook_reference()
