"""The registry commands, run through the `cultura` click group."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from cultura.cli import cli
from cultura.registry.errors import ResolutionError
from cultura.testing.hub import LocalHub


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_publish_search_pull_list_resolve_lock_remove(
    local_hub: LocalHub, artifact: Callable[..., Path], tiny_base: Path, tmp_path: Path
) -> None:
    source = artifact("zh-Hant")
    out = run("publish", str(source), "--repo", "org/zh-hant")
    commit = local_hub.commits("org/zh-hant")[0]
    assert f"to {local_hub.url}/org/zh-hant" in out and f"commit {commit}" in out

    found = json.loads(run("search", "--culture", "zh-Hant", "--json"))
    assert [(a["repo_id"], a["name"]) for a in found] == [("org/zh-hant", "zh-Hant/sentiment")]
    table = run("search", "--task", "sentiment")
    assert "org/zh-hant" in table and "not checked" in table

    out = run("resolve", "zh-TW/sentiment", "--base", str(tiny_base), "--explain")
    assert "[TAKEN  ] hub" in out and "-> would download hf:org/zh-hant@" in out

    entry = json.loads(run("pull", "zh-TW/sentiment", "--base", str(tiny_base), "--json"))
    assert entry["name"] == "zh-Hant/sentiment" and entry["origin"]["commit"] == commit
    listed = json.loads(run("list", "--json"))
    assert [e["entry_id"] for e in listed] == [entry["entry_id"]]
    assert "org/zh-hant" in run("list")

    out = run("resolve", "zh-TW/sentiment", "--base", str(tiny_base))
    assert out.strip() == entry["path"]
    predicted = json.loads(run("predict", "zh-TW/sentiment", "--base", str(tiny_base), "--offline",
                               "the movie was great", "--json"))  # the pulled adapter, by name
    assert [row["label"] in ("負面", "正面") for row in predicted] == [True]

    out = run("lock", "zh-TW/sentiment", "hf:org/zh-hant", "-o", "pins.lock")
    assert f"zh-Hant-TW/sentiment -> hf:org/zh-hant@{commit}" in out
    pins = json.loads((tmp_path / "pins.lock").read_text())["adapters"]
    assert set(pins) == {"zh-Hant-TW/sentiment", "hf:org/zh-hant"}

    out = run("remove", "hf:org/zh-hant")
    assert "removed zh-Hant/sentiment" in out
    assert json.loads(run("list", "--json")) == []
    with pytest.raises(ResolutionError, match="skipped: offline mode is on"):
        CliRunner().invoke(cli, ["resolve", "zh-TW/sentiment", "--offline"],
                           catch_exceptions=False)


def test_search_with_no_result_hints_at_the_fallback_chain(
    local_hub: LocalHub, artifact: Callable[..., Path]
) -> None:
    run("publish", str(artifact("zh")), "--repo", "org/zh")
    result = CliRunner().invoke(
        cli, ["search", "--culture", "zh-SG", "--task", "sentiment"], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert "no cultura adapters found" in result.output  # output holds stderr too (click 8.2+)
    assert "falls back along zh-SG -> zh, so try --culture zh" in result.output
    assert "org/zh" in run("search", "--culture", "zh")


def test_errors_are_one_line_with_exit_code_1(local_hub: LocalHub) -> None:
    exe = Path(sys.executable).with_name("cultura")
    proc = subprocess.run([str(exe), "pull", "zh/Sentiment"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: bad adapter name 'zh/Sentiment': task:")
    proc = subprocess.run([str(exe), "remove", "zh/sentiment"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1 and "is not installed" in proc.stderr


def test_registry_modules_do_not_import_torch() -> None:
    code = (
        "import sys, cultura.registry.cli, cultura.registry.hub, cultura.registry.resolve, "
        "cultura.registry.lockfile, cultura.registry.interop, cultura.testing.hub\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
