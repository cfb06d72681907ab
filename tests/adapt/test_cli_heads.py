"""`cultura train` with heads of your own (--head, --head-spec, --labels, --labels-from-data),
custom fields and label maps; data checked before the model loads; NER end to end; adapt()
with labels=."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cultura.adapt.model as model_module
from cultura.cli import cli, main
from cultura.core.errors import CulturaError
from cultura.core.plugins import reset_plugin_manager

NER_LABELS = "B-LOC,I-LOC,O"


@pytest.fixture
def with_test_plugin(manager):
    reset_plugin_manager(manager)
    yield manager
    reset_plugin_manager(None)


class Stop(CulturaError):
    """Raised by the fake ``adapt`` once it has recorded its arguments."""


@pytest.fixture
def adapt_calls(monkeypatch) -> list[dict[str, Any]]:
    """Replace ``adapt`` (which loads the base model) by a recorder that stops the command."""
    calls: list[dict[str, Any]] = []

    def fake(base: str, **kwargs: Any) -> None:
        calls.append(kwargs)
        raise Stop("adapt() called: the model would load now")

    monkeypatch.setattr(model_module, "adapt", fake)
    return calls


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def folder(path: Path, texts: dict[str, list[str]]) -> Path:
    path.mkdir()
    for label, lines in texts.items():
        (path / f"{label}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ner_rows(repeat: int = 1) -> list[dict[str, Any]]:
    rows = [
        {"words": ["住", "在", "北", "京"], "ner": ["O", "O", "B-LOC", "I-LOC"]},
        {"words": ["we", "love", "paris"], "ner": ["O", "O", "B-LOC"]},
        {"words": ["北", "京", "很", "好"], "ner": ["B-LOC", "I-LOC", "O", "O"]},
        {"words": ["paris", "is", "big"], "ner": ["B-LOC", "O", "O"]},
    ]
    return rows * repeat


def fails(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code), capsys.readouterr().err


def run(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_evaluate_checks_every_row_against_the_manifest_before_loading(
    with_test_plugin, trained, tmp_path: Path, capsys, monkeypatch
) -> None:
    import cultura.adapt.cli as cli_module

    def no_load(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the model loaded before the data was checked")

    monkeypatch.setattr(cli_module, "load_adapter", no_load)
    rows = [{"text": f"好 {i}", "label": "正面"} for i in range(899)]
    bad = jsonl(tmp_path / "bad.jsonl", [*rows, {"text": "坏", "label": "x"}])
    code, err = fails(["evaluate", str(trained.directory), str(bad)], capsys)
    assert code == 1 and err.startswith(f"error: {bad}:900: field 'label': unknown label 'x'")


def test_every_row_is_checked_before_the_model_loads(
    with_test_plugin, adapt_calls, tmp_path: Path, capsys
) -> None:
    rows = [{"text": f"好 {i}", "label": "正面"} for i in range(899)]
    good = jsonl(tmp_path / "good.jsonl", rows)
    bad = jsonl(tmp_path / "bad.jsonl", [*rows, {"text": "坏", "label": "x"}])
    base = ["-c", "zh", "-t", "sentiment", "-b", "unused-base", "-o", str(tmp_path / "out")]
    code, err = fails(["train", str(bad), *base], capsys)
    assert code == 1
    assert err.startswith(
        f"error: {bad}:900: field 'label': unknown label 'x'; labels: 正面, 负面, 中性."
    )
    code, err = fails(["train", str(good), "--eval", str(bad), *base], capsys)
    assert err.startswith(f"error: {bad}:900: field 'label'")
    ints = jsonl(tmp_path / "ints.jsonl", [{"text": "好", "label": 1}])
    code, err = fails(["train", str(ints), *base], capsys)
    assert f"{ints}:1: field 'label': integer label 1 needs an explicit mapping" in err
    assert "--label-map 0=正面,1=负面" in err
    assert adapt_calls == [], "the model never loaded"
    code, err = fails(["train", str(ints), *base, "--label-map", "1=正面"], capsys)
    assert "adapt() called" in err and adapt_calls[0]["labels"] == ("正面", "负面", "中性")
    assert not (tmp_path / "out").exists()


def test_heads_and_labels_reach_adapt(with_test_plugin, adapt_calls, tmp_path: Path, capsys) -> None:
    reviews = folder(tmp_path / "reviews", {"正面": ["很好", "好吃"], "负面": ["太差"]})
    ner = jsonl(tmp_path / "ner.jsonl", ner_rows())
    spec = tmp_path / "head.json"
    spec.write_text(json.dumps({"task": "place", "head_type": "token-cls",
                                "labels": NER_LABELS.split(","), "peft": {"r": 4}}))
    out = ["-b", "unused-base", "-o", str(tmp_path / "out")]
    for args in (
        ["train", str(reviews), "-c", "zh", "-t", "sentiment", "--labels", "正面,负面"],
        ["train", str(reviews), "-c", "zh", "-t", "sentiment", "--labels-from-data"],
        ["train", str(ner), "-c", "zh", "--head", "token-cls", "--labels", NER_LABELS,
         "--text-field", "words", "--label-field", "ner", "--method", "peft"],
        ["train", str(ner), "-c", "zh", "-t", "place", "--head", "token-cls",
         "--labels-from-data", "--text-field", "words", "--label-field", "ner", "--method", "peft"],
        ["train", str(ner), "-c", "zh", "--head-spec", str(spec), "--peft", "ia3",
         "--text-field", "words", "--label-field", "ner"],
    ):
        code, err = fails([*args, *out], capsys)
        assert code == 1 and "adapt() called" in err, err
    binary, from_folder, ner_head, place, from_file = adapt_calls
    assert (binary["task"], binary["labels"], binary.get("head")) == ("sentiment", ("正面", "负面"), None)
    assert from_folder["labels"] == ("正面", "负面")
    head = ner_head["head"]
    assert (head.task, head.head_type, head.labels) == ("token-cls", "token-cls", ("B-LOC", "I-LOC", "O"))
    assert place["head"].task == "place" and place["head"].labels == ("B-LOC", "I-LOC", "O")
    head = from_file["head"]
    assert (head.task, head.labels, from_file["peft"].method, from_file["peft"].r) == (
        "place", ("B-LOC", "I-LOC", "O"), "ia3", 4)


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        (["-t", "nope"], 1, "offers no task 'nope'; tasks on offer: sentiment, ner, lm. To train a "
                            "head of your own, name its type and labels: --task nope --head token-cls"),
        (["--head", "token-cls"], 2, "a token-cls head needs labels: pass --labels"),
        (["-t", "sentiment", "--head", "token-cls"], 2, "task 'sentiment' of culture zh is a seq-cls head"),
        (["-t", "lm", "--labels", "a,b"], 2, "a causal-lm head has no labels"),
        (["-t", "sentiment", "--labels", "正面,", "--labels-from-data"], 2, "has an empty label"),
        (["-t", "sentiment", "--labels", "正面,负面", "--labels-from-data"], 2, "not both"),
        (["-t", "sentiment", "--label-map", "0"], 2, "'0' is not VALUE=LABEL"),
        (["-t", "sentiment", "--labels", "正面"], 1, "--labels: a classifier head needs at least two"),
        ([], 2, "pass --task (tasks on offer for zh: sentiment, ner, lm) or --head"),
    ],
)
def test_head_option_errors(
    with_test_plugin, adapt_calls, tmp_path: Path, capsys, extra: list[str], code: int, words: str
) -> None:
    data = jsonl(tmp_path / "train.jsonl", [{"text": "好", "label": "正面"}, {"text": "差", "label": "负面"}])
    got, err = fails(["train", str(data), "-c", "zh", "-o", str(tmp_path / "out"), *extra], capsys)
    assert (got, adapt_calls) == (code, [])
    assert words in " ".join(err.split()), err


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ('{"head_type": "token-cls", "lables": []}', "unknown field(s) lables"),
        ('{"head_type": "ner"}', "field 'head_type' must be one of seq-cls, token-cls, causal-lm"),
        ('{"head_type": "token-cls", "peft": {"r": 0}}', "field 'peft': PeftSpec.r: must be a positive"),
        ('{"head_type": "token-cls",\n "labels": "O"}', "field 'labels' must be a list"),
        ('{"head_type": "token-cls",\n', ":2: invalid JSON"),
        ("[" * 100_000, "cannot read the head spec (nested too deeply)"),
    ],
)
def test_head_spec_file_errors(
    with_test_plugin, adapt_calls, tmp_path: Path, capsys, spec: str, words: str
) -> None:
    data = jsonl(tmp_path / "ner.jsonl", ner_rows())
    path = tmp_path / "head.json"
    path.write_text(spec, encoding="utf-8")
    code, err = fails(["train", str(data), "-c", "zh", "--head-spec", str(path), "-o",
                       str(tmp_path / "out")], capsys)
    assert code == 1 and err.startswith(f"error: {path}") and words in err, err


@pytest.mark.slow
def test_binary_head_from_a_folder(tiny, with_test_plugin, toy, tmp_path: Path) -> None:
    texts = {"正面": [r["text"] for r in toy.train if r["label"] == "正面"],
             "负面": [r["text"] for r in toy.train if r["label"] == "负面"]}
    data = folder(tmp_path / "reviews", texts)
    out = tmp_path / "binary"
    run(["train", str(data), "-c", "zh", "-t", "sentiment", "--labels", "正面,负面",
         "-b", str(tiny["bert"]), "-o", str(out), "--epochs", "2", "--lr", "2e-2",
         "--batch-size", "8", "--no-knowledge", "--json"])
    manifest = json.loads((out / "cultura.json").read_text(encoding="utf-8"))
    assert (manifest["task"], manifest["labels"]) == ("sentiment", ["正面", "负面"])
    predictions = json.loads(run(["predict", str(out), "the food was terrible", "--top-k", "3",
                                  "--json"]))
    assert [t["label"] for t in predictions[0]["top"]] in (["正面", "负面"], ["负面", "正面"])
    test = tmp_path / "test.csv"
    test.write_text("review,stars\n" + "".join(
        f"{r['text']},{5 if r['label'] == '正面' else 1}\n" for r in toy.eval if "," not in r["text"]
    ), encoding="utf-8")
    metrics = json.loads(run(["evaluate", str(out), str(test), "--text-field", "review",
                              "--label-field", "stars", "--label-map", "5=正面,1=负面", "--json"]))
    assert metrics["n"] == sum("," not in r["text"] for r in toy.eval)
    assert set(metrics["per_label_f1"]) <= {"正面", "负面"}


@pytest.mark.slow
def test_ner_from_the_command_line(tiny, with_test_plugin, tmp_path: Path) -> None:
    data = jsonl(tmp_path / "ner.jsonl", ner_rows(repeat=6))
    dev = jsonl(tmp_path / "dev.jsonl", ner_rows())
    out = tmp_path / "ner"
    run(["train", str(data), "-c", "zh", "--head", "token-cls", "--task", "place",
         "--labels", NER_LABELS, "--text-field", "words", "--label-field", "ner",
         "--eval", str(dev), "-b", str(tiny["bert"]), "-o", str(out), "--epochs", "12",
         "--lr", "1e-2", "--batch-size", "4", "--no-knowledge"])
    manifest = json.loads((out / "cultura.json").read_text(encoding="utf-8"))
    assert (manifest["task"], manifest["head_type"], manifest["labels"]) == (
        "place", "token-cls", ["B-LOC", "I-LOC", "O"])
    assert manifest["training"]["metric"] == "entity_f1"  # NER early-stops on entity F1
    args = ["evaluate", str(out), str(dev), "--text-field", "words", "--label-field", "ner"]
    metrics = json.loads(run([*args, "--json"]))
    assert metrics["entity_support"] == 4 and set(metrics["per_entity_type"]) <= {"LOC"}
    assert 0.0 <= metrics["entity_f1"] <= 1.0 and metrics["n"] == 4
    table = run(args)
    assert "entity_f1: " in table and "per_entity_type: LOC (precision " in table
    (result,) = json.loads(run(["predict", str(out), "住在北京", "--json"]))
    assert [w["word"] for w in result["words"]] == ["住", "在", "北", "京"]
    for entity in result["entities"]:
        assert entity["type"] == "LOC"
        assert result["text"][entity["start"]:entity["end"]] == entity["text"]
    assert [e["text"] for e in result["entities"]] == ["北京"], result
    assert run(["predict", str(out), "住在北京"]).split() == ["住在北京", "北京/LOC"]


def test_adapt_with_labels(tiny, manager, tmp_path: Path) -> None:
    import torch

    model = model_module.adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager,
                               labels=["负面", "正面"], knowledge=False)
    assert model.labels == ("负面", "正面") and model.spec.task == "sentiment"
    assert model.model.config.num_labels == 2
    (result,) = model.predict(["the food was terrible"], top_k=3)
    assert sorted(t["label"] for t in result["top"]) == ["正面", "负面"]
    assert [e.label for e in model.examples([("好", "正面"), ("差", "负面")])] == [1, 0]
    model.save_pretrained(tmp_path / "binary")
    loaded = model_module.load_pretrained(tmp_path / "binary", manager=manager)
    assert loaded.labels == ("负面", "正面")
    assert torch.equal(model.logits(["好吃"]), loaded.logits(["好吃"]))
    with pytest.raises(CulturaError, match="labels= must be a list of label names"):
        model_module.adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager,
                           labels="data")
    with pytest.raises(CulturaError, match="labels= is for seq-cls and token-cls heads"):
        model_module.adapt(str(tiny["gpt2"]), culture="zh", task="lm", manager=manager,
                           labels=["a", "b"])
