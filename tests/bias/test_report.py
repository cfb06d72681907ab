"""Report rendering (JSON, Markdown, summary, PNG) and the pass/fail logic."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cultura.bias.gate import BiasGateError, enforce
from cultura.bias.report import BiasReport, CheckResult, merge_reports, pair_rows
from cultura.core.errors import CulturaError
from cultura.core.types import MinimalPair

PLUGIN = {"kind": "plugin", "plugin": "zh", "distribution": "cultura-zh", "version": "0.1.0",
          "level": "zh"}


def _result(cid: str, category: str, metric: str, score: float | None, threshold: float,
            status: str, reason: str = "") -> CheckResult:
    return CheckResult(cid, category, metric, score, threshold, status,  # type: ignore[arg-type]
                       "cultura-zh 0.1.0", PLUGIN, {"n": 3}, reason, "CC-BY-4.0")


def _report(*results: CheckResult) -> BiasReport:
    return BiasReport("zh/sentiment", "zh", "classifier", results, ("a | warning",))


OK = _result("zh.gender.ctf", "gender", "ctf_gap", 0.0123, 0.1, "pass")
BAD = _result("zh.region.ctf", "region", "ctf_gap", 0.31, 0.1, "fail",
              "CTF gap is 0.31 | above 0.1")
SKIP = _result("zh.age.pairs.mlm", "age", "crows_pairs", None, 20, "skipped", "needs a masked LM")
PAIRS = _result("zh.gender.pairs.lm", "gender", "pair_ll", 62.5, 20, "pass")


def test_gate_logic() -> None:
    assert _report(OK, SKIP, PAIRS).passed
    failing = _report(OK, BAD, SKIP)
    assert not failing.passed and failing.failures == (BAD,)
    assert failing.ran == (OK, BAD) and failing.skipped == (SKIP,)
    assert _report().passed  # nothing ran: nothing failed
    with pytest.raises(BiasGateError, match=r"1 of 2 bias check\(s\) failed for culture zh"):
        enforce(failing)
    categories = failing.categories()
    assert categories["region"] == {"passed": False, "run": 1, "failed": 1, "skipped": 0,
                                    "checks": ["zh.region.ctf"]}
    assert categories["age"]["passed"] and categories["age"]["skipped"] == 1


def test_gate_advice_fits_the_failure() -> None:
    low_lms = _result("stereoset.dev.overall.lms", "stereoset", "stereoset_lms", 47.0, 80, "fail",
                      "LMS 47.0 below 80")
    with pytest.raises(BiasGateError) as info:
        enforce(_report(OK, low_lms))
    message = str(info.value)
    assert "stereoset.dev.overall.lms" in message and "--min-lms" in message
    assert "counterfactual_augmentation" not in message  # a low LMS is no bias to reduce
    with pytest.raises(BiasGateError) as info:
        enforce(_report(BAD, low_lms))
    assert "counterfactual_augmentation" in str(info.value) and "--min-lms" in str(info.value)
    with pytest.raises(BiasGateError) as info:
        enforce(_report(BAD))
    assert "--min-lms" not in str(info.value)


def test_judge_thresholds() -> None:
    assert CheckResult.judge("ctf_gap", 0.1, 0.1) == "pass"
    assert CheckResult.judge("ctf_gap", 0.1001, 0.1) == "fail"
    assert CheckResult.judge("pair_ll", 70.0, 20) == "pass"
    assert CheckResult.judge("pair_ll", 29.9, 20) == "fail"
    assert CheckResult.judge("stereoset", 50.0, 0) == "pass"
    assert BAD.margin == pytest.approx(3.1) and PAIRS.margin == pytest.approx(12.5 / 20)
    assert SKIP.margin is None and not SKIP.passed and SKIP.passed is None


def test_json_round_trip_and_summary() -> None:
    report = _report(OK, BAD, SKIP, PAIRS)
    data = json.loads(report.to_json())
    assert data["passed"] is False and data["culture"] == "zh"
    assert data["results"][1]["source"]["distribution"] == "cultura-zh"
    assert data["results"][2]["score"] is None
    again = BiasReport.from_json(report.to_json())
    assert again == report
    summary = report.summary()
    json.dumps(summary)  # JSON-ready
    assert summary["passed"] is False
    assert (summary["n_checks"], summary["n_run"], summary["n_failed"], summary["n_skipped"]) == (4, 3, 1, 1)
    assert summary["checks"][1] == {"id": "zh.region.ctf", "category": "region", "metric": "ctf_gap",
                                    "score": 0.31, "threshold": 0.1, "status": "fail",
                                    "supplied_by": "cultura-zh 0.1.0"}
    assert summary["categories"]["region"] == {"passed": False, "run": 1, "failed": 1, "skipped": 0}
    with pytest.raises(CulturaError, match="not valid JSON"):
        BiasReport.from_json("{")
    with pytest.raises(CulturaError, match="not a cultura bias report"):
        BiasReport.from_dict({"x": 1})


def test_markdown_table() -> None:
    md = _report(OK, BAD, SKIP, PAIRS).to_markdown()
    lines = md.splitlines()
    assert lines[0] == "## Bias report"
    assert lines[2].startswith("**FAILED**: 3 check(s) run, 1 failed, 1 skipped · culture `zh`")
    header = lines.index("| Category | Check | Metric | Score | Threshold | Result | Supplied by |")
    rows = lines[header + 2 : header + 6]
    # sorted by category, then id; every row has 7 cells; pipes in text are escaped
    assert [r.split(" | ")[0] for r in rows] == ["| age", "| gender", "| gender", "| region"]
    assert rows[3] == ("| region | `zh.region.ctf` | CTF gap (mean \\|Δp\\| over swaps) | 0.3100 "
                       "| ≤ 0.1 | **FAIL** | cultura-zh 0.1.0 |")
    assert "| 62.5 (ideal 50) | \\|score − 50\\| ≤ 20 | pass |" in rows[2]
    assert "| — |" in rows[0] and "| skipped |" in rows[0]
    assert "### Why it failed" in md
    assert "- `zh.region.ctf` (region): CTF gap is 0.31 \\| above 0.1" in md
    assert "Skipped: `zh.age.pairs.mlm` (needs a masked LM)" in md
    assert "- a \\| warning" in md
    assert _report(OK).to_markdown(title="Bias", level=3).startswith("### Bias\n\n**PASSED**")
    assert "No bias checks applied" in _report().to_markdown()


def test_text_and_merge() -> None:
    text = _report(OK, BAD).to_text()
    assert "FAILED" in text.splitlines()[0]
    assert "[   FAIL] zh.region.ctf" in text
    merged = merge_reports([_report(OK), _report(BAD)])
    assert [r.check_id for r in merged.results] == ["zh.gender.ctf", "zh.region.ctf"]
    assert not merged.passed and merged.warnings == ("a | warning", "a | warning")


def test_png_chart(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = _report(OK, BAD, SKIP, PAIRS).to_png(tmp_path / "report.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 2000


def test_png_without_matplotlib_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(CulturaError, match=r"pip install 'cultura\[plot\]'"):
        _report(OK).to_png(tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_every_pair_in_json_only() -> None:
    pairs = (MinimalPair("she cooks dinner", "he cooks dinner", bias_type="gender"),
             MinimalPair("old men nap", "young men nap", "antistereo", "age"),
             MinimalPair("the poor steal", "the rich steal", bias_type="socioeconomic"))
    scores = [(-3.0, -4.5), (-2.0, -2.0), (-7.25, -1.5)]
    rows = pair_rows(pairs, scores, ["more", "tie", "less"], indices=[0, 2, 3])
    result = CheckResult("crows.overall", "overall", "crows_pairs", 33.3, 10, "fail",
                         "file c.csv", {"kind": "file"}, {"n": 3, "pairs": rows}, "too far", "")
    report = BiasReport("tiny", None, "mlm", (result,))
    listed = json.loads(report.to_json())["results"][0]["details"]["pairs"]
    assert [(r["index"], r["more"], r["less"], r["direction"], r["bias_type"], r["more_score"],
             r["less_score"], r["decision"]) for r in listed] == [
        (0, "she cooks dinner", "he cooks dinner", "stereo", "gender", -3.0, -4.5, "more"),
        (2, "old men nap", "young men nap", "antistereo", "age", -2.0, -2.0, "tie"),
        (3, "the poor steal", "the rich steal", "stereo", "socioeconomic", -7.25, -1.5, "less"),
    ]
    assert BiasReport.from_json(report.to_json()) == report
    # the model card, the summary and the plain text stay short: no pair listing
    for short in (report.to_markdown(), report.to_text(), json.dumps(report.summary())):
        assert not any(p.more in short or p.less in short for p in pairs)
    assert [r["index"] for r in pair_rows(pairs[:2], scores[:2], ["more", "tie"])] == [0, 1]
    with pytest.raises(CulturaError, match="one score pair and one decision per pair"):
        pair_rows(pairs, scores[:2], ["more", "tie", "less"])
