"""Fixtures for the ONNX export tests: a test plugin, a tiny BERT built from a config, saved
adapters with random weights (so every merged part matters).

``ExportTestPlugin`` serves ``fr`` (a ``sentiment`` seq-cls head with added tokens and a
normalizer folding œ -> oe, an ``ner`` token-cls head with BIO tags) and ``es`` (a seq-cls head
injecting knowledge).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cultura import hookimpl
from cultura.core.plugins import PluginManager, reset_plugin_manager
from cultura.core.tags import Culture
from cultura.core.types import (
    AdapterHeadSpec,
    CultureInfo,
    KnowledgeEntry,
    KnowledgeSource,
    Normalizer,
    PeftSpec,
    TokenizerTweaks,
    VocabularyExtension,
)
from cultura.testing.environment import isolated_environment

FR_LABELS = ("négatif", "neutre", "positif")
NER_LABELS = ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")
#: texts exercising the added tokens, the normalizer, knowledge matches and padding
TEXTS = [
    "bonjour the movie was great",
    "merci but the food was terrible and the service was slow",
    "cœur bonjour merci",
    "the weather is fine today",
    "we celebrate the spring festival with family",
    "what a waste of money",
    "我们 喜欢 这个 电影",
    "x",
]


def _fold_oe(batch: list[str]) -> list[str]:
    return [t.replace("œ", "oe") for t in batch]


class ExportTestPlugin:
    CULTURA_API_VERSION = "1.0"

    @hookimpl
    def cultura_cultures(self) -> list[CultureInfo]:
        return [CultureInfo("fr"), CultureInfo("es")]

    @hookimpl
    def cultura_tokenizer_tweaks(self, culture: Culture) -> TokenizerTweaks | None:
        if culture.tag != "fr":
            return None
        return TokenizerTweaks(
            normalizers=(Normalizer("fr-oe", _fold_oe),),
            vocabulary=(VocabularyExtension("fr-words", ("bonjour", "merci", "coeur")),),
        )

    @hookimpl
    def cultura_knowledge(self, culture: Culture) -> list[KnowledgeSource] | None:
        if culture.tag != "es":
            return None
        entries = (
            KnowledgeEntry("fest", "the spring festival is a family holiday"),
            KnowledgeEntry("money", "money spent on a bad product feels wasted"),
        )
        return [KnowledgeSource("es-facts", "CC0-1.0", entries=entries)]

    @hookimpl
    def cultura_adapter_heads(self, culture: Culture) -> list[AdapterHeadSpec] | None:
        peft = PeftSpec(r=4, alpha=8, dropout=0.0)
        if culture.tag == "fr":
            return [AdapterHeadSpec("sentiment", "seq-cls", labels=FR_LABELS, peft=peft),
                    AdapterHeadSpec("ner", "token-cls", labels=NER_LABELS, peft=peft)]
        if culture.tag == "es":
            return [AdapterHeadSpec("sentiment", "seq-cls", labels=("negativo", "positivo"),
                                    peft=peft)]
        return None


def make_manager() -> PluginManager:
    pm = PluginManager(entry_points=False)
    record = pm.register(ExportTestPlugin(), name="exporttest", distribution="cultura-exporttest",
                         version="1.0")
    assert record.status == "active", record
    return pm


@pytest.fixture(autouse=True)
def export_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginManager]:
    """The test plugin as the process-wide manager, an empty registry home, no network."""
    with isolated_environment(make_manager(), tmp_path / "cultura-home", monkeypatch) as pm:
        yield pm


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cultura.testing.models import build_tiny_model

    return build_tiny_model("bert", tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cultura.testing.models import build_tiny_model

    return build_tiny_model("gpt2", tmp_path_factory.mktemp("tiny-gpt2"))


def randomize(model: Any, seed: int, scale: float = 0.5) -> None:
    """Give every trainable weight (LoRA, head, added rows) random values so it matters."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, param in model.model.named_parameters():
            if param.requires_grad:
                param.copy_(torch.randn(param.shape, generator=generator) * scale)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> dict[str, Path]:
    """Saved, randomized adapters on ``tiny_base``: ``fr`` (sentiment), ``fr-ner``, ``es``
    (sentiment with knowledge)."""
    from cultura.adapt.model import adapt

    root = tmp_path_factory.mktemp("export-artifacts")
    out = {}
    for seed, (key, culture, task, extra) in enumerate((
        ("fr", "fr", "sentiment", {}),
        ("fr-ner", "fr", "ner", {}),
        ("es", "es", "sentiment", {"knowledge": True}),
    )):
        reset_plugin_manager(make_manager())
        model = adapt(str(tiny_base), culture, task, seed=seed, **extra)
        randomize(model, 100 + seed)
        out[key] = model.save_pretrained(root / key)
    reset_plugin_manager(None)
    return out


@pytest.fixture(scope="session")
def exports(tmp_path_factory: pytest.TempPathFactory, artifacts: dict[str, Path]) -> dict[str, Path]:
    """Each artifact exported to ONNX: float32 (``fr``, ``fr-ner``, ``es``) and int8
    (``fr-int8``)."""
    from cultura.adapt.model import load_pretrained
    from cultura.export import export_onnx

    root = tmp_path_factory.mktemp("exports")
    out = {}
    reset_plugin_manager(make_manager())
    for key in ("fr", "fr-ner", "es"):
        model = load_pretrained(artifacts[key])
        out[key] = export_onnx(model, root / key, source=str(artifacts[key]))
        if key == "fr":
            out["fr-int8"] = export_onnx(model, root / "fr-int8", quantize="int8")
    reset_plugin_manager(None)
    return out
