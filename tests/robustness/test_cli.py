"""``cultura robustness`` run as a console script on the tiny adapter, with the test plugin
installed: table, --json, --png, gates and exit status, a broken perturbation named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def _run(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "CULTURA_LOAD_PLUGINS": "testrobust",
           "CULTURA_PLUGIN_TIMEOUT": "1", "COLUMNS": "200"}
    exe = Path(sys.executable).with_name("cultura")
    return subprocess.run([str(exe), "robustness", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_json_png_and_a_failing_gate(robust_site: Path, robust_adapter: Any,
                                     eval_file: Path, tmp_path: Path) -> None:
    png = tmp_path / "robustness.png"
    done = _run(robust_site, str(robust_adapter.directory), str(eval_file), "--json",
                "--png", str(png), "--max-flip-rate", "0.2")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["clean_accuracy"] == 1.0 and data["n"] == 12
    by_id = {p["id"]: p for p in data["perturbations"]}
    assert by_id["eo.swap"]["flip_rate"] >= 0.9
    assert by_id["eo.inert"]["status"] == "inert"
    assert by_id["eo.hangs"]["status"] == "failed"
    assert "within 1 s (CULTURA_PLUGIN_TIMEOUT)" in by_id["eo.hangs"]["error"]
    assert data["gate"]["passed"] is False
    assert any(f.startswith("eo.swap: flip rate") for f in data["gate"]["failures"])
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_table_and_a_passing_gate(robust_site: Path, robust_adapter: Any,
                                  eval_file: Path) -> None:
    done = _run(robust_site, str(robust_adapter.directory), str(eval_file),
                "-p", "eo.upper", "-p", "eo.inert", "--max-flip-rate", "0", "--min-accuracy",
                "0.9")
    assert done.returncode == 0, done.stderr
    assert "clean accuracy 100.0% on 12 rows" in done.stdout
    assert "eo.upper" in done.stdout and "eo.swap" not in done.stdout
    assert "eo.inert (cultura-testrobust 0.1.0) changed no text" in done.stdout
    assert "passed" in done.stdout


def test_usage_errors(robust_site: Path, robust_adapter: Any, eval_file: Path) -> None:
    done = _run(robust_site, str(robust_adapter.directory), str(eval_file),
                "--max-flip-rate", "5")
    assert done.returncode == 2 and "is not a share" in done.stderr
    done = _run(robust_site, str(robust_adapter.directory), str(eval_file), "-p", "nope")
    assert done.returncode == 1
    assert "no perturbation 'nope' for culture eo" in done.stderr
