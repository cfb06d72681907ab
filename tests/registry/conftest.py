"""Fixtures for the registry tests: an isolated registry, a local Hub, test plugins, artifacts.

Artifacts are real: a tiny BERT built from a config (``cultura.testing.models``), adapted with
``cultura.adapt.model.adapt`` for a test culture served by :class:`RegistryTestPlugin`, LoRA
weights randomized (so they matter), saved with ``save_pretrained``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cultura import hookimpl
from cultura.core.plugins import PluginManager
from cultura.core.tags import Culture
from cultura.core.types import AdapterHeadSpec, BiasCheck, CultureInfo, PeftSpec, PublishedAdapter
from cultura.testing.environment import isolated_environment
from cultura.testing.hub import LocalHub, serve_local_hub

LABELS = ("負面", "正面")
TEXTS = ["the movie was great and i loved it", "the food was terrible", "服务 太 差 了",
         "she is a doctor and he is a nurse"]


class RegistryTestPlugin:
    """Serves zh, zh-Hant, zh-Hant-TW with a ``sentiment`` head (at ``zh``), optional published
    adapters (level -> PublishedAdapter list) and optional bias checks."""

    CULTURA_API_VERSION = "1.0"

    def __init__(
        self,
        published: dict[str, tuple[PublishedAdapter, ...]] | None = None,
        bias_threshold: float | None = None,
    ) -> None:
        self.published = published or {}
        self.bias_threshold = bias_threshold

    @hookimpl
    def cultura_cultures(self) -> list[CultureInfo]:
        return [CultureInfo("zh"), CultureInfo("zh-Hant"), CultureInfo("zh-Hant-TW")]

    @hookimpl
    def cultura_adapter_heads(self, culture: Culture) -> list[AdapterHeadSpec] | None:
        published = self.published.get(culture.tag, ())
        if culture.tag == "zh" or published:
            return [AdapterHeadSpec(
                "sentiment", "seq-cls", labels=LABELS, peft=PeftSpec(r=4, alpha=8, dropout=0.0),
                published=published,
            )]
        return None

    @hookimpl
    def cultura_bias_checks(self, culture: Culture) -> list[BiasCheck] | None:
        if self.bias_threshold is None or culture.tag != "zh":
            return None
        return [BiasCheck(
            "regtest.gender", "gender", "ctf_gap", self.bias_threshold,
            term_groups={"female": ("she", "woman"), "male": ("he", "man")},
            templates=("{term} is a doctor", "i think {term} was great"),
            license="CC0-1.0",
        )]


def make_manager(**plugin_options: Any) -> PluginManager:
    pm = PluginManager(entry_points=False)
    record = pm.register(RegistryTestPlugin(**plugin_options), name="regtest",
                         distribution="cultura-regtest", version="1.0")
    assert record.status == "active", record
    return pm


@pytest.fixture(autouse=True)
def registry_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty registry home, no offline/lock variables, cwd in tmp, the test plugin active."""
    home = tmp_path / "cultura-home"
    monkeypatch.setenv("HF_TOKEN", "hf_no_hub_configured")  # never a real stored token
    with isolated_environment(make_manager(), home, monkeypatch, offline=False):
        yield home


@pytest.fixture
def local_hub() -> Iterator[LocalHub]:
    """A :class:`LocalHub` on 127.0.0.1 with HF_ENDPOINT and HF_TOKEN pointing at it."""
    with serve_local_hub() as hub:
        yield hub


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT (config-built, random, seed 0) with its tokenizer, saved to a folder."""
    from cultura.testing.models import build_tiny_model

    return build_tiny_model("bert", tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def other_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT with another shape (hidden size 48): adapters for it do not fit tiny_base."""
    from transformers import AutoModelForMaskedLM, BertConfig

    from cultura.testing.models import train_wordpiece_tokenizer

    folder = tmp_path_factory.mktemp("other-bert")
    tok = train_wordpiece_tokenizer()
    config = BertConfig(vocab_size=len(tok), hidden_size=48, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    AutoModelForMaskedLM.from_config(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_artifact(base: Path, directory: Path, *, culture: str = "zh", seed: int = 0) -> Path:
    """Adapt ``base`` for ``culture``/sentiment, randomize the LoRA weights, save the artifact."""
    import torch

    from cultura.adapt.model import adapt

    manager = make_manager()
    model = adapt(str(base), culture, "sentiment", manager=manager, knowledge=False,
                  extend_vocab=False, seed=seed)
    generator = torch.Generator().manual_seed(1000 + seed)
    with torch.no_grad():
        for name, param in model.model.named_parameters():
            if "lora_" in name or ("modules_to_save" in name and "classifier" in name):
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def artifact_store(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path,
                   other_base: Path) -> Callable[..., Path]:
    """``get(culture="zh", seed=0, base="tiny")`` -> a pristine artifact folder (cached)."""
    root = tmp_path_factory.mktemp("artifacts")
    cache: dict[tuple[str, int, str], Path] = {}

    def get(culture: str = "zh", seed: int = 0, base: str = "tiny") -> Path:
        key = (culture, seed, base)
        if key not in cache:
            folder = root / f"{culture}-{seed}-{base}"
            cache[key] = build_artifact(tiny_base if base == "tiny" else other_base, folder,
                                        culture=culture, seed=seed)
        return cache[key]

    return get


@pytest.fixture
def artifact(artifact_store: Callable[..., Path], tmp_path: Path) -> Callable[..., Path]:
    """``artifact(culture="zh", seed=0, base="tiny")`` -> a fresh copy this test may modify."""
    counter = iter(range(1000))

    def copy(culture: str = "zh", seed: int = 0, base: str = "tiny") -> Path:
        target = tmp_path / f"artifact-{culture}-{seed}-{base}-{next(counter)}"
        shutil.copytree(artifact_store(culture, seed, base), target)
        return target

    return copy


@pytest.fixture
def hf_api(local_hub: LocalHub) -> Any:
    from huggingface_hub import HfApi

    return HfApi(endpoint=local_hub.url, token=local_hub.token)
