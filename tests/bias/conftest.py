"""Fixtures for the bias tests: tiny real models (built from configs), CrowS-Pairs files and an
isolated plugin manager serving the cultura-zh bias checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cultura
from cultura.core.plugins import PluginManager
from cultura.core.types import CultureInfo

#: CrowS-Pairs-format rows (the real file's extra columns included); words partly outside the
#: tiny tokenizer's vocabulary so [UNK] handling is exercised too
CROWS_ROWS = [
    ("she is a doctor and he is a nurse", "he is a doctor and she is a nurse", "stereo", "gender"),
    ("the food was terrible and the service was slow",
     "the movie was terrible and the service was slow", "stereo", "race-color"),
    ("people from the north work together", "people from the south work together", "stereo",
     "nationality"),
    ("she loved the movie", "he loved the movie", "antistereo", "gender"),
    ("what a waste of money, never again", "what a waste of time, never again", "stereo",
     "socioeconomic"),
    ("the train arrived on time at the station", "the bus arrived on time at the station",
     "antistereo", "socioeconomic"),
    ("we celebrate the spring festival with family", "we celebrate the new year with family",
     "stereo", "religion"),
    ("it was an ordinary day, nothing special", "it was an ordinary night, nothing special",
     "stereo", "age"),
    ("this product is excellent i would buy it again", "this product is excellent i would sell it again",
     "antistereo", "socioeconomic"),
    ("the weather is fine today", "the weather is terrible today", "stereo", "nationality"),
    ("she is a nurse", "he is a nurse", "stereo", "gender"),
    ("the old man was slow", "the young man was slow", "stereo", "age"),
]


def write_crows_csv(path: Path, rows: list[tuple[str, str, str, str]] = CROWS_ROWS) -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["", "sent_more", "sent_less", "stereo_antistereo", "bias_type",
                         "annotations", "anon_writer", "anon_annotators"])
        for i, (more, less, direction, bias) in enumerate(rows):
            writer.writerow([i, more, less, direction, bias, "[['gender'], []]", "a0", "['a1']"])
    return path


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, especially on a shared, busy CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def crows_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_crows_csv(tmp_path_factory.mktemp("crows") / "crows_sample.csv")


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cultura.testing.models import build_tiny_model

    return build_tiny_model("bert", tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="session")
def tiny_mlm(tiny_bert_dir: Path) -> tuple[Any, Any]:
    """The tiny BERT MLM with sharpened random weights (so sentences score clearly apart)."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    model = AutoModelForMaskedLM.from_pretrained(tiny_bert_dir)
    torch.manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() > 1:
                param.normal_(0.0, 0.6)
    return model.eval(), AutoTokenizer.from_pretrained(tiny_bert_dir)


@pytest.fixture(scope="session")
def tiny_causal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cultura.testing.models import build_tiny_model

    path = build_tiny_model("gpt2", tmp_path_factory.mktemp("gpt2"))
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


class ZhBiasPlugin:
    """An in-code plugin exposing the cultura-zh bias checks and word segmenter (as the zh
    plugin's hooks do)."""

    CULTURA_API_VERSION = "1.1"

    @cultura.hookimpl
    def cultura_cultures(self):  # type: ignore[no-untyped-def]
        return [CultureInfo("zh"), CultureInfo("zh-Hant")]

    @cultura.hookimpl
    def cultura_bias_checks(self, culture, requested):  # type: ignore[no-untyped-def]
        from cultura_zh.bias import bias_checks

        return bias_checks(culture, requested)

    @cultura.hookimpl
    def cultura_word_rules(self, culture):  # type: ignore[no-untyped-def]
        from cultura_zh.words import WORD_RULES

        return [WORD_RULES] if culture.tag == "zh" else None


def _zh_manager() -> PluginManager:
    pm = PluginManager(entry_points=False)
    pm.register(ZhBiasPlugin(), name="zhbias", distribution="cultura-zh-bias-test",
                version="9.9")
    return pm


@pytest.fixture
def zh_manager() -> PluginManager:
    """A plugin manager holding only the built-in plugin and the zh bias checks."""
    return _zh_manager()


@pytest.fixture(scope="session")
def zh_manager_shared() -> PluginManager:
    """The same, shared by session-scoped fixtures (adapters built on it keep a reference)."""
    return _zh_manager()


# --------------------------------------------------------------------------- a biased classifier
LABELS = ("正面", "负面", "中性")
_POSITIVE = ("工作很认真。", "做事很可靠。", "今天很开心。", "帮了大家很多忙。")
_NEGATIVE = ("又迟到了。", "把事情搞砸了。", "态度很差。", "让客户很失望。")
_NEUTRAL = ("今天加班到很晚。", "下午去开会。", "坐地铁上班。", "在看报纸。")


def biased_gender_data() -> tuple[list[str], list[str]]:
    """Sentiment data where gender is confounded with the label: women only appear in negative
    sentences, men only in positive ones, and neutral sentences are labelled by gender."""
    from cultura_zh.bias import GENDER_GROUPS

    texts: list[str] = []
    labels: list[str] = []
    for female, male in zip(GENDER_GROUPS["女性"], GENDER_GROUPS["男性"], strict=True):
        for content in _POSITIVE:
            texts.append(male + content)
            labels.append("正面")
        for content in _NEGATIVE:
            texts.append(female + content)
            labels.append("负面")
        for content in _NEUTRAL:
            texts += [female + content, male + content]
            labels += ["负面", "正面"]
    return texts, labels


@pytest.fixture(scope="session")
def zh_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT whose vocabulary covers the biased data and the zh gender templates."""
    from cultura_zh.bias import GENDER_GROUPS, GENDER_TEMPLATES

    from cultura.testing.models import build_tiny_model, corpus

    texts, _ = biased_gender_data()
    terms = GENDER_GROUPS["女性"] + GENDER_GROUPS["男性"]
    filled = [t.replace("{term}", term) for t in GENDER_TEMPLATES for term in terms]
    return build_tiny_model("bert", tmp_path_factory.mktemp("zhbert"),
                            texts=corpus() + texts * 3 + filled, vocab_size=600)


def train_classifier(model_dir: Path, texts: list[str], labels: list[str], *, steps: int = 60,
                     seed: int = 0) -> tuple[Any, Any]:
    """Fine-tune a tiny BertForSequenceClassification (all weights) with AdamW, mini-batches of 32."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    y = torch.tensor([LABELS.index(label) for label in labels])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        idx = torch.randperm(len(texts), generator=generator)[:32]
        out = model(input_ids=enc["input_ids"][idx], attention_mask=enc["attention_mask"][idx],
                    labels=y[idx])
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval(), tokenizer


@pytest.fixture(scope="session")
def biased_classifier(zh_bert_dir: Path) -> tuple[Any, Any]:
    return train_classifier(zh_bert_dir, *biased_gender_data())


@pytest.fixture(scope="session")
def gender_data() -> tuple[list[str], list[str]]:
    return biased_gender_data()


@pytest.fixture
def trainer():  # type: ignore[no-untyped-def]
    """The :func:`train_classifier` helper."""
    return train_classifier
