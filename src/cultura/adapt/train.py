"""The training loop behind :meth:`CulturalModel.train`.

AdamW over the trainable parameters (adapter, head, added vocabulary rows), linear warmup then
linear decay, gradient accumulation, gradient clipping, evaluation after every epoch with early
stopping on the eval metric (macro-F1 for classifier heads, loss for causal LMs) and the best
weights restored at the end, and a progress bar.

The loop is written against ``accelerate.Accelerator``, so the same script runs on CPU, one GPU
or, unchanged, under ``accelerate launch`` on several GPUs (data is sharded across processes,
gradients are synchronized; only the main process shows progress and saves).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from cultura.adapt.cda import augment
from cultura.core.errors import CulturaError

if TYPE_CHECKING:
    from cultura.adapt.cultural_model import CulturalModel

__all__ = ["EpochRecord", "TrainingHistory", "train"]

COUNTERFACTUAL_METRICS = ("ctf_gap", "flip_rate", "max_group_gap")


@dataclass
class EpochRecord:
    """What one epoch did: mean training loss, learning rate at its end, eval metrics."""

    epoch: int
    train_loss: float
    lr: float
    steps: int
    eval: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainingHistory:
    """The history of one :meth:`CulturalModel.train` call.

    ``metric`` is the eval metric early stopping watched (``best_epoch`` reached
    ``best_value``; the model holds that epoch's weights). Without eval data the last epoch's
    weights are kept and ``best_epoch`` is the last epoch.
    """

    records: list[EpochRecord] = field(default_factory=list)
    metric: str = ""
    best_epoch: int = 0
    best_value: float | None = None
    stopped_early: bool = False
    train_examples: int = 0
    eval_examples: int = 0

    def __iter__(self) -> Any:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def train_losses(self) -> list[float]:
        return [r.train_loss for r in self.records]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _metric_for(head_type: str) -> tuple[str, bool]:
    """(metric name, higher is better)."""
    return ("loss", False) if head_type == "causal-lm" else ("macro_f1", True)


def _counterfactual(cm: CulturalModel, examples: list[Any]) -> list[Any]:
    from dataclasses import replace

    if cm.head_type == "token-cls":
        raise CulturaError(
            "counterfactual augmentation swaps terms in running text; it is not supported for "
            "token-cls heads (tags would no longer align)"
        )
    checks = [
        c.value for c in cm.profile.bias_checks if c.value.metric in COUNTERFACTUAL_METRICS
    ]
    if not checks:
        raise CulturaError(
            f"counterfactual augmentation needs counterfactual bias checks (term groups) for "
            f"{cm.culture}; no installed plugin gives any"
        )
    texts = [e.text for e in examples]
    labels = [cm.labels[e.label] if e.label is not None else None for e in examples]
    new_texts, new_labels = augment(texts, labels, checks)
    label_ids = {label: i for i, label in enumerate(cm.labels)}
    out = list(examples)
    for text, label in list(zip(new_texts, new_labels, strict=True))[len(examples) :]:
        out.append(
            replace(examples[0], text=text, label=label_ids.get(label) if label else None,
                    where="counterfactual augmentation")
        )
    return out


def _knowledge_augment(cm: CulturalModel, examples: list[Any]) -> list[Any]:
    from dataclasses import replace

    if cm.knowledge is None or cm.head_type == "token-cls":
        raise CulturaError(
            "knowledge_augmentation=True needs knowledge sources for the culture and a seq-cls "
            "or causal-lm head"
        )
    texts = cm.tokenizer.normalize([e.text for e in examples])
    new_texts, new_labels = cm.knowledge.augment(texts, [e.label for e in examples])
    extra = [
        replace(examples[0], text=t, label=lbl, where="knowledge augmentation")
        for t, lbl in list(zip(new_texts, new_labels, strict=True))[len(examples) :]
    ]
    return list(examples) + extra


def train(
    cm: CulturalModel,
    train_data: Any,
    eval_data: Any = None,
    *,
    epochs: int = 3,
    lr: float = 5e-4,
    batch_size: int = 16,
    warmup_ratio: float = 0.1,
    grad_accum: int = 1,
    early_stopping_patience: int | None = None,
    counterfactual_augmentation: bool = False,
    knowledge_augmentation: bool = False,
    seed: int = 0,
    progress: bool = True,
    weight_decay: float = 0.01,
    max_grad_norm: float = 1.0,
) -> TrainingHistory:
    """Train ``cm`` in place on ``train_data``; returns the :class:`TrainingHistory`."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from torch.utils.data import DataLoader
    from transformers import get_linear_schedule_with_warmup

    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("grad_accum", grad_accum)):
        if not isinstance(value, int) or value < 1:
            raise CulturaError(f"{name} must be a positive integer, got {value!r}")
    if not 0 <= warmup_ratio < 1:
        raise CulturaError(f"warmup_ratio must be in [0, 1), got {warmup_ratio!r}")
    if lr <= 0:
        raise CulturaError(f"lr must be positive, got {lr!r}")
    examples = cm.examples(train_data)
    eval_examples = cm.examples(eval_data) if eval_data is not None else None
    if counterfactual_augmentation:
        examples = _counterfactual(cm, examples)
    if knowledge_augmentation:
        examples = _knowledge_augment(cm, examples)

    set_seed(seed)
    accelerator = Accelerator(gradient_accumulation_steps=grad_accum)
    model = cm.model
    model.train()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params:
        raise CulturaError("the model has no trainable parameters (was the adapter frozen?)")
    masked = [p for _, p in params if getattr(p, "_cultura_row_mask", False)]
    decay = [p for n, p in params if p.ndim >= 2 and not getattr(p, "_cultura_row_mask", False)]
    no_decay = [p for n, p in params if p.ndim < 2 and not getattr(p, "_cultura_row_mask", False)]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay + masked, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        examples, batch_size=batch_size, shuffle=True, collate_fn=cm.collate, generator=generator
    )
    steps_per_epoch = math.ceil(len(loader) / grad_accum)
    total_steps = steps_per_epoch * epochs
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(total_steps * warmup_ratio), total_steps
    )
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)

    metric, higher = _metric_for(cm.head_type)
    history = TrainingHistory(
        metric=metric if eval_examples is not None else "",
        train_examples=len(examples),
        eval_examples=len(eval_examples) if eval_examples is not None else 0,
    )
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs = 0
    show = progress and accelerator.is_local_main_process
    bar = _progress(show)
    try:
        with bar:
            task = bar.add_task("training", total=len(loader) * epochs, loss=float("nan"))
            for epoch in range(1, epochs + 1):
                model.train()
                losses: list[float] = []
                for batch in loader:
                    with accelerator.accumulate(model):
                        loss = model(**batch).loss
                        accelerator.backward(loss)
                        if accelerator.sync_gradients and max_grad_norm:
                            accelerator.clip_grad_norm_([p for _, p in params], max_grad_norm)
                        optimizer.step()
                        scheduler.step()
                        optimizer.zero_grad()
                    losses.append(float(accelerator.gather(loss.detach()).mean()))
                    bar.update(task, advance=1, loss=losses[-1],
                               description=f"training epoch {epoch}/{epochs}")
                record = EpochRecord(
                    epoch=epoch,
                    train_loss=sum(losses) / len(losses) if losses else float("nan"),
                    lr=float(scheduler.get_last_lr()[0]),
                    steps=len(losses),
                )
                history.records.append(record)
                if eval_examples is None:
                    history.best_epoch = epoch
                    continue
                record.eval = cm.evaluate(eval_examples)
                value = float(record.eval[metric])
                improved = history.best_value is None or (
                    value > history.best_value if higher else value < history.best_value
                )
                if improved:
                    history.best_value, history.best_epoch = value, epoch
                    best_state = {
                        n: p.detach().to("cpu", copy=True) for n, p in cm.model.named_parameters()
                        if p.requires_grad
                    }
                    bad_epochs = 0
                else:
                    bad_epochs += 1
                    if early_stopping_patience is not None and bad_epochs >= early_stopping_patience:
                        history.stopped_early = True
                        break
    finally:
        accelerator.wait_for_everyone()
        cm.model = accelerator.unwrap_model(model)
        accelerator.free_memory()
    if best_state is not None and history.best_epoch != len(history.records):
        with torch.no_grad():
            for n, p in cm.model.named_parameters():
                if n in best_state:
                    p.copy_(best_state[n].to(p.device))
    cm.model.eval()
    cm.history = history
    cm.training_summary = {
        "epochs": len(history.records),
        "best_epoch": history.best_epoch,
        "metric": history.metric,
        "best_value": history.best_value,
        "stopped_early": history.stopped_early,
        "train_examples": history.train_examples,
        "eval_examples": history.eval_examples,
        "lr": lr,
        "batch_size": batch_size,
        "grad_accum": grad_accum,
        "warmup_ratio": warmup_ratio,
        "seed": seed,
        "counterfactual_augmentation": counterfactual_augmentation,
        "knowledge_augmentation": knowledge_augmentation,
        "final_train_loss": history.records[-1].train_loss if history.records else None,
    }
    return history


def _progress(show: bool) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not show,
    )
