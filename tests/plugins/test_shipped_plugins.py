"""Every plugin shipped under plugins/ is installed, discovered and passes the conformance suite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cultura.core.plugins import PluginManager
from cultura.testing import parametrize_with_plugin_checks

ROOT = Path(__file__).resolve().parents[2]


def _project_name(pyproject: Path) -> str:
    """``[project] name`` of a plugin's pyproject.toml (tomllib is not in Python 3.10)."""
    match = re.search(r'^name\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
    assert match, f"{pyproject} has no [project] name"
    return match.group(1)

SHIPPED = sorted(
    _project_name(p)
    for p in (ROOT / "plugins").glob("*/pyproject.toml")
)

#: Known failures, each with the reason; strict: once fixed, the xfail turns into an error
#: reminding us to delete the entry.
EXPECTED_FAILURES: dict[str, dict[str, str]] = {}


def test_the_five_shipped_plugins_are_there() -> None:
    assert {"cultura-ar", "cultura-hi", "cultura-ja", "cultura-sw", "cultura-zh"} <= set(SHIPPED)


def test_every_shipped_plugin_is_discovered_and_active() -> None:
    records = {r.distribution: r for r in PluginManager(disabled=(), allowed=None).records()}
    for dist in SHIPPED:
        assert dist in records, f"{dist} is not installed: run `make install`"
        assert records[dist].status == "active", records[dist].error
        assert set(records[dist].hooks) >= {"cultura_cultures", "cultura_tokenizer_tweaks"}


@parametrize_with_plugin_checks(
    SHIPPED, expected_failed_checks=lambda plugin: EXPECTED_FAILURES.get(plugin.id, {})
)
def test_conformance(plugin, check) -> None:  # type: ignore[no-untyped-def]
    check(plugin)


@pytest.mark.parametrize("dist", SHIPPED)
def test_all_four_culture_hooks_are_implemented(dist: str) -> None:
    from cultura.testing import load_plugin

    plugin = load_plugin(dist)
    missing = [
        h
        for h in ("cultura_tokenizer_tweaks", "cultura_knowledge", "cultura_adapter_heads", "cultura_bias_checks")
        if not plugin.implements(h)
    ]
    assert not missing, f"{dist} lacks {missing}"


#: the adapter heads each shipped plugin offers at its base culture
SHIPPED_HEADS = {
    "ar": {"sentiment": "seq-cls"},
    "hi": {"sentiment": "seq-cls"},
    "ja": {"sentiment": "seq-cls", "ner": "token-cls"},
    "sw": {"sentiment": "seq-cls"},
    "zh": {"sentiment": "seq-cls", "ner": "token-cls"},
    "zh-Hant": {"sentiment": "seq-cls", "ner": "token-cls"},
}


@pytest.mark.parametrize("tag", sorted(SHIPPED_HEADS))
def test_shipped_heads(tag: str) -> None:
    import cultura

    heads = {c.key: c.value.head_type for c in cultura.culture(tag).heads}
    assert heads == SHIPPED_HEADS[tag]


def _sample_rows(path: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.parametrize("tag", ["zh", "ja"])
def test_ner_head_trains_evaluates_and_predicts_localized_entities(
    tag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cultura train --task ner` on the plugin's sample data (embedded MiniLM, 2 epochs);
    `evaluate` reports entity P/R/F1 per localized type; `predict` splits the sample texts
    into the sample's tokens and returns entity spans named with the head's types whose
    offsets index the text."""
    import json

    from click.testing import CliRunner

    import cultura
    from cultura.cli import cli

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def run(args: list[str]) -> str:
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    head = cultura.culture(tag).head("ner")
    sample = head.sample_data()  # type: ignore[misc]
    rows = _sample_rows(sample)
    types = {label[2:] for label in head.labels if label != "O"}
    out = tmp_path / f"{tag}-ner"
    run(["train", str(sample), "-c", tag, "--task", "ner", "-o", str(out), "--epochs", "2",
         "--lr", "1e-2", "--batch-size", "4", "--json"])
    manifest = json.loads((out / "cultura.json").read_text(encoding="utf-8"))
    assert (manifest["task"], manifest["head_type"], tuple(manifest["labels"])) == (
        "ner", "token-cls", head.labels)

    metrics = json.loads(run(["evaluate", str(out), str(sample), "--json"]))
    gold = sum(tag_.startswith("B-") for row in rows for tag_ in row["tags"])
    assert metrics["entity_support"] == gold and metrics["n"] == len(rows)
    for key in ("entity_precision", "entity_recall", "entity_f1"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["entity_f1"] > 0.0, metrics  # it learned something in 2 epochs
    assert set(metrics["per_entity_type"]) <= types

    results = json.loads(run(["predict", str(out), *(row["text"] for row in rows), "--json"]))
    entities = []
    for row, result in zip(rows, results, strict=True):
        assert result["text"] == row["text"]  # the sample texts are already normalized
        assert [w["word"] for w in result["words"]] == row["tokens"]
        for entity in result["entities"]:
            assert entity["type"] in types, entity
            assert result["text"][entity["start"]:entity["end"]] == entity["text"] != ""
        entities += result["entities"]
    assert entities, "the trained head found no entity in its own training sentences"
