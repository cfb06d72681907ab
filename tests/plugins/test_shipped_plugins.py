"""Every plugin shipped under plugins/ is installed, discovered and passes the conformance suite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cultura.core.plugins import PluginManager
from cultura.testing import parametrize_with_plugin_checks

ROOT = Path(__file__).resolve().parents[2]


def _project_name(pyproject: Path) -> str:
    """``[project] name`` of a plugin's pyproject.toml (tomllib is not in Python 3.10)."""
    match = re.search(r'^name\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
    assert match, f"{pyproject} has no [project] name"
    return match.group(1)

SHIPPED = sorted(
    _project_name(p)
    for p in (ROOT / "plugins").glob("*/pyproject.toml")
)

#: Known failures, each with the reason; strict: once fixed, the xfail turns into an error
#: reminding us to delete the entry.
EXPECTED_FAILURES: dict[str, dict[str, str]] = {}


def test_the_five_shipped_plugins_are_there() -> None:
    assert {"cultura-ar", "cultura-hi", "cultura-ja", "cultura-sw", "cultura-zh"} <= set(SHIPPED)


def test_every_shipped_plugin_is_discovered_and_active() -> None:
    records = {r.distribution: r for r in PluginManager(disabled=(), allowed=None).records()}
    for dist in SHIPPED:
        assert dist in records, f"{dist} is not installed: run `make install`"
        assert records[dist].status == "active", records[dist].error
        assert set(records[dist].hooks) >= {"cultura_cultures", "cultura_tokenizer_tweaks"}


@parametrize_with_plugin_checks(
    SHIPPED, expected_failed_checks=lambda plugin: EXPECTED_FAILURES.get(plugin.id, {})
)
def test_conformance(plugin, check) -> None:  # type: ignore[no-untyped-def]
    check(plugin)


@pytest.mark.parametrize("dist", SHIPPED)
def test_all_four_culture_hooks_are_implemented(dist: str) -> None:
    from cultura.testing import load_plugin

    plugin = load_plugin(dist)
    missing = [
        h
        for h in ("cultura_tokenizer_tweaks", "cultura_knowledge", "cultura_adapter_heads", "cultura_bias_checks")
        if not plugin.implements(h)
    ]
    assert not missing, f"{dist} lacks {missing}"
