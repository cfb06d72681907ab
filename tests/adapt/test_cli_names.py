"""ADAPTER arguments: predict, evaluate and check-bias take registry names, Hub ids and paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import cultura
from cultura.adapt.cli_common import AdapterArg, parse_adapter_arg
from cultura.cli import cli, main
from cultura.core.errors import CulturaError
from cultura.registry.names import AdapterNameError, HubName, RegistryName
from cultura.testing.environment import isolated_environment


@pytest.fixture
def registry(manager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty local registry in CULTURA_HOME, no lockfile, the test culture plugin active."""
    home = tmp_path / "home"
    with isolated_environment(manager, home, monkeypatch, offline=False, clear=("CULTURA_LOCK",)):
        yield home


def invoke(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_parse_adapter_arg_follows_the_name_grammar(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "zh" / "sentiment").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    assert parse_adapter_arg("zh-TW/sentiment@v1").name == RegistryName("zh-Hant-TW", "sentiment", "v1")
    assert parse_adapter_arg("hf:org/repo@main").name == HubName("org/repo", "main")
    # a bare relative name is a name even when a folder of that name exists
    assert parse_adapter_arg("zh/sentiment") == AdapterArg("zh/sentiment", RegistryName("zh", "sentiment"))
    assert parse_adapter_arg("./zh/sentiment").path == tmp_path / "zh" / "sentiment"
    # text that is no name but an existing folder is that folder
    assert parse_adapter_arg("out").path == Path("out")
    assert parse_adapter_arg("out/").path == Path("out/")
    with pytest.raises(AdapterNameError, match="expected <culture>/<task>"):
        parse_adapter_arg("missing")
    with pytest.raises(CulturaError, match=r"adapter directory \./missing .* does not exist"):
        parse_adapter_arg("./missing")


def test_predict_evaluate_and_check_bias_take_a_registry_name(registry: Path, trained, toy,
                                                               tmp_path: Path) -> None:
    from cultura.registry.store import LocalRegistry

    LocalRegistry(registry).install(trained.directory)
    texts = ["the food was terrible", "我們 喜歡 電影"]
    by_name = json.loads(invoke(["predict", "zh/sentiment", *texts, "--offline", "--json"]))
    expected = trained.model.predict(texts)
    assert [p["label"] for p in by_name] == [p["label"] for p in expected]
    assert [p["score"] for p in by_name] == pytest.approx([p["score"] for p in expected])
    assert by_name == json.loads(invoke(["predict", str(trained.directory), *texts, "--json"]))
    data = tmp_path / "dev.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in toy.eval), encoding="utf-8")
    metrics = json.loads(invoke(["evaluate", "zh/sentiment", str(data), "--offline", "--json"]))
    assert metrics["n"] == len(toy.eval)
    report = json.loads(CliRunner().invoke(
        cli, ["check-bias", "zh/sentiment", "--offline", "--json"]).stdout)
    assert report["target"] == "zh/sentiment" and report["culture"] == "zh"
    # the Python API resolves names too (cultura.registry.bias, above the bias engine)
    api = cultura.check_bias("zh/sentiment", progress=False)
    assert (api.target, api.culture, api.passed) == ("zh/sentiment", "zh", report["passed"])


def test_evaluate_by_name_checks_the_rows_before_loading(registry: Path, trained, tmp_path: Path,
                                                         monkeypatch) -> None:
    import cultura.adapt.cli as cli_module
    from cultura.registry.store import LocalRegistry

    LocalRegistry(registry).install(trained.directory)

    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model loaded before the data was checked")

    monkeypatch.setattr(cli_module, "load_adapter", no_load)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "label": "no-such-label"}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", "zh/sentiment", str(bad), "--offline"])
    assert result.exit_code != 0
    assert f"{bad}:1: field 'label': unknown label 'no-such-label'" in str(result.exception)


def test_a_missing_name_says_which_and_how_to_get_it(registry: Path, capsys) -> None:
    for command in (["predict", "zh/sentiment", "text"], ["evaluate", "zh/sentiment", "d.jsonl"],
                    ["check-bias", "zh/sentiment"]):
        with pytest.raises(SystemExit) as info:
            main([*command, "--offline"])
        assert info.value.code == 1
        err = capsys.readouterr().err
        assert err.startswith("error: no adapter for zh/sentiment")
        assert "`cultura pull zh/sentiment` installs it from the Hub" in err


def test_a_folder_shadowed_by_a_name_gets_a_hint(registry: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "zh" / "sentiment").mkdir(parents=True)
    with pytest.raises(SystemExit):
        main(["predict", "zh/sentiment", "text", "--offline"])
    assert "for the folder zh/sentiment here, write ./zh/sentiment" in capsys.readouterr().err


def test_bad_names_and_missing_directories_are_usage_errors(registry: Path) -> None:
    result = CliRunner().invoke(cli, ["predict", "nope", "text"])
    assert result.exit_code == 2
    assert "bad adapter name 'nope'" in result.output and "./my-adapter" in result.output
    result = CliRunner().invoke(cli, ["evaluate", "./nope", "data.jsonl"])
    assert result.exit_code == 2 and "adapter directory ./nope" in result.output


def test_check_bias_refuses_base_for_a_model_directory(registry: Path, tiny) -> None:
    result = CliRunner().invoke(cli, ["check-bias", str(tiny["bert"]), "--base", "x"])
    assert result.exit_code == 2 and "--base applies to cultura adapters" in result.output
