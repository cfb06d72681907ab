"""Running the checks: :func:`plugin_checks`, :func:`check_plugin` with its
:class:`ConformanceReport`, and :func:`parametrize_with_plugin_checks` for pytest."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from cultura.core.errors import CulturaError
from cultura.testing.conformance.loading import PluginUnderTest, load_plugin
from cultura.testing.conformance.registry import (
    CHECKS,
    Check,
    CheckSkipped,
    ConformanceError,
    ConformanceSkipWarning,
    Kind,
)

__all__ = [
    "CheckOutcome",
    "ConformanceReport",
    "check_plugin",
    "parametrize_with_plugin_checks",
    "plugin_checks",
]


def plugin_checks(
    plugin: str | ModuleType | PluginUnderTest, *, kinds: Iterable[Kind] = ("api", "quality")
) -> Iterator[tuple[PluginUnderTest, Check]]:
    """Yield ``(plugin, check)`` for every check of the given kinds, in a stable order."""
    put = load_plugin(plugin)
    wanted = set(kinds)
    for check in CHECKS.values():
        if check.kind in wanted:
            yield put, check


@dataclass(frozen=True)
class CheckOutcome:
    check: str
    kind: Kind
    status: Literal["passed", "failed", "xfailed", "xpassed", "skipped"]
    message: str = ""


@dataclass(frozen=True)
class ConformanceReport:
    """What :func:`check_plugin` found."""

    plugin: str
    version: str
    outcomes: tuple[CheckOutcome, ...]

    @property
    def failed(self) -> tuple[CheckOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status in ("failed", "xpassed"))

    @property
    def skipped(self) -> tuple[CheckOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "skipped")

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        counts = Counter(o.status for o in self.outcomes)
        lines = [
            f"{self.plugin} {self.version}: "
            + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        ]
        for o in self.outcomes:
            if o.status != "passed":
                lines.append(f"  {o.status.upper():8} {self.plugin}::{o.check} ({o.kind}) {o.message}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "version": self.version,
            "ok": self.ok,
            "outcomes": [o.__dict__ for o in self.outcomes],
        }


def check_plugin(
    plugin: str | ModuleType | PluginUnderTest,
    *,
    kinds: Iterable[Kind] = ("api", "quality"),
    expected_failed_checks: Mapping[str, str] | None = None,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Run every conformance check on ``plugin`` and return a :class:`ConformanceReport`.

    Args:
        plugin: a module, module name, entry-point name or distribution name.
        kinds: which check kinds to run.
        expected_failed_checks: check name -> reason, for checks known to fail (their failure
            is reported as ``xfailed``; passing unexpectedly is an error, so the list stays true).
        raise_on_failure: raise :class:`ConformanceError` listing the failures.

    Skipped checks are reported with their reason and warned about (ConformanceSkipWarning).
    """
    expected = dict(expected_failed_checks or {})
    unknown = sorted(set(expected) - set(CHECKS))
    if unknown:
        raise CulturaError(
            f"expected_failed_checks names unknown checks {unknown}; checks: {sorted(CHECKS)}"
        )
    outcomes = []
    put = load_plugin(plugin)
    for _, check in plugin_checks(put, kinds=kinds):
        reason = check.applies(put)
        try:
            if reason is not None:
                raise CheckSkipped(reason)
            check.func(put)
        except CheckSkipped as exc:
            warnings.warn(
                f"{put.id}::{check.name} skipped: {exc}", ConformanceSkipWarning, stacklevel=2
            )
            outcomes.append(CheckOutcome(check.name, check.kind, "skipped", str(exc)))
            continue
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, AssertionError) else str(exc)
            if check.name in expected:
                outcomes.append(
                    CheckOutcome(check.name, check.kind, "xfailed", f"{expected[check.name]} ({message})")
                )
            else:
                outcomes.append(CheckOutcome(check.name, check.kind, "failed", message))
            continue
        if check.name in expected:
            outcomes.append(
                CheckOutcome(
                    check.name,
                    check.kind,
                    "xpassed",
                    f"expected to fail ({expected[check.name]}) but passed: remove it from "
                    "expected_failed_checks",
                )
            )
        else:
            outcomes.append(CheckOutcome(check.name, check.kind, "passed"))
    report = ConformanceReport(put.id, put.version, tuple(outcomes))
    if raise_on_failure and not report.ok:
        raise ConformanceError(report.summary())
    return report


def parametrize_with_plugin_checks(
    plugins: Sequence[str | ModuleType | PluginUnderTest] | str | ModuleType,
    *,
    kinds: Iterable[Kind] = ("api", "quality"),
    expected_failed_checks: Mapping[str, str]
    | Callable[[PluginUnderTest], Mapping[str, str]]
    | None = None,
) -> Any:
    """A ``pytest.mark.parametrize`` over ``(plugin, check)`` for every check of every plugin.

    Test ids read ``cultura-zh::check_normalizer_idempotent``. ``expected_failed_checks``
    (check name -> reason, or a function of the plugin returning that) marks checks as
    ``xfail(strict=True)``. Use it as::

        @parametrize_with_plugin_checks(["cultura_xx"])
        def test_conformance(plugin, check):
            check(plugin)
    """
    import pytest

    if isinstance(plugins, (str, ModuleType)):
        plugins = [plugins]
    kinds = tuple(kinds)
    params = []
    for plugin in plugins:
        put = load_plugin(plugin)
        expected = (
            expected_failed_checks(put)
            if callable(expected_failed_checks)
            else dict(expected_failed_checks or {})
        )
        unknown = sorted(set(expected) - set(CHECKS))
        if unknown:
            raise CulturaError(f"expected_failed_checks names unknown checks {unknown}")
        for _, check in plugin_checks(put, kinds=kinds):
            marks = []
            if check.name in expected:
                marks.append(pytest.mark.xfail(reason=expected[check.name], strict=True))
            params.append(pytest.param(put, check, id=f"{put.id}::{check.name}", marks=marks))
    return pytest.mark.parametrize(("plugin", "check"), params)
