"""Perturbations of Swahili text (``cultura robustness``): the same sentence as people type it
on phones and keyboards — the apostrophe of ``ng'`` in another shape or left out, everything in
lower case, or shouted in capitals.

* ``sw.apostrophe`` — the apostrophe of ng' (ng'ombe "cow", ng'ambo "abroad") typed as ’, ʼ or
  ` or dropped (ngombe), as on phone keyboards (seeded: one choice per occurrence);
* ``sw.lowercase`` — everything in lower case, as in chat (Nairobi -> nairobi);
* ``sw.uppercase`` — everything in capitals, as in headlines and shouting.
"""

from __future__ import annotations

import random
import re

from cultura.core.types import Perturbation

__all__ = ["APOSTROPHES", "PERTURBATIONS"]

#: what people type for the apostrophe of ng' ("" = left out)
APOSTROPHES: tuple[str, ...] = ("\u2019", "\u02bc", "`", "")
_NG = re.compile(r"(?<=[nN][gG])['\u2019\u02bc`\u00b4](?=[a-zA-Z])")


def vary_apostrophes(text: str, rng: random.Random) -> str:
    """Each ng' apostrophe replaced by one of :data:`APOSTROPHES`."""
    return _NG.sub(lambda _: rng.choice(APOSTROPHES), text)


def lowercase(text: str) -> str:
    return text.lower()


def uppercase(text: str) -> str:
    return text.upper()


PERTURBATIONS: tuple[Perturbation, ...] = (
    Perturbation("sw.apostrophe", vary_apostrophes,
                 "the apostrophe of ng' typed as ’ ʼ ` or left out (ng'ombe -> ngombe)",
                 kind="orthography", seeded=True, rate=1.0),
    Perturbation("sw.lowercase", lowercase, "all lower case, as in chat", kind="casing"),
    Perturbation("sw.uppercase", uppercase, "all capitals, as in headlines", kind="casing"),
)
