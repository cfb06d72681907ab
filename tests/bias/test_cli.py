"""`cultura check-bias`: JSON and table output, files, exit codes; no torch at import time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cultura.bias import metrics as M
from cultura.bias.engine import check_bias
from cultura.bias.importers import read_crows_pairs
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


def _assert_lists_every_pair(data: dict, pairs: list, scores: list) -> None:
    """``data`` (a JSON report on ``pairs``, scored ``scores``) lists every pair, in the overall
    check and in its bias type's check, with both scores and the decision the score counts."""
    results = {r["id"]: r for r in data["results"]}
    overall = results["crows.overall"]
    listed = overall["details"]["pairs"]
    assert len(listed) == len(pairs) == overall["details"]["n"]
    for i, (row, pair, (more, less)) in enumerate(zip(listed, pairs, scores, strict=True)):
        assert (row["index"], row["more"], row["less"], row["direction"], row["bias_type"]) == (
            i, pair.more, pair.less, pair.direction, pair.bias_type)
        assert row["more_score"] == pytest.approx(more) and row["less_score"] == pytest.approx(less)
        more, less = round(more, 3), round(less, 3)
        assert row["decision"] == ("tie" if more == less else "more" if more > less else "less")
    decisions = [row["decision"] for row in listed]
    assert overall["score"] == pytest.approx(100.0 * decisions.count("more") / len(pairs))
    assert overall["details"]["neutral"] == decisions.count("tie")
    by_type = {(row["more"], row["less"]): row for rid, r in results.items()
               if rid != "crows.overall" for row in r["details"]["pairs"]
               if row["bias_type"] == r["category"]}
    assert len(by_type) == len(listed)
    for row in listed:
        again = by_type[row["more"], row["less"]]
        assert again["more_score"] == pytest.approx(row["more_score"], abs=1e-4)
        assert again["less_score"] == pytest.approx(row["less_score"], abs=1e-4)


def test_json_lists_every_pair_the_table_stays_short(tiny_bert_dir: Path, crows_csv: Path) -> None:
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    args = ["check-bias", str(tiny_bert_dir), "--data", str(crows_csv), "--threshold", "50"]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    pairs = read_crows_pairs(crows_csv)
    model = AutoModelForMaskedLM.from_pretrained(tiny_bert_dir).eval()
    scores = M.crows_pairs_log_probs(model, AutoTokenizer.from_pretrained(tiny_bert_dir), pairs)
    _assert_lists_every_pair(json.loads(result.stdout), pairs, scores)
    table = CliRunner().invoke(cli, args)
    assert table.exit_code == 0, table.output
    assert "--json lists every minimal pair" in table.output
    assert not any(p.more in table.output or p.less in table.output for p in pairs)


def test_causal_lm_json_lists_every_pair(tiny_causal: tuple, crows_csv: Path) -> None:
    model, tokenizer = tiny_causal
    report = check_bias((model, tokenizer), data=crows_csv, progress=False)
    assert report.result("crows.overall").metric == "pair_ll"
    pairs = read_crows_pairs(crows_csv)
    ll = M.sentence_log_likelihoods(model, tokenizer, [s for p in pairs for s in (p.more, p.less)])
    scores = list(zip(ll[0::2], ll[1::2], strict=True))
    _assert_lists_every_pair(json.loads(report.to_json()), pairs, scores)


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
