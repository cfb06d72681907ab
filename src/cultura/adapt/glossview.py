"""The gloss view of a text: its words replaced by their dictionary glosses in the base
model's language, so that a base that has never read the script can read what the text says.

``房间很干净，服务态度不错`` reads ``room quite clean ， service attitude pretty good`` through
cultura-zh's CC-CEDICT glosses and jieba words. The view is built only from what a culture's
plugins already declare:

* the words: the culture's word segmenter (``cultura_word_rules``; without one, a boundary
  wherever a letter or digit does not meet another one, and every other character alone);
* the glosses: the :class:`~cultura.core.types.EmbeddingSource` s of kind ``"gloss"`` of the
  culture's vocabulary extensions (the sources that initialize added embedding rows), in the
  order the profile lists them; the first source that knows a word wins.

Each word becomes the first gloss a source gives for it, up to its first ``;`` (a gloss's
first sense). A word no source knows is split into the longest pieces some source knows, left
to right (at most :data:`MAX_PIECE` characters; 服务态度 -> 服务 + 态度), and the characters
no source knows are left out; a word with Latin letters or digits, or none of whose
characters has a gloss (a punctuation mark), is kept as it is. Whitespace is dropped and the view's words are
joined by single spaces.

:class:`~cultura.adapt.wide.WideDeepClassifier` feeds the view to the frozen base encoder
(docs/wide.md). The view is a crude word-by-word translation: it loses word order cues and
picks one sense out of context, and it is only as good as the dictionary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cultura.core.profile import CultureProfile
from cultura.core.types import EmbeddingSource, Provenance, WordRules

__all__ = ["MAX_PIECE", "GlossView", "gloss_view", "segmenter"]

#: the longest piece of an unknown word that is looked up
MAX_PIECE = 4

_DEFAULT_WORDS = re.compile(r"[^\W_]+|\s+|.", re.DOTALL)
_LATIN = re.compile(r"[A-Za-z0-9]")


@dataclass(frozen=True)
class GlossView:
    """A culture's gloss view (see the module docstring); call it on a batch of texts.

    Attributes:
        sources: the gloss sources, first wins, each with the plugin that declared it.
        rules: the word rules whose segmenter splits the text (``None``: the default split).
    """

    sources: tuple[tuple[EmbeddingSource, Provenance], ...]
    rules: WordRules | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        """The sources' labels (``"gloss:cc-cedict"``), as recorded by models that use the view."""
        return tuple(source.label for source, _ in self.sources)

    def words(self, texts: Sequence[str]) -> list[list[str]]:
        """Each text's words (the culture's segmenter, else the default split)."""
        if self.rules is not None:
            return self.rules.split(list(texts))
        return [_DEFAULT_WORDS.findall(text) for text in texts]

    def senses(self, words: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """word -> the glosses of the first source that knows it (its senses, in the source's
        order), for the words some source knows."""
        from cultura.adapt.tokenizer import source_texts

        found: dict[str, tuple[str, ...]] = {}
        todo = list(dict.fromkeys(w for w in words if w.strip()))
        for source, plugin in self.sources:
            todo = [w for w in todo if w not in found]
            if not todo:
                break
            for word, texts in source_texts(source, todo, plugin, "the gloss view").items():
                kept = tuple(t for t in texts if t.strip())
                if kept and kept[0].split(";", 1)[0].strip():
                    found[word] = kept
        return found

    def glosses(self, words: Sequence[str]) -> dict[str, str]:
        """word -> its first gloss's first sense, for the words some source knows."""
        return {w: s[0].split(";", 1)[0].strip() for w, s in self.senses(words).items()}

    def __call__(self, texts: Sequence[str]) -> list[str]:
        split = self.words(texts)
        words = list(dict.fromkeys(w for ws in split for w in ws if w.strip()))
        glossed = self.glosses(words)
        glossed.update(self.glosses([p for w in words if w not in glossed for p in _pieces(w)]))
        out = []
        for ws in split:
            view: list[str] = []
            for word in ws:
                if not word.strip():
                    continue
                if word in glossed:
                    view.append(glossed[word])
                    continue
                parts = [glossed[p] for p in _longest_first(word, glossed)] if len(word) > 1 else []
                view.extend(parts or [word])
            out.append(" ".join(view))
        return out


def _pieces(word: str) -> list[str]:
    """Every substring of ``word`` of 1 to :data:`MAX_PIECE` characters (``word`` excluded;
    none for a word with Latin letters or digits, which is read as it is)."""
    if _LATIN.search(word):
        return []
    return [word[i:j] for i in range(len(word))
            for j in range(i + 1, min(len(word), i + MAX_PIECE) + 1) if j - i < len(word)]


def _longest_first(word: str, known: dict[str, str]) -> list[str]:
    """``word``'s pieces in ``known``, longest match first, left to right (unknown characters
    skipped)."""
    if _LATIN.search(word):
        return []
    pieces, i = [], 0
    while i < len(word):
        for j in range(min(len(word), i + MAX_PIECE), i, -1):
            if word[i:j] in known and j - i < len(word):
                pieces.append(word[i:j])
                i = j
                break
        else:
            i += 1
    return pieces


def gloss_view(profile: CultureProfile) -> GlossView | None:
    """``profile``'s gloss view, or ``None`` when no plugin of the culture declares a gloss
    source."""
    sources: list[tuple[EmbeddingSource, Provenance]] = []
    seen: set[str] = set()
    for contribution in profile.vocabulary:
        for source in contribution.value.init_from:
            if source.kind == "gloss" and source.label not in seen:
                seen.add(source.label)
                sources.append((source, contribution.provenance))
    if not sources:
        return None
    return GlossView(tuple(sources), segmenter(profile))


def segmenter(profile: CultureProfile) -> WordRules | None:
    """The first of ``profile``'s word rules that has a segmenter (``None``: none has)."""
    return next((c.value for c in profile.word_rules if c.value.segment is not None), None)
