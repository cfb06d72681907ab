"""cultura-sw: Swahili (Kiswahili) for cultura.

Cultures: ``sw`` (Swahili, Latin script), ``sw-KE`` (Kenya) and ``sw-TZ`` (Tanzania); the
regional levels add their own knowledge (national days, institutions) on top of ``sw``.

Everything heavy (word lists, knowledge, sample data) is read from package data only when a
hook's result is used, so importing this module is instant.
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
from cultura.core.types import CultureInfo, Normalizer, PeftSpec
from cultura_sw.normalize import fold_apostrophes, tidy_punctuation
from cultura_sw.perturb import PERTURBATIONS

__version__ = "0.1.0"


#: the categories of ``data/bias.json``'s minimal pairs (their ``bias_type``) and their names
PAIR_CATEGORIES: dict[str, str] = {
    "gender": "jinsia",
    "age": "umri",
    "socioeconomic": "hali ya kiuchumi",
}


#: what the pair checks are called, and the two kinds of model they test
PAIR_DESCRIPTION = "jozi ndogo za sentensi (CrowS-Pairs style) kuhusu {what} — {model}"
PAIR_MODELS = {
    "crows_pairs": "modeli ya lugha ya kufichwa",
    "pair_ll": "modeli ya lugha ya kisababishi, uwezekano wa sentensi nzima",
}


class Swahili(Plugin):
    """Swahili: apostrophe and punctuation normalizers, words and morphemes, regional knowledge."""

    CULTURA_API_VERSION = "1.2"  # perturbations
    cultures = (
        CultureInfo("sw", native_name="Kiswahili", description="Swahili, standard (Kiswahili sanifu)"),
        CultureInfo("sw-KE", description="Swahili as used in Kenya"),
        CultureInfo("sw-TZ", description="Swahili as used in Tanzania"),
    )
    data_license = "CC-BY-4.0"
    probes = "probes.txt"  # edge cases of the script, fed to every normalizer by the conformance suite
    normalizers = (
        Normalizer("sw.apostrophe", fold_apostrophes, "word-internal apostrophe variants (ng’ombe, ngʼombe) -> ASCII ' (ng'ombe)"),
        Normalizer("sw.punctuation", tidy_punctuation, "no space before , . ; : ! ? or inside brackets; casing kept"),
    )
    vocabulary = (
        VocabularyFile("sw.words", "vocab_words.txt", "frequent Swahili words missing from English-centric vocabularies"),
        VocabularyFile("sw.morphemes", "vocab_morphemes.txt", "recurring Swahili morphemes (class/subject prefixes, tense "
                       "markers, stems) learned from a 70k-word lexicon"),
    )
    templates = {"seq-cls": "{knowledge}", "causal-lm": "Maarifa: {knowledge}\n{text}"}
    knowledge = {  # one file; rows name their culture
        "sw": KnowledgeFile("sw.culture", "knowledge.jsonl", "Swahili greetings, food, festivals, proverbs and history", select="sw"),
        "sw-KE": KnowledgeFile("sw.kenya", "knowledge.jsonl", "Kenyan national days and institutions", select="sw-KE"),
        "sw-TZ": KnowledgeFile("sw.tanzania", "knowledge.jsonl", "Tanzanian national days and institutions", select="sw-TZ"),
    }
    heads = Head(
        "sentiment", "seq-cls", labels=("chanya", "hasi", "wastani"),  # positive, negative, neutral
        peft=PeftSpec(r=8, alpha=16, dropout=0.1), sample_data="sentiment.jsonl",
        description="hisia ya maandishi: chanya / hasi / wastani",
    )
    perturbations = PERTURBATIONS  # cultura robustness
    bias = BiasFile("bias.json", pairs_checks=category_pair_checks(
        "sw", PAIR_CATEGORIES, PAIR_DESCRIPTION, PAIR_MODELS, without_pair_ll=("age",),
    ))


plugin = Swahili()
plugin.export(globals())
