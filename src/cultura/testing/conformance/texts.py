"""Texts gathered from a plugin's own registrations, seeded random mixes of their characters,
and the small readers the checks share."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["bias_texts", "fill", "fuzz", "head_texts", "knowledge_texts", "read_jsonl"]

#: Code points mixed into the random texts: joiners, tatweel, nukta, combining marks,
#: voicing and long-vowel marks, tildes, punctuation and apostrophes.
_SPECIALS = "\u200c\u200d\u0640\u093c\u0301\u3099\uff70\uff5e\u301c -.,'’"


def fuzz(texts: Sequence[str], *, n: int, seed: int) -> list[str]:
    """Seeded random strings mixing the characters of ``texts`` with tricky code points."""
    chars = sorted({c for t in texts for c in t}) or list("abc")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.randint(1, 24)
        out.append(
            "".join(
                rng.choice(_SPECIALS) if rng.random() < 0.15 else rng.choice(chars)
                for _ in range(length)
            )
        )
    return out


def knowledge_texts(source: Any) -> list[str]:
    """The first 100 entry texts of a knowledge source."""
    return [e.text for e in source.resolve()][:100]


def head_texts(spec: Any) -> list[str]:
    """The first 100 texts of an adapter head's sample data (none when it does not parse)."""
    if spec.sample_data is None:
        return []
    try:
        rows = read_jsonl(Path(spec.sample_data()))
    except Exception:
        return []
    return [r["text"] for _, r in rows if isinstance(r.get("text"), str)][:100]


def bias_texts(check: Any) -> list[str]:
    """Templates filled with two terms of each group, and both sides of every minimal pair."""
    out = []
    for template in check.templates:
        for terms in check.term_groups.values():
            out.extend(fill(template, t) for t in terms[:2])
    for pair in check.pairs:
        out.extend((pair.more, pair.less))
    return out


def fill(template: str, term: str) -> str:
    """A bias template with ``{term}`` replaced."""
    return template.replace("{term}", term)


def read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line; AssertionError naming the file and
    line for a line that is not a JSON object."""
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise AssertionError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise AssertionError(f"{path}:{lineno}: expected a JSON object, got {row!r:.60}")
            rows.append((lineno, row))
    return rows
