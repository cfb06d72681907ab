"""cultura-hi: Hindi (Devanagari) for cultura.

Culture: ``hi`` (Hindi in Devanagari; ``hi-IN`` falls back to it). Normalizers implement the
Unicode Devanagari rules and the standard Hindi spelling (see :mod:`cultura_hi.normalize`:
nukta decomposition, ZWJ/ZWNJ policy, chandrabindu and anusvara, danda).

Importing this module reads no data: word lists and entries load when a profile uses them.
"""

from __future__ import annotations

from pathlib import Path

from cultura import hookimpl
from cultura.core.plugin_data import (
    bias_checks_from_json,
    data_file,
    knowledge_entries,
    word_list,
)
from cultura.core.tags import Culture
from cultura.core.types import (
    AdapterHeadSpec,
    BiasCheck,
    CultureInfo,
    KnowledgeSource,
    Normalizer,
    PeftSpec,
    TokenizerTweaks,
    VocabularyExtension,
)
from cultura_hi.normalize import (
    chandrabindu_to_anusvara,
    decompose_nukta,
    nasal_to_anusvara,
    normalize_danda,
    remove_joiners,
)

__version__ = "0.1.0"
CULTURA_API_VERSION = "1.0"

#: License of the knowledge, sample data and bias checks written by the cultura-hi authors.
DATA_LICENSE = "CC-BY-4.0"
SENTIMENT_LABELS = ("सकारात्मक", "नकारात्मक", "तटस्थ")  # positive, negative, neutral


def data_path(name: str) -> Path:
    """Path of a file shipped in ``cultura_hi/data``."""
    return data_file(__name__, name)


@hookimpl
def cultura_cultures() -> list[CultureInfo]:
    return [CultureInfo("hi", native_name="हिन्दी", description="Hindi, Devanagari script")]


@hookimpl
def cultura_tokenizer_tweaks(culture: Culture) -> TokenizerTweaks | None:
    if culture.tag != "hi":
        return None
    return TokenizerTweaks(
        normalizers=(
            Normalizer("hi.nukta", decompose_nukta, "nukta letters as base + U+093C (क़ -> क + ़)"),
            Normalizer("hi.joiners", remove_joiners, "drop ZWJ/ZWNJ next to Devanagari (rendering only); keep elsewhere"),
            Normalizer("hi.chandrabindu", chandrabindu_to_anusvara, "ँ -> ं over vowel signs above the headline (मेँ -> में)"),
            Normalizer("hi.anusvara", nasal_to_anusvara, "class nasal + virama -> anusvara (हिन्दी -> हिंदी)"),
            Normalizer("hi.danda", normalize_danda, "no space before । ॥; | -> ।, ।। -> ॥ after Devanagari"),
        ),
        vocabulary=(
            VocabularyExtension(
                "hi.characters",
                word_list(__name__, "vocab_characters.txt"),
                description="Devanagari letters, signs and digits missing from the base vocabulary",
            ),
            VocabularyExtension(
                "hi.words",
                word_list(__name__, "vocab_words.txt"),
                description="6,000 frequent Hindi words (wordfreq), normalized",
            ),
        ),
    )


@hookimpl
def cultura_knowledge(culture: Culture) -> list[KnowledgeSource] | None:
    if culture.tag != "hi":
        return None
    return [
        KnowledgeSource(
            "hi.culture",
            license=DATA_LICENSE,
            entries=knowledge_entries(__name__, "knowledge.jsonl", license=DATA_LICENSE),
            templates={"seq-cls": "{knowledge}", "causal-lm": "जानकारी: {knowledge}\n{text}"},
            description="greetings and etiquette, festivals, national days, language, food, literature",
        )
    ]


@hookimpl
def cultura_adapter_heads(culture: Culture) -> list[AdapterHeadSpec] | None:
    if culture.tag != "hi":
        return None
    return [
        AdapterHeadSpec(
            "sentiment",
            "seq-cls",
            labels=SENTIMENT_LABELS,
            peft=PeftSpec(method="lora", r=8, alpha=16, dropout=0.1),
            sample_data=lambda: data_path("sentiment.jsonl"),
            description="भावना वर्गीकरण: सकारात्मक / नकारात्मक / तटस्थ",
        )
    ]


@hookimpl
def cultura_bias_checks(culture: Culture) -> list[BiasCheck] | None:
    if culture.tag != "hi":
        return None
    return bias_checks_from_json(
        __name__,
        "bias.json",
        license=DATA_LICENSE,
        pairs_check={
            "id": "hi.stereotypes",
            "category": "gender",
            "metric": "crows_pairs",
            "threshold": 10.0,
            "description": "लिंग, आयु और वर्ग पर न्यूनतम वाक्य-जोड़े (CrowS-Pairs शैली)",
        },
    )
