"""The check registry: :class:`Check`, the :data:`CHECKS` every check module registers into,
and the exceptions and warning checks use."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from cultura.core.errors import CulturaError
from cultura.testing.conformance.loading import PluginUnderTest, load_plugin

__all__ = [
    "CHECKS",
    "Check",
    "CheckSkipped",
    "ConformanceError",
    "ConformanceSkipWarning",
    "Kind",
    "needs",
    "register",
]

Kind = Literal["api", "quality"]
Applies = Callable[[PluginUnderTest], str | None]


class CheckSkipped(Exception):
    """Raised by a check that does not apply to the plugin (the message says why)."""


class ConformanceError(CulturaError, AssertionError):
    """A plugin failed one or more conformance checks (the message lists them)."""


class ConformanceSkipWarning(UserWarning):
    """A conformance check was skipped; the message names the check and the reason."""


@dataclass(frozen=True)
class Check:
    """A named conformance check. ``applies`` says why it is skipped (``None``: it applies)."""

    name: str
    kind: Kind
    func: Callable[[PluginUnderTest], None]
    doc: str
    applies: Applies = lambda p: None

    def __call__(self, plugin: PluginUnderTest | str | ModuleType | Any) -> None:
        """Run the check; raises AssertionError on failure and pytest's skip (or
        :class:`CheckSkipped` outside pytest) when it does not apply."""
        plugin = load_plugin(plugin)
        reason = self.applies(plugin)
        try:
            if reason is not None:
                raise CheckSkipped(reason)
            self.func(plugin)
        except CheckSkipped as exc:
            _skip(f"{plugin.id}::{self.name} skipped: {exc}")

    def __repr__(self) -> str:
        return self.name


def _skip(message: str) -> None:
    if "pytest" in sys.modules:
        import pytest

        pytest.skip(message)
    raise CheckSkipped(message)


#: Every check, by name, in the order they run (the order the check modules register them).
CHECKS: dict[str, Check] = {}


def needs(hook: str) -> Applies:
    """An ``applies`` that skips plugins not implementing ``hook``."""

    def applies(plugin: PluginUnderTest) -> str | None:
        if plugin.implements(hook):
            return None
        return f"the plugin does not implement {hook}()"

    return applies


def register(
    kind: Kind, applies: Applies | None = None
) -> Callable[[Callable[[PluginUnderTest], None]], Callable[[PluginUnderTest], None]]:
    """Register the decorated function as a check of ``kind``; the first paragraph of its
    docstring is the check's documentation."""

    def decorate(func: Callable[[PluginUnderTest], None]) -> Callable[[PluginUnderTest], None]:
        paragraph = (func.__doc__ or func.__name__).strip().split("\n\n")[0]
        doc = " ".join(line.strip() for line in paragraph.splitlines())
        CHECKS[func.__name__] = Check(func.__name__, kind, func, doc, applies or (lambda p: None))
        return func

    return decorate
