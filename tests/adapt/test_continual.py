"""Continual updates: resume with rehearsal, L2-SP/EWC, data references, lineage, the gate.

The constructed task: version 1 tells 正面 from 负面 (the toy sentiment data). The new data
adds the third label, 中性, and holds only 中性 rows, so a version trained on it alone with a
high learning rate predicts 中性 everywhere and forgets the old task (class-incremental
forgetting); rehearsing the old rows, or pulling the weights back to version 1's, keeps it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cultura.adapt.artifact import ArtifactError, Manifest, read_manifest
from cultura.adapt.continual import (
    EWC,
    L2SP,
    RegressionError,
    RehearsalError,
    compare,
    estimate_fisher,
    example_hash,
    regression_gate,
    resume,
)
from cultura.cli import cli
from cultura.core.errors import CulturaError
from cultura.core.plugins import reset_plugin_manager

NEUTRAL = [
    "the train station is in the north",
    "the meeting is at noon on monday",
    "it is a blue car with four doors",
    "the shop opens at nine",
    "we took the bus to the office",
    "the book has ten chapters",
]
#: what the resumed versions train with: a learning rate that forgets fast
RESUME = {"epochs": 8, "lr": 5e-2, "batch_size": 8, "progress": False}


@pytest.fixture(autouse=True)
def test_plugin(manager):
    reset_plugin_manager(manager)
    yield manager
    reset_plugin_manager(None)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def invoke(args: list[str], code: int = 0) -> Any:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def v1(tiny, manager, toy, tmp_path_factory) -> Any:
    """Version 1, trained by ``cultura train`` (so its data references are recorded)."""
    reset_plugin_manager(manager)
    root = tmp_path_factory.mktemp("continual")
    train = write_jsonl(root / "train.jsonl", toy.train)
    dev = write_jsonl(root / "dev.jsonl", toy.eval)
    new = write_jsonl(root / "new.jsonl", [{"text": t, "label": "中性"} for t in NEUTRAL * 4])
    out = root / "v1"
    invoke(["train", str(train), "-c", "zh", "-t", "sentiment", "-b", str(tiny["bert"]),
            "--eval", str(dev), "--epochs", "15", "--lr", "1e-2", "--batch-size", "8",
            "--no-extend-vocab", "-o", str(out), "--json"])
    reset_plugin_manager(None)
    return type("V1", (), {"dir": out, "train": train, "dev": dev, "new": new, "root": root})


def forgetting(v1: Any, model: Any) -> float:
    return compare(str(v1.dir), model, str(v1.dev)).forgetting["macro_f1"]


# ---------------------------------------------------------------------- references
def test_fresh_training_records_its_data_by_hash_never_by_text(v1, toy) -> None:
    manifest = read_manifest(v1.dir)
    train, dev = manifest.training_data
    assert (train["role"], dev["role"], train["version"]) == ("train", "eval", 1)
    assert train["uri"] == str(v1.train) and train["examples"] == len(toy.train)
    from cultura.adapt.artifact import sha256_file

    assert train["sha256"] == sha256_file(v1.train)
    assert len(train["example_hashes"]) == len(toy.train) and train["license"] is None
    text = (v1.dir / "cultura.json").read_text(encoding="utf-8")
    assert "the movie was great" not in text and "服务" not in text  # hashes, no text
    assert manifest.lineage is None
    card = (v1.dir / "README.md").read_text(encoding="utf-8")
    assert "## Versions" in card and "version 1" in card and str(v1.train) in card


def test_example_hash_ignores_the_file_format() -> None:
    from cultura.adapt.data import load_examples

    rows = [{"text": "a b", "label": "正面"}]
    labels = ("正面", "负面")
    (a,) = load_examples(rows, "seq-cls", labels)
    (b,) = load_examples([("a b", "正面")], "seq-cls", labels)
    (c,) = load_examples([{"text": "a b", "label": "负面"}], "seq-cls", labels)
    assert example_hash(a, labels) == example_hash(b, labels) != example_hash(c, labels)


def test_licence_declared_by_a_dataset_card_is_recorded(tmp_path: Path) -> None:
    from cultura.adapt.continual import reference_data
    from cultura.adapt.data import load_examples

    data = write_jsonl(tmp_path / "d.jsonl", [{"text": "x", "label": "正面"}])
    (tmp_path / "README.md").write_text("---\nlicense: cc-by-4.0\n---\n# data\n", encoding="utf-8")
    examples = load_examples(str(data), "seq-cls", ("正面",))
    ref = reference_data(str(data), examples, ("正面",), role="train", version=1)
    assert ref["license"] == "cc-by-4.0"
    assert reference_data(str(data), examples, ("正面",), role="train", version=1,
                          license="mit")["license"] == "mit"


# ---------------------------------------------------------------------- rehearsal data
def test_resume_needs_a_rehearsal_choice_and_the_old_data(v1) -> None:
    with pytest.raises(CulturaError, match="rehearsal=0"):
        resume(str(v1.dir), str(v1.new), **RESUME)
    with pytest.raises(RehearsalError, match=r"none was given.*train\.jsonl"):
        resume(str(v1.dir), str(v1.new), rehearsal=0.5, **RESUME)
    with pytest.raises(RehearsalError, match="EWC"):
        resume(str(v1.dir), str(v1.new), rehearsal=0, ewc=1.0, **RESUME)


def test_changed_old_data_is_refused(v1, toy, tmp_path: Path) -> None:
    rows = list(toy.train)
    rows[3] = {**rows[3], "label": "负面" if rows[3]["label"] == "正面" else "正面"}
    changed = write_jsonl(tmp_path / "train.jsonl", rows)
    with pytest.raises(RehearsalError, match=r"not the data the adapter was trained on.*"
                                             r"examples recorded.*are not in it.*--no-rehearsal"):
        resume(str(v1.dir), str(v1.new), rehearsal=0.5, rehearsal_data=str(changed), **RESUME)


def test_reformatted_old_data_is_accepted_by_its_example_hashes(v1, toy, tmp_path) -> None:
    from cultura.adapt.continual import verified_examples
    from cultura.adapt.loading import load_pretrained

    model = load_pretrained(v1.dir)
    import csv

    path = tmp_path / "train.csv"  # another format, another order, an extra row
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows([r["text"], r["label"]] for r in [*reversed(toy.train),
                                                            {"text": "new", "label": "正面"}])
    examples, sources = verified_examples(model, [str(path)])
    assert len(examples) == len(toy.train)  # the extra row is not rehearsed
    assert sources == [{"version": 1, "sha256": read_manifest(v1.dir).training_data[0]["sha256"],
                        "examples": len(toy.train)}]


# ---------------------------------------------------------------------- forgetting
@pytest.mark.slow
def test_forgetting_is_refused_and_rehearsal_or_l2sp_forget_less(v1, tmp_path) -> None:
    plain = resume(str(v1.dir), str(v1.new), rehearsal=0, seed=0, **RESUME)
    lost = forgetting(v1, plain)
    assert lost > 50  # it predicts 中性 for the old task's rows
    plain.save_pretrained(tmp_path / "plain")
    with pytest.raises(RegressionError, match=r"forgets too much.*macro_f1") as caught:
        regression_gate(str(v1.dir), str(tmp_path / "plain"), str(v1.dev), max_forgetting=5)
    assert caught.value.comparison.passed is False

    rehearsed = resume(str(v1.dir), str(v1.new), rehearsal=1.0,
                       rehearsal_data=str(v1.train), seed=0, **RESUME)
    assert rehearsed.lineage["rehearsal"]["examples"] == 48
    pulled = resume(str(v1.dir), str(v1.new), rehearsal=0, l2sp=50.0, seed=0, **RESUME)
    kept, held = forgetting(v1, rehearsed), forgetting(v1, pulled)
    print(f"forgetting (macro-F1 points): none {lost:.1f}, rehearsal {kept:.1f}, l2sp {held:.1f}")
    assert kept < lost - 30 and held < lost - 30
    passed = regression_gate(str(v1.dir), rehearsed, str(v1.dev), max_forgetting=lost - 30)
    assert passed.passed and passed.metric == "macro_f1"


def test_l2sp_and_ewc_pull_toward_the_previous_weights(v1, toy) -> None:
    import torch

    from cultura.adapt.loading import load_pretrained

    model = load_pretrained(v1.dir)
    l2sp = L2SP(model, 3.0)
    assert float(l2sp().detach()) == 0.0  # at the previous weights there is no pull
    examples = model.examples(toy.train[:6])
    fisher = estimate_fisher(model, examples)
    assert all(p.grad is None for p in model.model.parameters())  # gradients cleared
    total = sum(float(f.sum()) for f in fisher.values())
    count = sum(f.numel() for f in fisher.values())
    assert total == pytest.approx(count, rel=1e-4)  # normalized to mean 1
    ewc = EWC(model, 2.0, fisher, len(examples))
    name, param, _ = next((n, p, a) for n, p, a in ewc.params if "classifier" in n)
    delta = torch.randn(param.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        param.add_(delta)
    # L2-SP: 3/2 * |delta|^2; EWC: 2/2 * sum(F * delta^2); their gradients pull back
    assert float(l2sp().detach()) == pytest.approx(1.5 * float((delta**2).sum()), rel=1e-4)
    value = ewc()
    assert float(value) == pytest.approx(float((fisher[name] * delta**2).sum()), rel=1e-4)
    value.backward()
    assert torch.allclose(param.grad, 2.0 * fisher[name] * delta, atol=1e-5)
    assert ewc.summary() == {"kind": "ewc", "lambda": 2.0, "fisher_examples": 6}


# ---------------------------------------------------------------------- lineage
@pytest.mark.slow
def test_lineage_is_recorded_in_the_manifest_and_card(v1, tmp_path) -> None:
    model = resume(str(v1.dir), str(v1.new), str(v1.dev), rehearsal=12,
                   rehearsal_data=[str(v1.train)], ewc=5.0, fisher_examples=8,
                   data_license="cc0-1.0", seed=1, **{**RESUME, "epochs": 2})
    out = model.save_pretrained(tmp_path / "v2")
    manifest = read_manifest(out)
    lineage = manifest.lineage
    v1_manifest = read_manifest(v1.dir)
    assert lineage["version"] == 2 and lineage["ancestors"] == []
    assert lineage["parent"] == {
        "name": str(v1.dir), "repo": None, "revision": None, "version": 1,
        "adapter_sha256": v1_manifest.files["adapter_model.safetensors"],
    }
    assert lineage["rehearsal"]["examples"] == 12 and lineage["rehearsal"]["requested"] == 12
    assert lineage["penalty"] == {"kind": "ewc", "lambda": 5.0, "fisher_examples": 8}
    refs = [(r["version"], r["role"], r["license"]) for r in manifest.training_data]
    assert refs == [(1, "train", None), (1, "eval", None), (2, "train", "cc0-1.0"),
                    (2, "eval", None)]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "This is version 2" in card and "continues version 1" in card
    assert "rehearsal: 12 examples" in card and "EWC" in card and "cc0-1.0" in card
    front = card.split("---")[1]
    assert "cultura_lineage" in front and "version: 2" in front
    # a third version names the first among its ancestors
    from cultura.adapt.loading import load_pretrained

    v3 = resume(load_pretrained(out), str(v1.new), rehearsal=0, seed=0,
                **{**RESUME, "epochs": 1})
    assert v3.lineage["version"] == 3 and v3.lineage["ancestors"][0]["version"] == 1


@pytest.mark.parametrize("lineage, field", [
    ({"version": 0}, "lineage.version"),
    ({"version": 2, "parent": {"repo": "../../etc", "version": 1}}, "lineage.parent.repo"),
    ({"version": 2, "parent": {"revision": "main"}}, "lineage.parent.revision"),
    ({"version": 2, "penalty": {"kind": "dropout", "lambda": 1}}, "lineage.penalty.kind"),
    ({"version": 2, "penalty": {"kind": "ewc", "lambda": -1}}, "lineage.penalty.lambda"),
    ({"version": 2, "run": "rm -rf /"}, "lineage.run"),
    ({"version": 2, "gate": {"metric": "macro_f1", "old": 1, "new": 0.5, "forgetting": 50,
                             "max_forgetting": 1, "passed": "yes"}}, "lineage.gate.passed"),
])
def test_hostile_lineage_is_refused(v1, lineage, field) -> None:
    data = json.loads((v1.dir / "cultura.json").read_text(encoding="utf-8"))
    with pytest.raises(ArtifactError, match=field.replace(".", r"\.")):
        Manifest.from_dict({**data, "lineage": lineage})


@pytest.mark.parametrize("change, field", [
    ({"example_hashes": ["zz"] * 48}, "example_hashes[0]"),
    ({"example_hashes": ["0" * 32]}, "example_hashes"),
    ({"uri": "x`y"}, "uri"),
    ({"role": "test"}, "role"),
    ({"text": "the movie was great"}, "training_data[0].text"),
])
def test_hostile_data_references_are_refused(v1, change, field) -> None:
    data = json.loads((v1.dir / "cultura.json").read_text(encoding="utf-8"))
    data["training_data"][0].update(change)
    with pytest.raises(ArtifactError, match=field.replace(".", r"\.").replace("[", r"\[")):
        Manifest.from_dict(data)


# ---------------------------------------------------------------------- command line
@pytest.mark.slow
def test_cli_resume_and_compare_json(v1, tmp_path) -> None:
    out = tmp_path / "v2"
    result = invoke(["train", str(v1.new), "--resume", str(v1.dir), "--no-rehearsal",
                     "--l2sp", "0.5", "--epochs", "6", "--lr", "5e-2", "--batch-size", "8",
                     "-o", str(out), "--json"])
    trained = json.loads(result.stdout)
    assert trained["lineage"]["version"] == 2 and trained["lineage"]["rehearsal"] is None
    assert trained["lineage"]["penalty"]["kind"] == "l2sp"
    assert "example_hashes" not in trained["training_data"][0]
    compared = invoke(["compare", str(v1.dir), str(out), str(v1.dev), "--json"])
    report = json.loads(compared.stdout)
    assert report["metric"] == "macro_f1" and report["passed"] is None
    assert report["forgetting"]["accuracy"] == pytest.approx(
        100 * (report["old"]["accuracy"] - report["new"]["accuracy"]), abs=1e-6)
    gated = invoke(["compare", str(v1.dir), str(out), str(v1.dev), "--json",
                    "--max-forgetting", str(max(report["forgetting"]["macro_f1"] - 1, 0))], code=1)
    assert json.loads(gated.stdout)["passed"] is False
    table = invoke(["compare", str(v1.dir), str(v1.dir), str(v1.dev), "--max-forgetting", "0"])
    assert "regression gate passed" in table.stdout


def test_cli_resume_refuses_what_it_cannot_do(v1, tmp_path) -> None:
    base = ["train", str(v1.new), "--resume", str(v1.dir), "-o", str(tmp_path / "x")]
    assert "--no-rehearsal" in invoke(base, code=2).output
    assert "--task cannot change" in invoke(base + ["--no-rehearsal", "-t", "ner"], code=2).output
    assert "one penalty" in invoke(base + ["--no-rehearsal", "--ewc", "1", "--l2sp", "1"],
                                   code=2).output
    refused = invoke(base + ["--rehearsal", "0.5"], code=1)
    assert isinstance(refused.exception, RehearsalError)
    fresh = ["train", str(v1.new), "-c", "zh", "-t", "sentiment", "-o", str(tmp_path / "y")]
    assert "add --resume" in invoke(fresh + ["--l2sp", "1"], code=2).output
    shutil.rmtree(tmp_path / "x", ignore_errors=True)
