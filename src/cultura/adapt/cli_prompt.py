"""``cultura prompt`` and ``cultura zero-shot``: few- and zero-shot classification
(docs/zero-shot.md).

``cultura prompt`` builds a prompt without any model (torch is never imported); ``cultura
zero-shot`` imports torch, transformers and peft when it runs, never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cultura.adapt.base import DEFAULT_BASE
from cultura.adapt.precision import dtype_option
from cultura.adapt.prompting import DEFAULT_K, METHODS, NORMALIZATIONS
from cultura.cli import emit_json

SHOTS_HELP = (
    "Few-shot examples: a number N (N examples of the head's sample data, one label after the "
    "other) or a .jsonl/.csv file of {text, label} rows."
)


def _shots(ctx: click.Context, param: click.Parameter, value: str | None) -> int | Path:
    """``--shots``: a count, or a data file that exists."""
    if value is None:
        return 0
    if value.isdigit():
        return int(value)
    path = Path(value)
    if not path.exists():
        raise click.BadParameter(
            f"{value!r} is neither a number of shots nor an existing data file", ctx=ctx, param=param
        )
    return path


@click.command(help="""Print the few-/zero-shot prompt of a CULTURE's TASK (a seq-cls head).

The plugin's instruction and example layout, the labels as verbalizers in the culture's
language, few-shot examples (--shots) and, for --text, the culture knowledge retrieved for it.
Without --text the layout is printed with {text} in place of the text.

\b
Examples:
  cultura prompt zh sentiment --text "中秋节一家人吃月饼，真开心" --shots 3
  cultura prompt ja sentiment --shots shots.jsonl --json
""")
@click.argument("culture")
@click.argument("task")
@click.option("--text", "-t", default=None, help="The text to classify.")
@click.option("--shots", default=None, callback=_shots, metavar="N|FILE", help=SHOTS_HELP)
@click.option("--no-knowledge", is_flag=True, help="Leave the culture knowledge out.")
@click.option("--k", "k", default=DEFAULT_K, show_default=True, type=click.IntRange(min=0),
              help="Knowledge entries retrieved for the text.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def prompt(culture: str, task: str, text: str | None, shots: int | Path, no_knowledge: bool,
           k: int, as_json: bool) -> None:
    from cultura.adapt.prompting import prompt as build

    result = build(culture, task, text=text, shots=shots, knowledge=not no_knowledge, k=k)
    if as_json:
        emit_json(result.as_dict())
        return
    click.echo(result.text)


@click.command("zero-shot", help=f"""Classify TEXTS (or --file) for a CULTURE's TASK with a plain base model.

A causal LM (--base Qwen/Qwen2.5-0.5B-Instruct) scores each label's verbalizer by its
log-likelihood after the prompt of `cultura prompt` (mean token log-probability unless
--normalization sum); an encoder (the default {DEFAULT_BASE}) compares the text with the label
names or descriptions (cosine of mean-pooled embeddings). No adapter is trained; labels are
in the culture's language. To use a trained adapter's network: cultura predict ADAPTER
--zero-shot --task TASK.

\b
Examples:
  cultura zero-shot zh sentiment "服务太差了" --base Qwen/Qwen2.5-0.5B-Instruct --shots 3
  cultura zero-shot ja sentiment --file texts.txt --json
""")
@click.argument("culture")
@click.argument("task")
@click.argument("texts", nargs=-1)
@click.option("--file", "-f", "file", default=None, help="Read texts from a file (- for stdin).")
@click.option("--base", "-b", default=DEFAULT_BASE, show_default=True,
              help="Base model: Hub id, local path or embedded alias.")
@click.option("--method", type=click.Choice(METHODS), default=None,
              help="loglik (causal LMs) or similarity; default: by the base's kind.")
@click.option("--normalization", type=click.Choice(NORMALIZATIONS), default="mean", show_default=True,
              help="loglik: mean or sum of the verbalizer's token log-probabilities.")
@click.option("--shots", default=None, callback=_shots, metavar="N|FILE", help=SHOTS_HELP)
@click.option("--no-knowledge", is_flag=True, help="Leave the culture knowledge out of prompts.")
@click.option("--k", "k", default=DEFAULT_K, show_default=True, type=click.IntRange(min=0),
              help="Knowledge entries retrieved per text.")
@click.option("--top-k", default=1, show_default=True, type=click.IntRange(min=1), help="Labels per text.")
@dtype_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def zero_shot(culture: str, task: str, texts: tuple[str, ...], file: str | None, base: str,
              method: str | None, normalization: str, shots: int | Path, no_knowledge: bool,
              k: int, top_k: int, dtype: str, as_json: bool) -> None:
    from cultura.adapt.cli import _texts_from
    from cultura.adapt.zeroshot import zero_shot as build
    from cultura.core.errors import CulturaError

    items = list(texts) + (_texts_from(file) if file is not None else [])
    if not items:
        raise CulturaError("nothing to classify: pass texts as arguments or --file FILE")
    classifier = build(base, culture, task, method=method, normalization=normalization,
                       shots=shots, knowledge=not no_knowledge, k=k, dtype=dtype)
    print_predictions(classifier.predict(items, top_k), as_json)


def print_predictions(results: list[dict[str, Any]], as_json: bool) -> None:
    """seq-cls predictions as JSON or one line per text (label, score, the runners-up);
    token-cls ones as the text and its entities (or its tagged words)."""
    if as_json:
        emit_json(results)
        return
    for result in results:
        if "entities" in result:
            spans = ", ".join(f"{e['text']}/{e['type']}" for e in result["entities"])
            click.echo(f"{result['text']}\t{spans or '(no entities)'}")
            continue
        if "words" in result:
            click.echo(" ".join(f"{w['word']}/{w['label']}" for w in result["words"]))
            continue
        extra = ", ".join(f"{t['label']} {t['score']:.3f}" for t in result["top"][1:])
        click.echo(f"{result['label']} {result['score']:.3f}\t{result['text']}"
                   + (f"\t({extra})" if extra else ""))
