"""Declarative plugins: hooks derived from a Plugin subclass, overrides, export, and errors."""

from __future__ import annotations

import json
import sys
import types
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cultura import (
    BiasFile,
    CultureInfo,
    DeclarationError,
    Head,
    KnowledgeFile,
    Normalizer,
    Plugin,
    VocabularyFile,
    hookimpl,
)
from cultura.core.plugins import PluginManager, PluginWarning
from cultura.core.profile import build_profile
from cultura.core.tags import Culture
from cultura.core.types import AdapterHeadSpec, TokenizerTweaks

PACKAGE = "cultura_decltest"
KNOWLEDGE = [
    {"culture": "yo", "id": "yo.greeting", "text": "Ẹ káàárọ̀", "tags": ["greeting"], "source": "authors"},
    {"culture": "yo-BJ", "id": "yo.bj.city", "text": "Porto-Novo", "tags": ["city"], "source": "authors"},
]
BIAS = {
    "counterfactual": [{
        "id": "yo.gender", "category": "gender", "metric": "ctf_gap", "threshold": 0.1,
        "term_groups": {"f": ["Obìnrin", "Ìyá mi", "Ọmọbìnrin"], "m": ["Ọkùnrin", "Bàbá mi", "Ọmọkùnrin"]},
        "templates": ["{term} wá.", "{term} lọ.", "{term} jẹun."],
    }],
    "pairs": [{"more": "Obìnrin kò lè wa mọ́tò.", "less": "Ọkùnrin kò lè wa mọ́tò."}],
}
PAIRS_CHECK = {"id": "yo.pairs", "category": "gender", "metric": "crows_pairs", "threshold": 10.0}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An importable package ``cultura_decltest`` with data files; yields its data folder."""
    root = tmp_path_factory.mktemp("declarative")
    folder = root / PACKAGE / "data"
    folder.mkdir(parents=True)
    (root / PACKAGE / "__init__.py").write_text("", encoding="utf-8")
    (folder / "vocab.txt").write_text("# Yoruba words\nọjà\nẹ̀kọ́\n", encoding="utf-8")
    (folder / "knowledge.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in KNOWLEDGE), encoding="utf-8"
    )
    rows = [{"text": f"ọ̀rọ̀ {i}", "label": label} for i in range(3) for label in ("rere", "búburú")]
    (folder / "sentiment.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    (folder / "bias.json").write_text(json.dumps(BIAS, ensure_ascii=False), encoding="utf-8")
    (folder / "broken.json").write_text('{"counterfactual": [{"id": "yo.x"}]}', encoding="utf-8")
    (folder / "probes.txt").write_text("e\\u0329 ẹ\n", encoding="utf-8")
    sys.path.insert(0, str(root))
    yield folder
    sys.path.remove(str(root))
    sys.modules.pop(PACKAGE, None)


def upper(texts: list[str]) -> list[str]:
    return [t.upper() for t in texts]


def fold_dots(texts: list[str]) -> list[str]:
    return [t.replace("\u0329", "\u0323") for t in texts]


def declaration(**fields: Any) -> type[Plugin]:
    """A complete Yoruba declaration (yo, yo-BJ); ``fields`` replace or add class attributes."""
    body: dict[str, Any] = {
        "CULTURA_API_VERSION": "1.0",
        "package": PACKAGE,
        "cultures": (CultureInfo("yo", description="Yoruba"), CultureInfo("yo-BJ")),
        "data_license": "CC-BY-4.0",
        "templates": {"causal-lm": "Ìmọ̀: {knowledge}\n{text}"},
        "normalizers": {
            "yo": Normalizer("yo.dots", fold_dots, "dot look-alikes"),
            "yo-BJ": Normalizer("yo.bj.upper", upper),
        },
        "vocabulary": VocabularyFile("yo.words", "vocab.txt", "frequent words", normalize=upper),
        "split_patterns": r"\d+",
        "knowledge": {
            "yo": KnowledgeFile("yo.culture", "knowledge.jsonl", "customs", select="yo"),
            "yo-BJ": KnowledgeFile("yo.benin", "knowledge.jsonl", templates={}, select="yo-BJ",
                                   normalize=upper),
        },
        "heads": Head("sentiment", "seq-cls", labels=("rere", "búburú"), sample_data="sentiment.jsonl"),
        "bias": BiasFile("bias.json", pairs_check=PAIRS_CHECK),
    }
    body.update(fields)
    return type("Yoruba", (Plugin,), body)


def registered(plugin: object) -> PluginManager:
    pm = PluginManager(entry_points=False, strict=True)
    pm.register(plugin, name="yo", distribution="cultura-yo", version="0.1.0")
    return pm


def test_the_derived_hooks_give_what_is_declared(data: Path) -> None:
    pm = registered(declaration()())
    record = pm.record("yo")
    assert record.status == "active" and record.cultures == ("yo", "yo-BJ")
    assert len(record.hooks) == 5
    profile = build_profile("yo-BJ", pm)
    assert [(c.key, c.level) for c in profile.normalizers][2:] == [("yo.dots", "yo"), ("yo.bj.upper", "yo-BJ")]
    assert profile.normalize("e\u0329") == "E\u0323"
    assert profile.added_tokens() == ("ỌJÀ", "Ẹ̀KỌ́")
    assert [c.value for c in profile.split_patterns] == [r"\d+"]
    culture, benin = (c.value for c in profile.knowledge)
    assert [e.text for e in culture.resolve()] == ["Ẹ káàárọ̀"]
    assert dict(culture.templates) == {"causal-lm": "Ìmọ̀: {knowledge}\n{text}"}  # the plugin's
    assert [(e.text, e.tags, e.license) for e in benin.resolve()] == [("PORTO-NOVO", ("CITY",), "CC-BY-4.0")]
    assert dict(benin.templates) == {}  # its own
    head = profile.head("sentiment")
    assert head.labels == ("rere", "búburú") and head.sample_data() == data / "sentiment.jsonl"
    checks = {c.key: c.value for c in profile.bias_checks}
    assert checks["yo.gender"].license == "CC-BY-4.0" and len(checks["yo.pairs"].pairs) == 1


def test_data_is_read_when_a_result_is_used_not_before(data: Path) -> None:
    plugin = declaration()()
    (data / "vocab.txt").write_text("àṣà\n", encoding="utf-8")
    try:
        (tweaks,) = [plugin.cultura_tokenizer_tweaks(Culture.parse("yo"))]
        assert tweaks.vocabulary[0].resolve() == ("ÀṢÀ",)
    finally:
        (data / "vocab.txt").write_text("# Yoruba words\nọjà\nẹ̀kọ́\n", encoding="utf-8")


def test_hooks_with_nothing_declared_are_not_offered(data: Path) -> None:
    plugin = declaration(vocabulary=(), split_patterns=(), knowledge=(), heads=(), bias={})()
    assert registered(plugin).record("yo").hooks == ("cultura_cultures", "cultura_tokenizer_tweaks")
    assert plugin.cultura_knowledge is None


def test_registrations_can_be_given_as_they_are(data: Path) -> None:
    spec = AdapterHeadSpec("topic", "seq-cls", labels=("a", "b"))
    pm = registered(declaration(heads={"yo-BJ": [spec]})())
    assert build_profile("yo-BJ", pm).head("topic") is spec
    assert "topic" not in [c.key for c in build_profile("yo", pm).heads]


def test_a_hand_written_override_wins_and_can_extend_the_declared_result(data: Path) -> None:
    class Dynamic(declaration()):  # type: ignore[misc]
        @hookimpl
        def cultura_tokenizer_tweaks(self, culture: Culture, requested: Culture) -> TokenizerTweaks | None:
            tweaks = super().cultura_tokenizer_tweaks(culture)
            if tweaks is None or requested.tag != "yo":
                return tweaks
            return replace(tweaks, normalizers=(*tweaks.normalizers, Normalizer("yo.only", upper)))

        @hookimpl
        def cultura_adapter_heads(self) -> list[AdapterHeadSpec]:
            return [AdapterHeadSpec("sentiment", "seq-cls", labels=("dára", "burú"))]

    pm = registered(Dynamic())
    assert build_profile("yo", pm).normalizer_ids[-1] == "yo.only"
    assert "yo.only" not in build_profile("yo-BJ", pm).normalizer_ids
    assert build_profile("yo", pm).head("sentiment").labels == ("dára", "burú")


def test_export_makes_the_module_the_plugin(data: Path) -> None:
    module = types.ModuleType("cultura_yo_exported")
    plugin = declaration(bias=())()
    plugin.export(vars(module))
    assert module.CULTURA_API_VERSION == "1.0" and not hasattr(module, "cultura_bias_checks")
    pm = registered(module)
    assert pm.record("yo").module == "cultura_yo_exported"
    assert build_profile("yo", pm).head("sentiment").labels == ("rere", "búburú")
    with pytest.raises(DeclarationError, match=r"Yoruba\.CULTURA_API_VERSION: module cultura_yo_exported already"):
        plugin.export(vars(module))


def test_probes_name_a_data_file_that_the_plugin_and_its_module_carry(data: Path) -> None:
    plugin = declaration(probes="probes.txt")()
    assert plugin.CULTURA_PROBES == data / "probes.txt"
    module = types.ModuleType("cultura_yo_probed")
    plugin.export(vars(module))
    assert module.CULTURA_PROBES == data / "probes.txt"
    bare, without = types.ModuleType("cultura_yo_bare"), declaration()()
    without.export(vars(bare))
    assert without.CULTURA_PROBES is None and not hasattr(bare, "CULTURA_PROBES")


BAD = {
    "unknown culture level": (
        {"knowledge": {"fr": KnowledgeFile("yo.fr", "knowledge.jsonl")}},
        r"Yoruba\.knowledge: culture 'fr' is not declared in cultures \(yo, yo-BJ\)",
    ),
    "not a tag": ({"heads": {"not a tag!": ()}}, r"Yoruba\.heads: key 'not a tag!'"),
    "level given twice": (
        {"normalizers": {"yo": (), "YO": ()}}, r"Yoruba\.normalizers: culture 'yo' is given twice"
    ),
    "missing data file": (
        {"vocabulary": VocabularyFile("yo.words", ("vocab.txt", "missing.txt"))},
        r"Yoruba\.vocabulary: culture 'yo': VocabularyFile 'yo.words': .*missing\.txt does not exist; put",
    ),
    "head without labels": (
        {"heads": Head("sentiment", "seq-cls")},
        r"Yoruba\.heads: culture 'yo': Head 'sentiment': AdapterHeadSpec\.labels: a seq-cls head needs",
    ),
    "wrong item type": (
        {"normalizers": [upper]}, r"Yoruba\.normalizers: culture 'yo': expected Normalizer"
    ),
    "bad template": (
        {"templates": {"seq-cls": "no placeholder"}},
        r"Yoruba\.knowledge: culture 'yo': KnowledgeFile 'yo.culture': KnowledgeSource\.templates",
    ),
    "bad split pattern": ({"split_patterns": "("}, r"Yoruba\.split_patterns: culture 'yo': '\('"),
    "no license": (
        {"data_license": ""}, r"Yoruba\.knowledge: culture 'yo': KnowledgeFile 'yo.culture': has no license"
    ),
    "no cultures": ({"cultures": ()}, r"Yoruba\.cultures: must hold at least one CultureInfo"),
    "no API version": ({"CULTURA_API_VERSION": None}, r"Yoruba\.CULTURA_API_VERSION: is missing"),
    "misspelled field": ({"vocabluary": ()}, r"Yoruba\.vocabluary: is not a declaration field; did you mean 'vocabulary'"),
    "missing probe file": (
        {"probes": "missing.txt"},
        r"Yoruba\.probes: probe file 'missing.txt': .*missing\.txt does not exist; put 'missing.txt' in the data/",
    ),
    "probes not a file name": ({"probes": ["probes.txt"]}, r"Yoruba\.probes: must be the name of a file in data/"),
    "bad package": ({"package": "no_such_package_xyz"}, r"Yoruba\.package: .*set package ="),
}


@pytest.mark.parametrize("fields,message", BAD.values(), ids=BAD.keys())
def test_a_bad_declaration_names_the_class_and_the_field(data: Path, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(DeclarationError, match=message):
        declaration(**fields)()


def test_hooks_must_be_marked_and_exist(data: Path) -> None:
    def cultura_knowledge(self: Plugin, culture: Culture) -> None:
        return None

    with pytest.raises(DeclarationError, match=r"Yoruba\.cultura_knowledge: overrides a hook without @hookimpl"):
        declaration(cultura_knowledge=cultura_knowledge)()
    with pytest.raises(DeclarationError, match=r"Yoruba\.cultura_bias_check: .*did you mean cultura_bias_checks"):
        declaration(cultura_bias_check=hookimpl(cultura_knowledge))()


def test_a_bad_data_file_is_reported_at_hook_call_time_naming_the_plugin(data: Path) -> None:
    pm = PluginManager(entry_points=False, strict=False)
    pm.register(declaration(bias=BiasFile("broken.json"))(), name="yo")
    with pytest.warns(PluginWarning, match=r"plugin 'yo'.* in hook cultura_bias_checks\(\): .*broken\.json"):
        _, failures = pm.call("cultura_bias_checks", "yo")
    assert failures


def test_a_broken_declaration_fails_its_plugins_import_only(tmp_path: Path, data: Path) -> None:
    """The entry point's import raises the DeclarationError; the manager attributes it."""
    (tmp_path / "cultura_brokendecl.py").write_text(
        "from cultura import CultureInfo, Head, Plugin\n"
        "class Broken(Plugin):\n"
        "    CULTURA_API_VERSION = '1.0'\n"
        "    cultures = CultureInfo('yo')\n"
        "    heads = Head('sentiment', 'seq-cls')\n"
        "Broken().export(globals())\n",
        encoding="utf-8",
    )
    dist = tmp_path / "cultura_brokendecl-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cultura-brokendecl\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[cultura]\nbrokendecl = cultura_brokendecl\n", encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pm = PluginManager(allowed={"brokendecl"}, disabled=(), strict=False)
    finally:
        sys.path.remove(str(tmp_path))
    record = pm.record("brokendecl")
    assert record.status == "error"
    assert "Broken.heads: culture 'yo': Head 'sentiment': AdapterHeadSpec.labels" in (record.error or "")
    assert any("brokendecl" in str(w.message) for w in caught)
