"""The model card: one bias section, the plugin to install, the repo to load, method names."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from cultura.adapt.artifact import BaseModelRef, Manifest, plugin_distributions, render_card
from cultura.bias.report import BiasReport, CheckResult

MANIFEST = Manifest(
    culture="zh-Hant-TW",
    task="sentiment",
    head_type="seq-cls",
    base_model=BaseModelRef("sentence-transformers/all-MiniLM-L6-v2"),
    labels=("正面", "負面"),
    tokenizer={
        "plugins": ["cultura 0.1.0", "cultura-zh 0.1.0", "cultura-zh-extra 2.0"],
        "normalizers": [
            {"id": "und.nfc", "plugin": "und", "distribution": "cultura", "version": "0.1.0"},
            {"id": "zh.width", "plugin": "zh", "distribution": "cultura-zh", "version": "0.1.0"},
        ],
    },
    license="cc-by-4.0",
)


def bias_markdown(passed: bool = True) -> str:
    result = CheckResult("zh.gender", "gender", "ctf_gap", 0.01 if passed else 0.5, 0.1,
                         "pass" if passed else "fail", "cultura-zh 0.1.0",
                         reason="" if passed else "gap 0.5 over 0.1")
    return BiasReport("zh/sentiment", "zh-Hant-TW", "classifier", (result,)).to_markdown()


@pytest.mark.parametrize("markdown", [None, "", bias_markdown(), bias_markdown(False),
                                      "A report without a heading."])
def test_exactly_one_bias_section(markdown: str | None) -> None:
    card = render_card(MANIFEST, bias_markdown=markdown)
    assert card.count("## Bias report") == 1
    assert card.count("Bias report") == 1
    if markdown:
        assert markdown.strip() in card


def test_usage_names_the_plugins_and_the_repo() -> None:
    card = render_card(MANIFEST, repo_id="my-org/minilm-zh-sentiment")
    assert "pip install cultura-zh cultura-zh-extra\n" in card
    assert 'model = cultura.load("hf:my-org/minilm-zh-sentiment")' in card
    assert 'cultura predict hf:my-org/minilm-zh-sentiment "..."' in card
    local = render_card(MANIFEST)
    assert ('model = cultura.load("zh-Hant-TW/sentiment", '
            'base="sentence-transformers/all-MiniLM-L6-v2")') in local
    assert plugin_distributions(MANIFEST) == ["cultura-zh", "cultura-zh-extra"]


def test_usage_without_a_recorded_plugin_says_so() -> None:
    bare = replace(MANIFEST, tokenizer={"plugins": ["cultura 0.1.0", "not a name! 1"]})
    card = render_card(bare)
    assert "pip install" not in card
    assert "records no plugin for culture `zh-Hant-TW`" in card
    und = render_card(replace(bare, culture="und"))
    assert "pip install cultura\n" in und


@pytest.mark.parametrize(("method", "phrase"), [
    ("lora", "A LoRA adapter"), ("ia3", "An IA3 adapter"), ("prefix", "A prefix-tuning adapter"),
])
def test_method_names(method: str, phrase: str) -> None:
    card = render_card(replace(MANIFEST, peft_method=method))
    assert f"{phrase} with a `seq-cls` head for culture `zh-Hant-TW`" in card
    assert "LORA" not in card and "PREFIX" not in card


def test_license_comes_from_the_manifest() -> None:
    card = render_card(MANIFEST)
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["license"] == "cc-by-4.0"
    assert "License: `cc-by-4.0`" in card


def test_saved_card_has_one_bias_section_and_the_plugin(trained, tmp_path) -> None:
    model = trained.model
    model.bias_markdown = bias_markdown()
    try:
        model.save_pretrained(tmp_path / "a")
    finally:
        model.bias_markdown = None
    card = (tmp_path / "a" / "README.md").read_text(encoding="utf-8")
    assert card.count("## Bias report") == 1 and "**PASSED**" in card
    assert "pip install testculture\n" in card  # the in-code test plugin's distribution


def test_default_license_is_the_plugins_data_license(trained, tiny, manager) -> None:
    from cultura.adapt.artifact import read_manifest
    from cultura.adapt.model import adapt

    assert read_manifest(trained.directory).license == "CC0-1.0"  # the test plugin's knowledge
    explicit = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager,
                     license="mit")
    assert explicit.license == "mit"
