"""cultura-hi: Hindi (Devanagari) for cultura.

Culture: ``hi`` (Hindi in Devanagari; ``hi-IN`` falls back to it). Normalizers implement the
Unicode Devanagari rules and the standard Hindi spelling (see :mod:`cultura_hi.normalize`:
nukta decomposition, ZWJ/ZWNJ policy, chandrabindu and anusvara, danda).

Importing this module reads no data: word lists and entries load when a profile uses them.
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
from cultura_hi.normalize import (
    chandrabindu_to_anusvara,
    decompose_nukta,
    nasal_to_anusvara,
    normalize_danda,
    remove_joiners,
)
from cultura_hi.perturb import PERTURBATIONS

__version__ = "0.1.0"


#: the categories of ``data/bias.json``'s minimal pairs (their ``bias_type``) and their names
PAIR_CATEGORIES: dict[str, str] = {
    "gender": "लिंग",
    "age": "आयु",
    "socioeconomic": "आर्थिक वर्ग",
}


#: what the pair checks are called, and the two kinds of model they test
PAIR_DESCRIPTION = "{what} पर न्यूनतम वाक्य-जोड़े (CrowS-Pairs शैली) — {model}"
PAIR_MODELS = {
    "crows_pairs": "मास्क्ड भाषा मॉडल",
    "pair_ll": "कॉज़ल भाषा मॉडल, पूरे वाक्य की लॉग-संभाविता",
}


class Hindi(Plugin):
    """Hindi: Devanagari normalizers, characters and frequent words, knowledge, sentiment, bias."""

    CULTURA_API_VERSION = "1.2"  # perturbations
    cultures = CultureInfo("hi", native_name="हिन्दी", description="Hindi, Devanagari script")
    data_license = "CC-BY-4.0"
    probes = "probes.txt"  # edge cases of the script, fed to every normalizer by the conformance suite
    normalizers = (
        Normalizer("hi.nukta", decompose_nukta, "nukta letters as base + U+093C (क़ -> क + ़)"),
        Normalizer("hi.joiners", remove_joiners, "drop ZWJ/ZWNJ next to Devanagari (rendering only); keep elsewhere"),
        Normalizer("hi.chandrabindu", chandrabindu_to_anusvara, "ँ -> ं over vowel signs above the headline (मेँ -> में)"),
        Normalizer("hi.anusvara", nasal_to_anusvara, "class nasal + virama -> anusvara (हिन्दी -> हिंदी)"),
        Normalizer("hi.danda", normalize_danda, "no space before । ॥; | -> ।, ।। -> ॥ after Devanagari"),
    )
    vocabulary = (
        VocabularyFile("hi.characters", "vocab_characters.txt", "Devanagari letters, signs and digits missing from the base vocabulary"),
        VocabularyFile("hi.words", "vocab_words.txt", "6,000 frequent Hindi words (wordfreq), normalized"),
    )
    templates = {"seq-cls": "{knowledge}", "causal-lm": "जानकारी: {knowledge}\n{text}"}
    knowledge = KnowledgeFile(
        "hi.culture", "knowledge.jsonl", "greetings and etiquette, festivals, national days, language, food, literature"
    )
    heads = Head(
        "sentiment", "seq-cls", labels=("सकारात्मक", "नकारात्मक", "तटस्थ"),  # positive, negative, neutral
        peft=PeftSpec(r=8, alpha=16, dropout=0.1), sample_data="sentiment.jsonl",
        description="भावना वर्गीकरण: सकारात्मक / नकारात्मक / तटस्थ",
    )
    perturbations = PERTURBATIONS  # cultura robustness
    bias = BiasFile("bias.json", pairs_checks=category_pair_checks(
        "hi", PAIR_CATEGORIES, PAIR_DESCRIPTION, PAIR_MODELS,
    ))


plugin = Hindi()
plugin.export(globals())
