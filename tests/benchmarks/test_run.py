"""The serving benchmarks run end to end (``--base tiny``), so they cannot rot unnoticed.

Only that they run and report well-formed rows is checked: the figures themselves are
measurements, never asserted in tests (docs/performance.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_serving_benchmarks_run_on_a_tiny_base_and_report_rows() -> None:
    only = ["mixed", "swap", "merged", "e2e", "throughput", "setup"]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--base", "tiny", "--repeat", "1",
         "--dtypes", "float32", "bfloat16", "--json", "--only", *only],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert "base tiny" in report["machine"]
    names = [row["name"] for row in report["results"]]
    for fragment in ("mixed batch K=32", "adapter swap-in", "merged adapter latency",
                     "end to end", "throughput tiny float32 base model", "bfloat16 vs float32"):
        assert any(fragment in name for name in names), (fragment, names)
    for row in report["results"]:
        assert set(row) == {"name", "value", "unit", "target", "met"}
        assert isinstance(row["value"], (int, float)) and row["value"] >= 0, row
        assert row["met"] in (True, False, None)
