"""Fixtures for the explanation tests: a tiny BERT, a test culture whose normalizer changes
the text's length, and a planted-keyword classifier whose decision depends on one word."""

from __future__ import annotations

import random
import types
import unicodedata
from pathlib import Path
from typing import Any

import pytest

import cultura
from cultura.core.plugins import PluginManager
from cultura.core.types import (
    AdapterHeadSpec,
    CultureInfo,
    Normalizer,
    TokenizerTweaks,
    VocabularyExtension,
)

#: the word the planted classifier's label depends on
KEYWORD = "excellent"
#: a phrase conversion (two characters in context), as OpenCC's s2twp does
PHRASES = {"软件": "軟體"}
FILLER = ("the movie was great and i loved it the food was terrible service slow it an "
          "ordinary day with nothing special she is a doctor he nurse people from north south "
          "work together this product would buy again weather fine today train arrived on "
          "time at station").split()


def fold(texts: list[str]) -> list[str]:
    """Length-changing normalization: NFKC (full-width and ligature folding: ＡＢ -> ab,
    ﻻ -> لا), tatweel removal, one phrase conversion, lowercase."""
    out = []
    for text in texts:
        text = unicodedata.normalize("NFKC", text).replace("\u0640", "")
        for src, dst in PHRASES.items():
            text = text.replace(src, dst)
        out.append(text.lower())
    return out


def make_plugin() -> Any:
    plugin = types.SimpleNamespace(CULTURA_API_VERSION="1.0", __name__="cultura_explaintest")

    @cultura.hookimpl
    def cultura_cultures() -> list[CultureInfo]:
        return [CultureInfo("zh", description="explain test"), CultureInfo("ja")]

    @cultura.hookimpl
    def cultura_tokenizer_tweaks(culture: Any) -> TokenizerTweaks:
        return TokenizerTweaks(
            normalizers=(Normalizer("test.fold", fold, "NFKC, tatweel, 软件 -> 軟體, lowercase"),),
            vocabulary=(VocabularyExtension("test.vocab", ("春节", "軟體"), init="fvt"),),
        )

    @cultura.hookimpl
    def cultura_adapter_heads(culture: Any) -> list[AdapterHeadSpec]:
        return [
            AdapterHeadSpec("keyword", "seq-cls", labels=("yes", "no")),
            AdapterHeadSpec("ner", "token-cls", labels=("O", "B-LOC", "I-LOC")),
        ]

    for hook in (cultura_cultures, cultura_tokenizer_tweaks, cultura_adapter_heads):
        setattr(plugin, hook.__name__, hook)
    return plugin


@pytest.fixture(scope="session")
def manager() -> PluginManager:
    pm = PluginManager(entry_points=False)
    record = pm.register(make_plugin(), name="explaintest")
    assert record.status == "active", record.error
    return pm


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cultura.testing.models import build_tiny_model

    return build_tiny_model("bert", tmp_path_factory.mktemp("tiny") / "bert")


def keyword_data(n: int, seed: int) -> list[dict[str, str]]:
    """Sentences of filler words; label ``yes`` exactly when the keyword is among them (the
    negatives are the same sentences without it, so nothing else tells the labels apart)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        words = rng.sample(FILLER, rng.randint(4, 8))
        rows.append({"text": " ".join(words), "label": "no"})
        words.insert(rng.randint(0, len(words)), KEYWORD)
        rows.append({"text": " ".join(words), "label": "yes"})
    return rows


@pytest.fixture(scope="session")
def keyword_model(tiny_bert: Path, manager: PluginManager) -> Any:
    """A tiny BERT classifier trained until its label depends on :data:`KEYWORD` alone."""
    from cultura.adapt.model import adapt

    # float32 on any device: the completeness tolerances are stated for float32
    model = adapt(str(tiny_bert), culture="zh", task="keyword", manager=manager, seed=0,
                  dtype="float32")
    model.train(keyword_data(60, 0), keyword_data(10, 1), epochs=30, lr=2e-2, embedding_lr=2e-2,
                batch_size=8, progress=False, seed=0)
    accuracy = model.evaluate(keyword_data(20, 2))["accuracy"]
    assert accuracy >= 0.95, f"the planted keyword was not learned (accuracy {accuracy})"
    return model


@pytest.fixture(scope="session")
def saved(keyword_model: Any, tiny_bert: Path, manager: PluginManager,
          tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The keyword adapter saved, and an untrained adapter of another culture (ja) on the
    same base: two directories for ``cultura explain --compare``."""
    from cultura.adapt.model import adapt

    root = tmp_path_factory.mktemp("explain-adapters")
    keyword_model.save_pretrained(root / "zh-keyword")
    other = adapt(str(tiny_bert), culture="ja", task="keyword", manager=manager, seed=1)
    other.save_pretrained(root / "ja-keyword")
    return types.SimpleNamespace(zh=root / "zh-keyword", ja=root / "ja-keyword")
