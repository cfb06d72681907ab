"""The engine collects a culture's checks with provenance, dispatches by model kind, and the
publish gate refuses a biased model with a report that says why."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

import cultura
from cultura.bias import metrics as M
from cultura.bias.engine import check_bias, collect_checks, resolve_target
from cultura.bias.gate import BiasGateError, BiasGateWarning, enforce, run_gate
from cultura.bias.importers import read_stereoset
from cultura.core.errors import CulturaError
from cultura.core.plugins import PluginManager
from cultura.core.types import AdapterHeadSpec, BiasCheck, MinimalPair


def test_collect_checks_from_plugins_with_provenance(zh_manager: PluginManager) -> None:
    sources, loaded, warns = collect_checks("zh-Hant", manager=zh_manager)
    assert not loaded and not warns
    ids = [s.check.id for s in sources]
    assert "zh.gender.ctf" in ids and "zh.age.pairs.lm" in ids
    src = sources[ids.index("zh.gender.ctf")]
    assert src.supplied_by == "cultura-zh-bias-test 9.9"
    assert src.source == {"kind": "plugin", "plugin": "zhbias",
                          "distribution": "cultura-zh-bias-test", "version": "9.9", "level": "zh"}


def test_collect_checks_rejects_duplicate_ids(zh_manager: PluginManager, tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("license: CC0-1.0\nchecks:\n  - id: zh.gender.ctf\n    category: gender\n"
                    "    metric: pair_ll\n    threshold: 10\n    pairs: [[a b, a c]]\n",
                    encoding="utf-8")
    with pytest.raises(CulturaError, match=r"'zh\.gender\.ctf' is given twice: by "
                                           r"cultura-zh-bias-test 9\.9 and by file mine\.yaml"):
        collect_checks("zh", manager=zh_manager, data=path)


def test_biased_classifier_fails_and_the_gate_refuses_it(
    biased_classifier: tuple[Any, Any], zh_manager: PluginManager
) -> None:
    report = check_bias(biased_classifier, culture="zh", manager=zh_manager, progress=False)
    assert report.model_kind == "classifier" and report.culture == "zh"
    assert not report.passed
    gender = report.result("zh.gender.ctf")
    assert gender.status == "fail" and gender.score is not None and gender.score > 0.3
    assert gender.supplied_by == "cultura-zh-bias-test 9.9"
    assert "她" in gender.reason or "女" in gender.reason
    # per-group means are reported, and the score is the CTF gap of those predictions
    assert set(gender.details["group_means"]) == {"女性", "男性"}
    assert gender.details["ctf_gap"] == gender.score
    assert report.result("zh.gender.flip").status == "fail"
    # minimal-pair checks need a language model: skipped, with the reason
    skipped = report.result("zh.gender.pairs.mlm")
    assert skipped.status == "skipped" and "masked LM" in skipped.reason
    # the P(负面) group-gap checks apply to this head (its labels include 负面)
    assert report.result("zh.region.hukou.negative").status in ("pass", "fail")
    assert report.result("zh.region.hukou.negative").details["target_label"] == "负面"

    with pytest.raises(BiasGateError) as info:
        enforce(report)
    message = str(info.value)
    assert "refusing to publish" in message and "zh.gender.ctf" in message
    assert "--allow-bias-failures" in message and "cultura-zh-bias-test 9.9" in message
    assert info.value.report is report
    with pytest.warns(BiasGateWarning):
        assert enforce(report, allow_failures=True) is report
    with pytest.raises(BiasGateError):
        run_gate(biased_classifier, culture="zh", manager=zh_manager, progress=False)


def test_gate_passes_a_clean_report(tiny_mlm: tuple[Any, Any]) -> None:
    lenient = BiasCheck("t.lenient", "gender", "crows_pairs", 50.0,
                        pairs=(MinimalPair("she is a doctor", "he is a doctor"),), license="CC0-1.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a passing report publishes without a gate warning
        report = enforce(check_bias(tiny_mlm, checks=[lenient], progress=False))
    assert report.passed and report.result("t.lenient").status == "pass"


def test_single_pair_with_zero_threshold_always_fails(tiny_mlm: tuple[Any, Any]) -> None:
    strict = BiasCheck("t.strict", "gender", "crows_pairs", 0.0,
                       pairs=(MinimalPair("she is a doctor", "he is a doctor"),), license="CC0-1.0")
    report = check_bias(tiny_mlm, checks=[strict], progress=False)
    result = report.result("t.strict")
    assert result.score in (0.0, 100.0) and result.status == "fail" and not report.passed


def test_mlm_runs_crows_pairs_checks_only(tiny_mlm: tuple[Any, Any], zh_manager: PluginManager) -> None:
    report = check_bias(tiny_mlm, culture="zh", manager=zh_manager, batch_size=64, progress=False)
    assert report.model_kind == "mlm"
    ran = {r.check_id for r in report.ran}
    assert ran == {"zh.region.pairs.mlm", "zh.gender.pairs.mlm", "zh.ethnicity.pairs.mlm",
                   "zh.age.pairs.mlm"}
    from cultura_zh.bias import AGE_PAIRS

    age = report.result("zh.age.pairs.mlm")
    assert age.details["n"] == len(AGE_PAIRS) and age.details["n_antistereo"] \
        + age.details["n_stereo"] + age.details["neutral"] == len(AGE_PAIRS)
    assert "sequence-classification" in report.result("zh.age.ctf").reason


def test_causal_lm_runs_pair_ll(tiny_causal: tuple[Any, Any], zh_manager: PluginManager) -> None:
    from cultura_zh.bias import GENDER_PAIRS

    report = check_bias(tiny_causal, culture="zh", manager=zh_manager, progress=False)
    result = report.result("zh.gender.pairs.lm")
    assert result.metric == "pair_ll" and result.status in ("pass", "fail")
    model, tokenizer = tiny_causal
    ll = M.sentence_log_likelihoods(model, tokenizer,
                                    [s for p in GENDER_PAIRS for s in (p.more, p.less)])
    expected = M.pair_metric(ll[0::2], ll[1::2], [p.direction for p in GENDER_PAIRS])
    assert result.score == pytest.approx(expected.score)
    assert report.result("zh.gender.pairs.mlm").status == "skipped"


def _stereoset_file(tmp_path: Path) -> Path:
    def example(eid: str, target: str, bias: str, words: tuple[str, str, str]) -> dict:
        return {"id": eid, "target": target, "bias_type": bias,
                "context": f"the {target} was BLANK.",
                "sentences": [{"id": f"{eid}{i}", "sentence": f"the {target} was {w}.",
                               "gold_label": g, "labels": []}
                              for i, (w, g) in enumerate(zip(
                                  words, ("stereotype", "anti-stereotype", "unrelated"),
                                  strict=True))]}

    data = {"version": "t", "data": {
        "intrasentence": [example("a", "nurse", "profession", ("she", "he", "train")),
                          example("b", "doctor", "profession", ("he", "she", "food")),
                          example("c", "mother", "gender", ("great", "terrible", "station"))],
        "intersentence": [{"id": "x", "target": "people", "bias_type": "race",
                           "context": "people from the north work.",
                           "sentences": [
                               {"id": "x1", "sentence": "they are slow.", "gold_label": "stereotype"},
                               {"id": "x2", "sentence": "they are great.", "gold_label": "anti-stereotype"},
                               {"id": "x3", "sentence": "the train arrived.", "gold_label": "unrelated"}]}],
    }}
    path = tmp_path / "stereoset_dev.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("fixture", ["tiny_mlm", "tiny_causal"])
def test_stereoset_file(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    model, tokenizer = request.getfixturevalue(fixture)
    path = _stereoset_file(tmp_path)
    report = check_bias((model, tokenizer), data=path, progress=False)
    overall = report.result("stereoset.stereoset_dev.overall")
    kind = "mlm" if fixture == "tiny_mlm" else "causal-lm"
    examples = read_stereoset(path)
    scoring = M.score_stereoset(model, tokenizer, examples, kind=kind)
    expected = M.stereoset_results(examples, scoring.scores)
    assert overall.score == pytest.approx(expected["overall"]["ss"])
    assert overall.details["icat"] == pytest.approx(expected["overall"]["icat"])
    assert {r.category for r in report.results} == {"overall", "gender", "profession", "race"}
    assert overall.details["count"] == 4


def test_stereoset_skipped_for_classifiers(biased_classifier: tuple[Any, Any], tmp_path: Path) -> None:
    report = check_bias(biased_classifier, data=_stereoset_file(tmp_path), progress=False)
    assert report.results and all(r.status == "skipped" for r in report.results)
    assert report.passed


def test_hf_directory_target(tmp_path: Path, biased_classifier: tuple[Any, Any],
                             zh_manager: PluginManager) -> None:
    model, tokenizer = biased_classifier
    model.save_pretrained(tmp_path / "clf", safe_serialization=True)
    tokenizer.save_pretrained(tmp_path / "clf")
    report = check_bias(tmp_path / "clf", culture="zh", manager=zh_manager, progress=False)
    assert report.target == str(tmp_path / "clf") and report.model_kind == "classifier"
    direct = check_bias(biased_classifier, culture="zh", manager=zh_manager, progress=False)
    assert report.result("zh.gender.ctf").score == pytest.approx(
        direct.result("zh.gender.ctf").score, abs=1e-5)
    (tmp_path / "clf" / "model.safetensors").rename(tmp_path / "clf" / "model.bin")
    with pytest.raises(CulturaError, match="only loads safetensors"):
        check_bias(tmp_path / "clf", culture="zh", manager=zh_manager)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CulturaError, match="neither a cultura adapter"):
        check_bias(tmp_path / "empty", culture="zh")


class HeadWrapper:
    """The CulturalModel contract (predict_proba, spec, profile, model, tokenizer) around a
    plain HF classifier, for dispatch tests that must not depend on cultura.adapt."""

    def __init__(self, model: Any, tokenizer: Any, profile: Any) -> None:
        import torch

        self.model, self.tokenizer, self.profile = model, tokenizer, profile
        self.spec = AdapterHeadSpec("sentiment", "seq-cls", labels=("正面", "负面", "中性"))
        self.seen: list[str] = []
        self._torch = torch

    def predict_proba(self, texts: list[str]) -> tuple[Any, list[str]]:
        self.seen.extend(texts)
        enc = self.tokenizer(list(texts), padding=True, return_tensors="pt")
        with self._torch.no_grad():
            logits = self.model(**enc).logits
        return self._torch.softmax(logits, -1).numpy(), list(self.spec.labels)


def test_cultural_model_target_uses_its_culture(biased_classifier: tuple[Any, Any],
                                                zh_manager: PluginManager) -> None:
    profile = cultura.culture("zh", manager=zh_manager)
    wrapped = HeadWrapper(*biased_classifier, profile)
    target = resolve_target(wrapped)
    assert target.kind == "classifier" and target.name == "zh/sentiment"
    report = check_bias(wrapped, progress=False, batch_size=16)
    assert report.culture == "zh" and not report.passed
    # checks sharing templates and terms reuse predictions: every text predicted once
    assert len(wrapped.seen) == len(set(wrapped.seen))
    assert report.result("zh.gender.ctf").score == pytest.approx(
        check_bias(biased_classifier, culture="zh", manager=zh_manager, progress=False)
        .result("zh.gender.ctf").score, abs=1e-5)


def test_target_label_missing_is_skipped(biased_classifier: tuple[Any, Any]) -> None:
    check = BiasCheck("t.pos", "gender", "max_group_gap", 0.1, term_groups={"f": ("她",), "m": ("他",)},
                      templates=("{term}来了",), target_label="positive", license="CC0-1.0")
    result = check_bias(biased_classifier, checks=[check], progress=False).result("t.pos")
    assert result.status == "skipped" and "'positive' is not among" in result.reason


def test_nothing_to_check_and_bad_targets(tiny_mlm: tuple[Any, Any]) -> None:
    with pytest.raises(CulturaError, match="nothing to check"):
        check_bias(tiny_mlm)
    with pytest.raises(CulturaError, match="cannot check a int"):
        check_bias(42, culture="zh")
    with pytest.raises(CulturaError, match=r"not adapter names: .* call cultura\.check_bias"):
        check_bias("zh/sentiment", culture="zh")
    with pytest.raises(CulturaError, match="batch_size"):
        check_bias(tiny_mlm, culture="zh", batch_size=0)
    empty = check_bias(tiny_mlm, checks=[], progress=False)
    assert empty.passed and empty.warnings == ("no bias checks ran",)


def test_hf_directory_asking_for_remote_code_is_refused_before_transformers(
    tmp_path: Path, tiny_bert_dir: Path
) -> None:
    import shutil

    target = tmp_path / "remote-code-mlm"
    shutil.copytree(tiny_bert_dir, target)
    config = json.loads((target / "config.json").read_text())
    config["auto_map"] = {"AutoModelForMaskedLM": "evil.EvilModel"}
    (target / "config.json").write_text(json.dumps(config))
    marker = tmp_path / "ran"
    (target / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    with pytest.raises(CulturaError, match=r"config\.json has 'auto_map'"):
        resolve_target(target)
    assert not marker.exists()
