"""Fixtures for the bias tests: tiny real models (built from configs), CrowS-Pairs files and an
isolated plugin manager serving the cultura-zh bias checks."""

from __future__ import annotations

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
    """An in-code plugin exposing the cultura-zh bias checks (as the zh plugin's hook does)."""

    CULTURA_API_VERSION = "1.0"

    @cultura.hookimpl
    def cultura_cultures(self):  # type: ignore[no-untyped-def]
        return [CultureInfo("zh"), CultureInfo("zh-Hant")]

    @cultura.hookimpl
    def cultura_bias_checks(self, culture, requested):  # type: ignore[no-untyped-def]
        from cultura_zh.bias import bias_checks

        return bias_checks(culture, requested)


@pytest.fixture
def zh_manager() -> PluginManager:
    """A plugin manager holding only the built-in plugin and the zh bias checks."""
    pm = PluginManager(entry_points=False)
    pm.register(ZhBiasPlugin(), name="zhbias", distribution="cultura-zh-bias-test",
                version="9.9")
    return pm
