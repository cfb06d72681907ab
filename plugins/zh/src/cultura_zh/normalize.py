"""Chinese normalizers: OpenCC script/region conversion and width folding.

All functions are batched (``list[str] -> list[str]``), pure and idempotent.
"""

from __future__ import annotations

import re
from functools import cache

#: OpenCC configuration per canonical culture tag (the target script/region convention).
OPENCC_PROFILES: dict[str, str] = {
    "zh": "t2s",  # Simplified (mainland, Singapore, Malaysia)
    "zh-Hant": "s2t",  # Traditional, OpenCC standard
    "zh-Hant-TW": "s2twp",  # Taiwan standard characters and Taiwanese phrasing (软件 -> 軟體)
    "zh-Hant-HK": "s2hk",  # Hong Kong variant characters
}

# Full-width ASCII letters and digits (U+FF10-FF19, FF21-FF3A, FF41-FF5A) are written
# half-width by convention in both Simplified and Traditional Chinese text.
_FULLWIDTH_ALNUM = {
    cp: cp - 0xFEE0
    for cp in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]
}
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# ASCII punctuation directly after a Han character is written full-width by convention.
_HALF_PUNCT_AFTER_HAN = re.compile(rf"(?<=[{_CJK}])([,!?:;])(?!\d)")
_TO_FULL = {",": "，", "!": "！", "?": "？", ":": "：", ";": "；"}


@cache
def _converter(profile: str):  # type: ignore[no-untyped-def]
    import opencc  # imported lazily: the plugin must load instantly

    return opencc.OpenCC(profile)


def _convert_text(converter, text: str) -> str:  # type: ignore[no-untyped-def]
    """``text`` converted; OpenCC's multi-step profiles (s2twp, s2hk) stop at a NUL, so the
    parts around each NUL are converted separately."""
    if "\x00" in text:
        return "\x00".join(converter.convert(part) for part in text.split("\x00"))
    return converter.convert(text)


def opencc_convert(profile: str):  # type: ignore[no-untyped-def]
    """A batched OpenCC conversion with ``profile`` (e.g. ``"t2s"``)."""

    def convert(texts: list[str]) -> list[str]:
        if not texts:
            return []
        converter = _converter(profile)
        if not any("\n" in t or "\x00" in t for t in texts):
            # one call into OpenCC for the whole batch; phrases never span a line break
            return converter.convert("\n".join(texts)).split("\n")
        return [_convert_text(converter, t) for t in texts]

    convert.__name__ = f"opencc_{profile}"
    return convert


_NEEDS_FOLD = re.compile(rf"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]|[{_CJK}][,!?:;]")
# a single character class scans much faster than the alternation above: batch pre-check
_MAY_FOLD = re.compile(r"[,!?:;\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")


def _fold(text: str) -> str:
    if not _NEEDS_FOLD.search(text):
        return text
    folded = text.translate(_FULLWIDTH_ALNUM)
    return _HALF_PUNCT_AFTER_HAN.sub(lambda m: _TO_FULL[m.group(1)], folded)


def fold_width(texts: list[str]) -> list[str]:
    """Full-width letters/digits to half-width; ASCII ,!?:; after Han characters to full-width."""
    if not _MAY_FOLD.search("\x00".join(texts)):  # one scan for the common case
        return list(texts)
    return [_fold(t) for t in texts]
