"""cultura-ja: Japanese for cultura.

Culture: ``ja`` (Japanese; ``ja-JP`` falls back to it). Normalizers follow neologdn (width
folding, long-vowel runs, hyphen and tilde variants, spaces between Japanese characters);
knowledge covers honorific language (敬語, 敬称) and everyday customs.

Importing this module reads no data: lists and entries load when a profile uses them.
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
from cultura_ja.normalize import fold_dashes, fold_tildes, fold_width, remove_spaces

__version__ = "0.1.0"
CULTURA_API_VERSION = "1.0"

#: License of the knowledge, sample data and bias checks written by the cultura-ja authors.
DATA_LICENSE = "CC-BY-4.0"
SENTIMENT_LABELS = ("肯定的", "否定的", "中立")  # positive, negative, neutral


def data_path(name: str) -> Path:
    """Path of a file shipped in ``cultura_ja/data``."""
    return data_file(__name__, name)


def _knowledge(source: str):  # type: ignore[no-untyped-def]
    """The entries of ``knowledge.jsonl`` whose ``source_name`` is ``source`` (lazy)."""
    return knowledge_entries(
        __name__, "knowledge.jsonl", license=DATA_LICENSE, culture=source, field="source_name"
    )


@hookimpl
def cultura_cultures() -> list[CultureInfo]:
    return [CultureInfo("ja", native_name="日本語", description="Japanese")]


@hookimpl
def cultura_tokenizer_tweaks(culture: Culture) -> TokenizerTweaks | None:
    if culture.tag != "ja":
        return None
    return TokenizerTweaks(
        normalizers=(
            Normalizer("ja.dashes", fold_dashes, "long-vowel runs after kana -> ー; hyphen variants -> -"),
            Normalizer("ja.tildes", fold_tildes, "~ ∼ ∾ 〜 〰 ～ runs -> ~"),
            Normalizer("ja.width", fold_width, "NFKC of full/half-width forms: ＡＢＣ１２３ -> ABC123, ｶﾞ -> ガ"),
            Normalizer("ja.spaces", remove_spaces, "no spaces between Japanese characters (or Japanese and Latin)"),
        ),
        vocabulary=(
            VocabularyExtension(
                "ja.kana",
                word_list(__name__, "vocab_kana.txt"),
                description="kana, iteration marks and brackets missing from the base vocabulary",
            ),
            VocabularyExtension(
                "ja.kanji",
                word_list(__name__, "vocab_kanji.txt"),
                description="jōyō kanji and other frequent kanji missing from the base vocabulary",
            ),
            VocabularyExtension(
                "ja.kana_words",
                word_list(__name__, "vocab_kana_words.txt"),
                description="3,000 frequent words written in kana (particles, endings, loanwords)",
            ),
        ),
    )


@hookimpl
def cultura_knowledge(culture: Culture) -> list[KnowledgeSource] | None:
    if culture.tag != "ja":
        return None
    templates = {"seq-cls": "{knowledge}", "causal-lm": "参考：{knowledge}\n{text}"}
    return [
        KnowledgeSource(
            "ja.honorifics",
            license=DATA_LICENSE,
            entries=_knowledge("ja.honorifics"),
            templates=templates,
            description="敬語 (尊敬語・謙譲語・丁寧語), 内と外, 敬称 (さん・様・君・先生), set phrases",
        ),
        KnowledgeSource(
            "ja.culture",
            license=DATA_LICENSE,
            entries=_knowledge("ja.culture"),
            templates=templates,
            description="etiquette (お辞儀, 名刺, 上座), meals, annual events, holidays, era names",
        ),
    ]


@hookimpl
def cultura_adapter_heads(culture: Culture) -> list[AdapterHeadSpec] | None:
    if culture.tag != "ja":
        return None
    return [
        AdapterHeadSpec(
            "sentiment",
            "seq-cls",
            labels=SENTIMENT_LABELS,
            peft=PeftSpec(method="lora", r=8, alpha=16, dropout=0.1),
            sample_data=lambda: data_path("sentiment.jsonl"),
            description="感情分類：肯定的 / 否定的 / 中立",
        )
    ]


@hookimpl
def cultura_bias_checks(culture: Culture) -> list[BiasCheck] | None:
    if culture.tag != "ja":
        return None
    return bias_checks_from_json(
        __name__,
        "bias.json",
        license=DATA_LICENSE,
        pairs_check={
            "id": "ja.stereotypes",
            "category": "gender",
            "metric": "crows_pairs",
            "threshold": 10.0,
            "description": "性別・年齢・出身・国籍についての最小対（CrowS-Pairs 形式）",
        },
    )
