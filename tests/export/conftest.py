"""Fixtures for the export tests: a test culture plugin registered in code and a tiny
LLaMA-style causal LM built from a config once per session."""

from __future__ import annotations

import types
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

#: a few Traditional -> Simplified characters: the test culture's normalizer
T2S = str.maketrans({"電": "电", "歡": "欢", "們": "们"})
#: words the tiny byte-level BPE vocabulary lacks: extending the vocabulary adds them
VOCAB = ("喜欢", "电影", "春节")
TEXTS = ["我们 喜欢 这个 电影", "今天 天气 很 好", "the movie was great and i loved it",
         "we celebrate the spring festival with family"]


def _t2s(texts: list[str]) -> list[str]:
    return [t.translate(T2S) for t in texts]


def make_plugin() -> Any:
    """A culture plugin object built in code (not installed): a causal-lm task ``chat`` and a
    seq-cls task ``sentiment`` for ``zh``."""
    plugin = types.SimpleNamespace(CULTURA_API_VERSION="1.0", __name__="cultura_exportculture")

    @cultura.hookimpl
    def cultura_cultures() -> list[CultureInfo]:
        return [CultureInfo("zh", description="export test culture")]

    @cultura.hookimpl
    def cultura_tokenizer_tweaks(culture: Any) -> TokenizerTweaks:
        return TokenizerTweaks(
            normalizers=(Normalizer("test.t2s", _t2s, "a few Traditional characters"),),
            vocabulary=(VocabularyExtension("test.vocab", VOCAB, init="fvt"),),
        )

    @cultura.hookimpl
    def cultura_adapter_heads(culture: Any) -> list[AdapterHeadSpec]:
        return [
            AdapterHeadSpec("chat", "causal-lm"),
            AdapterHeadSpec("sentiment", "seq-cls", labels=("正面", "负面")),
        ]

    for hook in (cultura_cultures, cultura_tokenizer_tweaks, cultura_adapter_heads):
        setattr(plugin, hook.__name__, hook)
    return plugin


@pytest.fixture(scope="session")
def manager() -> PluginManager:
    pm = PluginManager(entry_points=False)
    record = pm.register(make_plugin(), name="exportculture")
    assert record.status == "active", record.error
    return pm


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny LLaMA-style causal LM with a byte-level BPE tokenizer trained here, built once."""
    from cultura.testing.models import build_tiny_model

    return {"llama": build_tiny_model("llama", tmp_path_factory.mktemp("tiny-models") / "llama")}
