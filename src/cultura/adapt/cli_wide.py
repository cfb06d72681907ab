"""``cultura wide``: fit, evaluate and use wide models: a wide-and-deep classifier (character
n-grams and the frozen base's reading of the gloss view; :mod:`cultura.adapt.wide`) and a wide
tagger (a CRF over window, word and gloss features; :mod:`cultura.adapt.tagger`); docs/wide.md.

torch, transformers and peft are imported when a sub-command runs, never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cultura.adapt.base import DEFAULT_BASE
from cultura.adapt.precision import dtype_option
from cultura.adapt.tagger import C1, C2, MAX_ITERATIONS
from cultura.cli import emit_json


@click.group(help="""Wide models, fitted in seconds (docs/wide.md): classifiers (character
n-grams plus the frozen base's reading of the text's gloss view, one logistic regression) and
taggers (a CRF over the characters, the culture's words and their dictionary glosses).

\b
Examples:
  cultura wide fit reviews.jsonl --culture zh-Hans --out zh-reviews
  cultura wide predict zh-reviews "服务态度很差" "房间很干净"
  cultura wide evaluate zh-reviews test.jsonl --json
  cultura wide fit-tagger ner.jsonl --culture zh-Hans --out zh-ner
  cultura wide predict zh-ner "毛泽东在北京会见了尼克松。"
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

    names = _new_output(out, labels)
    clf = fit_wide_deep(data, culture, labels=names, base=base, seed=seed, text_field=text_field,
                        label_field=label_field, dtype=dtype)
    summary = {"directory": str(out), "culture": clf.culture, "base": clf.base,
               "labels": list(clf.labels), "C": clf.C, "deep_weight": clf.deep_weight,
               "ngrams": len(clf.ngrams.vocabulary) + len(clf.view_ngrams.vocabulary),
               "gloss_sources": list(clf.gloss_sources)}
    _saved(clf, out, summary, as_json,
           f"{len(clf.labels)} labels, {summary['ngrams']:,} n-grams, C {clf.C:g}, deep weight "
           f"{clf.deep_weight:g} (by cross-validation)")


def _new_output(out: Path, labels: str | None) -> list[str] | None:
    """``--labels`` as a list, once ``--out`` is known not to exist."""
    from cultura.core.errors import CulturaError

    if out.exists():
        raise CulturaError(f"{out} exists; give --out a new directory")
    return [x.strip() for x in labels.split(",") if x.strip()] if labels else None


def _saved(model: Any, out: Path, summary: dict[str, Any], as_json: bool, line: str) -> None:
    """Save ``model`` to ``out`` and report it (``summary`` as JSON, else ``line``)."""
    model.save(out)
    if as_json:
        emit_json(summary)
        return
    click.echo(f"saved {out}: {line}")


@wide.command("fit-tagger", help="""Fit a tagger on DATA (.jsonl/.json/.csv/.tsv, {tokens, tags}
rows: one tag per token, e.g. BIO tags of entities) for --culture and save it to --out: a
linear-chain CRF over each token's window, its word in the culture's segmenter and the word's
dictionary glosses.""")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--culture", "-c", required=True, help="Culture tag, e.g. zh-Hans.")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the tagger to (must not exist).")
@click.option("--labels", default=None, help="Comma-separated tags in id order (default: the data's, sorted).")
@click.option("--text-field", default=None, help="The field holding the tokens (default: tokens).")
@click.option("--label-field", default=None, help="The field holding the tags (default: tags).")
@click.option("--c1", default=C1, show_default=True, type=click.FloatRange(min=0), help="L1 penalty.")
@click.option("--c2", default=C2, show_default=True, type=click.FloatRange(min=0), help="L2 penalty.")
@click.option("--max-iterations", default=MAX_ITERATIONS, show_default=True, type=click.IntRange(min=1),
              help="L-BFGS iterations.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def fit_tagger(data: Path, culture: str, out: Path, labels: str | None, text_field: str | None,
               label_field: str | None, c1: float, c2: float, max_iterations: int, as_json: bool) -> None:
    from cultura.adapt.tagger import fit_wide_tagger

    names = _new_output(out, labels)
    tagger = fit_wide_tagger(data, culture, labels=names, c1=c1, c2=c2, max_iterations=max_iterations,
                             text_field=text_field, label_field=label_field)
    summary = {"directory": str(out), "culture": tagger.culture, "labels": list(tagger.labels),
               "features": len(tagger.crf.features), **tagger.settings, **tagger.features.sources}
    sources = ", ".join([tagger.features.sources["word_rules"] or "no segmenter",
                         *(tagger.features.sources["gloss_sources"] or ["no gloss source"])])
    _saved(tagger, out, summary, as_json,
           f"{len(tagger.labels)} tags, {summary['features']:,} features ({sources})")


def _load(directory: Path, dtype: str) -> Any:
    """The wide model saved in ``directory``: a tagger (``tagger.json``) or a classifier."""
    from cultura.adapt.wide_files import MODEL_FILES

    marker = directory / MODEL_FILES["token-cls"][0]
    if marker.exists() or marker.is_symlink():
        from cultura.adapt.tagger import WideTagger

        return WideTagger.load(directory)
    from cultura.adapt.wide import WideDeepClassifier

    return WideDeepClassifier.load(directory, dtype=dtype)


@wide.command(help="""Predict TEXTS (or --file) with a saved classifier or tagger DIRECTORY (a
tagger gives each text's entities, or its tagged words).""")
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
    from cultura.core.errors import CulturaError

    items = list(texts) + (_texts_from(file) if file is not None else [])
    if not items:
        raise CulturaError("nothing to predict: pass texts as arguments or --file FILE")
    print_predictions(_load(directory, dtype).predict(items, top_k=top_k), as_json)


@wide.command(help="""Accuracy and macro-F1 of a saved classifier DIRECTORY on labelled DATA; token
accuracy and entity precision/recall/F1 of a saved tagger on {tokens, tags} DATA.""")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--text-field", default=None, help="The field holding the text (default: text).")
@click.option("--label-field", default=None, help="The field holding the label (default: label).")
@dtype_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(directory: Path, data: Path, text_field: str | None, label_field: str | None,
             dtype: str, as_json: bool) -> None:
    metrics = _load(directory, dtype).evaluate(data, text_field=text_field, label_field=label_field)
    if as_json:
        emit_json(metrics)
        return
    if "macro_f1" in metrics:
        click.echo(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  n {metrics['n']}")
        for label, f1 in metrics["per_label_f1"].items():
            click.echo(f"  {label}\tF1 {f1:.4f}")
        return
    click.echo(f"token accuracy {metrics['accuracy']:.4f}  n {metrics['n']} sentences")
    if "entity_f1" in metrics:
        click.echo(f"entities: precision {metrics['entity_precision']:.4f}  recall "
                   f"{metrics['entity_recall']:.4f}  F1 {metrics['entity_f1']:.4f}  "
                   f"support {metrics['entity_support']}")
        for kind, row in metrics["per_entity_type"].items():
            click.echo(f"  {kind}\tF1 {row['f1']:.4f}  support {row['support']}")
