"""With real culture adapters (cultura.adapt): CDA during training reduces the CTF gap, and the
publish gate refuses a deliberately biased adapter saved to disk, saying why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cultura.bias.engine import check_bias
from cultura.bias.gate import BiasGateError, run_gate
from cultura.core.plugins import PluginManager
from cultura.core.types import AdapterHeadSpec, PeftSpec

pytest.importorskip("peft")

HEAD = AdapterHeadSpec("sentiment", "seq-cls", labels=("正面", "负面", "中性"),
                       peft=PeftSpec(r=8, alpha=16))


def _train(model_dir: Path, manager: PluginManager, data: tuple[list[str], list[str]], *,
           cda: bool) -> Any:
    from cultura.adapt.model import adapt

    model = adapt(str(model_dir), culture="zh", head=HEAD, manager=manager, knowledge=False,
                  extend_vocab=False, seed=0)
    records = [{"text": t, "label": label} for t, label in zip(*data, strict=True)]
    model.train(records, epochs=30, lr=2e-2, batch_size=16, seed=0, progress=False,
                counterfactual_augmentation=cda)
    return model


@pytest.fixture(scope="module")
def biased_adapter(zh_bert_dir: Path, zh_manager_shared: PluginManager,
                   gender_data: tuple[list[str], list[str]]) -> Any:
    return _train(zh_bert_dir, zh_manager_shared, gender_data, cda=False)


def _gender_ctf(model: Any) -> float:
    checks = [c.value for c in model.profile.bias_checks if c.key == "zh.gender.ctf"]
    score = check_bias(model, checks=checks, progress=False).result("zh.gender.ctf").score
    assert score is not None
    return score


def test_train_with_counterfactual_augmentation_reduces_ctf_gap(
    biased_adapter: Any, zh_bert_dir: Path, zh_manager_shared: PluginManager,
    gender_data: tuple[list[str], list[str]],
) -> None:
    before = _gender_ctf(biased_adapter)
    mitigated = _train(zh_bert_dir, zh_manager_shared, gender_data, cda=True)
    after = _gender_ctf(mitigated)
    assert before > 0.2, before
    assert after < before / 4, (before, after)


def test_gate_refuses_a_biased_adapter_directory(
    biased_adapter: Any, zh_manager_shared: PluginManager, tmp_path: Path
) -> None:
    report = check_bias(biased_adapter, progress=False)
    assert not report.passed and report.culture == "zh"
    # the engine hands the summary and Markdown to the model, which saves them
    assert biased_adapter.bias_summary == report.summary()
    directory = biased_adapter.save_pretrained(tmp_path / "biased")
    manifest = json.loads((directory / "cultura.json").read_text(encoding="utf-8"))
    assert manifest["bias"]["passed"] is False
    assert "zh.gender.ctf" in (directory / "README.md").read_text(encoding="utf-8")

    with pytest.raises(BiasGateError) as info:
        run_gate(directory, manager=zh_manager_shared, progress=False)
    message = str(info.value)
    assert f"refusing to publish {directory}" in message
    assert "zh.gender.ctf (gender, supplied by cultura-zh-bias-test 9.9)" in message
    assert "swapping gender terms" in message
    refused = info.value.report
    assert refused.result("zh.gender.ctf").score == pytest.approx(
        report.result("zh.gender.ctf").score, abs=1e-4)
