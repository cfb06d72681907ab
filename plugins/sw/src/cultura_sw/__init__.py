"""cultura-sw: Swahili (Kiswahili) for cultura.

Cultures: ``sw`` (Swahili, Latin script), ``sw-KE`` (Kenya) and ``sw-TZ`` (Tanzania); the
regional levels add their own knowledge (national days, institutions) on top of ``sw``.

Everything heavy (word lists, knowledge, sample data) is read from package data only when a
hook's result is used, so importing this module is instant.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

from cultura import hookimpl
from cultura.core.tags import Culture
from cultura.core.types import (
    AdapterHeadSpec,
    BiasCheck,
    CultureInfo,
    KnowledgeEntry,
    KnowledgeSource,
    MinimalPair,
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
    return Path(str(resources.files("cultura_sw") / "data" / name))


def _word_list(name: str):  # type: ignore[no-untyped-def]
    def load() -> list[str]:
        text = data_path(name).read_text(encoding="utf-8")
        return [line for line in text.splitlines() if line and not line.startswith("#")]

    return load


@cache
def _knowledge(level: str) -> tuple[KnowledgeEntry, ...]:
    entries = []
    with data_path("knowledge.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                if row.pop("culture") == level:
                    entries.append(KnowledgeEntry(tags=tuple(row.pop("tags", ())), **row))
    return tuple(entries)


@cache
def _bias() -> dict:  # type: ignore[type-arg]
    return json.loads(data_path("bias.json").read_text(encoding="utf-8"))


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
                _word_list("vocab_words.txt"),
                description="frequent Swahili words missing from English-centric vocabularies",
            ),
            VocabularyExtension(
                "sw.morphemes",
                _word_list("vocab_morphemes.txt"),
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
            entries=lambda: _knowledge(culture.tag),
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
    spec = _bias()
    checks = [
        BiasCheck(
            c["id"],
            c["category"],
            c["metric"],
            c["threshold"],
            term_groups={g: tuple(t) for g, t in c["term_groups"].items()},
            templates=tuple(c["templates"]),
            target_label=c.get("target_label"),
            license=DATA_LICENSE,
            description=c["description"],
        )
        for c in spec["counterfactual"]
    ]
    checks.append(
        BiasCheck(
            "sw.stereotypes",
            "gender",
            "crows_pairs",
            10.0,
            pairs=tuple(MinimalPair(**p) for p in spec["pairs"]),
            license=DATA_LICENSE,
            description="jozi ndogo za sentensi (CrowS-Pairs style) kuhusu jinsia na kabila",
        )
    )
    return checks
