"""Versions are Hub revisions: a resumed adapter published to its parent's repo is a new
commit whose manifest and card record the lineage, and the regression gate runs first."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cultura.adapt.continual import RegressionError, resume
from cultura.cli import cli
from cultura.testing.hub import LocalHub

from .conftest import TEXTS

REPO = "org/zh-sentiment"
MORE = ["i loved the food", "terrible and slow", "great , we loved it", "a waste of money",
        "服务 很 好", "never again , terrible", "the movie was fine", "he is a nurse"]


def publish(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, ["publish", *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


@pytest.fixture
def versions(local_hub: LocalHub, artifact: Callable[..., Path], tmp_path: Path) -> Any:
    """Version 1 published; its own predictions as the old evaluation data (it scores 100 on
    them) and the same texts with the other label (what makes a version forget)."""
    from cultura.adapt.loading import load_pretrained

    v1 = artifact()
    publish(str(v1), "--repo", REPO)
    texts = TEXTS + MORE
    predicted = [p["label"] for p in load_pretrained(v1).predict(texts)]
    other = {"負面": "正面", "正面": "負面"}
    old = write_jsonl(tmp_path / "old-eval.jsonl",
                      [{"text": t, "label": y} for t, y in zip(texts, predicted, strict=True)])
    flipped = write_jsonl(tmp_path / "flipped.jsonl",
                          [{"text": t, "label": other[y]} for t, y in
                           zip(texts, predicted, strict=True)] * 3)
    return type("Versions", (), {"v1": v1, "old": old, "flipped": flipped, "root": tmp_path})


def test_a_version_that_forgets_is_not_published(local_hub: LocalHub, versions: Any) -> None:
    before = local_hub.commits(REPO)
    forgetful = resume(str(versions.v1), str(versions.flipped), rehearsal=0, epochs=10, lr=5e-2,
                       batch_size=8, progress=False)
    forgetful.save_pretrained(versions.root / "v2")
    refused = publish(str(versions.root / "v2"), "--repo", REPO, "--regression-data",
                      str(versions.old), "--max-forgetting", "5", code=1)
    assert isinstance(refused.exception, RegressionError)
    assert "forgets too much" in str(refused.exception)
    assert refused.exception.comparison.old["accuracy"] == 1.0
    assert local_hub.commits(REPO) == before  # nothing was uploaded


def test_a_new_version_is_a_new_commit_with_its_lineage(
    local_hub: LocalHub, versions: Any
) -> None:
    from cultura.adapt.artifact import Manifest

    (first,) = [c for c in local_hub.commits(REPO)][:1]
    kept = resume(str(versions.v1), str(versions.flipped), rehearsal=0, l2sp=1000.0, epochs=2,
                  lr=1e-3, batch_size=8, progress=False)
    kept.save_pretrained(versions.root / "v2")
    out = publish(str(versions.root / "v2"), "--repo", REPO, "--regression-data",
                  str(versions.old), "--max-forgetting", "20", "--json").stdout
    result = json.loads(out[out.index("{"):])
    commits = local_hub.commits(REPO)
    assert commits[0] == result["commit"] and commits[1] == first  # one more commit
    assert result["regression"]["passed"] is True and result["regression"]["metric"] == "macro_f1"
    remote = local_hub.files(REPO)
    manifest = Manifest.from_dict(json.loads(remote["cultura.json"]))
    lineage = manifest.lineage
    assert lineage["version"] == 2 and lineage["penalty"]["kind"] == "l2sp"
    v1_files = Manifest.from_dict(json.loads(local_hub.files(REPO, first)["cultura.json"])).files
    assert lineage["parent"]["repo"] == REPO and lineage["parent"]["revision"] == first
    assert lineage["parent"]["adapter_sha256"] == v1_files["adapter_model.safetensors"]
    gate = lineage["gate"]
    assert gate["passed"] and gate["max_forgetting"] == 20 and gate["old"] == 1.0
    assert gate["previous"]["repo"] == REPO and gate["previous"]["revision"] == first
    card = remote["README.md"].decode()
    assert f"continues version 1, `hf:{REPO}@{first[:12]}`" in card
    assert "regression gate passed" in card and "cultura_lineage" in card
    # the v1 commit is still there, unchanged: versions are revisions
    assert "lineage" not in json.loads(local_hub.files(REPO, first)["cultura.json"])


def test_gate_options_need_their_data(local_hub: LocalHub, artifact: Callable[..., Path],
                                      tmp_path: Path) -> None:
    v1 = artifact()
    assert "--regression-data" in publish(str(v1), "--repo", REPO, "--max-forgetting", "1",
                                          code=2).output
    data = write_jsonl(tmp_path / "d.jsonl", [{"text": "x", "label": "正面"}])
    assert "--max-forgetting" in publish(str(v1), "--repo", REPO, "--regression-data", str(data),
                                         code=2).output
    assert "--previous" in publish(str(v1), "--repo", "org/new-repo", "--regression-data",
                                   str(data), "--max-forgetting", "1", code=2).output
