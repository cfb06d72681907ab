"""Which features the wide tagger uses: each group switched off in turn, on a development split
of the zh-ner training pool (never the test set). The table in docs/efficacy.md ("How the
tagger's features were chosen") is this script's output.

The development split is ``--dev-size`` sentences of ``msra_train.txt`` that are in no
training set of the benchmark (the first 5,000 of each seed's shuffle of the pool), drawn with
a fixed seed. Each variant is the library's own feature extractor
(:class:`cultura.adapt.tagger.TaggerFeatures`) with the culture's segmenter and/or gloss view
left out, fitted with the tagger's defaults on the benchmark's training sets:

* ``window``: neither (each token a word of its own): the classical CRF's window features;
* ``words``: the segmenter's words, no glosses;
* ``glosses``: the glosses of each token alone, no segmenter;
* ``words+glosses``: both, what the wide tagger is.

    python benchmarks/tagger_features.py [--sizes 200,1000] [--seeds 0,1,2] [--dev-size 400]
        [--no-download]

Prints one line per cell to stderr and a markdown table (mean entity F1 over the seeds, in
points) to stdout. About a minute on 2 cores for the defaults.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import efficacy  # noqa: E402  (the benchmark's data, splits and scoring)

#: the seeds' training sets the development split stays clear of
POOL_TRAIN_SIZE = 5000
DEV_SEED = 7
VARIANTS = ("window", "words", "glosses", "words+glosses")


def dev_split(corpus: efficacy.Corpus, size: int, seeds: Sequence[int] = (0, 1, 2)) -> list[Any]:
    """``size`` pool sentences in no training set of ``seeds`` (up to :data:`POOL_TRAIN_SIZE`)."""
    used = {tuple(tokens) for seed in seeds for tokens, _ in corpus.train_set(POOL_TRAIN_SIZE, seed)}
    rest = [s for s in corpus.pool if tuple(s[0]) not in used]
    random.Random(DEV_SEED).shuffle(rest)
    return rest[:size]


def variant_features(name: str, culture: str) -> tuple[Any, Any]:
    """``(profile, TaggerFeatures)`` of a variant of ``culture``'s tagger features."""
    from cultura.adapt.tagger import TaggerFeatures, tagger_features
    from cultura.core.profile import build_profile

    profile = build_profile(culture)
    full = tagger_features(profile)
    rules = full.rules if name in ("words", "words+glosses") else None
    view = full.view if name in ("glosses", "words+glosses") else None
    return profile, TaggerFeatures(rules, view)


def fit_and_tag(name: str, culture: str, labels: Sequence[str], train: Sequence[Any],
                tokens: Sequence[Sequence[str]]) -> list[list[str]]:
    """Fit the variant with the tagger's defaults on ``train``; its tags of ``tokens``."""
    from cultura.adapt.tagger import (
        C1,
        C2,
        MAX_ITERATIONS,
        WideTagger,
        _train_crf,
        normalized_tokens,
    )

    profile, features = variant_features(name, culture)
    rows = features(normalized_tokens(profile, [list(t) for t, _ in train]))
    crf = _train_crf(rows, [list(y) for _, y in train], labels, C1, C2, MAX_ITERATIONS, lambda: None)
    settings = {"c1": C1, "c2": C2, "max_iterations": MAX_ITERATIONS}
    tagger = WideTagger(culture, tuple(labels), settings, crf, features, profile)
    return [[tag for tag, _ in row] for row in tagger.tag([list(t) for t in tokens])]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tagger_features.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[200, 1000])
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument("--dev-size", type=int, default=400)
    p.add_argument("--no-download", action="store_true", help="use only archives already in the cache")
    args = p.parse_args(argv)
    corpus = efficacy.load_corpus("zh-ner", download=not args.no_download)
    dev = dev_split(corpus, args.dev_size)
    gold = [list(y) for _, y in dev]
    scores: dict[tuple[str, int], list[float]] = {}
    for n in args.sizes:
        for seed in args.seeds:
            train = corpus.train_set(n, seed)
            for name in VARIANTS:
                pred = fit_and_tag(name, corpus.culture, corpus.labels, train, [t for t, _ in dev])
                f1 = 100 * efficacy.score_ner(gold, pred)["entity_f1"]
                scores.setdefault((name, n), []).append(f1)
                print(f"n={n} seed={seed} {name}: entity F1 {f1:.1f}", file=sys.stderr, flush=True)
    print(f"| features (dev split, {len(dev)} sentences) | "
          + " | ".join(f"n = {n:,}" for n in args.sizes) + " |")
    print("|---|" + "---:|" * len(args.sizes))
    for name in VARIANTS:
        cells = [statistics.mean(scores[(name, n)]) for n in args.sizes]
        print(f"| {name} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
