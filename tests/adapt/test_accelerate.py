"""Training runs unchanged under `accelerate launch` with two processes (DDP on CPU, gloo)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cultura.adapt.model import load_pretrained

pytestmark = pytest.mark.slow


def test_two_process_training_shards_data_and_saves_once(tiny, manager, tmp_path: Path) -> None:
    launcher = Path(sys.executable).with_name("accelerate")
    if not launcher.exists() and shutil.which("accelerate") is None:
        pytest.skip("the accelerate launcher is not installed")
    output = tmp_path / "adapter"
    results_dir = tmp_path.parent / f"{tmp_path.name}-results"
    results_dir.mkdir()
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(
        [str(launcher if launcher.exists() else "accelerate"), "launch", "--multi_gpu",
         "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
         "--dynamo_backend", "no", "--main_process_port", "0",
         str(Path(__file__).with_name("accelerate_train.py")), str(tiny["bert"]), str(output),
         str(results_dir)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(p.read_text()) for p in sorted(results_dir.glob("rank*.json"))]
    assert [r["rank"] for r in results] == [0, 1] and {r["world"] for r in results} == {2}
    # 48 examples, batch 8: 6 batches per epoch, sharded into 3 per process
    assert all(r["steps"] == [3, 3] for r in results)
    loaded = load_pretrained(output, manager=manager)
    assert loaded.predict(["the food was terrible"])[0]["label"] in ("正面", "负面", "中性")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"], "one artifact, no temp dirs"
