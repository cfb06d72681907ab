"""cultura-ar: Arabic for cultura.

Cultures: ``ar`` (Modern Standard Arabic, right to left) and ``ar-EG`` (Egypt). ``ar-EG``
inherits everything from ``ar`` and adds the Egyptian conventions: alef maksura folding, a
vocabulary list re-normalized that way plus frequent Egyptian words, and Egyptian knowledge.

Set ``CULTURA_AR_TEH_MARBUTA=1`` to also fold teh marbuta (ة -> ه); it is off by default.
Importing this module reads no data: lists and entries load when a profile uses them.
"""

from __future__ import annotations

import os
from dataclasses import replace

from cultura import hookimpl
from cultura.core.declarative import (
    BiasFile,
    Head,
    KnowledgeFile,
    Plugin,
    VocabularyFile,
    category_pair_checks,
)
from cultura.core.tags import Culture
from cultura.core.types import CultureInfo, Normalizer, PeftSpec, TokenizerTweaks
from cultura_ar.normalize import (
    decompose_ligatures,
    fold_alef,
    fold_alef_maksura,
    fold_teh_marbuta,
    strip_harakat,
    strip_tatweel,
)
from cultura_ar.perturb import PERTURBATIONS, PERTURBATIONS_EG

__version__ = "0.1.0"
TEH_MARBUTA_ENV = "CULTURA_AR_TEH_MARBUTA"


#: the categories of ``data/bias.json``'s minimal pairs (their ``bias_type``) and their names
PAIR_CATEGORIES: dict[str, str] = {
    "gender": "الجنس",
    "age": "العمر",
    "socioeconomic": "الطبقة الاجتماعية",
}


#: what the pair checks are called, and the two kinds of model they test
PAIR_DESCRIPTION = "أزواج جمل متقاربة (على نمط CrowS-Pairs) عن {what} — {model}"
PAIR_MODELS = {
    "crows_pairs": "نموذج لغوي مقنّع",
    "pair_ll": "نموذج لغوي سببي، احتمال الجملة كاملة",
}


class Arabic(Plugin):
    """Arabic (MSA) and Egyptian Arabic; ``ar.teh_marbuta`` is the one dynamic part (see below)."""

    CULTURA_API_VERSION = "1.2"  # perturbations
    cultures = (
        CultureInfo("ar", native_name="العربية", direction="rtl", description="Arabic, Modern Standard (الفصحى)"),
        CultureInfo("ar-EG", native_name="العربية (مصر)", direction="rtl",
                    description="Arabic as written in Egypt (Egyptian spelling conventions and words)"),
    )
    data_license = "CC-BY-4.0"
    probes = "probes.txt"  # edge cases of the script, fed to every normalizer by the conformance suite
    normalizers = {
        "ar": (
            Normalizer("ar.ligatures", decompose_ligatures, "lam-alef (U+FEF5-FEFC) and other presentation forms -> letters"),
            Normalizer("ar.harakat", strip_harakat, "remove harakat, tanween, shadda, sukun, dagger alef"),
            Normalizer("ar.tatweel", strip_tatweel, "remove tatweel/kashida U+0640 joined to letters"),
            Normalizer("ar.alef", fold_alef, "أ إ آ ٱ -> ا"),
        ),
        "ar-EG": Normalizer("ar.alef_maksura", fold_alef_maksura, "ى -> ي (Egyptian spelling)"),
    }
    vocabulary = {
        "ar": (
            VocabularyFile("ar.words", "vocab_words.txt", "frequent Arabic words and clitic-free stems (wordfreq)"),
            VocabularyFile("ar.clitics", ("vocab_clitics.txt", "vocab_punctuation.txt"),
                           "proclitics/enclitics (وال، بال، لل، ها، هم) and Arabic punctuation"),
        ),
        "ar-EG": (
            VocabularyFile("ar.words", "vocab_words.txt", "the ar word list with ى folded to ي, as ar-EG text is normalized",
                           normalize=fold_alef_maksura),
            VocabularyFile("ar.eg.words", "vocab_egyptian.txt", "frequent Egyptian Arabic words (ازاي، دلوقتي، عايز، كده)",
                           normalize=fold_alef_maksura),
        ),
    }
    templates = {"seq-cls": "{knowledge}", "causal-lm": "معلومة: {knowledge}\n{text}"}
    knowledge = {  # one file; rows name their culture
        "ar": KnowledgeFile("ar.culture", "knowledge.jsonl", "greetings, hospitality, feasts, language, food, literature", select="ar"),
        "ar-EG": KnowledgeFile("ar.egypt", "knowledge.jsonl", "Egypt: the Nile, feasts, food, history, dialect, music", select="ar-EG"),
    }
    heads = Head(
        "sentiment", "seq-cls", labels=("إيجابي", "سلبي", "محايد"),  # positive, negative, neutral
        peft=PeftSpec(r=8, alpha=16, dropout=0.1), sample_data="sentiment.jsonl",
        description="تصنيف المشاعر: إيجابي / سلبي / محايد",
    )
    perturbations = {"ar": PERTURBATIONS, "ar-EG": PERTURBATIONS_EG}  # cultura robustness
    bias = BiasFile("bias.json", pairs_checks=category_pair_checks(
        "ar", PAIR_CATEGORIES, PAIR_DESCRIPTION, PAIR_MODELS,
    ))

    @hookimpl
    def cultura_tokenizer_tweaks(self, culture: Culture) -> TokenizerTweaks | None:
        """The declared tweaks, plus ``ar.teh_marbuta`` at ``ar`` when the environment asks."""
        tweaks = super().cultura_tokenizer_tweaks(culture)
        if tweaks is None or culture.tag != "ar" or not _teh_marbuta_enabled():
            return tweaks
        teh = Normalizer("ar.teh_marbuta", fold_teh_marbuta, f"ة -> ه (enabled by {TEH_MARBUTA_ENV})")
        return replace(tweaks, normalizers=(*tweaks.normalizers, teh))


def _teh_marbuta_enabled() -> bool:
    return os.environ.get(TEH_MARBUTA_ENV, "").strip().lower() in ("1", "true", "yes", "on")


plugin = Arabic()
plugin.export(globals())
