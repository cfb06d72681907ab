"""The built-in ``und`` plugin: universal normalization every culture inherits.

* ``und.nfc`` — Unicode canonical composition (NFC);
* ``und.whitespace`` — every run of white space (including NBSP, ideographic space and
  zero-width space) becomes one ASCII space, and the ends are stripped.

It serves only ``und``, the last level of every fallback chain. A culture that needs a
different policy overrides these ids (e.g. a plugin keeping ZWNJ registers its own
``und.whitespace``).
"""

from __future__ import annotations

import re
import unicodedata

from cultura.core.hookspecs import hookimpl
from cultura.core.tags import Culture
from cultura.core.types import Normalizer, TokenizerTweaks

# \s covers NBSP and U+3000; zero-width space/BOM are not white space for `re`.
_SPACES = re.compile(r"[\s\u200b\ufeff]+")


def nfc(texts: list[str]) -> list[str]:
    """Unicode NFC of each text."""
    return [unicodedata.normalize("NFC", t) for t in texts]


def fold_whitespace(texts: list[str]) -> list[str]:
    """Collapse white-space runs to one space and strip the ends."""
    joined = "\x00".join(texts)
    if joined.count("\x00") == len(texts) - 1:
        # one regex pass over the batch; NUL is no white space, so runs never cross texts
        return [t.strip() for t in _SPACES.sub(" ", joined).split("\x00")] if texts else []
    return [_SPACES.sub(" ", t).strip() for t in texts]


@hookimpl
def cultura_tokenizer_tweaks(culture: Culture) -> TokenizerTweaks | None:
    if not culture.is_universal:
        return None
    return TokenizerTweaks(
        normalizers=(
            Normalizer("und.nfc", nfc, "Unicode NFC composition"),
            Normalizer("und.whitespace", fold_whitespace, "fold white-space runs to one space"),
        )
    )
