"""The ``cultura_word_rules`` hook: called per fallback level, merged by specificity, stamped
with provenance, offered by declarative plugins through their ``word_rules`` field."""

from __future__ import annotations

import cultura
from cultura.core.declarative import Plugin
from cultura.core.plugins import PluginManager
from cultura.core.types import CultureInfo, WordRules


def _spaces(texts: list[str]) -> list[list[str]]:
    return [text.replace(" ", "\0 \0").split("\0") for text in texts]


def _chars(texts: list[str]) -> list[list[str]]:
    return [list(text) for text in texts]


class Levels:
    CULTURA_API_VERSION = "1.1"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @cultura.hookimpl
    def cultura_cultures(self):  # type: ignore[no-untyped-def]
        return [CultureInfo("sw"), CultureInfo("sw-KE")]

    @cultura.hookimpl
    def cultura_word_rules(self, culture, requested):  # type: ignore[no-untyped-def]
        self.calls.append((culture.tag, requested.tag))
        if culture.tag == "sw":
            return [WordRules("sw.words", _spaces, description="spaces"),
                    WordRules("sw.agree", agree=lambda old, new, after: after)]
        return WordRules("sw.words", _chars, description="characters (Kenya)")


def test_hook_word_rules() -> None:
    plugin = Levels()
    pm = PluginManager(entry_points=False)
    pm.register(plugin, name="sw", distribution="cultura-sw-words", version="3.0")
    assert "cultura_word_rules" in pm.record("sw").hooks
    profile = cultura.culture("sw-KE", manager=pm)
    assert plugin.calls == [("sw", "sw-KE"), ("sw-KE", "sw-KE")]
    by_key = {c.key: c for c in profile.word_rules}
    assert list(by_key) == ["sw.words", "sw.agree"]
    # the more specific level's segmenter replaced the less specific one, keeping its place
    words = by_key["sw.words"]
    assert words.level == "sw-KE" and words.value.segment is _chars
    assert [lvl for _, lvl in words.replaced] == ["sw"]
    assert words.value.provenance == words.provenance
    assert str(words.provenance) == "cultura-sw-words 3.0"
    assert words.value.split(["ab c"]) == [["a", "b", " ", "c"]]
    shown = profile.as_dict()["word_rules"]
    assert [(r["key"], r["segmenter"], r["agreement"]) for r in shown] == [
        ("sw.words", True, False), ("sw.agree", False, True)]
    assert cultura.culture("sw", manager=pm).word_rules[0].value.segment is _spaces


def test_declarative_plugins_offer_their_word_rules() -> None:
    class Words(Plugin):
        CULTURA_API_VERSION = "1.1"
        package = "cultura"
        cultures = (CultureInfo("yo"), CultureInfo("yo-NG"))
        word_rules = {"yo": WordRules("yo.words", _spaces)}

    class NoWords(Plugin):
        CULTURA_API_VERSION = "1.1"
        package = "cultura"
        cultures = CultureInfo("yo")

    namespace: dict[str, object] = {"__name__": "cultura_yo"}
    Words().export(namespace)
    assert callable(namespace["cultura_word_rules"])
    pm = PluginManager(entry_points=False)
    pm.register(Words(), name="yo")
    (rules,) = cultura.culture("yo-NG", manager=pm).word_rules
    assert rules.key == "yo.words" and rules.level == "yo"
    bare: dict[str, object] = {"__name__": "cultura_yo2"}
    NoWords().export(bare)
    assert "cultura_word_rules" not in bare
