"""`cultura check-bias`: JSON and table output, files, exit codes; no torch at import time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cultura.bias.engine import check_bias
from cultura.cli import cli, main


def test_bias_modules_do_not_import_torch() -> None:
    code = (
        "import sys, cultura.bias, cultura.bias.cli, cultura.bias.engine, cultura.bias.report, "
        "cultura.bias.importers, cultura.bias.cda, cultura.bias.gate, cultura.bias.metrics\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_json_output_matches_the_api(tiny_bert_dir: Path, crows_csv: Path) -> None:
    result = CliRunner().invoke(
        cli, ["check-bias", str(tiny_bert_dir), "--data", str(crows_csv), "--json",
              "--threshold", "50"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is True and data["model_kind"] == "mlm"
    overall = next(r for r in data["results"] if r["id"] == "crows.overall")
    assert overall["supplied_by"] == "file crows_sample.csv"
    api = check_bias(str(tiny_bert_dir), data=crows_csv, progress=False)
    assert overall["score"] == pytest.approx(api.result("crows.overall").score)
    assert overall["details"]["neutral"] == api.result("crows.overall").details["neutral"]


def test_failing_check_exits_1_and_writes_reports(tiny_bert_dir: Path, tmp_path: Path) -> None:
    one = tmp_path / "one.csv"
    one.write_text("sent_more,sent_less,stereo_antistereo,bias_type\n"
                   "she is a nurse,he is a nurse,stereo,gender\n", encoding="utf-8")
    md, png = tmp_path / "report.md", tmp_path / "report.png"
    args = ["check-bias", str(tiny_bert_dir), "--data", str(one), "--threshold", "0",
            "--markdown", str(md)]
    try:
        import matplotlib  # noqa: F401

        args += ["--png", str(png)]
    except ImportError:
        png = None  # type: ignore[assignment]
    result = CliRunner().invoke(cli, args)
    # one pair scores 0 or 100, never within 0 of 50
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output and "crows.overall" in result.output
    assert "points from the ideal 50" in result.output
    assert "| overall | `crows.overall` |" in md.read_text(encoding="utf-8")
    if png is not None:
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_user_errors_are_one_line_messages(tiny_bert_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check-bias", str(tiny_bert_dir)])
    assert info.value.code == 1
    assert "error: nothing to check" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("sent_more,sent_less\na,b\n", encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["check-bias", str(tiny_bert_dir), "--data", str(bad)])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert f"{bad}:1: column 'stereo_antistereo'" in err
