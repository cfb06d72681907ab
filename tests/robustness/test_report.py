"""cultura.robustness on a real tiny adapter: accuracy and flip rate per perturbation, inert and
normalized-away perturbations flagged, broken ones named and skipped, the gate, JSON, PNG."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import cultura
from cultura.core.errors import CulturaError
from cultura.robustness import perturb, robustness_gate, robustness_report
from cultura.robustness.engine import PerturbationFailure


@pytest.fixture(scope="module")
def report(robust_adapter: Any, eval_file: Path) -> cultura.RobustnessReport:
    return robustness_report(robust_adapter.model, eval_file, timeout=0.5)


def test_clean_accuracy_and_a_label_flipping_perturbation(report: Any) -> None:
    assert report.n == 12 and report.culture == "eo" and report.task == "sentiment"
    assert report.clean_accuracy == 1.0  # the toy task is learned
    swap = report.result("eo.swap")
    assert swap.status == "ok" and swap.changed == 1.0 and swap.changed_normalized == 1.0
    # swapping great/terrible flips (nearly) every prediction; accuracy falls with it
    assert swap.flip_rate >= 0.9 and swap.accuracy <= 0.1
    assert swap.drop(report.clean_accuracy) == pytest.approx(1 - swap.accuracy)
    assert swap.flips and {"where", "text", "perturbed", "gold", "clean",
                           "perturbed_prediction"} <= set(swap.flips[0])
    assert swap.flips[0]["clean"] != swap.flips[0]["perturbed_prediction"]


def test_a_change_the_model_cannot_see_flips_nothing(report: Any) -> None:
    upper = report.result("eo.upper")  # the tiny tokenizer is uncased
    assert upper.status == "ok" and upper.changed == 1.0
    assert upper.flip_rate == 0.0 and upper.accuracy == report.clean_accuracy


def test_a_perturbation_that_changes_nothing_is_flagged(report: Any) -> None:
    inert = report.result("eo.inert")
    assert inert.status == "inert" and inert.changed == 0.0 and inert.flip_rate == 0.0
    assert any(n.startswith("eo.inert") and "changed no text" in n for n in report.notes())


def test_a_perturbation_the_normalizers_undo_is_flagged(report: Any) -> None:
    trad = report.result("eo.trad")  # 电 -> 電, folded back by the culture's normalizer
    assert trad.status == "normalized"
    assert trad.changed == pytest.approx(2 / 12) and trad.changed_normalized == 0.0
    assert trad.flip_rate == 0.0


@pytest.mark.parametrize(("pid", "message"), [
    ("eo.raises", "raised ValueError: no such luck"),
    ("eo.none", "returned NoneType None for"),
    ("eo.hangs", "did not finish 12 texts within 0.5 s"),
])
def test_broken_perturbations_are_named_and_skipped(report: Any, pid: str, message: str) -> None:
    failed = report.result(pid)
    assert failed.status == "failed" and failed.accuracy is None
    assert message in (failed.error or "")
    assert "cultura-testrobust 0.1.0" in (failed.error or "")
    assert "CULTURA_DISABLE_PLUGINS=cultura-testrobust" in (failed.error or "")
    # the others still ran
    assert report.result("eo.swap").accuracy is not None


def test_perturbations_are_deterministic_for_a_seed() -> None:
    def typo(text: str, rng: Any) -> str:
        i = rng.randrange(len(text))
        return text[:i] + "#" + text[i + 1:]

    p = cultura.Perturbation("xx.typo", typo, kind="typo", seeded=True, rate=0.1)
    texts = ["the movie was great", "the food was terrible", "the movie was great"]
    first = perturb(p, texts, seed=3)
    assert first == perturb(p, list(reversed(texts)), seed=3)[::-1]  # not by row order
    assert first[0] == first[2]  # the same text is perturbed the same way
    assert any(a != b for a, b in zip(first, perturb(p, texts, seed=4), strict=True))
    assert all(a != b for a, b in zip(first, texts, strict=True))


def test_perturb_names_a_perturbation_without_plugin() -> None:
    p = cultura.Perturbation("xx.bad", lambda text: 3)
    with pytest.raises(PerturbationFailure, match=r"perturbation 'xx.bad' returned int 3"):
        perturb(p, ["a"])


def test_only_and_extra_perturbations(robust_adapter: Any, eval_file: Path) -> None:
    mine = cultura.Perturbation("my.great", lambda t: t.replace("great", "terrible"))
    report = robustness_report(robust_adapter.model, eval_file, perturbations=["eo.upper"],
                               extra=[mine], name="eo adapter")
    assert [r.id for r in report.results] == ["eo.upper", "my.great"]
    assert report.adapter == "eo adapter"
    assert report.result("my.great").source == "given"
    assert report.result("my.great").accuracy == pytest.approx(0.5, abs=0.1)
    with pytest.raises(CulturaError, match=r"no perturbation 'nope' for culture eo; "
                                           r"perturbations on offer: eo.swap"):
        robustness_report(robust_adapter.model, eval_file, perturbations=["nope"])
    with pytest.raises(CulturaError, match="given twice"):
        robustness_report(robust_adapter.model, eval_file,
                          extra=[cultura.Perturbation("eo.swap", str.lower)])


def test_gate(report: Any) -> None:
    gate = robustness_gate(report, max_flip_rate=0.2)
    assert not gate.passed
    assert any(f.startswith("eo.swap: flip rate") for f in gate.failures)
    assert any("eo.raises" in f and "robustness is unknown" in f for f in gate.failures)
    assert any(w.startswith("eo.inert") for w in gate.warnings)
    with pytest.raises(CulturaError, match="needs a threshold"):
        robustness_gate(report)
    with pytest.raises(CulturaError, match="is not a share"):
        robustness_gate(report, max_drop=5)


def test_gate_passes_a_robust_report(robust_adapter: Any, eval_file: Path) -> None:
    report = robustness_report(robust_adapter.model, eval_file,
                               perturbations=["eo.upper", "eo.trad", "eo.inert"])
    gate = robustness_gate(report, max_flip_rate=0.0, max_drop=0.0, min_accuracy=0.9)
    assert gate.passed and gate.failures == () and len(gate.warnings) == 1
    assert gate.as_dict()["thresholds"] == {"max_flip_rate": 0.0, "max_drop": 0.0,
                                            "min_accuracy": 0.9}


def test_json_text_and_png(report: Any, tmp_path: Path) -> None:
    data = json.loads(report.to_json())
    assert data["clean_accuracy"] == 1.0
    swap = next(p for p in data["perturbations"] if p["id"] == "eo.swap")
    assert swap["accuracy_drop"] == pytest.approx(1.0 - swap["accuracy"])
    assert {p["status"] for p in data["perturbations"]} == {"ok", "inert", "normalized", "failed"}
    text = report.to_text()
    assert "eo.swap" in text and "clean accuracy 100.0%" in text
    png = report.to_png(tmp_path / "r.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_token_classifiers_are_refused(robust_adapter: Any, eval_file: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(type(robust_adapter.model), "head_type", property(lambda s: "token-cls"))
    with pytest.raises(CulturaError, match="needs a text classifier"):
        robustness_report(robust_adapter.model, eval_file)
