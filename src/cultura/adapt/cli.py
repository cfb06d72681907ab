"""``cultura tokenize-report``, ``cultura train``, ``cultura evaluate``, ``cultura predict``.

torch, transformers and peft are imported inside the commands, never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cultura.adapt.base import DEFAULT_BASE
from cultura.adapt.cli_common import (
    ADAPTER_HELP,
    AdapterArg,
    AdapterParamType,
    adapter_options,
    load_adapter,
    parse_adapter_arg,
)
from cultura.adapt.cli_continual import (
    continual_options,
    data_references,
    refuse_without_resume,
    train_resumed,
)
from cultura.adapt.cli_data import data_options, head_options
from cultura.adapt.defaults import DEFAULT_BATCH_SIZE, DEFAULT_EMBEDDING_LR, DEFAULT_LR
from cultura.adapt.knowledge import DEFAULT_MIN_SCORE
from cultura.adapt.methods import METHODS
from cultura.adapt.precision import dtype_option
from cultura.adapt.tokenizer import DEFAULT_MAX_PIECES
from cultura.cli import emit_json
from cultura.core.types import LM_HEAD_TYPES

if TYPE_CHECKING:
    from cultura.adapt.data import Example

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
@click.option("--head-type", type=click.Choice(["seq-cls", "token-cls", "causal-lm"]),
              default="seq-cls", show_default=True,
              help="Encode as this head is fed (knowledge as a second segment or prompt context).")
@click.option("--max-length", default=128, show_default=True, type=click.IntRange(min=1))
@click.option("--knowledge-top-k", default=1, show_default=True, type=click.IntRange(min=0))
@click.option("--knowledge-min-score", default=DEFAULT_MIN_SCORE, show_default=True, type=float,
              help="Relevance threshold of knowledge retrieval.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.argument("file")
def tokenize_report(
    culture: str, base: str, no_extend_vocab: bool, max_pieces: int, head_type: str,
    max_length: int, knowledge_top_k: int, knowledge_min_score: float, as_json: bool, file: str
) -> None:
    """How the base tokenizer handles FILE before and after the culture's tweaks
    (normalizers + added vocabulary): UNK rate and tokens per character, and per word (white
    space separated; a phrase in scripts without spaces) the share with an UNK piece, lost
    entirely to UNK, or split into more than --max-pieces pieces. Then, with the culture's
    knowledge injected as for --head-type within --max-length tokens: the share of texts
    given knowledge, knowledge tokens per such text, and texts and text tokens cut by
    --max-length (text is never cut for knowledge). FILE: .txt one text per line,
    .jsonl/.csv with a text field, or - for stdin.

    \b
    Example:
      cultura tokenize-report --culture zh-Hans --base all-MiniLM-L6-v2 news.txt --json
    """
    from cultura.adapt.base import resolve_base
    from cultura.adapt.tokenizer import tokenize_report as report

    texts = _texts_from(file)
    path, model_id = resolve_base(base)
    result = report(
        texts, path, culture, extend_vocab=not no_extend_vocab, max_pieces=max_pieces,
        head_type=head_type, max_length=max_length, knowledge_top_k=knowledge_top_k,
        knowledge_min_score=knowledge_min_score,
    )
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
    enc = result["encoding"]
    console.print(
        f"as fed to a {enc['head_type']} head (max length {enc['max_length']}, knowledge: "
        f"{enc['knowledge_entries']} entries, top {enc['knowledge_top_k']}, min score "
        f"{enc['knowledge_min_score']}): knowledge injected into "
        f"{enc['knowledge_injected_rate']:.1%} of texts ({enc['knowledge_tokens_mean']:.1f} "
        f"tokens each); text truncated in {enc['text_truncated_rate']:.1%} of texts "
        f"({enc['text_tokens_cut_rate']:.1%} of text tokens cut)"
    )


@click.command()
@click.argument("data")
@click.option("--culture", "-c", default=None,
              help="Culture tag, e.g. zh-Hans (required unless --resume).")
@click.option("--task", "-t", default=None,
              help="A task a plugin of the culture offers (its head and labels), or the name of "
                   "a head of your own (--head, --head-spec).")
@head_options
@data_options
@click.option("--base", "-b", default=DEFAULT_BASE, show_default=True, help=BASE_HELP)
@click.option("--output", "--out", "-o", "output", required=True, type=click.Path(file_okay=False),
              help="Adapter directory to write.")
@click.option("--eval", "eval_file", default=None, help="Evaluation data (early stopping, metrics).")
@click.option("--method", type=click.Choice(METHODS), default="auto", show_default=True,
              help="wide: a wide classifier or tagger fitted in seconds on what the culture's "
                   "plugins know (docs/wide.md); peft: a PEFT adapter on the base. auto: wide "
                   "for a tagger, and for a classifier when the culture's plugins give "
                   "dictionary glosses (where each measured best, docs/efficacy.md), unless a "
                   "PEFT option below is given; else peft.")
@click.option("--epochs", default=None, type=int,
              help="Default: by the data's size (about 300 optimizer steps, 3 to 20 epochs).")
@click.option("--lr", default=DEFAULT_LR, show_default=True, type=float,
              help="Learning rate of the adapter and head.")
@click.option("--embedding-lr", default=DEFAULT_EMBEDDING_LR, show_default=True, type=float,
              help="Learning rate of the added vocabulary rows.")
@click.option("--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True, type=int)
@click.option("--grad-accum", default=1, show_default=True, type=int)
@click.option("--warmup-ratio", default=0.1, show_default=True, type=float)
@click.option("--patience", default=None, type=int, help="Early-stopping patience in epochs.")
@click.option("--peft", "peft_method", type=click.Choice(["lora", "prefix", "ia3"]), default=None,
              help="Override the task's PEFT method.")
@click.option("--max-length", default=128, show_default=True, type=int)
@click.option("--knowledge/--no-knowledge", default=None,
              help="Inject the culture's knowledge. Default: off for seq-cls and token-cls heads "
                   "(it cost accuracy on real reviews), on for causal-lm.")
@click.option("--knowledge-min-score", default=DEFAULT_MIN_SCORE, show_default=True, type=float,
              help="Relevance threshold of knowledge retrieval (distinctive n-grams matched; a "
                   "tag counts 3).")
@click.option("--no-extend-vocab", is_flag=True, help="Do not add the plugins' vocabulary.")
@click.option("--counterfactual", is_flag=True, help="Counterfactual data augmentation.")
@click.option("--adversarial", type=click.Choice(["fgm", "pgd"]), default=None,
              help="Adversarial training: perturb the input embeddings along the loss gradient "
                   "(FGM: one step; PGD: --pgd-steps projected steps); docs/adversarial.md.")
@click.option("--adv-epsilon", "adv_epsilon", default=None, type=click.FloatRange(min=0),
              help="L2 radius of the perturbation per example (default 1.0); with --adversarial.")
@click.option("--pgd-steps", default=None, type=click.IntRange(min=1),
              help="Steps of --adversarial pgd (default 3).")
@click.option("--perturbation-augmentation", is_flag=True,
              help="Add a copy of each training example under each of the culture's "
                   "perturbations (those cultura robustness measures), with its label.")
@click.option("--start-from", "start_from", default=None, metavar="ADAPTER",
              help="Stack on a language adapter (task lm, same base): a registry name (zh/lm), a "
                   "Hub repo (hf:ORG/REPO) or an adapter directory (./DIR). Its LoRA is merged "
                   "into the base and its added rows are taken over.")
@click.option("--seed", default=0, show_default=True, type=int)
@dtype_option
@click.option("--license", "license_id", default=None, metavar="ID",
              help="License of the adapter (cultura.json and the model card); default: the "
                   "licence the culture plugin gives its data, else apache-2.0.")
@continual_options
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the history and metrics as JSON.")
def train(
    data: str, culture: str, task: str | None, head_type: str | None, head_spec: str | None,
    label_list: tuple[str, ...] | None, labels_from_data: bool, text_field: str | None,
    label_field: str | None, label_map: dict[str, str] | None, base: str, output: str,
    eval_file: str | None, method: str,
    epochs: int | None, lr: float, embedding_lr: float, batch_size: int, grad_accum: int,
    warmup_ratio: float,
    patience: int | None, peft_method: str | None, max_length: int, knowledge: bool | None,
    knowledge_min_score: float,
    no_extend_vocab: bool, counterfactual: bool, adversarial: str | None,
    adv_epsilon: float | None, pgd_steps: int | None, perturbation_augmentation: bool,
    start_from: str | None, seed: int,
    dtype: str, license_id: str | None, overwrite: bool, as_json: bool, **continual: Any,
) -> None:
    """Train a culture adapter on DATA and save it to --output.

    DATA (and --eval) is a .jsonl/.csv/.tsv file of records, or a folder of <label>.txt files
    with one text per line. Every row of both is read and checked before the base model loads.
    The head is the plugin's for --task, or your own: --head TYPE with --labels (or
    --labels-from-data), or --head-spec FILE.json. Every culture has --task lm, a language
    adapter trained on unlabeled text (DATA: a .txt file with one text per line, or any data
    file: labels are ignored); --start-from stacks a task adapter on one.

    What it builds (--method): a wide model by default for a token-cls head, and for a seq-cls
    head of a culture whose plugins give dictionary glosses (Chinese) — a CRF tagger or a
    classifier on the plugins' words and glosses, fitted in seconds, the measured best there
    (docs/wide.md) — unless a PEFT option (--epochs, --lr, --peft, --knowledge, --start-from,
    ...) is given; otherwise a PEFT adapter. stderr names the method and why.

    Writes one line per epoch to stderr as it ends (loss, eval metrics), how training ended
    and which epoch's weights are kept, and a warning when the model predicts one label for
    every eval row; a progress bar is drawn only when stderr is a terminal.

    --dtype bfloat16 (the default on a GPU that supports it) trains in mixed precision with
    float32 master weights; float16 needs a GPU. The adapter is saved in float32 either way.

    \b
    Example:
      cultura train train.jsonl --culture zh-Hans --task sentiment --eval dev.jsonl -o out/
      cultura train train.jsonl -c zh-Hans -t sentiment --method peft -o zh-lora/
      cultura train reviews/ -c zh-Hans -t sentiment --labels 正面,负面 -o binary/
      cultura train ner.jsonl -c zh --head token-cls --labels B-PER,I-PER,B-LOC,I-LOC,O -o ner/
      cultura train texts.txt -c zh-Hans --task lm -o zh-lm/
      cultura train train.jsonl -c zh-Hans -t sentiment --start-from ./zh-lm -o zh-sentiment/
      cultura train new.jsonl --resume ./zh-sentiment --rehearsal 0.2 --rehearsal-data train.jsonl -o v2/
      cultura train train.jsonl -c zh-Hans -t sentiment --adversarial fgm -o zh-robust/
    """
    from cultura.adapt.adversarial import make_adversary
    from cultura.adapt.artifact import ArtifactError
    from cultura.adapt.build import DEFAULT_LICENSE
    from cultura.adapt.cli_data import head_labels, head_plan, read_training_data
    from cultura.adapt.methods import choose_method, fit_wide
    from cultura.adapt.model import adapt
    from cultura.adapt.precision import check_training_dtype
    from cultura.adapt.train import log_to_stderr
    from cultura.core.profile import culture as get_profile

    if continual["resume"] is not None:  # a new version of an adapter: docs/continual.md
        return train_resumed(click.get_current_context())
    refuse_without_resume(click.get_current_context())
    if culture is None:
        raise click.UsageError("Missing option '--culture' / '-c' (or --resume ADAPTER).")
    out = Path(output)
    make_adversary(adversarial, adv_epsilon, pgd_steps)  # a bad combination before anything loads
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ArtifactError(f"{out} exists and is not empty; pass --overwrite or another --output")
    check_training_dtype(dtype, _training_device())  # float16 on CPU: before anything loads
    profile = get_profile(culture)
    plan = head_plan(profile, task, head_type, head_spec, base=base)
    labels = head_labels(plan, label_list, labels_from_data, data, label_field=label_field,
                         label_map=label_map, profile=profile)
    examples, eval_examples = read_training_data(
        data, eval_file, plan, labels, text_field=text_field, label_field=label_field,
        label_map=label_map, profile=profile,
    )
    ctx = click.get_current_context()
    given = [name for name in PEFT_OPTIONS if ctx.get_parameter_source(name) not in (
        click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP)]
    chosen, why = choose_method(method, profile, plan.head_type, [PEFT_OPTIONS[n] for n in given])
    if chosen == "wide":
        click.echo(f"method: wide ({why})", err=True)
        model = fit_wide(data, culture, plan.head_type, labels, base=base, seed=seed,
                         text_field=text_field, label_field=label_field, label_map=label_map,
                         dtype=dtype)
        summary: dict[str, Any] = {"n_train": len(examples)}
        if eval_file is not None:
            summary["eval"] = model.evaluate(eval_file, text_field=text_field,
                                             label_field=label_field, label_map=label_map)
        license_name = license_id or (profile.data_license(plan.task) if plan.plugin else None)
        model.save_pretrained(out, task=plan.task, license=license_name or DEFAULT_LICENSE,
                              overwrite=overwrite, training=summary)
        if as_json:
            emit_json({"output": str(out), "method": "wide", "training": summary})
            return
        _console().print(f"saved a wide {plan.head_type} adapter for {model.culture}/{plan.task} to {out}"
                         + (f"; eval {_headline(summary['eval'])}" if "eval" in summary else ""))
        return
    click.echo(f"method: peft ({why})", err=True)
    peft = None
    if peft_method:
        from dataclasses import replace

        peft = replace(plan.peft, method=peft_method)
    head: dict[str, Any] = (
        {"task": plan.task, "labels": labels or None}
        if plan.plugin or plan.builtin
        else {"head": plan.spec(labels)}
    )
    language: Any = None
    if start_from is not None:  # a directory as is; a name resolved (and loaded) by the registry
        arg = parse_adapter_arg(start_from)
        # merged into the float32 base before the cast to --dtype: read it in float32
        language = arg.path if arg.path is not None else load_adapter(arg, base=base,
                                                                      dtype="float32")
    model = adapt(
        base,
        culture=culture,
        **head,
        peft=peft,
        knowledge=knowledge,
        knowledge_min_score=knowledge_min_score,
        extend_vocab=not no_extend_vocab,
        max_length=max_length,
        seed=seed,
        license=license_id,
        start_from=language,
        dtype=dtype,
    )
    with log_to_stderr():  # one line per epoch as it ends; the bar only on a terminal
        history = model.train(
            examples,
            eval_examples,
            epochs=epochs,
            lr=lr,
            embedding_lr=embedding_lr,
            batch_size=batch_size,
            grad_accum=grad_accum,
            warmup_ratio=warmup_ratio,
            early_stopping_patience=patience,
            counterfactual_augmentation=counterfactual,
            adversarial=adversarial,
            adversarial_epsilon=adv_epsilon,
            pgd_steps=pgd_steps,
            perturbation_augmentation=perturbation_augmentation,
            seed=seed,
        )
    model.training_data = data_references(  # what rehearsal checks the old data against
        model, data, examples, eval_file, eval_examples, license=continual["data_license"],
        text_field=text_field, label_field=label_field,
    )
    model.save_pretrained(out, overwrite=overwrite)
    if as_json:
        emit_json({"output": str(out), "history": history.as_dict()})
        return
    _console().print(f"saved {model!r} to {out}")


#: ``cultura train``'s options that set how a PEFT adapter trains (given: ``--method auto``
#: trains one; with ``--method wide``, an error), by parameter name
PEFT_OPTIONS = {
    "epochs": "--epochs", "lr": "--lr", "embedding_lr": "--embedding-lr",
    "batch_size": "--batch-size", "grad_accum": "--grad-accum", "warmup_ratio": "--warmup-ratio",
    "patience": "--patience", "peft_method": "--peft", "max_length": "--max-length",
    "knowledge": "--knowledge/--no-knowledge", "knowledge_min_score": "--knowledge-min-score",
    "no_extend_vocab": "--no-extend-vocab", "counterfactual": "--counterfactual",
    "adversarial": "--adversarial", "adv_epsilon": "--adv-epsilon", "pgd_steps": "--pgd-steps",
    "perturbation_augmentation": "--perturbation-augmentation", "start_from": "--start-from",
}


def _headline(metrics: dict[str, Any]) -> str:
    keys = ("accuracy", "macro_f1", "entity_f1")
    return ", ".join(f"{k} {metrics[k]:.4f}" for k in keys if isinstance(metrics.get(k), float))


def _training_device() -> str:
    """The device ``train`` runs on here: what Accelerate picks (CUDA when available)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@click.command(help=f"""Evaluate ADAPTER on labelled DATA (.jsonl/.csv/.tsv, or a folder of
<label>.txt files). Classifiers: accuracy, macro-F1, per-label F1; token-cls heads with BIO
tags also entity-level precision, recall and F1 (exact spans, micro-averaged and per type).

{ADAPTER_HELP}

\b
Examples:
  cultura evaluate zh/sentiment test.jsonl --json
  cultura evaluate ./zh-sentiment test.jsonl --base all-MiniLM-L6-v2
""")
@click.argument("adapter", type=AdapterParamType())
@click.argument("data")
@adapter_options
@data_options
@click.option("--no-knowledge", is_flag=True, help="Evaluate without knowledge injection.")
@dtype_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(
    adapter: AdapterArg, data: str, base: str | None, offline: bool, text_field: str | None,
    label_field: str | None, label_map: dict[str, str] | None, no_knowledge: bool,
    dtype: str, as_json: bool,
) -> None:
    from cultura.adapt.wide_adapter import is_wide

    directory = adapter.path or _resolved_directory(adapter, base=base, offline=offline)
    rows = None
    if directory is not None:  # the manifest says what the rows must hold: check them first
        rows = _eval_examples(directory, data, text_field=text_field, label_field=label_field,
                              label_map=label_map)
        adapter = AdapterArg(adapter.text, path=directory)  # resolved once (lockfile included)
    model = load_adapter(adapter, base=base, offline=offline, dtype=dtype, wide=True)
    if is_wide(model):  # no knowledge to inject; it reads the rows itself
        metrics = model.evaluate(data, text_field=text_field, label_field=label_field,
                                 label_map=label_map)
    else:
        metrics = model.evaluate(rows or data, knowledge=False if no_knowledge else None,
                                 text_field=text_field, label_field=label_field,
                                 label_map=label_map)
    if as_json:
        emit_json(metrics)
        return
    console = _console()
    for key, value in metrics.items():
        console.print(f"{key}: {_format_metric(value)}")


def _resolved_directory(adapter: AdapterArg, *, base: str | None, offline: bool) -> Path | None:
    """The directory a name resolves to (installing it from the Hub if needed, as loading
    would), without loading a model; ``None`` when it does not resolve — loading then reports
    why, with its hints."""
    from cultura.adapt.base import resolve_base
    from cultura.registry.errors import OfflineError, ResolutionError
    from cultura.registry.resolve import resolve

    try:
        found = resolve(adapter.text, base=resolve_base(base)[0] if base else None,
                        offline=True if offline else None)
    except (ResolutionError, OfflineError):
        return None
    return found.path


def _eval_examples(directory: Path, data: str, *, text_field: str | None,
                   label_field: str | None, label_map: dict[str, str] | None
                   ) -> list[Example] | None:
    """Every row of ``data``, validated against the adapter's head (read from its manifest)
    before any model loads, so a bad row 900 is reported in a second, not after the base
    (``None`` for an LM head: the model reads the texts itself)."""
    from cultura.adapt.artifact import read_manifest
    from cultura.adapt.data import load_examples
    from cultura.core.profile import culture as culture_profile

    manifest = read_manifest(directory)
    if manifest.head_type in LM_HEAD_TYPES:
        return None
    return load_examples(data, manifest.head_type, manifest.labels, text_field=text_field,
                  label_field=label_field, label_map=label_map,
                  normalize=culture_profile(manifest.culture).normalize)


def _format_metric(value: Any, digits: int = 4) -> str:
    """A metric for the table: floats rounded, dicts as ``key value`` pairs (nested ones in
    parentheses)."""
    if isinstance(value, dict):
        return ", ".join(
            f"{k} ({_format_metric(v, 3)})" if isinstance(v, dict) else f"{k} {_format_metric(v, 3)}"
            for k, v in value.items()
        )
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


@click.command(help=f"""Predict with ADAPTER on TEXTS (or --file); labels in the culture's language.

{ADAPTER_HELP}

\b
Examples:
  cultura predict zh/sentiment "服务太差了"
  cultura predict ./out "这部电影太好看了" "服务太差了" --json
  cultura predict zh/lm "服务太差了" --zero-shot --task sentiment
""")
@click.argument("adapter", type=AdapterParamType())
@click.argument("texts", nargs=-1)
@click.option("--file", "-f", "file", default=None, help="Read texts from a file (- for stdin).")
@click.option("--top-k", default=1, show_default=True, type=int, help="Labels per text.")
@adapter_options
@click.option("--no-knowledge", is_flag=True, help="Predict without knowledge injection.")
@click.option("--zero-shot", is_flag=True, help="Classify without the trained head: verbalizer "
              "log-likelihood (causal LMs) or label-name similarity (docs/zero-shot.md).")
@click.option("--task", default=None, help="--zero-shot: the culture's seq-cls task (default: the adapter's).")
@dtype_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def predict(
    adapter: AdapterArg, texts: tuple[str, ...], file: str | None, top_k: int,
    base: str | None, offline: bool, no_knowledge: bool, zero_shot: bool, task: str | None,
    dtype: str, as_json: bool,
) -> None:
    from cultura.adapt.wide_adapter import is_wide
    from cultura.core.errors import CulturaError

    items = list(texts)
    if file is not None:
        items += _texts_from(file)
    if not items:
        raise CulturaError("nothing to predict: pass texts as arguments or --file FILE")
    if task is not None and not zero_shot:
        raise CulturaError("--task names the task --zero-shot classifies for; add --zero-shot")
    model = load_adapter(adapter, base=base, offline=offline, dtype=dtype, wide=True)
    if is_wide(model):
        if zero_shot:
            raise CulturaError(f"{adapter.text} is a wide model; --zero-shot needs a PEFT "
                               "adapter (its base model reads the prompt)")
        results = model.predict(items, top_k=top_k)
    else:
        results = model.predict(items, top_k=top_k, knowledge=False if no_knowledge else None,
                                zero_shot=zero_shot, task=task)
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
            spans = ", ".join(f"{e['text']}/{e['type']}" for e in result["entities"])
            console.print(f"{result['text']}\t{spans or '(no entities)'}")
        elif "words" in result:
            console.print(" ".join(f"{w['word']}/{w['label']}" for w in result["words"]))
        elif "masks" in result:
            options = "; ".join(", ".join(f"{t['token']} {t['score']:.3f}" for t in m["top"])
                                for m in result["masks"])
            console.print(f"{result['filled']}\t({options})")
        else:
            console.print(f"{result['text']}{result['generated']}")
