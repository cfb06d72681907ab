"""Fixtures for the serving tests: a test plugin, tiny bases built from configs, real artifacts.

``ServeTestPlugin`` serves three cultures whose adapters differ in every way a mixed batch must
keep apart: ``fr`` adds the tokens ``bonjour``/``merci`` (2 labels), ``de`` adds
``danke``/``hallo``/``strasse`` and folds ß -> ss (3 labels), ``es`` adds nothing but injects
knowledge (2 labels). ``fr`` and ``de`` both number their added tokens from the base vocabulary
size up, with different rows: the server must place them at distinct shared ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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

LABELS = {"fr": ("négatif", "positif"), "de": ("negativ", "neutral", "positiv"),
          "es": ("negativo", "positivo")}
ADDED = {"fr": ("bonjour", "merci"), "de": ("danke", "hallo", "strasse")}

#: rows exercising each culture's tweaks (added tokens, ß folding, knowledge matches)
TEXTS = {
    "fr": ["bonjour the movie was great", "merci but the food was terrible", "bonjour merci",
           "the weather is fine today"],
    "de": ["danke the train arrived on time", "hallo große strasse", "the service was slow danke",
           "strasse"],
    "es": ["the spring festival with family", "what a waste of money", "the movie was great",
           "we celebrate the festival"],
}


def _fold_sharp_s(batch: list[str]) -> list[str]:
    return [t.replace("ß", "ss") for t in batch]


class ServeTestPlugin:
    CULTURA_API_VERSION = "1.0"

    @hookimpl
    def cultura_cultures(self) -> list[CultureInfo]:
        return [CultureInfo("fr"), CultureInfo("de"), CultureInfo("es")]

    @hookimpl
    def cultura_tokenizer_tweaks(self, culture: Culture) -> TokenizerTweaks | None:
        if culture.tag == "fr":
            return TokenizerTweaks(vocabulary=(VocabularyExtension("fr-words", ADDED["fr"]),))
        if culture.tag == "de":
            return TokenizerTweaks(
                normalizers=(Normalizer("de-sharp-s", _fold_sharp_s),),
                vocabulary=(VocabularyExtension("de-words", ADDED["de"]),),
            )
        return None

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
        if culture.tag not in LABELS:
            return None
        return [AdapterHeadSpec("sentiment", "seq-cls", labels=LABELS[culture.tag],
                                peft=PeftSpec(r=4, alpha=8, dropout=0.0))]


def make_manager() -> PluginManager:
    pm = PluginManager(entry_points=False)
    record = pm.register(ServeTestPlugin(), name="servetest", distribution="cultura-servetest",
                         version="1.0")
    assert record.status == "active", record
    return pm


@pytest.fixture(autouse=True)
def serve_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginManager]:
    """The test plugin as the process-wide manager, an empty registry home, no network."""
    with isolated_environment(make_manager(), tmp_path / "cultura-home", monkeypatch) as pm:
        yield pm


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cultura.testing.models import build_tiny_model

    return build_tiny_model("bert", tmp_path_factory.mktemp("tiny-bert"))


def randomize(model: Any, seed: int, scale: float = 0.5) -> None:
    """Give every trainable weight (LoRA, head, added rows) random values so it matters."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, param in model.model.named_parameters():
            if param.requires_grad:
                param.copy_(torch.randn(param.shape, generator=generator) * scale)


def build_artifact(base: Path, directory: Path, culture: str, seed: int, **adapt_kw: Any) -> Path:
    from cultura.adapt.model import adapt

    reset_plugin_manager(make_manager())
    model = adapt(str(base), culture, "sentiment", seed=seed, **adapt_kw)
    randomize(model, 100 + seed)
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> dict[str, Path]:
    """A saved, randomized adapter per test culture on ``tiny_base``."""
    root = tmp_path_factory.mktemp("serve-artifacts")
    # es injects its knowledge (off by default for seq-cls heads)
    out = {
        c: build_artifact(tiny_base, root / c, c, seed, **({"knowledge": True} if c == "es" else {}))
        for seed, c in enumerate(("fr", "de", "es"))
    }
    reset_plugin_manager(None)
    return out


@pytest.fixture
def reference(artifacts: dict[str, Path], serve_env: PluginManager) -> Callable[[str], Any]:
    """``reference(culture)`` -> that culture's own CulturalModel (loaded once per test)."""
    from cultura.adapt.model import load_pretrained

    cache: dict[str, Any] = {}

    def get(culture: str) -> Any:
        if culture not in cache:
            cache[culture] = load_pretrained(artifacts[culture], manager=serve_env, dtype="float32")
        return cache[culture]

    return get


@pytest.fixture
def server(tiny_base: Path, artifacts: dict[str, Path], serve_env: PluginManager) -> Any:
    """A server on ``tiny_base`` with fr, de and es added (3 slots)."""
    from cultura.serve import MultiCultureServer

    srv = MultiCultureServer(str(tiny_base), slots=3, manager=serve_env, device="cpu")
    for culture in ("fr", "de", "es"):
        srv.add(artifacts[culture])
    return srv


def mixed_rows() -> tuple[list[str], list[str]]:
    """Texts and cultures interleaved (fr, de, es, fr, ...) so no culture is contiguous."""
    texts, cultures = [], []
    for i in range(4):
        for c in ("fr", "de", "es"):
            texts.append(TEXTS[c][i])
            cultures.append(c)
    return texts, cultures
