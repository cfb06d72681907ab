"""``cultura tokenize-report``, ``cultura train``, ``cultura evaluate``, ``cultura predict``.

torch, transformers and peft are imported inside the commands, never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cultura.adapt.base import DEFAULT_BASE
from cultura.adapt.cli_common import (
    ADAPTER_HELP,
    AdapterArg,
    AdapterParamType,
    adapter_options,
    load_adapter,
)
from cultura.adapt.tokenizer import DEFAULT_MAX_PIECES
from cultura.cli import emit_json

BASE_HELP = (
    "Base model: Hub id, local path or embedded alias (default: the embedded "
    f"{DEFAULT_BASE})."
)


def _console() -> Any:
    from rich.console import Console

    return Console()


def _texts_from(file: str) -> list[str]:
    """Non-blank texts from FILE, or from stdin for ``-``; bytes that are not UTF-8 are a
    one-line error naming stdin or the file and the byte offset."""
    from cultura.adapt.data import read_texts
    from cultura.core.cli import read_stdin

    if file == "-":
        return [line for line in read_stdin().splitlines() if line.strip()]
    return read_texts(file)


@click.command("tokenize-report")
@click.option("--culture", "-c", required=True, help="Culture tag, e.g. zh-Hans.")
@click.option("--base", "-b", default=DEFAULT_BASE, show_default=True, help=BASE_HELP)
@click.option("--no-extend-vocab", is_flag=True, help="Measure the normalizers only.")
@click.option("--max-pieces", default=DEFAULT_MAX_PIECES, show_default=True,
              type=click.IntRange(min=1), help="Count words split into more pieces than this.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.argument("file")
def tokenize_report(
    culture: str, base: str, no_extend_vocab: bool, max_pieces: int, as_json: bool, file: str
) -> None:
    """How the base tokenizer handles FILE before and after the culture's tweaks
    (normalizers + added vocabulary): UNK rate and tokens per character, and per word (white
    space separated; a phrase in scripts without spaces) the share with an UNK piece, lost
    entirely to UNK, or split into more than --max-pieces pieces. FILE: .txt one text per
    line, .jsonl/.csv with a text field, or - for stdin.

    \b
    Example:
      cultura tokenize-report --culture zh-Hans --base all-MiniLM-L6-v2 news.txt --json
    """
    from cultura.adapt.base import resolve_base
    from cultura.adapt.tokenizer import tokenize_report as report

    texts = _texts_from(file)
    path, model_id = resolve_base(base)
    result = report(texts, path, culture, extend_vocab=not no_extend_vocab, max_pieces=max_pieces)
    result["base"] = model_id
    if as_json:
        emit_json(result)
        return
    from rich.table import Table

    table = Table(title=f"{result['culture']} tweaks on {model_id} ({result['lines']} texts, "
                  f"{result['chars']} characters)")
    table.add_column("")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    table.add_row("UNK rate", f"{result['unk_rate_before']:.2%}", f"{result['unk_rate_after']:.2%}")
    table.add_row(
        "tokens per character",
        f"{result['tokens_per_char_before']:.3f}",
        f"{result['tokens_per_char_after']:.3f}",
    )
    table.add_row("tokens", str(result["tokens_before"]), str(result["tokens_after"]))
    table.add_row("UNK tokens", str(result["unk_before"]), str(result["unk_after"]))
    table.add_row("words", str(result["words_before"]), str(result["words_after"]))
    for label, key in (
        ("words with an UNK piece", "word_unk_rate"),
        ("words lost to UNK (all pieces UNK)", "word_all_unk_rate"),
        (f"words in more than {max_pieces} pieces", "word_over_max_pieces_rate"),
    ):
        table.add_row(label, f"{result[key + '_before']:.2%}", f"{result[key + '_after']:.2%}")
    table.add_row("vocabulary", str(result["vocab_size_before"]), str(result["vocab_size_after"]))
    console = _console()
    console.print(table)
    console.print(
        f"normalizers: {', '.join(result['normalizers']) or 'none'}; added tokens: "
        f"{result['added_tokens']}"
    )


@click.command()
@click.argument("data")
@click.option("--culture", "-c", required=True, help="Culture tag, e.g. zh-Hans.")
@click.option("--task", "-t", required=True, help="Task offered by the culture's plugins.")
@click.option("--base", "-b", default=DEFAULT_BASE, show_default=True, help=BASE_HELP)
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False), help="Adapter directory to write.")
@click.option("--eval", "eval_file", default=None, help="Evaluation data (early stopping, metrics).")
@click.option("--epochs", default=3, show_default=True, type=int)
@click.option("--lr", default=5e-4, show_default=True, type=float)
@click.option("--batch-size", default=16, show_default=True, type=int)
@click.option("--grad-accum", default=1, show_default=True, type=int)
@click.option("--warmup-ratio", default=0.1, show_default=True, type=float)
@click.option("--patience", default=None, type=int, help="Early-stopping patience in epochs.")
@click.option("--peft", "peft_method", type=click.Choice(["lora", "prefix", "ia3"]), default=None,
              help="Override the task's PEFT method.")
@click.option("--max-length", default=128, show_default=True, type=int)
@click.option("--no-knowledge", is_flag=True, help="Do not inject the culture's knowledge.")
@click.option("--no-extend-vocab", is_flag=True, help="Do not add the plugins' vocabulary.")
@click.option("--counterfactual", is_flag=True, help="Counterfactual data augmentation.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--license", "license_id", default=None, metavar="ID",
              help="License of the adapter (cultura.json and the model card); default: the "
                   "licence the culture plugin gives its data, else apache-2.0.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the history and metrics as JSON.")
def train(
    data: str, culture: str, task: str, base: str, output: str, eval_file: str | None,
    epochs: int, lr: float, batch_size: int, grad_accum: int, warmup_ratio: float,
    patience: int | None, peft_method: str | None, max_length: int, no_knowledge: bool,
    no_extend_vocab: bool, counterfactual: bool, seed: int, license_id: str | None, overwrite: bool,
    as_json: bool,
) -> None:
    """Train a culture adapter on DATA (.jsonl/.csv) and save it to --output.

    \b
    Example:
      cultura train train.jsonl --culture zh-Hans --task sentiment --eval dev.jsonl -o out/
    """
    from cultura.adapt.artifact import ArtifactError
    from cultura.adapt.model import adapt
    from cultura.core.profile import culture as get_profile

    out = Path(output)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ArtifactError(f"{out} exists and is not empty; pass --overwrite or another --output")
    peft = None
    if peft_method:
        from dataclasses import replace

        peft = replace(get_profile(culture).head(task).peft, method=peft_method)
    model = adapt(
        base,
        culture=culture,
        task=task,
        peft=peft,
        knowledge=not no_knowledge,
        extend_vocab=not no_extend_vocab,
        max_length=max_length,
        seed=seed,
        license=license_id,
    )
    history = model.train(
        data,
        eval_file,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        grad_accum=grad_accum,
        warmup_ratio=warmup_ratio,
        early_stopping_patience=patience,
        counterfactual_augmentation=counterfactual,
        seed=seed,
        progress=not as_json,
    )
    model.save_pretrained(out, overwrite=overwrite)
    if as_json:
        emit_json({"output": str(out), "history": history.as_dict()})
        return
    console = _console()
    for record in history:
        metrics = ", ".join(
            f"{k} {v:.4f}" for k, v in record.eval.items() if isinstance(v, float)
        )
        console.print(f"epoch {record.epoch}: train loss {record.train_loss:.4f}"
                      + (f"; eval {metrics}" if metrics else ""))
    console.print(f"saved {model!r} to {out}")


@click.command(help=f"""Evaluate ADAPTER on labelled DATA (.jsonl/.csv).

{ADAPTER_HELP}

\b
Examples:
  cultura evaluate zh/sentiment test.jsonl --json
  cultura evaluate ./zh-sentiment test.jsonl --base all-MiniLM-L6-v2
""")
@click.argument("adapter", type=AdapterParamType())
@click.argument("data")
@adapter_options
@click.option("--no-knowledge", is_flag=True, help="Evaluate without knowledge injection.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(
    adapter: AdapterArg, data: str, base: str | None, offline: bool, no_knowledge: bool,
    as_json: bool,
) -> None:
    model = load_adapter(adapter, base=base, offline=offline)
    metrics = model.evaluate(data, knowledge=False if no_knowledge else None)
    if as_json:
        emit_json(metrics)
        return
    console = _console()
    for key, value in metrics.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:.3f}" for k, v in value.items())
        elif isinstance(value, float):
            value = f"{value:.4f}"
        console.print(f"{key}: {value}")


@click.command(help=f"""Predict with ADAPTER on TEXTS (or --file); labels in the culture's language.

{ADAPTER_HELP}

\b
Examples:
  cultura predict zh/sentiment "服务太差了"
  cultura predict ./out "这部电影太好看了" "服务太差了" --json
""")
@click.argument("adapter", type=AdapterParamType())
@click.argument("texts", nargs=-1)
@click.option("--file", "-f", "file", default=None, help="Read texts from a file (- for stdin).")
@click.option("--top-k", default=1, show_default=True, type=int, help="Labels per text.")
@adapter_options
@click.option("--no-knowledge", is_flag=True, help="Predict without knowledge injection.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def predict(
    adapter: AdapterArg, texts: tuple[str, ...], file: str | None, top_k: int,
    base: str | None, offline: bool, no_knowledge: bool, as_json: bool,
) -> None:
    from cultura.core.errors import CulturaError

    items = list(texts)
    if file is not None:
        items += _texts_from(file)
    if not items:
        raise CulturaError("nothing to predict: pass texts as arguments or --file FILE")
    model = load_adapter(adapter, base=base, offline=offline)
    results = model.predict(items, top_k=top_k, knowledge=False if no_knowledge else None)
    if as_json:
        emit_json(results)
        return
    console = _console()
    for result in results:
        if "label" in result:
            extra = ", ".join(f"{t['label']} {t['score']:.3f}" for t in result["top"][1:])
            console.print(f"{result['label']} {result['score']:.3f}\t{result['text']}"
                          + (f"\t({extra})" if extra else ""))
        elif "entities" in result:
            tags = " ".join(f"{e['word']}/{e['label']}" for e in result["entities"])
            console.print(tags)
        else:
            console.print(f"{result['text']}{result['generated']}")
