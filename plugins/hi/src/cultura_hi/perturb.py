"""Perturbations of Hindi text (``cultura robustness``): the same Devanagari written with
another encoding of nukta letters, without nukta, with visible joiners in conjuncts, with
anusvara for chandrabindu, or with a full stop for the danda.

* ``hi.nukta.precomposed`` — nukta letters as the single code points U+0958-U+095F (ज़ ->
  U+095B), as some keyboards and older text encode them (NFC decomposes them back);
* ``hi.nukta.dropped`` — nukta left out, as often in informal writing (ज़िंदगी -> जिंदगी,
  ख़ुश -> खुश);
* ``hi.joiners`` — ZWJ or ZWNJ after a virama, which shows the half form or the explicit virama
  of a conjunct (क्या -> क्‍या; seeded, 50% of the conjuncts);
* ``hi.chandrabindu`` — chandrabindu written as anusvara (हाँ -> हां, माँ -> मां);
* ``hi.danda`` — the danda typed as a full stop (। -> .).
"""

from __future__ import annotations

import random
import re

from cultura.core.types import Perturbation

__all__ = ["PERTURBATIONS"]

JOINER_RATE = 0.5
NUKTA = "\u093c"
VIRAMA = "\u094d"
#: base letter + nukta -> the precomposed letter (क़ ख़ ग़ ज़ ड़ ढ़ फ़ य़)
_PRECOMPOSED = {f"{base}{NUKTA}": chr(0x0958 + i) for i, base in enumerate("कखगजडढफय")}
_NUKTA_PAIR = re.compile("|".join(_PRECOMPOSED))
_CONJUNCT = re.compile(f"([\u0915-\u0939\u0958-\u095f]{NUKTA}?){VIRAMA}(?=[\u0915-\u0939])")


def precompose_nukta(text: str) -> str:
    """Base + nukta written as the precomposed code point."""
    return _NUKTA_PAIR.sub(lambda m: _PRECOMPOSED[m.group()], text)


def drop_nukta(text: str) -> str:
    """Nukta removed (also from precomposed letters)."""
    plain = {chr(0x0958 + i): base for i, base in enumerate("कखगजडढफय")}
    return "".join(plain.get(c, c) for c in text).replace(NUKTA, "")


def add_joiners(text: str, rng: random.Random) -> str:
    """ZWJ (half form) or ZWNJ (explicit virama) after some conjunct viramas."""

    def joiner(match: re.Match[str]) -> str:
        if rng.random() >= JOINER_RATE:
            return match.group()
        return match.group(1) + VIRAMA + rng.choice(("\u200d", "\u200c"))

    return _CONJUNCT.sub(joiner, text)


def chandrabindu_as_anusvara(text: str) -> str:
    return text.replace("\u0901", "\u0902")


def danda_as_full_stop(text: str) -> str:
    return text.replace("\u0965", "..").replace("\u0964", ".")


PERTURBATIONS: tuple[Perturbation, ...] = (
    Perturbation("hi.nukta.precomposed", precompose_nukta,
                 "nukta letters as precomposed code points (ज़ -> U+095B)", kind="orthography"),
    Perturbation("hi.nukta.dropped", drop_nukta, "nukta left out (ज़िंदगी -> जिंदगी)",
                 kind="diacritics"),
    Perturbation("hi.joiners", add_joiners, "ZWJ/ZWNJ after conjunct viramas (क्या -> क्‍या)",
                 kind="spacing", seeded=True, rate=JOINER_RATE),
    Perturbation("hi.chandrabindu", chandrabindu_as_anusvara, "chandrabindu as anusvara (हाँ -> हां)",
                 kind="diacritics"),
    Perturbation("hi.danda", danda_as_full_stop, "danda typed as a full stop (। -> .)",
                 kind="orthography"),
)
