"""``cultura publish --robustness-data FILE --max-flip-rate X``: the robustness gate runs
before the Hub is contacted and refuses an adapter that fails it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def _publish(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "CULTURA_LOAD_PLUGINS": "testrobust",
           "CULTURA_PLUGIN_TIMEOUT": "1", "HF_HUB_OFFLINE": "1", "HF_TOKEN": ""}
    exe = Path(sys.executable).with_name("cultura")
    return subprocess.run([str(exe), "publish", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_a_failing_gate_refuses_to_publish(robust_site: Path, robust_adapter: Any,
                                           eval_file: Path) -> None:
    done = _publish(robust_site, str(robust_adapter.directory), "--repo", "me/eo-sentiment",
                    "--robustness-data", str(eval_file), "--max-flip-rate", "0.2")
    assert done.returncode == 1
    assert "robustness gate failed (max_flip_rate 0.2)" in done.stderr
    assert "not published" in done.stderr and "eo.swap: flip rate" in done.stderr


def test_gate_options_need_each_other(robust_site: Path, robust_adapter: Any,
                                      eval_file: Path) -> None:
    done = _publish(robust_site, str(robust_adapter.directory), "--repo", "me/eo",
                    "--max-flip-rate", "0.2")
    assert done.returncode == 2 and "need --robustness-data FILE" in done.stderr
    done = _publish(robust_site, str(robust_adapter.directory), "--repo", "me/eo",
                    "--robustness-data", str(eval_file))
    assert done.returncode == 2 and "--robustness-data needs a threshold" in done.stderr
