"""pytest plugin for cultura plugin authors (registered as the ``pytest11`` entry point).

It imports nothing heavy at start-up: cultura's core loads only when a fixture is used.

Fixtures:

* ``cultura_plugin`` — the plugin under test, a
  :class:`~cultura.testing.conformance.PluginUnderTest`. Say which plugin with the marker
  ``@pytest.mark.cultura_plugin("cultura_xx")`` on a test or module (``pytestmark``), or the
  ini option ``cultura_plugin = cultura_xx`` (module, entry-point or distribution name).
* ``cultura_plugin_manager`` — an isolated :class:`~cultura.core.plugins.PluginManager`
  holding only the plugin under test (plus the built-in ``und`` plugin); no other installed
  plugin can interfere.
* ``cultura_profile`` — a function ``tag -> CultureProfile`` built from that manager.

Conformance checks run through
:func:`~cultura.testing.conformance.parametrize_with_plugin_checks`; skipped checks are
listed in the terminal summary with their reason.
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "cultura_plugin",
        "cultura plugin under test for the cultura_plugin fixture "
        "(module, entry-point or distribution name)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cultura_plugin(name): the cultura plugin the cultura_plugin fixtures test",
    )


@pytest.fixture
def cultura_plugin(request: pytest.FixtureRequest) -> Any:
    """The plugin under test (see the module docstring for how to name it)."""
    from cultura.testing.conformance import load_plugin

    marker = request.node.get_closest_marker("cultura_plugin")
    name = marker.args[0] if marker is not None and marker.args else request.config.getini(
        "cultura_plugin"
    )
    if not name:
        raise pytest.UsageError(
            f"{request.node.nodeid}: no cultura plugin under test; add "
            '@pytest.mark.cultura_plugin("cultura_xx") or the ini option cultura_plugin = cultura_xx'
        )
    return load_plugin(name)


@pytest.fixture
def cultura_plugin_manager(cultura_plugin: Any) -> Any:
    """An isolated PluginManager holding only the plugin under test (and the built-in)."""
    from cultura.core.plugins import PluginManager

    pm = PluginManager(entry_points=False, disabled=(), allowed=None, strict=True)
    pm.register(
        cultura_plugin.module,
        name=cultura_plugin.name,
        distribution=cultura_plugin.distribution,
        version=cultura_plugin.version,
    )
    return pm


@pytest.fixture
def cultura_profile(cultura_plugin_manager: Any) -> Any:
    """``tag -> CultureProfile`` merged from the isolated manager only."""
    from cultura.core.profile import build_profile

    def profile(tag: str) -> Any:
        return build_profile(tag, cultura_plugin_manager)

    return profile


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List skipped conformance checks loudly (one line each, with the reason)."""
    skipped = [
        r
        for r in terminalreporter.stats.get("skipped", [])
        if "::check_" in getattr(r, "nodeid", "") and "cultura-" in getattr(r, "nodeid", "")
    ]
    if not skipped:
        return
    terminalreporter.section("cultura conformance: skipped checks", sep="-", yellow=True)
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        check_id = report.nodeid.split("[", 1)[-1].rstrip("]")
        reason = reason.removeprefix("Skipped: ").removeprefix(f"{check_id} skipped: ")
        terminalreporter.line(f"SKIPPED {check_id}: {reason}")
