"""``cultura wide``: fit, evaluate and use a wide-and-deep classifier (character n-grams and the
frozen base's reading of the gloss view; :mod:`cultura.adapt.wide`, docs/wide.md).

torch, transformers and peft are imported when a sub-command runs, never at import time.
"""

from __future__ import annotations

from pathlib import Path

import click

from cultura.adapt.base import DEFAULT_BASE
from cultura.adapt.precision import dtype_option
from cultura.cli import emit_json


@click.group(help="""Wide-and-deep classifiers: character n-grams plus the frozen base's
reading of the text's gloss view, one logistic regression fitted in seconds (docs/wide.md).

\b
Examples:
  cultura wide fit reviews.jsonl --culture zh-Hans --out zh-reviews
  cultura wide predict zh-reviews "服务态度很差" "房间很干净"
  cultura wide evaluate zh-reviews test.jsonl --json
""")
def wide() -> None:
    """The ``cultura wide`` group."""


@wide.command(help="""Fit a classifier on DATA (.jsonl/.json/.csv/.tsv, {text, label} rows) for
--culture and save it to --out. C and the deep features' weight are chosen by 3-fold
cross-validation on DATA.""")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--culture", "-c", required=True, help="Culture tag, e.g. zh-Hans.")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the classifier to (must not exist).")
@click.option("--base", "-b", default=DEFAULT_BASE, show_default=True,
              help="The frozen encoder: Hub id, local path or embedded alias.")
@click.option("--labels", default=None, help="Comma-separated labels in id order (default: the data's, sorted).")
@click.option("--text-field", default=None, help="The field holding the text (default: text).")
@click.option("--label-field", default=None, help="The field holding the label (default: label).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the cross-validation folds.")
@dtype_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def fit(data: Path, culture: str, out: Path, base: str, labels: str | None, text_field: str | None,
        label_field: str | None, seed: int, dtype: str, as_json: bool) -> None:
    from cultura.adapt.wide import fit_wide_deep
    from cultura.core.errors import CulturaError

    if out.exists():
        raise CulturaError(f"{out} exists; give --out a new directory")
    names = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
    clf = fit_wide_deep(data, culture, labels=names, base=base, seed=seed, text_field=text_field,
                        label_field=label_field, dtype=dtype)
    clf.save(out)
    summary = {"directory": str(out), "culture": clf.culture, "base": clf.base,
               "labels": list(clf.labels), "C": clf.C, "deep_weight": clf.deep_weight,
               "ngrams": len(clf.ngrams.vocabulary) + len(clf.view_ngrams.vocabulary),
               "gloss_sources": list(clf.gloss_sources)}
    if as_json:
        emit_json(summary)
        return
    click.echo(f"saved {out}: {len(clf.labels)} labels, {summary['ngrams']:,} n-grams, "
               f"C {clf.C:g}, deep weight {clf.deep_weight:g} (by cross-validation)")


@wide.command(help="Predict TEXTS (or --file) with a saved classifier DIRECTORY.")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("texts", nargs=-1)
@click.option("--file", "-f", "file", default=None, help="Read texts from a file (- for stdin).")
@click.option("--top-k", default=1, show_default=True, type=click.IntRange(min=1), help="Labels per text.")
@dtype_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def predict(directory: Path, texts: tuple[str, ...], file: str | None, top_k: int, dtype: str,
            as_json: bool) -> None:
    from cultura.adapt.cli import _texts_from
    from cultura.adapt.cli_prompt import print_predictions
    from cultura.adapt.wide import WideDeepClassifier
    from cultura.core.errors import CulturaError

    items = list(texts) + (_texts_from(file) if file is not None else [])
    if not items:
        raise CulturaError("nothing to classify: pass texts as arguments or --file FILE")
    clf = WideDeepClassifier.load(directory, dtype=dtype)
    print_predictions(clf.predict(items, top_k=top_k), as_json)


@wide.command(help="Accuracy and macro-F1 of a saved classifier DIRECTORY on labelled DATA.")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--text-field", default=None, help="The field holding the text (default: text).")
@click.option("--label-field", default=None, help="The field holding the label (default: label).")
@dtype_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(directory: Path, data: Path, text_field: str | None, label_field: str | None,
             dtype: str, as_json: bool) -> None:
    from cultura.adapt.wide import WideDeepClassifier

    clf = WideDeepClassifier.load(directory, dtype=dtype)
    metrics = clf.evaluate(data, text_field=text_field, label_field=label_field)
    if as_json:
        emit_json(metrics)
        return
    click.echo(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  n {metrics['n']}")
    for label, f1 in metrics["per_label_f1"].items():
        click.echo(f"  {label}\tF1 {f1:.4f}")
