"""Fixtures for the adapter tests: tiny models built from configs (once per session), a test
culture plugin registered in code, and a trained + saved tiny sentiment adapter."""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import cultura
from cultura.core.plugins import PluginManager
from cultura.core.types import (
    AdapterHeadSpec,
    CultureInfo,
    KnowledgeEntry,
    KnowledgeSource,
    Normalizer,
    TokenizerTweaks,
    VocabularyExtension,
)

#: a few Traditional -> Simplified characters: the test culture's "script" normalizer
T2S = str.maketrans({"電": "电", "歡": "欢", "們": "们", "氣": "气", "務": "务"})
SENTIMENT = ("正面", "负面", "中性")
NER = ("O", "B-LOC", "I-LOC")
VOCAB = ("喜欢", "电影", "好看", "春", "节", "春节", "月饼", "中秋")
KNOWLEDGE = (
    KnowledgeEntry("spring", "春节 是 农历 新年 the spring festival is the lunar new year",
                   tags=("春节", "festival")),
    KnowledgeEntry("midautumn", "中秋 吃 月饼 mid autumn moon cakes", tags=("中秋",)),
    KnowledgeEntry("train", "the train station is in the north", tags=("train",)),
)


class CallLog:
    """A batched normalizer that records every batch it is called with."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, texts: list[str]) -> list[str]:
        self.batches.append(list(texts))
        return [t.translate(T2S) for t in texts]

    def reset(self) -> None:
        self.batches.clear()

    def seen(self, text: str) -> int:
        return sum(batch.count(text) for batch in self.batches)


def make_plugin(log: CallLog, *, tag: str = "zh") -> Any:
    """A culture plugin object built in code (not installed)."""
    plugin = types.SimpleNamespace(CULTURA_API_VERSION="1.0", __name__="cultura_testculture")

    @cultura.hookimpl
    def cultura_cultures() -> list[CultureInfo]:
        return [CultureInfo(tag, description="test culture")]

    @cultura.hookimpl
    def cultura_tokenizer_tweaks(culture: Any) -> TokenizerTweaks:
        return TokenizerTweaks(
            normalizers=(Normalizer("test.t2s", log, "a few Traditional characters"),),
            vocabulary=(VocabularyExtension("test.vocab", VOCAB, init="fvt"),),
        )

    @cultura.hookimpl
    def cultura_knowledge(culture: Any) -> list[KnowledgeSource]:
        return [KnowledgeSource("test.culture", license="CC0-1.0", entries=KNOWLEDGE)]

    @cultura.hookimpl
    def cultura_adapter_heads(culture: Any) -> list[AdapterHeadSpec]:
        return [
            AdapterHeadSpec("sentiment", "seq-cls", labels=SENTIMENT),
            AdapterHeadSpec("ner", "token-cls", labels=NER),
            AdapterHeadSpec("lm", "causal-lm"),
        ]

    for hook in (cultura_cultures, cultura_tokenizer_tweaks, cultura_knowledge, cultura_adapter_heads):
        setattr(plugin, hook.__name__, hook)
    return plugin


@pytest.fixture(scope="session")
def normalizer_log() -> CallLog:
    return CallLog()


@pytest.fixture(scope="session")
def manager(normalizer_log: CallLog) -> PluginManager:
    pm = PluginManager(entry_points=False)
    record = pm.register(make_plugin(normalizer_log), name="testculture")
    assert record.status == "active", record.error
    return pm


@pytest.fixture
def log(normalizer_log: CallLog) -> CallLog:
    normalizer_log.reset()
    return normalizer_log


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny BERT, GPT-2 and LLaMA models with tokenizers trained here, built once."""
    from cultura.testing.models import build_tiny_model

    root = tmp_path_factory.mktemp("tiny-models")
    return {kind: build_tiny_model(kind, root / kind) for kind in ("bert", "gpt2", "llama")}


POSITIVE = [
    "the movie was great and i loved it",
    "great food , i loved it",
    "this product is excellent",
    "excellent , i would buy it again",
    "我们 喜欢 这个 电影",
    "今天 天气 很 好",
]
NEGATIVE = [
    "the food was terrible",
    "terrible service and slow",
    "what a waste of money",
    "the service was slow , never again",
    "服务 太 差 了",
    "a waste , terrible",
]


def toy_sentiment(repeat: int = 4) -> list[dict[str, str]]:
    """A separable two-class toy task in the culture's labels."""
    rows = [{"text": t, "label": "正面"} for t in POSITIVE] + [
        {"text": t, "label": "负面"} for t in NEGATIVE
    ]
    return rows * repeat


TOY_EVAL = [
    {"text": "i loved the food , excellent", "label": "正面"},
    {"text": "great , we loved it", "label": "正面"},
    {"text": "我们 喜欢 这个 电影 , great", "label": "正面"},
    {"text": "terrible and slow", "label": "负面"},
    {"text": "a waste of money , never again", "label": "负面"},
    {"text": "服务 太 差 , terrible", "label": "负面"},
]


@pytest.fixture(scope="session")
def trained(tiny: dict[str, Path], manager: PluginManager, tmp_path_factory: pytest.TempPathFactory):
    """A tiny BERT sentiment adapter (knowledge on, vocabulary extended), trained and saved."""
    from cultura.adapt.model import adapt

    model = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager, knowledge=True)
    history = model.train(
        toy_sentiment(), TOY_EVAL, epochs=15, lr=1e-2, embedding_lr=1e-2, batch_size=8,
        progress=False, seed=0,
    )
    directory = tmp_path_factory.mktemp("adapters") / "sentiment"
    model.save_pretrained(directory)
    return types.SimpleNamespace(model=model, history=history, directory=directory)


@pytest.fixture
def fresh_copy(trained: Any, tmp_path: Path) -> Callable[..., Path]:
    """A copy of the trained adapter directory a test may damage."""
    import shutil

    def copy(name: str = "adapter") -> Path:
        target = tmp_path / name
        shutil.copytree(trained.directory, target)
        return target

    return copy


@pytest.fixture(scope="session")
def toy() -> Any:
    """The separable toy task: ``toy.train`` and ``toy.eval`` records."""
    return types.SimpleNamespace(train=toy_sentiment(), eval=list(TOY_EVAL))
