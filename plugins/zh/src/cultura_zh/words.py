"""Chinese word segmentation (``zh.words``), so counterfactual augmentation swaps whole words.

Chinese is written without spaces, so a swap term found by its characters alone may sit inside
another word: 他 in 其他 ("other") or 吉他 ("guitar"), 市民 in 本市民营企业 (本市 / 民营企业).
:func:`segment` splits text into words with jieba's dictionary (MIT licence; dictionary
mode, without its HMM guessing of unknown words, so that the split is the same on every run),
and the core's counterfactual augmentation swaps a term only where it starts and ends on a word
boundary.

The words are jieba's judgement: a compound its dictionary lacks may split at the wrong place
(老年人口 "elderly population" reads 老年人 / 口), and a term jieba joins to its neighbour is not
swapped (她家 "her home" is one word). Regional words it lacks are the same: Hong Kong's 結他
("guitar", mainland 吉他) reads 结 / 他, so its 他 would be swapped.

Traditional text is segmented through its Simplified form (OpenCC ``t2s``, which keeps the
length of nearly every text; one whose length changes is segmented as it is), since jieba's
dictionary is mostly Simplified: 農民工 would otherwise split as 農 / 民工.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cultura.core.types import WordRules
from cultura_zh.normalize import opencc_convert

__all__ = ["segment", "WORD_RULES"]

_to_simplified = opencc_convert("t2s")


@cache
def _tokenizer() -> Any:
    """jieba's tokenizer with its default dictionary, loaded once (about a second)."""
    import logging

    import jieba  # imported lazily: the plugin must load instantly

    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict..." lines on stderr
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def segment(texts: list[str]) -> list[list[str]]:
    """Each text's words, in order; joined they give the text back exactly."""
    if not texts:
        return []
    tokenizer = _tokenizer()
    simplified = _to_simplified(list(texts))
    out: list[list[str]] = []
    for text, plain in zip(texts, simplified, strict=True):
        source = plain if len(plain) == len(text) else text
        words, at = [], 0
        for word in tokenizer.cut(source, HMM=False):
            words.append(text[at : at + len(word)])
            at += len(word)
        out.append(words)
    return out


#: what the plugin declares for ``zh`` (every Chinese culture inherits it)
WORD_RULES = WordRules("zh.words", segment,
                       description="jieba word segmentation (Traditional through its Simplified form)")
