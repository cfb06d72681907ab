"""cultura-ar: Arabic for cultura.

Cultures: ``ar`` (Modern Standard Arabic, right to left) and ``ar-EG`` (Egypt). ``ar-EG``
inherits everything from ``ar`` and adds the Egyptian conventions: alef maksura folding, a
vocabulary list re-normalized that way plus frequent Egyptian words, and Egyptian knowledge.

Set ``CULTURA_AR_TEH_MARBUTA=1`` to also fold teh marbuta (ة -> ه); it is off by default.
Importing this module reads no data: lists and entries load when a profile uses them.
"""

from __future__ import annotations

import os
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
from cultura_ar.normalize import (
    decompose_ligatures,
    fold_alef,
    fold_alef_maksura,
    fold_teh_marbuta,
    strip_harakat,
    strip_tatweel,
)

__version__ = "0.1.0"
CULTURA_API_VERSION = "1.0"

#: License of the knowledge, sample data and bias checks written by the cultura-ar authors.
DATA_LICENSE = "CC-BY-4.0"
SENTIMENT_LABELS = ("إيجابي", "سلبي", "محايد")  # positive, negative, neutral
TEH_MARBUTA_ENV = "CULTURA_AR_TEH_MARBUTA"


def data_path(name: str) -> Path:
    """Path of a file shipped in ``cultura_ar/data``."""
    return data_file(__name__, name)


def _tokens(*names: str, egyptian: bool = False):  # type: ignore[no-untyped-def]
    """A factory for the tokens of the named lists (folded ى -> ي for ``ar-EG``)."""

    lists = [word_list(__name__, name) for name in names]

    def load() -> list[str]:
        tokens = [t for words in lists for t in words()]
        return fold_alef_maksura(tokens) if egyptian else tokens

    return load


def _teh_marbuta_enabled() -> bool:
    return os.environ.get(TEH_MARBUTA_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@hookimpl
def cultura_cultures() -> list[CultureInfo]:
    return [
        CultureInfo(
            "ar",
            native_name="العربية",
            direction="rtl",
            description="Arabic, Modern Standard (الفصحى)",
        ),
        CultureInfo(
            "ar-EG",
            native_name="العربية (مصر)",
            direction="rtl",
            description="Arabic as written in Egypt (Egyptian spelling conventions and words)",
        ),
    ]


@hookimpl
def cultura_tokenizer_tweaks(culture: Culture) -> TokenizerTweaks | None:
    if culture.tag == "ar":
        normalizers = [
            Normalizer("ar.ligatures", decompose_ligatures, "lam-alef (U+FEF5-FEFC) and other presentation forms -> letters"),
            Normalizer("ar.harakat", strip_harakat, "remove harakat, tanween, shadda, sukun, dagger alef"),
            Normalizer("ar.tatweel", strip_tatweel, "remove tatweel/kashida U+0640 joined to letters"),
            Normalizer("ar.alef", fold_alef, "أ إ آ ٱ -> ا"),
        ]
        if _teh_marbuta_enabled():
            normalizers.append(
                Normalizer("ar.teh_marbuta", fold_teh_marbuta, f"ة -> ه (enabled by {TEH_MARBUTA_ENV})")
            )
        return TokenizerTweaks(
            normalizers=tuple(normalizers),
            vocabulary=(
                VocabularyExtension(
                    "ar.words",
                    _tokens("vocab_words.txt"),
                    description="frequent Arabic words and clitic-free stems (wordfreq)",
                ),
                VocabularyExtension(
                    "ar.clitics",
                    _tokens("vocab_clitics.txt", "vocab_punctuation.txt"),
                    description="proclitics/enclitics (وال، بال، لل، ها، هم) and Arabic punctuation",
                ),
            ),
        )
    if culture.tag == "ar-EG":
        return TokenizerTweaks(
            normalizers=(
                Normalizer("ar.alef_maksura", fold_alef_maksura, "ى -> ي (Egyptian spelling)"),
            ),
            vocabulary=(
                VocabularyExtension(
                    "ar.words",
                    _tokens("vocab_words.txt", egyptian=True),
                    description="the ar word list with ى folded to ي, as ar-EG text is normalized",
                ),
                VocabularyExtension(
                    "ar.eg.words",
                    _tokens("vocab_egyptian.txt", egyptian=True),
                    description="frequent Egyptian Arabic words (ازاي، دلوقتي، عايز، كده)",
                ),
            ),
        )
    return None


@hookimpl
def cultura_knowledge(culture: Culture) -> list[KnowledgeSource] | None:
    names = {
        "ar": ("ar.culture", "greetings, hospitality, feasts, language, food, literature"),
        "ar-EG": ("ar.egypt", "Egypt: the Nile, feasts, food, history, dialect, music"),
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
            templates={"seq-cls": "{knowledge}", "causal-lm": "معلومة: {knowledge}\n{text}"},
            description=description,
        )
    ]


@hookimpl
def cultura_adapter_heads(culture: Culture) -> list[AdapterHeadSpec] | None:
    if culture.tag != "ar":
        return None
    return [
        AdapterHeadSpec(
            "sentiment",
            "seq-cls",
            labels=SENTIMENT_LABELS,
            peft=PeftSpec(method="lora", r=8, alpha=16, dropout=0.1),
            sample_data=lambda: data_path("sentiment.jsonl"),
            description="تصنيف المشاعر: إيجابي / سلبي / محايد",
        )
    ]


@hookimpl
def cultura_bias_checks(culture: Culture) -> list[BiasCheck] | None:
    if culture.tag != "ar":
        return None
    return bias_checks_from_json(
        __name__,
        "bias.json",
        license=DATA_LICENSE,
        pairs_check={
            "id": "ar.stereotypes",
            "category": "gender",
            "metric": "crows_pairs",
            "threshold": 10.0,
            "description": "أزواج جمل متقاربة (على نمط CrowS-Pairs) عن الجنس والعمر والطبقة",
        },
    )
