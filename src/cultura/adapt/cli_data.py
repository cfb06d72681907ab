"""What ``cultura train`` and ``cultura evaluate`` share about data: the label and field
options, the choice of head (a plugin's task, ``--head`` or ``--head-spec``) and reading every
row of the data before any model loads.

Nothing here imports torch, transformers or peft.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cultura.adapt.lm import LM_TASK, lm_head_type_of
from cultura.core.errors import CulturaError
from cultura.core.types import HEAD_TYPES, LM_HEAD_TYPES, AdapterHeadSpec, PeftSpec

if TYPE_CHECKING:
    from cultura.adapt.data import Example
    from cultura.core.profile import CultureProfile

__all__ = [
    "HeadPlan",
    "data_options",
    "head_labels",
    "head_options",
    "head_plan",
    "read_training_data",
]

F = TypeVar("F", bound=Callable[..., Any])

#: the keys a ``--head-spec`` JSON file may hold
HEAD_SPEC_KEYS = ("task", "head_type", "labels", "peft", "description")


def _split_labels(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = tuple(item.strip() for item in value.split(","))
    if not all(items):
        raise click.BadParameter(
            f"{value!r} has an empty label; give the names separated by commas, e.g. 正面,负面"
        )
    return items


def _split_label_map(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    out: dict[str, str] = {}
    for item in value.split(","):
        key, sep, label = (part.strip() for part in item.partition("="))
        if not sep or not key or not label:
            raise click.BadParameter(f"{item!r} is not VALUE=LABEL; e.g. --label-map 0=负面,1=正面")
        if key in out:
            raise click.BadParameter(f"{key!r} is mapped twice")
        out[key] = label
    return out


def data_options(command: F) -> F:
    """``--text-field``, ``--label-field`` and ``--label-map`` (train and evaluate)."""
    for option in reversed((
        click.option("--text-field", default=None, metavar="FIELD",
                     help="Record field holding the text (token-cls: the tokens) "
                          "[default: text; token-cls: tokens]."),
        click.option("--label-field", default=None, metavar="FIELD",
                     help="Record field holding the label (token-cls: the tags) "
                          "[default: label; token-cls: tags]."),
        click.option("--label-map", callback=_split_label_map, default=None,
                     metavar="VALUE=LABEL,...",
                     help="Map data values to label names, e.g. 0=负面,1=正面; integer labels "
                          "need it."),
    )):
        command = option(command)
    return command


def head_options(command: F) -> F:
    """``--head``, ``--head-spec``, ``--labels`` and ``--labels-from-data`` (train)."""
    for option in reversed((
        click.option("--head", "head_type", type=click.Choice(HEAD_TYPES), default=None,
                     help="Train a head no plugin offers, named by --task (default: the head "
                          "type); needs --labels or --labels-from-data unless causal-lm or "
                          "masked-lm."),
        click.option("--head-spec", type=click.Path(exists=True, dir_okay=False), default=None,
                     metavar="FILE.json",
                     help='A head of your own: {"head_type": ..., "labels": [...], "task": ..., '
                          '"peft": {...}, "description": ...}.'),
        click.option("--labels", "label_list", callback=_split_labels, default=None,
                     metavar="A,B,...",
                     help="The head's labels in id order: a subset of the plugin head's or any "
                          "list (正面,负面 trains a binary head)."),
        click.option("--labels-from-data", is_flag=True,
                     help="Take the head's labels from DATA, sorted by code point."),
    )):
        command = option(command)
    return command


@dataclass(frozen=True)
class HeadPlan:
    """The head ``cultura train`` builds, before its labels are final.

    ``plugin`` is true when a plugin of the culture offers ``task`` (its licence and head are
    used), ``builtin`` when ``task`` is the built-in language adapter ``lm`` (its head type
    follows the base); either way ``adapt`` resolves the task itself. ``labels`` are the
    plugin's or the file's (possibly none yet).
    """

    task: str
    head_type: str
    labels: tuple[str, ...] = ()
    peft: PeftSpec = field(default_factory=PeftSpec)
    description: str = ""
    plugin: bool = False
    builtin: bool = False

    def spec(self, labels: tuple[str, ...]) -> AdapterHeadSpec:
        return AdapterHeadSpec(self.task, self.head_type, labels=labels,  # type: ignore[arg-type]
                               peft=self.peft, description=self.description)


def _read_head_spec(path: str) -> dict[str, Any]:
    """The fields of a ``--head-spec`` JSON file, checked; errors name the file and field."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise CulturaError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise CulturaError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    except (OSError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc.strerror or exc
        raise CulturaError(f"{path}: cannot read the head spec ({reason})") from None
    if not isinstance(data, dict):
        raise CulturaError(
            f"{path}: expected a JSON object with the fields {', '.join(HEAD_SPEC_KEYS)}"
        )
    unknown = sorted(set(data) - set(HEAD_SPEC_KEYS))
    if unknown:
        raise CulturaError(
            f"{path}: unknown field(s) {', '.join(unknown)}; a head spec holds "
            f"{', '.join(HEAD_SPEC_KEYS)}"
        )
    if data.get("head_type") not in HEAD_TYPES:
        raise CulturaError(
            f"{path}: field 'head_type' must be one of {', '.join(HEAD_TYPES)}, got "
            f"{data.get('head_type')!r}"
        )
    labels = data.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise CulturaError(f"{path}: field 'labels' must be a list of label names, got {labels!r}")
    for key in ("task", "description"):
        if not isinstance(data.get(key, ""), str):
            raise CulturaError(f"{path}: field {key!r} must be a string, got {data[key]!r}")
    return {**data, "labels": tuple(labels), "peft": _peft(path, data.get("peft", {}))}


def _peft(path: str, value: Any) -> PeftSpec:
    names = [f.name for f in fields(PeftSpec)]
    if not isinstance(value, dict) or set(value) - set(names):
        raise CulturaError(
            f"{path}: field 'peft' must be an object with some of {', '.join(names)}, got "
            f"{value!r}"
        )
    if isinstance(value.get("target_modules"), list):
        value = {**value, "target_modules": tuple(value["target_modules"])}
    try:
        return PeftSpec(**value)
    except CulturaError as exc:
        raise CulturaError(f"{path}: field 'peft': {exc}") from None


def head_plan(
    profile: CultureProfile, task: str | None, head_type: str | None, head_spec: str | None,
    *, base: str | None = None,
) -> HeadPlan:
    """The head to train: from ``--head-spec``, the plugin's ``--task``, ``--head``, or the
    built-in ``lm`` (a language adapter whose head type follows ``base``'s architecture)."""
    if head_spec is not None:
        if head_type is not None:
            raise click.UsageError("pass --head or --head-spec, not both")
        spec = _read_head_spec(head_spec)
        return HeadPlan(task or spec.get("task") or spec["head_type"], spec["head_type"],
                        spec["labels"], spec["peft"], spec.get("description", ""))
    offered = {c.key: c.value for c in profile.heads}
    tasks = ", ".join(offered) or "none"
    if task in offered:
        spec = offered[task]
        if head_type not in (None, spec.head_type):
            raise click.UsageError(
                f"task {task!r} of culture {profile.tag} is a {spec.head_type} head, not "
                f"{head_type}; drop --head, or name your own head with another --task"
            )
        return HeadPlan(task, spec.head_type, spec.labels, spec.peft, spec.description, plugin=True)
    if head_type is not None:
        return HeadPlan(task or head_type, head_type)
    if task == LM_TASK and base is not None:  # every culture's language adapter
        return HeadPlan(LM_TASK, lm_head_type_of(base), builtin=True)
    if LM_TASK not in offered:
        tasks += f"; every culture has {LM_TASK} (a language adapter)"
    if task is None:
        raise click.UsageError(
            f"pass --task (tasks on offer for {profile.tag}: {tasks}) or --head "
            f"{'|'.join(HEAD_TYPES)} with --labels for a head of your own"
        )
    raise CulturaError(
        f"culture {profile.tag!r} offers no task {task!r}; tasks on offer: {tasks}. To train a "
        f"head of your own, name its type and labels: --task {task} --head token-cls "
        "--labels B-PER,I-PER,O (or --labels-from-data, or --head-spec FILE.json)"
    )


def head_labels(
    plan: HeadPlan,
    given: tuple[str, ...] | None,
    from_data: bool,
    data: str,
    *,
    label_field: str | None,
    label_map: dict[str, str] | None,
    profile: CultureProfile,
) -> tuple[str, ...]:
    """The final labels: ``--labels``, ``--labels-from-data`` or the plan's; spelled as the
    plan's labels where they match after the culture's normalizers."""
    from cultura.adapt.data import labels_from_data, resolve_labels

    if plan.head_type in LM_HEAD_TYPES:
        if given or from_data:
            raise click.UsageError(
                f"a {plan.head_type} head has no labels; drop --labels/--labels-from-data"
            )
        return ()
    if given and from_data:
        raise click.UsageError("pass --labels or --labels-from-data, not both")
    if from_data:
        given = labels_from_data(data, plan.head_type, label_field=label_field,
                                 label_map=label_map, normalize=profile.normalize)
    if given:
        return resolve_labels(given, plan.labels, normalize=profile.normalize, what="--labels")
    if not plan.labels:
        raise click.UsageError(
            f"a {plan.head_type} head needs labels: pass --labels A,B,... (in id order) or "
            "--labels-from-data"
        )
    return plan.labels


def read_training_data(
    data: str,
    eval_data: str | None,
    plan: HeadPlan,
    labels: tuple[str, ...],
    *,
    text_field: str | None,
    label_field: str | None,
    label_map: dict[str, str] | None,
    profile: CultureProfile,
) -> tuple[list[Example], list[Example] | None]:
    """Every row of the training and eval data, validated (the first bad one raises a
    :class:`~cultura.core.errors.DataError` naming file, line and field)."""
    from cultura.adapt.data import load_examples

    def read(path: str) -> list[Example]:
        return load_examples(path, plan.head_type, labels, text_field=text_field,
                             label_field=label_field, label_map=label_map,
                             normalize=profile.normalize)

    return read(data), read(eval_data) if eval_data is not None else None
