"""cultura-zh: Chinese (Simplified and Traditional; mainland, Taiwan, Hong Kong) for cultura.

Cultures: ``zh`` (Simplified; also ``zh-Hans``, ``zh-CN``, ``zh-SG``), ``zh-Hant``,
``zh-Hant-TW`` (``zh-TW``) and ``zh-Hant-HK`` (``zh-HK``).
"""

from __future__ import annotations

from cultura import hookimpl
from cultura.core.tags import Culture
from cultura.core.types import (
    AdapterHeadSpec,
    BiasCheck,
    CultureInfo,
    KnowledgeSource,
    Normalizer,
    TokenizerTweaks,
)
from cultura_zh import bias, content
from cultura_zh.normalize import OPENCC_PROFILES, fold_width, opencc_convert

__version__ = "0.1.0"
CULTURA_API_VERSION = "1.0"


@hookimpl
def cultura_cultures() -> list[CultureInfo]:
    return [
        CultureInfo("zh", description="Chinese, Simplified script (mainland convention)"),
        CultureInfo("zh-Hant", description="Chinese, Traditional script (OpenCC standard)"),
        CultureInfo("zh-TW", description="Chinese as written in Taiwan (Traditional, local phrasing)"),
        CultureInfo("zh-HK", description="Chinese as written in Hong Kong (Traditional, HK variants)"),
    ]


@hookimpl
def cultura_tokenizer_tweaks(culture: Culture) -> TokenizerTweaks | None:
    profile = OPENCC_PROFILES.get(culture.tag)
    if profile is None:
        return None
    normalizers = [
        Normalizer(
            "zh.script",
            opencc_convert(profile),
            f"OpenCC {profile}: convert to the {culture.tag} script/region convention",
        )
    ]
    if culture.tag == "zh":
        normalizers.append(
            Normalizer("zh.width", fold_width, "half-width letters/digits, full-width punctuation")
        )
    vocabulary = content.vocabulary(culture.tag)
    return TokenizerTweaks(
        normalizers=tuple(normalizers), vocabulary=(vocabulary,) if vocabulary else ()
    )


@hookimpl
def cultura_knowledge(culture: Culture) -> list[KnowledgeSource] | None:
    source = content.knowledge(culture.tag)
    return [source] if source else None


@hookimpl
def cultura_adapter_heads(culture: Culture) -> list[AdapterHeadSpec] | None:
    head = content.sentiment_head(culture.tag)
    return [head] if head else None


@hookimpl
def cultura_bias_checks(culture: Culture) -> list[BiasCheck] | None:
    return bias.bias_checks(culture) or None
