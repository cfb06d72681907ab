"""cultura-sw: Swahili (Kiswahili) for cultura.

Cultures: ``sw`` (Swahili, Latin script), ``sw-KE`` (Kenya) and ``sw-TZ`` (Tanzania); the
regional levels add their own knowledge (national days, institutions) on top of ``sw``.

Everything heavy (word lists, knowledge, sample data) is read from package data only when a
hook's result is used, so importing this module is instant.
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
from cultura_sw.normalize import fold_apostrophes, tidy_punctuation

__version__ = "0.1.0"
CULTURA_API_VERSION = "1.0"

#: License of the knowledge, sample data and bias checks written by the cultura-sw authors.
DATA_LICENSE = "CC-BY-4.0"
SENTIMENT_LABELS = ("chanya", "hasi", "wastani")  # positive, negative, neutral


def data_path(name: str) -> Path:
    """Path of a file shipped in ``cultura_sw/data``."""
    return data_file(__name__, name)


@hookimpl
def cultura_cultures() -> list[CultureInfo]:
    return [
        CultureInfo("sw", native_name="Kiswahili", description="Swahili, standard (Kiswahili sanifu)"),
        CultureInfo("sw-KE", description="Swahili as used in Kenya"),
        CultureInfo("sw-TZ", description="Swahili as used in Tanzania"),
    ]


@hookimpl
def cultura_tokenizer_tweaks(culture: Culture) -> TokenizerTweaks | None:
    if culture.tag != "sw":
        return None
    return TokenizerTweaks(
        normalizers=(
            Normalizer(
                "sw.apostrophe",
                fold_apostrophes,
                "word-internal apostrophe variants (ng’ombe, ngʼombe) -> ASCII ' (ng'ombe)",
            ),
            Normalizer(
                "sw.punctuation",
                tidy_punctuation,
                "no space before , . ; : ! ? or inside brackets; casing kept",
            ),
        ),
        vocabulary=(
            VocabularyExtension(
                "sw.words",
                word_list(__name__, "vocab_words.txt"),
                description="frequent Swahili words missing from English-centric vocabularies",
            ),
            VocabularyExtension(
                "sw.morphemes",
                word_list(__name__, "vocab_morphemes.txt"),
                description="recurring Swahili morphemes (class/subject prefixes, tense "
                "markers, stems) learned from a 70k-word lexicon",
            ),
        ),
    )


@hookimpl
def cultura_knowledge(culture: Culture) -> list[KnowledgeSource] | None:
    names = {
        "sw": ("sw.culture", "Swahili greetings, food, festivals, proverbs and history"),
        "sw-KE": ("sw.kenya", "Kenyan national days and institutions"),
        "sw-TZ": ("sw.tanzania", "Tanzanian national days and institutions"),
    }
    if culture.tag not in names:
        return None
    name, description = names[culture.tag]
    return [
        KnowledgeSource(
            name,
            license=DATA_LICENSE,
            entries=knowledge_entries(
                __name__, "knowledge.jsonl", license=DATA_LICENSE, culture=culture.tag
            ),
            templates={
                "seq-cls": "{knowledge}",
                "causal-lm": "Maarifa: {knowledge}\n{text}",
            },
            description=description,
        )
    ]


@hookimpl
def cultura_adapter_heads(culture: Culture) -> list[AdapterHeadSpec] | None:
    if culture.tag != "sw":
        return None
    return [
        AdapterHeadSpec(
            "sentiment",
            "seq-cls",
            labels=SENTIMENT_LABELS,
            peft=PeftSpec(method="lora", r=8, alpha=16, dropout=0.1),
            sample_data=lambda: data_path("sentiment.jsonl"),
            description="hisia ya maandishi: chanya / hasi / wastani",
        )
    ]


@hookimpl
def cultura_bias_checks(culture: Culture) -> list[BiasCheck] | None:
    if culture.tag != "sw":
        return None
    return bias_checks_from_json(
        __name__,
        "bias.json",
        license=DATA_LICENSE,
        pairs_check={
            "id": "sw.stereotypes",
            "category": "gender",
            "metric": "crows_pairs",
            "threshold": 10.0,
            "description": "jozi ndogo za sentensi (CrowS-Pairs style) kuhusu jinsia na kabila",
        },
    )
