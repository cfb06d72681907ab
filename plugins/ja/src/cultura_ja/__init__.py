"""cultura-ja: Japanese for cultura.

Culture: ``ja`` (Japanese; ``ja-JP`` falls back to it). Normalizers follow neologdn (width
folding, long-vowel runs, hyphen and tilde variants, spaces between Japanese characters);
knowledge covers honorific language (敬語, 敬称) and everyday customs.

Importing this module reads no data: lists and entries load when a profile uses them.
"""

from __future__ import annotations

from cultura.core.declarative import BiasFile, Head, KnowledgeFile, Plugin, VocabularyFile
from cultura.core.types import CultureInfo, Normalizer, PeftSpec
from cultura_ja.normalize import fold_dashes, fold_tildes, fold_width, remove_spaces

__version__ = "0.1.0"


class Japanese(Plugin):
    """Japanese: neologdn-style normalizers, kana and kanji, honorifics knowledge, sentiment, bias."""

    CULTURA_API_VERSION = "1.0"
    cultures = CultureInfo("ja", native_name="日本語", description="Japanese")
    data_license = "CC-BY-4.0"
    probes = "probes.txt"  # edge cases of the script, fed to every normalizer by the conformance suite
    normalizers = (
        Normalizer("ja.dashes", fold_dashes, "long-vowel runs after kana -> ー; hyphen variants -> -"),
        Normalizer("ja.tildes", fold_tildes, "~ ∼ ∾ 〜 〰 ～ runs -> ~"),
        Normalizer("ja.width", fold_width, "NFKC of full/half-width forms: ＡＢＣ１２３ -> ABC123, ｶﾞ -> ガ"),
        Normalizer("ja.spaces", remove_spaces, "no spaces between Japanese characters (or Japanese and Latin)"),
    )
    vocabulary = (
        VocabularyFile("ja.kana", "vocab_kana.txt", "kana, iteration marks and brackets missing from the base vocabulary"),
        VocabularyFile("ja.kanji", "vocab_kanji.txt", "jōyō kanji and other frequent kanji missing from the base vocabulary"),
        VocabularyFile("ja.kana_words", "vocab_kana_words.txt", "3,000 frequent words written in kana (particles, endings, loanwords)"),
    )
    templates = {"seq-cls": "{knowledge}", "causal-lm": "参考：{knowledge}\n{text}"}
    knowledge = (  # one file; rows name their source in "source_name"
        KnowledgeFile("ja.honorifics", "knowledge.jsonl", "敬語 (尊敬語・謙譲語・丁寧語), 内と外, 敬称 (さん・様・君・先生), set phrases",
                      select="ja.honorifics", field="source_name"),
        KnowledgeFile("ja.culture", "knowledge.jsonl", "etiquette (お辞儀, 名刺, 上座), meals, annual events, holidays, era names",
                      select="ja.culture", field="source_name"),
    )
    heads = Head(
        "sentiment", "seq-cls", labels=("肯定的", "否定的", "中立"),  # positive, negative, neutral
        peft=PeftSpec(r=8, alpha=16, dropout=0.1), sample_data="sentiment.jsonl",
        description="感情分類：肯定的 / 否定的 / 中立",
    )
    bias = BiasFile("bias.json", pairs_check={
        "id": "ja.stereotypes", "category": "gender", "metric": "crows_pairs", "threshold": 10.0,
        "description": "性別・年齢・出身・国籍についての最小対（CrowS-Pairs 形式）",
    })


plugin = Japanese()
plugin.export(globals())
