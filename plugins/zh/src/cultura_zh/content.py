"""cultura-zh data: vocabulary lists, the knowledge source and the sentiment head.

Everything is loaded lazily from package data (``data/``) when a profile asks for it.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

from cultura.core.plugin_data import data_file, knowledge_entries, word_list
from cultura.core.types import AdapterHeadSpec, KnowledgeEntry, KnowledgeSource, VocabularyExtension
from cultura_zh.normalize import OPENCC_PROFILES, opencc_convert

KNOWLEDGE_LICENSE = "CC-BY-4.0"
KNOWLEDGE_SOURCE = "cultura-zh maintainers (authored)"
SENTIMENT_LABELS = {"zh": ("正面", "负面", "中性"), "zh-Hant": ("正面", "負面", "中性")}
#: sentiment_hant.jsonl is sentiment.jsonl converted with OpenCC s2t (texts and labels).
_SENTIMENT_DATA = {"zh": "sentiment.jsonl", "zh-Hant": "sentiment_hant.jsonl"}


_PACKAGE = "cultura_zh"
_VOCABULARY = {
    "zh": word_list(_PACKAGE, "vocab_hans.txt"),
    "zh-Hant": word_list(_PACKAGE, "vocab_hant.txt"),
}
#: the authored entries in Simplified Chinese; :func:`_entries` converts them per culture
_KNOWLEDGE = knowledge_entries(
    _PACKAGE, "knowledge.jsonl", license=KNOWLEDGE_LICENSE, source=KNOWLEDGE_SOURCE
)


def data_path(name: str) -> Path:
    return data_file(_PACKAGE, name)


def vocabulary(tag: str) -> VocabularyExtension | None:
    """Common characters (and punctuation) of the culture's script, FVT-initialized."""
    tokens = _VOCABULARY.get(tag)
    if tokens is None:
        return None
    script = "Simplified" if tag == "zh" else "Traditional"
    return VocabularyExtension(
        "zh.vocab",
        tokens=tokens,
        init="fvt",
        description=f"{len(tokens())} common {script} characters and Chinese punctuation "
        "(frequencies from jieba's dictionary)",
    )


@cache
def _entries(tag: str) -> tuple[KnowledgeEntry, ...]:
    convert = opencc_convert(OPENCC_PROFILES[tag])
    out = []
    for entry in _KNOWLEDGE():
        text, *tags = convert([entry.text, *entry.tags])
        out.append(replace(entry, text=text, tags=tuple(tags)))
    return tuple(out)


def knowledge(tag: str) -> KnowledgeSource | None:
    """Festivals, honorifics and regional conventions, in the culture's script."""
    if tag not in OPENCC_PROFILES:
        return None
    return KnowledgeSource(
        "zh.culture",
        license=KNOWLEDGE_LICENSE,
        entries=lambda: _entries(tag),
        templates={
            "seq-cls": "{knowledge}",
            "token-cls": "{knowledge}",
            "causal-lm": "背景知识：{knowledge}\n{text}" if tag == "zh" else "背景知識：{knowledge}\n{text}",
        },
        description="festivals, honorifics, regional usage and customs (authored)",
    )


def sentiment_head(tag: str) -> AdapterHeadSpec | None:
    """Three-way sentiment with labels in the culture's script (zh: Simplified, zh-Hant: Traditional)."""
    labels = SENTIMENT_LABELS.get(tag)
    if labels is None:
        return None
    data = _SENTIMENT_DATA[tag]
    return AdapterHeadSpec(
        "sentiment",
        "seq-cls",
        labels=labels,
        sample_data=lambda: data_path(data),
        description=f"three-way sentiment of everyday reviews and statements ({'/'.join(labels)})",
    )
