"""Japanese normalizers. Batched (``list[str] -> list[str]``), pure and idempotent.

They follow neologdn (the normalizer of mecab-ipadic-neologd, whose rules are at
mecab-ipadic-neologd's wiki page "Regexp.ja"), written from the Unicode Halfwidth and
Fullwidth Forms, Hiragana, Katakana and General Punctuation blocks:

* :func:`fold_dashes` — **long-vowel marks and hyphens.** After katakana, any run of
  long-vowel-like characters (ー U+30FC, ｰ U+FF70, － U+FF0D, ﹣ U+FE63, — U+2014, ― U+2015,
  ─ U+2500, ━ U+2501) becomes one ー (``ウェーーーイ`` → ``ウェーイ``, ``ラ━メン`` →
  ``ラーメン``); after hiragana only the unambiguous ones (ー ｰ － ﹣) do (``すごーーい`` →
  ``すごーい``), because a dash after hiragana is punctuation (``彼は―``); any other run of
  two or more ー becomes one ー. A run of the hyphen-like characters ˗ ֊ ‐ ‑ ‒ – ⁃ ⁻ ₋ −
  (U+02D7, U+058A, U+2010–U+2013, U+2043, U+207B, U+208B, U+2212) becomes one ASCII ``-``.
  Unlike neologdn, dashes outside kana (``A—B``, ``彼は―``) are left alone.
* :func:`fold_tildes` — ~ ∼ ∾ 〜 〰 ～ (U+007E, U+223C, U+223E, U+301C, U+3030, U+FF5E): a run
  becomes one ASCII ``~``. This is neologdn's ``tilde="normalize"``; its default
  (``"remove"``) would turn ``1995〜2001年`` into ``19952001年``.
* :func:`fold_width` — **NFKC width folding** of the Halfwidth and Fullwidth Forms block
  (U+FF01–U+FFEE) only: full-width ASCII letters, digits and symbols become half-width
  (``ＡＢＣ１２３！`` → ``ABC123!``), half-width katakana become full-width with their voicing
  marks composed (``ｶﾞｷﾞ`` → ``ガギ``), half-width Japanese punctuation becomes full-width
  (``｢｣｡､･`` → ``「」。、・``). Characters outside that block are not NFKC-folded (㈱, ①, ㍻
  keep their meaning-bearing forms), nor is ￣ U+FFE3 FULLWIDTH MACRON, whose NFKC is a space
  and a combining macron (it is a drawn line, as in the kaomoji ``(￣▽￣)``); the result is in
  NFC.
* :func:`remove_spaces` — a space between two Japanese characters, or between a Japanese
  character and a Latin one, is removed (``PRML 副 読 本`` → ``PRML副読本``); spaces between
  Latin words stay (``Natural Language Processing``). What the removal brings together is
  folded as above: a run of ー becomes one (``スー ー`` → ``スー``), a voicing mark after its
  kana is composed with it (NFC: ``カ``, space, U+3099 → ``ガ``).
"""

from __future__ import annotations

import re
import unicodedata

KATAKANA = "\u30a1-\u30fa\u30fc-\u30ff\uff66-\uff9f"
KANA = "\u3041-\u309f" + KATAKANA
LONG_VOWEL_LIKE = "\u30fc\uff70\uff0d\ufe63"
DASH_LIKE = "\u2014\u2015\u2500\u2501"
_LONG_AFTER_KATAKANA = re.compile(f"(?<=[{KATAKANA}])[{LONG_VOWEL_LIKE}{DASH_LIKE}]+")
_LONG_AFTER_KANA = re.compile(f"(?<=[{KANA}])[{LONG_VOWEL_LIKE}]+")
_LONG_RUN = re.compile("\u30fc{2,}")
_HYPHENS = re.compile("[\u02d7\u058a\u2010\u2011\u2012\u2013\u2043\u207b\u208b\u2212]+")
_TILDES = re.compile("[~\u223c\u223e\u301c\u3030\uff5e]+")
_WIDE = re.compile("[\uff01-\uffe2\uffe4-\uffee]+")  # all but U+FFE3, see above
JAPANESE = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uffee"
LATIN = "\u0021-\u007e"
_SPACES = re.compile(
    f"(?<=[{JAPANESE}]) +(?=[{JAPANESE}{LATIN}])|(?<=[{LATIN}]) +(?=[{JAPANESE}])"
)


def fold_dashes(texts: list[str]) -> list[str]:
    """Long-vowel-like runs after kana -> ー; ーー+ -> ー; hyphen-variant runs -> ``-``."""
    out = []
    for t in texts:
        t = _LONG_AFTER_KATAKANA.sub("\u30fc", t)
        t = _LONG_AFTER_KANA.sub("\u30fc", t)
        t = _LONG_RUN.sub("\u30fc", t)
        out.append(_HYPHENS.sub("-", t))
    return out


def fold_tildes(texts: list[str]) -> list[str]:
    """Runs of tilde and wave-dash variants -> one ASCII ``~``."""
    return [_TILDES.sub("~", t) for t in texts]


def _nfkc(match: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", match.group(0))


def fold_width(texts: list[str]) -> list[str]:
    """NFKC of the Halfwidth and Fullwidth Forms block but ￣ (ＡＢＣ -> ABC, ｶﾞ -> ガ), then NFC."""
    return [unicodedata.normalize("NFC", _WIDE.sub(_nfkc, t)) for t in texts]


def _remove_spaces(text: str) -> str:
    removed = _SPACES.sub("", text)
    if removed == text:
        return text
    return unicodedata.normalize("NFC", _LONG_RUN.sub("\u30fc", removed))


def remove_spaces(texts: list[str]) -> list[str]:
    """Drop spaces between Japanese characters and between Japanese and Latin ones; a ー run
    or a letter + voicing mark that this brings together is folded (ーー -> ー, NFC)."""
    return [_remove_spaces(t) for t in texts]


def normalize_japanese(texts: list[str]) -> list[str]:
    """The ``ja`` chain without the built-in NFC/white-space steps (used for word lists)."""
    for step in (fold_dashes, fold_tildes, fold_width, remove_spaces):
        texts = step(texts)
    return texts
