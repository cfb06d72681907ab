"""Profiles merge contributions along the fallback chain; more specific wins."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import cultura
from cultura.core.errors import ConflictError, CulturaError, UnknownCultureError
from cultura.core.plugins import PluginManager, PluginWarning
from cultura.core.types import (
    AdapterHeadSpec,
    CultureInfo,
    Normalizer,
    TokenizerTweaks,
    VocabularyExtension,
)


class Layered:
    """An in-code plugin serving zh, zh-Hant and zh-Hant-TW with overlapping keys."""

    CULTURA_API_VERSION = "1.0"

    def __init__(self, name: str) -> None:
        self.name = name

    @cultura.hookimpl
    def cultura_cultures(self):  # type: ignore[no-untyped-def]
        return [CultureInfo("zh"), CultureInfo("zh-Hant"), CultureInfo("zh-TW")]

    @cultura.hookimpl
    def cultura_tokenizer_tweaks(self, culture):  # type: ignore[no-untyped-def]
        tag = culture.tag

        def mark(texts: list[str], tag: str = tag) -> list[str]:
            return [t if t.endswith(f"<{tag}>") else f"{t}<{tag}>" for t in texts]

        normalizers = [Normalizer("t.script", mark)]
        if tag == "zh":
            normalizers.append(Normalizer("t.only-zh", lambda t: t))
        return TokenizerTweaks(
            normalizers=normalizers, vocabulary=[VocabularyExtension("t.vocab", (tag,))]
        )

    @cultura.hookimpl
    def cultura_adapter_heads(self, culture, requested):  # type: ignore[no-untyped-def]
        labels = (f"pos-{culture.tag}", f"asked-{requested.tag}")
        return [AdapterHeadSpec("sentiment", "seq-cls", labels=labels)]


def _pm(*plugins: tuple[object, str]) -> PluginManager:
    pm = PluginManager(entry_points=False)
    for plugin, name in plugins:
        pm.register(plugin, name=name, distribution=f"dist-{name}", version="9.9")
    return pm


def test_more_specific_wins_and_keeps_position() -> None:
    pm = _pm((Layered("a"), "a"))
    profile = cultura.culture("zh-TW", manager=pm)
    assert profile.normalizer_ids == ("und.nfc", "und.whitespace", "t.script", "t.only-zh")
    script = profile.normalizers[2]
    assert script.level == "zh-Hant-TW"
    assert [lvl for _, lvl in script.replaced] == ["zh", "zh-Hant"]
    assert profile.normalize("x") == "x<zh-Hant-TW>"
    assert profile.added_tokens() == ("zh-Hant-TW",)
    assert profile.head("sentiment").labels == ("pos-zh-Hant-TW", "asked-zh-Hant-TW")
    assert profile.normalizers[3].level == "zh"  # inherited from the least specific level


class Variants:
    """Every level gives ``v.script`` with its own variant, and ``v.fold`` without one."""

    CULTURA_API_VERSION = "1.0"

    @cultura.hookimpl
    def cultura_cultures(self):  # type: ignore[no-untyped-def]
        return [CultureInfo("zh"), CultureInfo("zh-Hant"), CultureInfo("zh-TW")]

    @cultura.hookimpl
    def cultura_tokenizer_tweaks(self, culture):  # type: ignore[no-untyped-def]
        variant = {"zh": "t2s", "zh-Hant": "s2t", "zh-Hant-TW": "s2twp"}[culture.tag]

        def mark(texts: list[str], variant: str = variant) -> list[str]:
            return [t if t.endswith(f"<{variant}>") else f"{t}<{variant}>" for t in texts]

        normalizers = [Normalizer("v.script", mark, variant=variant)]
        if culture.tag == "zh":
            normalizers.append(Normalizer("v.fold", lambda t: t))
        return TokenizerTweaks(normalizers=normalizers)


def test_variant_is_not_part_of_the_merge_key() -> None:
    """zh-TW's s2twp replaces zh-Hant's s2t and zh's t2s; only it runs, named in full."""
    profile = cultura.culture("zh-TW", manager=_pm((Variants(), "v")))
    assert profile.normalizer_ids == ("und.nfc", "und.whitespace", "v.script.s2twp", "v.fold")
    script = profile.normalizers[2]
    assert script.key == "v.script" and [lvl for _, lvl in script.replaced] == ["zh", "zh-Hant"]
    assert profile.normalize("x") == "x<s2twp>"
    entry = profile.as_dict()["normalizers"][2]
    assert (entry["key"], entry["id"], entry["variant"]) == ("v.script", "v.script.s2twp", "s2twp")


def test_provenance_recorded() -> None:
    pm = _pm((Layered("a"), "a"))
    data = cultura.culture("zh-TW", manager=pm).as_dict()
    entry = data["normalizers"][2]
    assert (entry["distribution"], entry["version"], entry["level"]) == ("dist-a", "9.9", "zh-Hant-TW")
    assert data["plugins"] == ["cultura 0.1.0", "dist-a 9.9"]


def test_same_key_same_level_from_two_plugins_conflicts() -> None:
    pm = _pm((Layered("a"), "a"), (Layered("b"), "b"))
    with pytest.raises(ConflictError) as info:
        cultura.culture("zh-TW", manager=pm)
    message = str(info.value)
    assert "'t.script'" in message and "dist-a 9.9" in message and "dist-b 9.9" in message
    assert "CULTURA_DISABLE_PLUGINS=b" in message


def test_installed_conflicting_plugin(with_test_plugins: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        pm = PluginManager()
    with pytest.raises(ConflictError) as info:
        cultura.culture("zh", manager=pm)
    assert "cultura-zh 0.1.0" in str(info.value) and "cultura-testconflict 0.3.0" in str(info.value)


def test_unknown_culture_and_task() -> None:
    pm = _pm((Layered("a"), "a"))
    with pytest.raises(UnknownCultureError, match="no installed plugin serves culture 'sw'"):
        cultura.culture("sw", manager=pm)
    with pytest.raises(CulturaError, match="offers no task 'ner'; tasks on offer: sentiment\\."):
        cultura.culture("zh", manager=pm).head("ner")


def test_profiles_are_cached_and_invalidated() -> None:
    pm = _pm((Layered("a"), "a"))
    first = cultura.culture("zh-TW", manager=pm)
    assert cultura.culture("zh-Hant-TW", manager=pm) is first
    pm.disable("a")
    with pytest.raises(UnknownCultureError):
        cultura.culture("zh-TW", manager=pm)


def test_zh_plugin_profile() -> None:
    pm = PluginManager(allowed={"zh"})
    hans = cultura.culture("zh-Hans", manager=pm)
    assert hans.tag == "zh"
    assert hans.normalize("臺灣的軟體") == "台湾的软体"
    assert hans.normalize("ＡＢＣ１２３, 很好,真的!") == "ABC123, 很好，真的！"
    tw = cultura.culture("zh-TW", manager=pm)
    assert tw.normalize("软件和鼠标") == "軟體和滑鼠"
    assert tw.head("sentiment").labels == ("正面", "負面", "中性")
    assert hans.head("sentiment").labels == ("正面", "负面", "中性")
    assert "軟" in tw.added_tokens() and "软" in hans.added_tokens()


class Licensed:
    """A plugin whose head comes with knowledge and bias data under given licences."""

    CULTURA_API_VERSION = "1.0"

    def __init__(self, knowledge_license: str, bias_license: str) -> None:
        self.licenses = (knowledge_license, bias_license)

    @cultura.hookimpl
    def cultura_cultures(self):  # type: ignore[no-untyped-def]
        return [CultureInfo("yo")]

    @cultura.hookimpl
    def cultura_adapter_heads(self):  # type: ignore[no-untyped-def]
        return [AdapterHeadSpec("sentiment", "seq-cls", labels=("rere", "búburú"))]

    @cultura.hookimpl
    def cultura_knowledge(self):  # type: ignore[no-untyped-def]
        from cultura.core.types import KnowledgeEntry, KnowledgeSource

        entry = KnowledgeEntry("yo.1", "Ọdún Ọlọ́jọ́", license=self.licenses[0])
        return [KnowledgeSource("yo.k", license=self.licenses[0], entries=(entry,))]

    @cultura.hookimpl
    def cultura_bias_checks(self):  # type: ignore[no-untyped-def]
        from cultura.core.types import BiasCheck

        return [BiasCheck("yo.g", "gender", "ctf_gap", 0.1, license=self.licenses[1],
                          term_groups={"f": ("a", "b", "c"), "m": ("d", "e", "f")},
                          templates=("{term} x", "{term} y", "{term} z"))]


def test_data_license_is_the_head_plugins_one_licence() -> None:
    same = cultura.culture("yo", manager=_pm((Licensed("CC-BY-4.0", "CC-BY-4.0"), "yo")))
    assert same.data_license("sentiment") == "CC-BY-4.0"
    assert same.data_license("ner") is None  # no such head
    mixed = cultura.culture("yo", manager=_pm((Licensed("CC-BY-4.0", "MIT"), "yo")))
    assert mixed.data_license("sentiment") is None  # the plugin's data disagrees: no guess
