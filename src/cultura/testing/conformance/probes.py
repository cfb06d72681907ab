"""Probe texts, the probe file format, and the rule a normalized text must satisfy.

A *probe* is a text made to trip a normalizer up. The normalizer checks feed every
normalizer three sets of texts: the suite's own :data:`BUILTIN_PROBES`, the plugin's probes
(the probe file its ``CULTURA_PROBES`` attribute names; a declarative plugin sets it with
``probes = "probes.txt"``) and the texts the plugin ships.

Probe file format (UTF-8)::

    # comment lines start with '#'; empty lines are skipped
    한\\u3164글            <- escapes keep invisible characters readable
    \\N{HANGUL FILLER}
    \\#hashtag            <- a probe that starts with '#'

Every other line is one probe, verbatim (leading and trailing spaces included; a CR before
the line feed is dropped), with these escapes decoded: ``\\uXXXX``, ``\\UXXXXXXXX``,
``\\xXX``, ``\\N{NAME}``, ``\\t``, ``\\n``, ``\\r``, ``\\\\`` and ``\\#``.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from cultura.core.builtin import fold_whitespace
from cultura.core.errors import DataError

__all__ = [
    "BUILTIN_PROBES",
    "CONTEXTS",
    "EDGE_TEXTS",
    "FILLERS",
    "PROBES_ATTRIBUTE",
    "SPECIAL_CHARACTERS",
    "added_invisible",
    "chain_problem",
    "read_probes",
    "show",
    "whitespace_problem",
]

#: The attribute of a plugin (module or declarative instance) naming its probe file.
PROBES_ATTRIBUTE = "CULTURA_PROBES"

#: Letters that show as blank (Default_Ignorable_Code_Point): the Hangul fillers U+115F,
#: U+1160, U+3164 and U+FFA0.
FILLERS = frozenset("\u115f\u1160\u3164\uffa0")
_SHOW_FILLERS = {ord(c): f"\\u{ord(c):04x}" for c in FILLERS}

#: Characters normalizers trip over, by class; each is probed alone and in :data:`CONTEXTS`.
SPECIAL_CHARACTERS: dict[str, str] = {
    "no-break and wide spaces": "\u00a0\u202f\u2007\u2009\u200a\u1680\u205f\u3000",
    "tabs and line breaks": "\t\n\r\x0b\x0c\x1c\x85\u2028\u2029",
    "zero-width characters and BOM": "\u200b\u200c\u200d\u2060\ufeff",
    "Hangul fillers": "\u3164\u115f\u1160\uffa0",
    "soft hyphen": "\u00ad",
    "directional marks": "\u200e\u200f\u061c\u202a\u202b\u202c\u2066\u2067\u2069",
    "combining marks": "\u0301\u0308\u0323\u064b\u064e\u0651\u0670\u093c\u094d\u0901\u3099\u309a",
    "tatweel": "\u0640",
    "variation selectors": "\ufe0e\ufe0f",
    "full-width and half-width forms": "\uff01\uff0c\uff1f\uff5e\uffe3\uff70\uff9e\uff61",
    "dashes, tildes and long-vowel marks": "-\u2010\u2013\u2014\u2015\u2212\u30fc~\u301c",
    "apostrophes and danda": "'\u2019\u2018\u02bc`\u00b4|\u0964\u0965",
    "C0 and C1 controls": "\x00\x1b\x7f\x80\x9f",
}

#: Where each special character ``{c}`` is put, between letters ``{a}`` and ``{b}`` of one script.
CONTEXTS: tuple[str, ...] = ("{c}", "{a}{c}{b}", "{a} {c} {b}", "{c}{a} {b}", "{a} {b}{c}", " {c} ")

#: Letter pairs of the scripts the contexts are filled with: Latin, Han, Hangul, Arabic,
#: Devanagari, katakana, Hiragana.
SCRIPT_LETTERS: tuple[tuple[str, str], ...] = (
    ("a", "B"), ("中", "文"), ("한", "글"), ("ب", "ت"), ("क", "ख"), ("カ", "ナ"), ("す", "ご"),
)

#: Whole probes: empty and blank texts, mixed scripts, astral characters, width and
#: compatibility forms, casing.
EDGE_TEXTS: tuple[str, ...] = (
    "",
    " ",
    "a",
    "Hello, World! 123",
    "  leading and trailing  ",
    "tabs\tand\nnewlines",
    "café naïve Ångström",
    "cafe\u0301",  # decomposed é
    "emoji 👍🏽 and 👨\u200d👩\u200d👧",
    "zero\u200bwidth\u200cnon\u200djoiner",
    "ｆｕｌｌ－ｗｉｄｔｈ　ＡＢＣ１２３",
    "ｶﾀｶﾅ ﾊﾝｶｸ",
    "مرحبا بالعالم",
    "हिन्दी क़लम",
    "中文，日本語。한국어",
    "Kiswahili ng’ombe",
    "~〜～‐-–—ー",
    "\u0640\u0640\u0640",
    "123,456.78 %",
    # blank texts of every kind
    "\t \n",
    "\r\n",
    "\u3000\u3000",
    "\u00a0\u200b\ufeff",
    "\u3164",
    # stacked marks, conjoining jamo, astral characters, emoji sequences
    "e\u0301\u0323 a\u030a \u0915\u093c\u094d",
    "\u1100\u1161\u11a8 \u1112\u1161\u11ab",
    "CJK Ext-B 𠀀𠮷𪚥 and 𝐀𝟘",
    "🇰🇪 ❤\ufe0f 👩🏽\u200d💻",
    # width, compatibility and presentation forms
    "！？｡｢｣､･ ｶﾞｷﾞ ﾊﾟﾋﾟ",
    "(￣▽￣) ～ ＿",
    "هَذَا ﻻ ﷺ ﹰ ـــ",
    "ﬁ ﬀ Ⅻ ① ㈱ ㍻",
    # casing
    "I\u0307 İ ı ß ẞ ς Σ",
)


def _builtin_probes() -> tuple[str, ...]:
    texts = list(EDGE_TEXTS)
    for chars in SPECIAL_CHARACTERS.values():
        for c in chars:
            for a, b in SCRIPT_LETTERS:
                texts.extend(context.format(a=a, b=b, c=c) for context in CONTEXTS)
    return tuple(dict.fromkeys(texts))


#: Every built-in probe: :data:`EDGE_TEXTS`, then each of :data:`SPECIAL_CHARACTERS` in
#: each of :data:`CONTEXTS` with each pair of :data:`SCRIPT_LETTERS`.
BUILTIN_PROBES: tuple[str, ...] = _builtin_probes()

_ESCAPE = re.compile(
    r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|x([0-9A-Fa-f]{2})|N\{([^}]*)\}|(.)|$)"
)
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\", "#": "#"}
_ESCAPES_HELP = r"\uXXXX, \UXXXXXXXX, \xXX, \N{NAME}, \t, \n, \r, \\ and \#"


def _decode(line: str, where: str) -> str:
    """``line`` with its escapes decoded; DataError (naming ``where``) on a bad one."""

    def one(match: re.Match[str]) -> str:
        hex4, hex8, hex2, name, simple = match.groups()
        if name is not None:
            try:
                return unicodedata.lookup(name)
            except KeyError:
                raise DataError(
                    f"{where}: unknown character name \\N{{{name}}}; use the name in the "
                    "Unicode character database or a \\uXXXX escape"
                ) from None
        code = hex4 or hex8 or hex2
        if code is not None:
            value = int(code, 16)
            if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
                raise DataError(
                    f"{where}: {match.group(0)} is not a character (surrogate or beyond "
                    "U+10FFFF); write an astral character as \\UXXXXXXXX or as itself"
                )
            return chr(value)
        if simple in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[simple]
        shown = f"\\{simple}" if simple else "a backslash at the end of the line"
        raise DataError(
            f"{where}: unknown escape {shown!r}; escapes are {_ESCAPES_HELP} (write a backslash "
            "as \\\\)"
        )

    return _ESCAPE.sub(one, line)


def read_probes(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The probes of a probe file (format: this module's docstring), in file order.

    Raises :class:`~cultura.core.errors.DataError` naming the file and line when the file is
    missing, not UTF-8 or has a bad escape.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: no such probe file; put it in the plugin's data/ folder and list it in "
            "[tool.setuptools.package-data]"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8; re-save the file as UTF-8") from None
    probes = []
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if line and not line.startswith("#"):
            probes.append(_decode(line, f"{path}:{lineno}"))
    return tuple(probes)


def show(text: str) -> str:
    """``repr(text)`` with the Hangul fillers escaped too (``repr`` escapes every other
    invisible character), for failure messages."""
    return repr(text).translate(_SHOW_FILLERS)


# --------------------------------------------------------------------- the output rule
@cache
def _folded_by_und(char: str) -> bool:
    """Whether the built-in ``und.whitespace`` folds ``char`` (``\\s``, U+200B, U+FEFF)."""
    return fold_whitespace([char]) == [""]


def _describe(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed')}"


def whitespace_problem(text: str) -> str | None:
    """What the built-in ``und.whitespace`` would still change in ``text``, or ``None``.

    The rule: no white space at either end, no run of two white-space characters, and no
    white-space character but U+0020 (``und.whitespace`` folds every ``\\s`` character,
    U+200B and U+FEFF to one space and strips the ends).
    """
    if fold_whitespace([text]) == [text]:  # one regex pass for the usual, clean case
        return None
    last = len(text) - 1
    for i, char in enumerate(text):
        if not _folded_by_und(char):
            continue
        if i == 0:
            return f"starts with {_describe(char)}"
        if i == last:
            return f"ends with {_describe(char)}"
        if _folded_by_und(text[i + 1]):
            return f"has two white-space characters in a row at offset {i}"
        if char != " ":
            return f"has {_describe(char)} at offset {i}, which und.whitespace makes a space"
    return None


def added_invisible(before: str, after: str) -> str | None:
    """The first control or format character (Cc, Cf) that ``after`` holds more often than
    ``before``, described, or ``None``."""
    for char in dict.fromkeys(c for c in after if unicodedata.category(c) in ("Cc", "Cf")):
        if after.count(char) > before.count(char):
            return f"adds {_describe(char)}, an invisible character the input did not have"
    return None


def chain_problem(steps: Sequence[tuple[str, str]]) -> tuple[int, str] | None:
    """What spoils the output of a normalizer chain, and which step is at fault.

    ``steps`` are the (input, output) pairs of each normalizer of the chain, in order. The
    final output must meet the white-space rule (:func:`whitespace_problem`) and hold no
    control or format character the chain's input did not have (:func:`added_invisible`).
    When it does not, the fault lies with the last step that added an invisible character,
    or whose input met the white-space rule while its output does not. Returns ``None`` for
    a clean output, else ``(index of that step, what is wrong with the output)``, the index
    being -1 when no step is at fault (no normalizer of the chain folds white space).
    """
    if not steps:
        return None
    first, final = steps[0][0], steps[-1][1]
    problem = whitespace_problem(final) or added_invisible(first, final)
    if problem is None:
        return None
    culprit = -1
    for index, (before, after) in enumerate(steps):
        if added_invisible(before, after) or (
            whitespace_problem(before) is None and whitespace_problem(after) is not None
        ):
            culprit = index
    return culprit, problem
