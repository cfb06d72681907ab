"""The plugin docs stay true to the code, and the pytest fixtures isolate the plugin under test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from cultura.testing import CHECKS

ROOT = Path(__file__).resolve().parents[2]


def _project_name(pyproject: Path) -> str:
    """``[project] name`` of a plugin's pyproject.toml (tomllib is not in Python 3.10)."""
    match = re.search(r'^name\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
    assert match, f"{pyproject} has no [project] name"
    return match.group(1)

DOCS = ROOT / "docs"


def test_every_check_is_documented_with_its_kind() -> None:
    table = dict(re.findall(r"^\| `(check_\w+)` \| (api|quality) \|", (DOCS / "conformance.md").read_text(encoding="utf-8"), re.M))
    assert table == {name: check.kind for name, check in CHECKS.items()}


def test_plugin_directory_lists_every_shipped_plugin_and_its_cultures() -> None:
    from cultura.testing import load_plugin

    text = (DOCS / "plugin-directory.md").read_text(encoding="utf-8")
    for pyproject in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        dist = _project_name(pyproject)
        assert f"## {dist} " in text, f"{dist} is missing from docs/plugin-directory.md"
        section = text.split(f"## {dist} ", 1)[1].split("\n## ", 1)[0]
        for tag in load_plugin(dist).cultures:
            assert f"`{tag}`" in section, f"{dist}: culture {tag} is not listed"


def _pytest(tmp_path: Path, test: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_it.py").write_text(textwrap.dedent(test), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTURA_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_it.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )


def test_fixtures_give_a_manager_holding_only_the_marked_plugin(tmp_path: Path) -> None:
    proc = _pytest(
        tmp_path,
        """
        import pytest

        @pytest.mark.cultura_plugin("cultura-sw")
        def test_isolated(cultura_plugin, cultura_plugin_manager, cultura_profile):
            assert cultura_plugin.distribution == "cultura-sw"
            assert [r.name for r in cultura_plugin_manager.records()] == ["und", "sw"]
            assert cultura_profile("sw").plugins[-1].distribution == "cultura-sw"
        """,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_fixture_without_a_named_plugin_says_how_to_name_it(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, "def test_unnamed(cultura_plugin_manager):\n    pass\n")
    assert proc.returncode != 0
    assert "no cultura plugin under test" in proc.stdout
    assert "@pytest.mark.cultura_plugin" in proc.stdout


def test_pytest_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, cultura.testing.pytest_plugin; "
        "print([m for m in ('torch', 'transformers', 'peft', 'cultura.core.plugins') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
