"""cultura-zh data: vocabulary lists, the knowledge source and the sentiment head.

Everything is loaded lazily from package data (``data/``) when a profile asks for it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

from cultura.core.types import AdapterHeadSpec, KnowledgeEntry, KnowledgeSource, VocabularyExtension
from cultura_zh.normalize import OPENCC_PROFILES, opencc_convert

KNOWLEDGE_LICENSE = "CC-BY-4.0"
KNOWLEDGE_SOURCE = "cultura-zh maintainers (authored)"
SENTIMENT_LABELS = {"zh": ("正面", "负面", "中性"), "zh-Hant": ("正面", "負面", "中性")}
#: sentiment_hant.jsonl is sentiment.jsonl converted with OpenCC s2t (texts and labels).
_SENTIMENT_DATA = {"zh": "sentiment.jsonl", "zh-Hant": "sentiment_hant.jsonl"}


def data_path(name: str) -> Path:
    return Path(str(resources.files("cultura_zh") / "data" / name))


@cache
def _lines(name: str) -> tuple[str, ...]:
    text = data_path(name).read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line.strip())


def vocabulary(tag: str) -> VocabularyExtension | None:
    """Common characters (and punctuation) of the culture's script, FVT-initialized."""
    if tag == "zh":
        name, script = "vocab_hans.txt", "Simplified"
    elif tag == "zh-Hant":
        name, script = "vocab_hant.txt", "Traditional"
    else:
        return None
    return VocabularyExtension(
        "zh.vocab",
        tokens=lambda: _lines(name),
        init="fvt",
        description=f"{len(_lines(name))} common {script} characters and Chinese punctuation "
        "(frequencies from jieba's dictionary)",
    )


@cache
def _entries(tag: str) -> tuple[KnowledgeEntry, ...]:
    convert = opencc_convert(OPENCC_PROFILES[tag])
    out = []
    for line in _lines("knowledge.jsonl"):
        row = json.loads(line)
        text, *tags = convert([row["text"], *row["tags"]])
        out.append(
            KnowledgeEntry(
                id=row["id"],
                text=text,
                tags=tuple(tags),
                source=KNOWLEDGE_SOURCE,
                license=KNOWLEDGE_LICENSE,
            )
        )
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
