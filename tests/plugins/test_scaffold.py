"""`cultura new-plugin`: the generated package installs, passes its own tests and is discovered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cultura.core.errors import CulturaError
from cultura.testing.scaffold import new_plugin, plugin_names, scaffold


def run(args: list[str], *, cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    env.pop("CULTURA_LOAD_PLUGINS", None)
    env.pop("CULTURA_NO_PLUGINS", None)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Generate a plugin for Yoruba with the CLI and pip-install it into a --target directory."""
    work = tmp_path_factory.mktemp("scaffold")
    result = CliRunner().invoke(new_plugin, ["yo", "--output", str(work)])
    assert result.exit_code == 0, result.output
    root = work / "cultura-yo"
    site = work / "site"
    pip = run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(root)],
        cwd=work, pythonpath=site,
    )
    assert pip.returncode == 0, pip.stderr
    return root, site


def test_generated_package_layout(installed: tuple[Path, Path]) -> None:
    root, site = installed  # --output is the parent folder: the package is OUTPUT/cultura-yo
    assert (root / "src" / "cultura_yo" / "__init__.py").is_file()
    assert (root / "tests" / "test_plugin.py").is_file()
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert '[project.entry-points.cultura]\nyo = "cultura_yo"' in pyproject
    # package data made it into the installed distribution
    for name in ("sentiment.jsonl", "bias.json", "knowledge.jsonl", "vocab.txt", "probes.txt"):
        assert (site / "cultura_yo" / "data" / name).is_file(), name


def test_the_declaration_is_short_and_the_sample_data_balanced(installed: tuple[Path, Path]) -> None:
    root, _ = installed
    package = root / "src" / "cultura_yo"
    python = [p for p in package.glob("*.py") if p.name != "normalize.py"]
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in python)
    assert lines < 40, f"the plugin needs {lines} lines of Python beside its normalizers"
    assert "class Yoruba(Plugin):" in (package / "__init__.py").read_text(encoding="utf-8")
    rows = [json.loads(x) for x in (package / "data" / "sentiment.jsonl").read_text(encoding="utf-8").splitlines()]
    counts = {label: sum(r["label"] == label for r in rows) for label in ("positive", "negative", "neutral")}
    assert len(rows) == 30 and set(counts.values()) == {10}, counts


def test_generated_plugin_passes_its_own_tests(installed: tuple[Path, Path]) -> None:
    root, site = installed
    proc = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root, pythonpath=site)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
    # the scaffold declares every kind of contribution, so every conformance check applies
    assert "skipped" not in proc.stdout


def test_generated_plugin_appears_in_cultura_plugins_and_show(installed: tuple[Path, Path]) -> None:
    root, site = installed
    cli = [sys.executable, "-m", "cultura.cli"]
    listing = run([*cli, "plugins", "--json"], cwd=root, pythonpath=site)
    assert listing.returncode == 0, listing.stderr
    record = next(p for p in json.loads(listing.stdout) if p["distribution"] == "cultura-yo")
    assert record["status"] == "active" and record["cultures"] == ["yo"]
    assert set(record["hooks"]) == {
        "cultura_cultures", "cultura_tokenizer_tweaks", "cultura_knowledge",
        "cultura_adapter_heads", "cultura_bias_checks", "cultura_perturbations",
    }
    show = run([*cli, "show", "yo", "--json"], cwd=root, pythonpath=site)
    assert show.returncode == 0, show.stderr
    profile = json.loads(show.stdout)
    assert [n["key"] for n in profile["normalizers"]][-1] == "yo.punctuation"
    assert profile["heads"][0]["distribution"] == "cultura-yo"


def test_names_for_regional_tags_and_overrides() -> None:
    names = plugin_names("de_ch")
    assert names == {
        "tag": "de-CH",
        "entry_point": "de-ch",
        "module": "cultura_de_ch",
        "distribution": "cultura-de-ch",
        "english_name": "German (Switzerland)",
        "native_name": "Deutsch (Schweiz)",
    }
    assert plugin_names("zh-TW", name="twhan")["module"] == "cultura_twhan"


def test_refuses_und_bad_names_and_existing_directories(tmp_path: Path) -> None:
    with pytest.raises(CulturaError, match="built-in"):
        plugin_names("und")
    with pytest.raises(CulturaError, match="--name"):
        plugin_names("yo", name="9lives")
    scaffold("yo", tmp_path)
    with pytest.raises(CulturaError, match="already exists"):
        scaffold("yo", tmp_path)
    scaffold("yo", tmp_path, force=True)
    result = CliRunner().invoke(new_plugin, ["not a tag!", "-o", str(tmp_path)])
    assert result.exit_code != 0
