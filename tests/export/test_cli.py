"""``cultura export`` end to end (in process, with the test plugin): writes an export that
OnnxModel runs, states the opset, and refuses what it cannot export with a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime", reason="the 'export' extra is not installed")

from cultura.cli import main

from .conftest import TEXTS


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_export_onnx_int8_end_to_end(artifacts: dict[str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from cultura.export import OnnxModel

    out = tmp_path / "fr-int8"
    code, stdout, err = run(capsys, "export", str(artifacts["fr"]), "--format", "onnx",
                            "--quantize", "int8", "--opset", "18", "-o", str(out))
    assert code == 0, err
    assert "as ONNX opset 18, int8 weights" in stdout
    assert "max |diff|" in stdout and str(out) in stdout
    model = OnnxModel.load(out)
    assert (model.opset, model.quantization, model.culture) == (18, "int8", "fr")
    assert len(model.predict(TEXTS)) == len(TEXTS)

    code, _, err = run(capsys, "export", str(artifacts["fr"]), "-o", str(out))
    assert code == 1 and "error:" in err and str(out) in err  # no silent overwrite
    code, stdout, err = run(capsys, "export", str(artifacts["fr"]), "-o", str(out), "--overwrite",
                            "--json")
    assert code == 0, err
    info = json.loads(stdout)
    assert info["opset"] == 17 and info["quantization"] is None
    assert info["head_type"] == "seq-cls" and info["parity"]["max_abs_diff"] < 1e-4


def test_default_output_and_token_cls(artifacts: dict[str, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, err = run(capsys, "export", str(artifacts["fr-ner"]))
    assert code == 0, err
    assert (tmp_path / "fr-ner-onnx" / "model.onnx").is_file()  # tests run in tmp_path
    assert "token-cls" in stdout and "opset 17" in stdout


def test_usage_errors(artifacts: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "export", str(artifacts["fr"]), "--format", "vllm", "--quantize", "int8")
    assert code == 2 and "--quantize and --opset apply to --format onnx only" in err
    code, _, err = run(capsys, "export", str(artifacts["fr"]), "--opset", "9")
    assert code == 2 and "--opset" in err
    code, _, err = run(capsys, "export", str(artifacts["fr"]), "--format", "vllm")
    assert code == 1 and err.startswith("error:") and "causal" in err  # export_vllm refuses it
