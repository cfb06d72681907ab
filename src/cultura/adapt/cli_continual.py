"""The continual-update side of the command line: ``cultura train --resume`` and its options,
the data references a fresh ``cultura train`` records, and ``cultura compare``.

See :mod:`cultura.adapt.continual`. torch is imported only when a command computes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cultura.adapt.cli_common import ADAPTER_HELP, AdapterArg, AdapterParamType, adapter_options
from cultura.adapt.cli_data import data_options
from cultura.adapt.precision import dtype_option
from cultura.cli import emit_json

if TYPE_CHECKING:
    from cultura.adapt.continual import Comparison
    from cultura.adapt.cultural_model import CulturalModel
    from cultura.adapt.data import Example

__all__ = ["adapter_for", "compare", "continual_options", "data_references", "refuse_without_resume",
           "train_resumed"]

F = TypeVar("F", bound=Callable[..., Any])

#: ``cultura train`` options that choose or build the head: a resumed adapter keeps its own
FIXED_BY_ADAPTER = {
    "culture": "--culture", "task": "--task", "head_type": "--head", "head_spec": "--head-spec",
    "label_list": "--labels", "labels_from_data": "--labels-from-data",
    "peft_method": "--peft", "no_extend_vocab": "--no-extend-vocab",
    "start_from": "--start-from", "knowledge": "--knowledge/--no-knowledge",
    "knowledge_min_score": "--knowledge-min-score", "max_length": "--max-length",
    "license_id": "--license",
}
#: options of ``cultura train`` passed on to training as they are (option name -> train())
TRAIN_OPTIONS = {
    "epochs": "epochs", "lr": "lr", "embedding_lr": "embedding_lr", "batch_size": "batch_size",
    "grad_accum": "grad_accum", "warmup_ratio": "warmup_ratio",
    "patience": "early_stopping_patience", "counterfactual": "counterfactual_augmentation",
    "adversarial": "adversarial", "adv_epsilon": "adversarial_epsilon",
    "pgd_steps": "pgd_steps", "perturbation_augmentation": "perturbation_augmentation",
}


def _amount(ctx: click.Context, param: click.Parameter, value: str | None) -> int | float | None:
    """``--rehearsal``: an integer count or a share in (0, 1] (``200``, ``0.2``)."""
    if value is None:
        return None
    text = value.strip()
    try:
        amount: int | float = int(text) if text.lstrip("+").isdigit() else float(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a count (200) nor a share (0.2)") from None
    if isinstance(amount, float) and not 0 < amount <= 1 or amount == 0 or amount < 0:
        raise click.BadParameter(
            f"{value!r}: give a count of old examples (an integer >= 1, e.g. 200) or a share of "
            "them in (0, 1] (e.g. 0.2); --no-rehearsal resumes without any"
        )
    return amount


def continual_options(command: F) -> F:
    """``--resume``, ``--rehearsal``, ``--no-rehearsal``, ``--rehearsal-data``, ``--ewc``,
    ``--l2sp``, ``--fisher-examples`` and ``--data-license`` (``cultura train``)."""
    for option in reversed((
        click.option("--resume", default=None, metavar="ADAPTER",
                     help="Continue training this adapter (a directory, registry name or "
                          "hf:ORG/REPO) on DATA: a new version with its head, labels and "
                          "vocabulary, on its base (--base only to point at a local copy)."),
        click.option("--rehearsal", callback=_amount, default=None, metavar="N|FRACTION",
                     help="With --resume: mix this many examples (200) or this share (0.2) of "
                          "the adapter's earlier training data into DATA; the data is given "
                          "with --rehearsal-data and checked against the hashes it recorded."),
        click.option("--no-rehearsal", is_flag=True,
                     help="With --resume: continue without rehearsal (the new version forgets "
                          "more; the regression gate measures how much)."),
        click.option("--rehearsal-data", multiple=True, metavar="FILE",
                     help="The data the resumed adapter was trained on (repeatable), for "
                          "--rehearsal and --ewc."),
        click.option("--ewc", type=click.FloatRange(min=0, min_open=True), default=None,
                     metavar="LAMBDA",
                     help="With --resume: elastic weight consolidation, pulling each weight "
                          "toward the previous version's by its Fisher information on the old "
                          "data (--rehearsal-data), with this strength."),
        click.option("--l2sp", type=click.FloatRange(min=0, min_open=True), default=None,
                     metavar="LAMBDA",
                     help="With --resume: L2-SP, pulling the trainable weights toward the "
                          "previous version's with this strength."),
        click.option("--fisher-examples", type=click.IntRange(min=1), default=256,
                     show_default=True, help="Old examples the --ewc Fisher is estimated on."),
        click.option("--data-license", default=None, metavar="ID",
                     help="Licence of DATA, recorded with its hashes in cultura.json (default: "
                          "the license of a dataset card README.md next to it, if any)."),
    )):
        command = option(command)
    return command


def adapter_for(text: str, *, base: str | None, offline: bool, dtype: str) -> Any:
    """ADAPTER as :mod:`cultura.adapt.continual` takes it: a directory as its path, a name
    (registry or Hub) loaded as ``cultura predict`` loads it (its ``source`` names it)."""
    from cultura.adapt.cli_common import load_adapter, parse_adapter_arg

    arg = parse_adapter_arg(text)
    if arg.path is not None:
        return str(arg.path)
    return load_adapter(arg, base=base, offline=offline, dtype=dtype)


def _given(ctx: click.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def train_resumed(ctx: click.Context) -> None:
    """``cultura train DATA --resume ADAPTER ...`` (``ctx.params`` holds every option)."""
    from cultura.adapt.artifact import ArtifactError
    from cultura.adapt.continual import resume
    from cultura.adapt.precision import check_training_dtype
    from cultura.adapt.train import log_to_stderr

    p = ctx.params
    fixed = [flag for name, flag in FIXED_BY_ADAPTER.items() if name in p and _given(ctx, name)]
    if fixed:
        raise click.UsageError(
            f"{', '.join(fixed)} cannot change with --resume: the new version keeps the "
            "adapter's head, labels, vocabulary and settings (train a new adapter to change them)"
        )
    if p["rehearsal"] is None and not p["no_rehearsal"]:
        raise click.UsageError(
            "--resume needs a rehearsal choice: --rehearsal N|FRACTION with --rehearsal-data "
            "FILE (the data the adapter was trained on), or --no-rehearsal"
        )
    if p["rehearsal"] is not None and p["no_rehearsal"]:
        raise click.UsageError("--rehearsal and --no-rehearsal contradict each other; pick one")
    if p["ewc"] is not None and p["l2sp"] is not None:
        raise click.UsageError("choose one penalty: --ewc or --l2sp")
    if p["rehearsal_data"] and not (p["rehearsal"] or p["ewc"] is not None):
        raise click.UsageError("--rehearsal-data is read for --rehearsal or --ewc; add one, or "
                               "drop it")
    out = Path(p["output"])
    if out.exists() and any(out.iterdir()) and not p["overwrite"]:
        raise ArtifactError(f"{out} exists and is not empty; pass --overwrite or another --output")
    check_training_dtype(p["dtype"], "cuda" if _cuda() else "cpu")
    options = {target: p[name] for name, target in TRAIN_OPTIONS.items() if name in p}
    with log_to_stderr():
        base = p["base"] if _given(ctx, "base") else None
        adapter = adapter_for(p["resume"], base=base, offline=False, dtype=p["dtype"])
        model = resume(
            adapter, p["data"], p["eval_file"],
            rehearsal=0 if p["no_rehearsal"] else p["rehearsal"],
            rehearsal_data=list(p["rehearsal_data"]), ewc=p["ewc"], l2sp=p["l2sp"],
            fisher_examples=p["fisher_examples"], data_license=p["data_license"],
            text_field=p["text_field"], label_field=p["label_field"], label_map=p["label_map"],
            base=base, dtype=p["dtype"], seed=p["seed"],
            progress=None, **options,
        )
    model.save_pretrained(out, overwrite=p["overwrite"])
    lineage = dict(model.lineage or {})
    if p["as_json"]:
        assert model.history is not None
        emit_json({
            "output": str(out), "history": model.history.as_dict(), "lineage": lineage,
            "training_data": [{k: v for k, v in r.items() if k != "example_hashes"}
                              for r in model.training_data],
        })
        return
    reh = lineage.get("rehearsal")
    pen = lineage.get("penalty")
    penalty = f"{pen['kind']} {pen['lambda']:g}" if pen else "none"
    click.echo(
        f"saved version {lineage['version']} of {model.culture}/{model.spec.task} to {out} "
        f"(continues {p['resume']}; rehearsal: {reh['examples'] if reh else 0} examples; "
        f"penalty: {penalty})"
    )


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def data_references(
    model: CulturalModel,
    data: Any,
    examples: Sequence[Example],
    eval_data: Any,
    eval_examples: Sequence[Example] | None,
    *,
    license: str | None,
    text_field: str | None,
    label_field: str | None,
) -> tuple[Mapping[str, Any], ...]:
    """The ``training_data`` of a version-1 adapter trained by ``cultura train``: DATA and
    --eval, by location, sha256 and per-example hashes."""
    from cultura.adapt.continual import reference_data

    fields = {"text_field": text_field, "label_field": label_field}
    refs = [reference_data(data, examples, model.labels, role="train", version=1,
                           license=license, **fields)]
    if eval_data is not None and eval_examples is not None:
        refs.append(reference_data(eval_data, eval_examples, model.labels, role="eval",
                                   version=1, **fields))
    return tuple(refs)


@click.command(help=f"""Compare two versions of an adapter on the old evaluation DATA: OLD
(the earlier version) and NEW (the one trained further) are evaluated on the same rows, and
forgetting is OLD's score minus NEW's, in points of the head's metric (macro-F1 for text
classifiers, entity-F1 for BIO taggers, accuracy for other taggers). Accuracy and macro-F1
are reported too.

With --max-forgetting it is a regression gate: exit status 1 when NEW forgets more than that
many points (also with --json, after printing).

{ADAPTER_HELP}

\b
Examples:
  cultura compare ./zh-sentiment-v1 ./zh-sentiment-v2 old-test.jsonl --max-forgetting 2
  cultura compare hf:org/zh-sentiment@3f2a... ./v2 old-test.jsonl --json
""")
@click.argument("old", type=AdapterParamType())
@click.argument("new", type=AdapterParamType())
@click.argument("data")
@adapter_options
@data_options
@click.option("--max-forgetting", type=click.FloatRange(min=0), default=None, metavar="POINTS",
              help="Fail when NEW is more than this many points below OLD (e.g. 2).")
@dtype_option
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(
    old: AdapterArg, new: AdapterArg, data: str, base: str | None, offline: bool,
    text_field: str | None, label_field: str | None, label_map: dict[str, str] | None,
    max_forgetting: float | None, dtype: str, as_json: bool,
) -> None:
    from cultura.adapt.continual import compare as run

    old_model, new_model = (adapter_for(a.text, base=base, offline=offline, dtype=dtype)
                            for a in (old, new))
    result = run(old_model, new_model, data, max_forgetting=max_forgetting, base=base,
                 dtype=dtype, text_field=text_field, label_field=label_field,
                 label_map=label_map)
    if as_json:
        emit_json(result.as_dict())
    else:
        _print(result)
    if result.passed is False:
        raise click.exceptions.Exit(1)


def _print(result: Comparison) -> None:
    click.echo(f"{result.old_name} -> {result.new_name} on {result.data} "
               f"({result.examples} examples)")
    for name in result.new:
        mark = " (gated)" if name == result.metric else ""
        click.echo(f"  {name:<10} {100 * result.old[name]:6.1f} -> {100 * result.new[name]:6.1f}"
                   f"  forgetting {result.forgetting[name]:+.1f} points{mark}")
    if result.passed is not None:
        verdict = "passed" if result.passed else "FAILED"
        click.echo(f"regression gate {verdict}: {result.message()}")


def refuse_without_resume(ctx: click.Context) -> None:
    """A fresh ``cultura train`` given an option that only applies with ``--resume``."""
    only = [flag for name, flag in (("rehearsal", "--rehearsal"), ("no_rehearsal", "--no-rehearsal"),
                                    ("rehearsal_data", "--rehearsal-data"), ("ewc", "--ewc"),
                                    ("l2sp", "--l2sp"), ("fisher_examples", "--fisher-examples"))
            if _given(ctx, name)]
    if only:
        raise click.UsageError(f"{', '.join(only)} apply to a new version of an adapter: add "
                               "--resume ADAPTER")
