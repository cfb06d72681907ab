"""cultura.core.plugin_data: package data files, word lists, knowledge JSONL, bias.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import cultura
from cultura.core.errors import DataError
from cultura.core.plugin_data import (
    bias_checks_from_json,
    data_file,
    knowledge_entries,
    read_bias_checks,
    read_knowledge,
    read_word_list,
    word_list,
)
from cultura.core.types import KnowledgeEntry, MinimalPair

PAIRS_CHECK = {"id": "tt.stereotypes", "category": "gender", "metric": "crows_pairs",
               "threshold": 10.0, "description": "pairs"}
BIAS = {
    "counterfactual": [
        {"id": "tt.gender", "category": "gender", "metric": "ctf_gap", "threshold": 0.1,
         "description": "gender", "term_groups": {"f": ["she"], "m": ["he"]},
         "templates": ["{term} works."]},
    ],
    "pairs": [{"more": "A more.", "less": "A less.", "direction": "stereo", "bias_type": "gender"}],
}


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real importable package ``cultura_tt_data`` with a ``data/`` folder, on sys.path."""
    data = tmp_path / "cultura_tt_data" / "data"
    data.mkdir(parents=True)
    (data.parent / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield data
    sys.modules.pop("cultura_tt_data", None)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_data_file_points_into_the_package_data_folder(package: Path) -> None:
    assert data_file("cultura_tt_data", "x.txt") == package / "x.txt"


def test_data_file_of_a_missing_package_says_which(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="'cultura_no_such_pkg'"):
        data_file("cultura_no_such_pkg", "x.txt")


def test_word_list_skips_blank_and_comment_lines_and_reads_lazily(package: Path) -> None:
    tokens = word_list("cultura_tt_data", "words.txt")  # file does not exist yet: nothing read
    _write(package / "words.txt", "# header\nhabari\n\n   \nsana\n#x\nnot # a comment\n")
    assert tokens() == ("habari", "sana", "not # a comment")
    (package / "words.txt").unlink()
    assert tokens() == ("habari", "sana", "not # a comment")  # cached after the first call


def test_word_list_missing_file_names_it(package: Path) -> None:
    with pytest.raises(DataError, match=r"words\.txt: no such file"):
        word_list("cultura_tt_data", "words.txt")()


def test_word_list_bad_encoding_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "w.txt"
    path.write_bytes(b"ok\nfine\n\xff\xfe bad\n")
    with pytest.raises(DataError, match=r"w\.txt:3: encoding"):
        read_word_list(path)


def test_knowledge_entries_filter_by_culture_and_fill_defaults(package: Path) -> None:
    rows = [
        {"culture": "tt", "id": "tt.a", "text": "A.", "tags": ["x"], "license": "MIT"},
        {"culture": "tt-XX", "id": "tt.b", "text": "B."},
        {"culture": "tt", "id": "tt.c", "text": "C.", "source": "me"},
    ]
    _write(package / "k.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    tt = knowledge_entries("cultura_tt_data", "k.jsonl", license="CC-BY-4.0", source="authors",
                           culture="tt")()
    assert tt == (
        KnowledgeEntry("tt.a", "A.", ("x",), source="authors", license="MIT"),
        KnowledgeEntry("tt.c", "C.", (), source="me", license="CC-BY-4.0"),
    )
    every = knowledge_entries("cultura_tt_data", "k.jsonl", license="L")()
    assert [e.id for e in every] == ["tt.a", "tt.b", "tt.c"]


def test_knowledge_custom_selector_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "k.jsonl", '{"source_name": "s1", "id": "a", "text": "A"}\n'
                                        '{"source_name": "s2", "id": "b", "text": "B"}\n')
    assert [e.id for e in read_knowledge(path, culture="s2", field="source_name")] == ["b"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"id": "a", "text": "A"}\n{"id": "b", "text": \n', r"k\.jsonl:2: column \d+: not valid JSON"),
        ('{"id": "a", "text": "A"}\n\n{"id": "b", "text": ""}\n', r"k\.jsonl:3: field 'text'"),
        ('{"id": "a", "text": "A", "tags": "x"}\n', r"k\.jsonl:1: field 'tags': must be a list"),
        ('{"id": "a", "text": "A", "colour": 1}\n', r"k\.jsonl:1: .*colour"),
        ('[1, 2]\n', r"k\.jsonl:1: a knowledge row must be a JSON object"),
    ],
)
def test_malformed_knowledge_names_file_line_and_field(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        read_knowledge(_write(tmp_path / "k.jsonl", text))


def test_knowledge_filter_requires_the_selector_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "k.jsonl", '{"culture": "tt", "id": "a", "text": "A"}\n{"id": "b", "text": "B"}\n')
    with pytest.raises(DataError, match=r"k\.jsonl:2: field 'culture': is missing"):
        read_knowledge(path, culture="tt")


def test_bias_checks_from_json_builds_counterfactual_and_pair_checks(package: Path) -> None:
    _write(package / "bias.json", json.dumps(BIAS, indent=1))
    checks = bias_checks_from_json("cultura_tt_data", "bias.json", license="CC-BY-4.0",
                                   pairs_check=PAIRS_CHECK)
    assert [(c.id, c.metric, c.license) for c in checks] == [
        ("tt.gender", "ctf_gap", "CC-BY-4.0"), ("tt.stereotypes", "crows_pairs", "CC-BY-4.0")]
    assert checks[0].term_groups == {"f": ("she",), "m": ("he",)}
    assert checks[0].templates == ("{term} works.",)
    assert checks[1].pairs == (MinimalPair("A more.", "A less.", "stereo", "gender"),)
    assert checks[1].threshold == 10.0


def test_bias_pairs_without_pairs_check_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "bias.json", json.dumps(BIAS, indent=1))
    with pytest.raises(DataError, match=r"bias\.json:\d+: field 'pairs': .*pairs_check"):
        read_bias_checks(path, license="L")


def _bad(**changes: object) -> dict:
    spec = json.loads(json.dumps(BIAS))
    spec["counterfactual"][0].update(changes)
    return spec


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (_bad(metric="accuracy"), r"bias\.json:6: check #1 \('tt.gender'\) field 'metric'"),
        (_bad(threshold="high"), r"bias\.json:7: check #1 \('tt.gender'\) field 'threshold'"),
        (_bad(templates="{term}"), r"bias\.json:\d+: check #1 \('tt.gender'\) field 'templates'"),
        (_bad(colour="red"), r"bias\.json:\d+: check #1 \('tt.gender'\) field 'colour'"),
        ({**BIAS, "checks": []}, r"bias\.json:\d+: field 'checks'"),
        ({**BIAS, "pairs": [{"more": "x", "less": "y", "direction": "sideways"}]},
         r"bias\.json:\d+: check #1 \('tt.stereotypes'\) field 'pairs\[0\]' field 'direction'"),
    ],
)
def test_malformed_bias_json_names_file_line_and_field(tmp_path: Path, spec: dict, match: str) -> None:
    path = _write(tmp_path / "bias.json", json.dumps(spec, indent=1))
    with pytest.raises(DataError, match=match):
        read_bias_checks(path, license="L", pairs_check=PAIRS_CHECK)


def test_bias_json_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "bias.json", '{\n "counterfactual": [\n  {"id": }\n ]\n}\n')
    with pytest.raises(DataError, match=r"bias\.json:3: column \d+: not valid JSON"):
        read_bias_checks(path, license="L")


def test_shipped_plugin_data_reads_with_the_helpers() -> None:
    assert "是" in word_list("cultura_zh", "vocab_hans.txt")()
    entries = knowledge_entries("cultura_sw", "knowledge.jsonl", license="CC-BY-4.0", culture="sw-KE")()
    assert entries and all(e.id.startswith("sw.") for e in entries)


def test_helpers_are_exported_lazily_and_import_nothing_heavy() -> None:
    assert cultura.word_list is word_list and cultura.bias_checks_from_json is bias_checks_from_json
    code = ("import sys, cultura.core.plugin_data, cultura; cultura.knowledge_entries; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'transformers', 'peft', 'cultura.bias')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
