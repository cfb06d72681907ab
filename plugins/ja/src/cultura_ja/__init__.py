"""cultura-ja: Japanese for cultura.

Culture: ``ja`` (Japanese; ``ja-JP`` falls back to it). Normalizers follow neologdn (width
folding, long-vowel runs, hyphen and tilde variants, spaces between Japanese characters);
knowledge covers honorific language (敬語, 敬称) and everyday customs. Heads: ``sentiment``
(seq-cls) and ``ner`` (token-cls, BIO tags over the eight IREX types, :data:`NER_TYPES`).

Importing this module reads no data: lists and entries load when a profile uses them.
"""

from __future__ import annotations

from cultura.core.declarative import (
    BiasFile,
    Head,
    KnowledgeFile,
    Plugin,
    VocabularyFile,
    category_pair_checks,
)
from cultura.core.types import CultureInfo, Normalizer, PeftSpec, PromptTemplate
from cultura_ja.normalize import fold_dashes, fold_tildes, fold_width, remove_spaces
from cultura_ja.perturb import PERTURBATIONS

__version__ = "0.1.0"


#: the ``ner`` head's entity types (IREX's eight categories, named in Japanese) -> meaning
NER_TYPES: dict[str, str] = {
    "人名": "person",
    "地名": "location",
    "組織名": "organization",
    "固有物名": "artifact (products, works, titles)",
    "日付": "date",
    "時間": "time of day",
    "金額": "money",
    "割合": "percentage or ratio",
}
NER_LABELS: tuple[str, ...] = ("O", *(f"{bio}-{kind}" for kind in NER_TYPES for bio in "BI"))
#: ``label_map`` (``--label-map``) for the tags of the Hironsan corpus (``hironsancorpus``),
#: whose ``PER`` is *percent* (its persons are ``PSN``); ``O`` needs no mapping
HIRONSAN_LABEL_MAP: dict[str, str] = {
    f"{bio}-{theirs}": f"{bio}-{ours}"
    for theirs, ours in (("PSN", "人名"), ("LOC", "地名"), ("ORG", "組織名"), ("ART", "固有物名"),
                         ("DAT", "日付"), ("TIM", "時間"), ("MON", "金額"), ("PER", "割合"))
    for bio in "BI"
}


#: the categories of ``data/bias.json``'s minimal pairs (their ``bias_type``) and their names
PAIR_CATEGORIES: dict[str, str] = {
    "gender": "性別",
    "age": "年齢",
    "socioeconomic": "経済的地位",
    "nationality": "国籍",
}


#: what the pair checks are called, and the two kinds of model they test
PAIR_DESCRIPTION = "{what}についての最小対（CrowS-Pairs 形式） — {model}"
PAIR_MODELS = {
    "crows_pairs": "マスク言語モデル",
    "pair_ll": "因果言語モデル・文全体の対数尤度",
}


class Japanese(Plugin):
    """Japanese: neologdn-style normalizers, kana and kanji, honorifics knowledge, sentiment, NER,
    bias."""

    CULTURA_API_VERSION = "1.3"  # perturbations (1.2), head prompts (1.3)
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
    templates = {"seq-cls": "{knowledge}", "token-cls": "{knowledge}", "causal-lm": "参考：{knowledge}\n{text}"}
    knowledge = (  # one file; rows name their source in "source_name"
        KnowledgeFile("ja.honorifics", "knowledge.jsonl", "敬語 (尊敬語・謙譲語・丁寧語), 内と外, 敬称 (さん・様・君・先生), set phrases",
                      select="ja.honorifics", field="source_name"),
        KnowledgeFile("ja.culture", "knowledge.jsonl", "etiquette (お辞儀, 名刺, 上座), meals, annual events, holidays, era names",
                      select="ja.culture", field="source_name"),
    )
    heads = (
        Head(
            "sentiment", "seq-cls", labels=("肯定的", "否定的", "中立"),  # positive, negative, neutral
            peft=PeftSpec(r=8, alpha=16, dropout=0.1), sample_data="sentiment.jsonl",
            description="感情分類：肯定的 / 否定的 / 中立",
            prompt=PromptTemplate(  # plugin API 1.3
                "次の文の感情を{labels}のどれか一つで答えてください。", "文：{text}\n感情：{label}", label_separator="・",
                descriptions={"肯定的": "肯定的：満足、好き、称賛", "否定的": "否定的：不満、失望、批判",
                              "中立": "中立：事実の説明、評価なし"},
            ),
        ),
        Head(  # ner.jsonl is built by scripts/build_ner_sample.py from its authored sentences
            "ner", "token-cls", labels=NER_LABELS, sample_data="ner.jsonl",
            description="固有表現抽出（IREX の8種類、BIO タグ: B- 開始, I- 継続, O 外）: "
                        + ", ".join(f"{kind} {meaning}" for kind, meaning in NER_TYPES.items()),
        ),
    )
    perturbations = PERTURBATIONS  # cultura robustness
    bias = BiasFile("bias.json", pairs_checks=category_pair_checks(
        "ja", PAIR_CATEGORIES, PAIR_DESCRIPTION, PAIR_MODELS,
    ))


plugin = Japanese()
plugin.export(globals())
