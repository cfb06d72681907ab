"""The core CLI, through click's runner and through the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cultura.cli import cli
from cultura.core.plugins import reset_plugin_manager


@pytest.fixture(autouse=True)
def fresh_manager():  # type: ignore[no-untyped-def]
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def test_help_lists_commands_without_importing_models() -> None:
    code = (
        "import sys; from cultura.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
    for command in ("plugins", "cultures", "show", "normalize"):
        assert command in out.stdout


@pytest.mark.parametrize("args", [["plugins"], ["cultures"], ["show", "zh-TW"],
                                  ["normalize", "-c", "zh", "x"]])
def test_core_commands_do_not_import_models(args: list[str]) -> None:
    code = (
        "import sys; from cultura.cli import main\n"
        f"main({args!r})\n"
        "print('HEAVY', [m for m in ('torch', 'transformers', 'peft') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


def test_plugins_json_lists_zh() -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    records = {r["name"]: r for r in json.loads(result.output)}
    zh = records["zh"]
    assert zh["distribution"] == "cultura-zh" and zh["version"] == "0.1.0"
    assert "cultura_tokenizer_tweaks" in zh["hooks"] and zh["status"] == "active"


def test_plugins_table_disable_and_broken(with_test_plugins: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    out = run_cli("plugins")
    assert out.returncode == 0, out.stderr
    assert "cultura-zh" in out.stdout and "0.1.0" in out.stdout
    assert "broken" in out.stdout and "boom at import" in out.stdout  # listed with its error
    assert "cultura-testeo" in out.stdout  # the others work
    out = run_cli("plugins", env={"CULTURA_DISABLE_PLUGINS": "zh"})
    assert "cultura-zh" not in out.stdout and "cultura-testeo" in out.stdout
    assert "1 disabled plugin(s) not shown" in out.stdout
    out = run_cli("plugins", "--json", env={"CULTURA_DISABLE_PLUGINS": "zh"})
    assert "zh" not in {r["name"] for r in json.loads(out.stdout)}
    out = run_cli("plugins", "--all", "--json", env={"CULTURA_DISABLE_PLUGINS": "zh"})
    records = {r["name"]: r for r in json.loads(out.stdout)}
    assert records["zh"]["status"] == "disabled"
    out = run_cli("plugins", "--all", env={"CULTURA_DISABLE_PLUGINS": "zh"})
    assert "disabled" in out.stdout and "cultura-zh" in out.stdout


def test_plugins_hook_filter_and_requirements() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["plugins", "--hook", "knowledge", "--json"])
    assert {r["name"] for r in json.loads(result.output)} >= {"zh"}
    assert "und" not in {r["name"] for r in json.loads(result.output)}
    result = runner.invoke(cli, ["plugins", "--requirements"])
    assert "cultura-zh==0.1.0" in result.output.splitlines()
    result = runner.invoke(cli, ["plugins", "--hook", "nope"])
    assert result.exit_code != 0 and "unknown hook 'nope'" in result.output


def test_normalize_stdin_to_simplified(run_cli) -> None:  # type: ignore[no-untyped-def]
    out = run_cli("normalize", "--culture", "zh-Hans", "-", stdin="臺灣的軟體\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "台湾的软体\n"


def test_normalize_stdin_line_endings(run_cli) -> None:  # type: ignore[no-untyped-def]
    out = run_cli("normalize", "--culture", "zh-Hans", "-", stdin="臺灣\r\n軟體\r老\n".encode())
    assert out.returncode == 0, out.stderr
    assert out.stdout == "台湾\n软体\n老\n"


def test_invalid_utf8_input_is_one_line_with_the_offset(run_cli) -> None:  # type: ignore[no-untyped-def]
    out = run_cli("normalize", "--culture", "zh", "-", stdin=b"ok\n\xe8\xbb\xff\n")
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr == (
        "Error: stdin: not UTF-8 text (invalid continuation byte at byte 3); convert it first, "
        "e.g. iconv -f GB18030 -t UTF-8\n"
    )
    out = run_cli("normalize", "--culture", "zh", "ok", os.fsdecode(b"\xe8\xbb\x9f\xff"))
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr.startswith("Error: text 2 is not UTF-8 (at byte 3)")
    assert len(out.stderr.splitlines()) == 1


def test_normalize_args_and_json() -> None:
    result = CliRunner().invoke(cli, ["normalize", "-c", "zh-TW", "--json", "软件", "鼠标"])
    data = json.loads(result.output)
    assert data["culture"] == "zh-Hant-TW" and data["texts"] == ["軟體", "滑鼠"]
    assert data["normalizers"] == ["und.nfc", "und.whitespace", "zh.script.s2twp", "zh.width"]


def test_show_profile_with_provenance() -> None:
    result = CliRunner().invoke(cli, ["show", "zh-TW", "--json"])
    data = json.loads(result.output)
    assert data["chain"] == ["zh-Hant-TW", "zh-Hant", "zh", "und"]
    script = next(n for n in data["normalizers"] if n["key"] == "zh.script")
    assert script["level"] == "zh-Hant-TW" and script["distribution"] == "cultura-zh"
    assert (script["id"], script["variant"]) == ("zh.script.s2twp", "s2twp")
    result = CliRunner().invoke(cli, ["show", "zh-TW"])
    assert "fallback chain: zh-Hant-TW -> zh-Hant -> zh -> und" in result.output
    assert "zh.script.s2twp" in result.output and "zh.script.t2s" not in result.output


def test_cultures_lists_zh() -> None:
    result = CliRunner().invoke(cli, ["cultures", "--json"])
    rows = {r["tag"]: r for r in json.loads(result.output)}
    assert rows["zh-Hant-TW"]["parent"] == "zh-Hant"
    assert rows["zh"]["native_name"] == "中文"


def test_user_errors_are_one_clear_line(run_cli) -> None:  # type: ignore[no-untyped-def]
    out = run_cli("show", "zh_TW!!")
    assert out.returncode == 1
    assert "error: 'zh_TW!!' is not a valid BCP-47 language tag" in out.stderr
    assert "Traceback" not in out.stderr
    out = run_cli("normalize", "-c", "tlh", "x")
    assert out.returncode == 1 and "no installed plugin serves culture 'tlh'" in out.stderr
