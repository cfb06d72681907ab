"""The training loop behind :meth:`CulturalModel.train`.

AdamW over the trainable parameters (adapter, head, added vocabulary rows), linear warmup then
linear decay, gradient accumulation, gradient clipping, evaluation after every epoch with early
stopping on the eval metric (macro-F1 for classifier heads, loss for causal LMs) and the best
weights restored at the end.

What it reports goes to the :mod:`logging` logger ``cultura.adapt.train``: one INFO line per
epoch as it ends (``epoch 3/8: loss 0.412, eval accuracy 0.810, macro_f1 0.790 (best)``), an
INFO line saying how training ended and which epoch's weights the model keeps, and a WARNING
when a classifier predicts one label for every eval row (every training row without eval data)
at an epoch's end. A progress bar for the running epoch is drawn on stderr when stderr is a
terminal (``progress=None``) or when forced (``progress=True``); it disappears when the epoch
ends, so its line takes its place and a log file never holds bar redraws.
:func:`log_to_stderr` shows the lines on stderr (``cultura train`` uses it).

The loop is written against ``accelerate.Accelerator``, so the same script runs on CPU, one GPU
or, unchanged, under ``accelerate launch`` on several GPUs (data is sharded across processes,
gradients are synchronized; only the main process shows progress and saves).

Precision is the model's (:attr:`CulturalModel.dtype`, chosen by ``adapt(dtype=...)`` or
``load_pretrained(dtype=...)``): a bfloat16 or float16 model trains in Accelerate's mixed
precision (``bf16``/``fp16`` autocast, a gradient scaler for float16) with float32 master
weights for what trains (adapter, head, added rows), while the frozen base stays in 16 bits;
at the end the trained weights are rounded back to the model's dtype. float16 needs a GPU.
"""

from __future__ import annotations

import logging
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from cultura.adapt.adversarial import make_adversary, perturbation_augment
from cultura.adapt.cda import augment
from cultura.adapt.defaults import DEFAULT_BATCH_SIZE, DEFAULT_EMBEDDING_LR, DEFAULT_LR, auto_epochs
from cultura.adapt.precision import canonical_dtype, check_training_dtype, mixed_precision
from cultura.core.errors import CulturaError
from cultura.core.types import LM_HEAD_TYPES

if TYPE_CHECKING:
    from cultura.adapt.cultural_model import CulturalModel

__all__ = ["EpochRecord", "LengthGroupedBatches", "TrainingHistory", "log_to_stderr", "train"]

logger = logging.getLogger(__name__)

COUNTERFACTUAL_METRICS = ("ctf_gap", "flip_rate", "max_group_gap")

#: batches per group that :class:`LengthGroupedBatches` sorts by length
GROUP_BATCHES = 8
#: the width, in characters, of the length buckets batches are grouped by
BUCKET_CHARS = 32


def example_length(example: Any) -> int:
    """An example's length in characters (its words' for token classification): what
    :class:`LengthGroupedBatches` groups by."""
    if example.tokens is not None:
        return sum(len(w) for w in example.tokens)
    return len(example.text or "")


class LengthGroupedBatches:
    """Batches of example indices that hold examples of similar length, so a batch is padded
    to little more than its own texts (a batch costs as much as its longest text).

    Every epoch draws a new seeded permutation and cuts it into groups of
    :data:`GROUP_BATCHES` batches; each group is ordered by length bucket
    (:data:`BUCKET_CHARS` characters wide, longest first), keeping the random order inside a
    bucket, and cut into batches; then the order of all batches is shuffled. So each example
    is seen once per epoch, batch composition changes from epoch to epoch (texts of similar
    length are mixed at random: data whose texts are all of about one length is batched as by
    a plain shuffle), and the first batch is not always the longest. The same generator state
    gives the same batches.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, generator: Any) -> None:
        self.buckets = [length // BUCKET_CHARS for length in lengths]
        self.batch_size = batch_size
        self.generator = generator

    def __len__(self) -> int:
        return math.ceil(len(self.buckets) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        import torch

        order = torch.randperm(len(self.buckets), generator=self.generator).tolist()
        group = self.batch_size * GROUP_BATCHES
        batches = []
        for start in range(0, len(order), group):
            chunk = sorted(order[start : start + group], key=lambda i: -self.buckets[i])
            batches += [chunk[k : k + self.batch_size] for k in range(0, len(chunk), self.batch_size)]
        for k in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[k]



@dataclass
class EpochRecord:
    """What one epoch did: mean training loss, learning rate at its end, eval metrics.

    ``best`` is true when the epoch improved the watched eval metric; ``single_label`` names
    the one label a classifier predicted for every eval row (every training row without eval
    data) at the epoch's end, ``None`` when it predicted several or the head is no classifier.
    """

    epoch: int
    train_loss: float
    lr: float
    steps: int
    eval: dict[str, Any] = field(default_factory=dict)
    best: bool = False
    single_label: str | None = None


@dataclass
class TrainingHistory:
    """The history of one :meth:`CulturalModel.train` call.

    ``metric`` is the eval metric early stopping watched (``best_epoch`` reached
    ``best_value``; the model holds that epoch's weights). ``stopped_early`` is true when
    early stopping ended training before the last epoch. ``restored_epoch`` is the epoch whose
    weights were copied back at the end (the best one, when a later epoch was worse), ``None``
    when the last epoch's weights were kept. Without eval data the last epoch's weights are
    kept and ``best_epoch`` is the last epoch.
    """

    records: list[EpochRecord] = field(default_factory=list)
    metric: str = ""
    best_epoch: int = 0
    best_value: float | None = None
    stopped_early: bool = False
    restored_epoch: int | None = None
    train_examples: int = 0
    eval_examples: int = 0
    adversarial: dict[str, Any] | None = None
    perturbation_augmentation: dict[str, Any] | None = None

    def __iter__(self) -> Any:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def train_losses(self) -> list[float]:
        return [r.train_loss for r in self.records]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_vocabulary_rows(name: str, param: Any) -> bool:
    """Whether ``param`` holds added vocabulary rows (PEFT trainable tokens or masked rows)."""
    return "trainable_tokens_delta" in name or bool(getattr(param, "_cultura_row_mask", False))


def _metric_for(head_type: str, labels: Sequence[str] = ()) -> tuple[str, bool]:
    """(metric name, higher is better): eval loss for LM heads, entity-level F1 for token
    classifiers with BIO tags (what NER is judged by), macro-F1 otherwise."""
    from cultura.adapt.metrics import is_bio

    if head_type in LM_HEAD_TYPES:
        return "loss", False
    if head_type == "token-cls" and is_bio(labels):
        return "entity_f1", True
    return "macro_f1", True


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
    # the profile converts the terms to the culture's script and gives its word segmenter
    new_texts, new_labels = augment([e.text for e in examples], [e.label for e in examples],
                                    checks, keep_original=False, profile=cm.profile)
    return list(examples) + [
        replace(examples[0], text=text, label=label, where="counterfactual augmentation")
        for text, label in zip(new_texts, new_labels, strict=True)
    ]


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
    epochs: int | None = None,
    lr: float = DEFAULT_LR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    warmup_ratio: float = 0.1,
    grad_accum: int = 1,
    early_stopping_patience: int | None = None,
    counterfactual_augmentation: bool = False,
    knowledge_augmentation: bool = False,
    seed: int = 0,
    progress: bool | None = None,
    weight_decay: float = 0.01,
    max_grad_norm: float = 1.0,
    embedding_lr: float | None = DEFAULT_EMBEDDING_LR,
    adversarial: str | None = None,
    adversarial_epsilon: float | None = None,
    pgd_steps: int | None = None,
    perturbation_augmentation: bool | Sequence[str] = False,
    penalty: Callable[[], Any] | None = None,
) -> TrainingHistory:
    """Train ``cm`` in place on ``train_data``; returns the :class:`TrainingHistory`.

    ``epochs``: ``None`` chooses by the data's size (:func:`auto_epochs`: about
    :data:`TARGET_STEPS` optimizer steps). ``embedding_lr``: the learning rate of the added
    vocabulary rows (``None``: ``lr``). The defaults are measured: docs/efficacy.md.

    ``adversarial``: ``"fgm"`` or ``"pgd"`` trains against a perturbation of the input
    embeddings' output of L2 radius ``adversarial_epsilon`` per example (default 1.0; PGD in
    ``pgd_steps`` steps, default 3); ``perturbation_augmentation``: ``True`` adds a copy of
    each example under each of the culture's perturbations (or a list of their ids). See
    :mod:`cultura.adapt.adversarial` and docs/adversarial.md.

    ``penalty``: a callable returning a scalar added to every batch's loss (its own backward
    pass), e.g. the L2-SP or EWC pull toward a previous version (:mod:`cultura.adapt.continual`).

    ``progress``: ``None`` draws the progress bar when stderr is a terminal, ``True`` always,
    ``False`` never. The per-epoch lines go to the ``cultura.adapt.train`` logger either way
    (see the module docstring).
    """
    import torch
    from accelerate.utils import set_seed
    from torch.utils.data import DataLoader
    from transformers import get_linear_schedule_with_warmup

    for name, value in (("batch_size", batch_size), ("grad_accum", grad_accum)) + (
        () if epochs is None else (("epochs", epochs),)
    ):
        if not isinstance(value, int) or value < 1:
            raise CulturaError(f"{name} must be a positive integer, got {value!r}")
    if not 0 <= warmup_ratio < 1:
        raise CulturaError(f"warmup_ratio must be in [0, 1), got {warmup_ratio!r}")
    if lr <= 0:
        raise CulturaError(f"lr must be positive, got {lr!r}")
    if embedding_lr is not None and embedding_lr <= 0:
        raise CulturaError(f"embedding_lr must be positive, got {embedding_lr!r}")
    examples = cm.examples(train_data)
    eval_examples = cm.examples(eval_data) if eval_data is not None else None
    if counterfactual_augmentation:
        examples = _counterfactual(cm, examples)
    if knowledge_augmentation:
        examples = _knowledge_augment(cm, examples)
    adversary = make_adversary(adversarial, adversarial_epsilon, pgd_steps)
    augmented = None
    if perturbation_augmentation:
        examples, augmented = perturbation_augment(cm, examples, perturbation_augmentation,
                                                   seed=seed)
    if epochs is None:
        epochs = auto_epochs(len(examples), batch_size, grad_accum)

    set_seed(seed)
    if cm.head_type == "masked-lm":  # the masked tokens are drawn from their own generator
        from cultura.adapt.lm import seed_masking

        seed_masking(cm, seed)
    dtype = cm.dtype
    accelerator = _accelerator(grad_accum, dtype)
    model = cm.model
    model.train()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params:
        raise CulturaError("the model has no trainable parameters (was the adapter frozen?)")
    for _, p in params:  # float32 master weights; the frozen base stays in ``dtype``
        p.data = p.data.float()
    embedding_hook = _cast_embeddings(model, dtype)
    if adversary is not None:  # after the cast: the perturbation is added in ``dtype``
        adversary.attach(model)
    rows = [p for n, p in params if _is_vocabulary_rows(n, p)]
    decay = [p for n, p in params if p.ndim >= 2 and not _is_vocabulary_rows(n, p)]
    no_decay = [p for n, p in params if p.ndim < 2 and not _is_vocabulary_rows(n, p)]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
        {"params": rows, "weight_decay": 0.0, "lr": embedding_lr if embedding_lr is not None else lr},
    ]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=lr)
    sampler = LengthGroupedBatches(
        [example_length(e) for e in examples], batch_size, torch.Generator().manual_seed(seed)
    )
    loader = DataLoader(examples, batch_sampler=sampler, collate_fn=cm.collate)
    steps_per_epoch = math.ceil(len(loader) / grad_accum)
    total_steps = steps_per_epoch * epochs
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(total_steps * warmup_ratio), total_steps
    )
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)

    metric, higher = _metric_for(cm.head_type, cm.labels)
    history = TrainingHistory(
        metric=metric if eval_examples is not None else "",
        train_examples=len(examples),
        eval_examples=len(eval_examples) if eval_examples is not None else 0,
        adversarial=adversary.settings() if adversary is not None else None,
        perturbation_augmentation=augmented,
    )
    classifier = cm.head_type not in LM_HEAD_TYPES
    hint = _collapse_hint(cm, examples, epochs, lr) if classifier else ""
    report = accelerator.is_main_process  # one process logs
    console = _stderr_console()
    show = _show_progress(progress, console) and accelerator.is_local_main_process
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs = 0
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            losses: list[float] = []
            predicted = _Predictions()
            with _progress(show, console) as bar:
                task = bar.add_task(f"epoch {epoch}/{epochs}", total=len(loader), loss=float("nan"))
                for batch in loader:
                    with accelerator.accumulate(model):
                        if adversary is not None:  # clean and perturbed passes, half weight each
                            out = adversary.step(model, batch, accelerator)
                        else:
                            out = model(**batch)
                            accelerator.backward(out.loss)
                        if penalty is not None:
                            accelerator.backward(penalty())
                        if accelerator.sync_gradients and max_grad_norm:
                            accelerator.clip_grad_norm_([p for _, p in params], max_grad_norm)
                        optimizer.step()
                        scheduler.step()
                        optimizer.zero_grad()
                    losses.append(float(accelerator.gather(out.loss.detach()).mean()))
                    if classifier and eval_examples is None:
                        predicted.add(out.logits, batch["labels"])
                    bar.update(task, advance=1, loss=losses[-1])
                record = EpochRecord(
                    epoch=epoch,
                    train_loss=sum(losses) / len(losses) if losses else float("nan"),
                    lr=float(scheduler.get_last_lr()[0]),
                    steps=len(losses),
                )
                history.records.append(record)
                if eval_examples is not None:
                    bar.update(task, description=f"epoch {epoch}/{epochs}: evaluating")
                    with predicted.counting(cm.model if classifier else None):
                        record.eval = cm.evaluate(eval_examples)
            record.single_label = predicted.single_label(cm.labels)
            if eval_examples is None:
                history.best_epoch = epoch
            else:
                value = float(record.eval[metric])
                record.best = history.best_value is None or (
                    value > history.best_value if higher else value < history.best_value
                )
                if record.best:
                    history.best_value, history.best_epoch = value, epoch
                    best_state = {
                        n: p.detach().to("cpu", copy=True) for n, p in cm.model.named_parameters()
                        if p.requires_grad
                    }
                    bad_epochs = 0
                else:
                    bad_epochs += 1
            if report:
                logger.info(_epoch_line(record, epochs, history.best_epoch))
                if record.single_label is not None:
                    where = "eval" if eval_examples is not None else "training"
                    logger.warning(_collapse_line(record, cm.head_type, where, predicted, hint))
            patience = early_stopping_patience
            if patience is not None and bad_epochs >= max(patience, 1) and epoch < epochs:
                history.stopped_early = True
                break
    finally:
        accelerator.wait_for_everyone()
        cm.model = accelerator.unwrap_model(model, keep_fp32_wrapper=False)
        accelerator.free_memory()
        if embedding_hook is not None:
            embedding_hook.remove()
        if adversary is not None:
            adversary.detach()
        for _, p in params:  # back to the model's dtype (the best epoch's copy is cast too)
            p.data = p.data.to(dtype)
    if best_state is not None and history.best_epoch != len(history.records):
        with torch.no_grad():
            for n, p in cm.model.named_parameters():
                if n in best_state:
                    p.copy_(best_state[n].to(p.device))
        history.restored_epoch = history.best_epoch
    if report:
        logger.info(_end_line(history, bad_epochs))
    cm.model.eval()
    cm.history = history
    cm.training_summary = {
        "epochs": len(history.records),
        "best_epoch": history.best_epoch,
        "metric": history.metric,
        "best_value": history.best_value,
        "stopped_early": history.stopped_early,
        "restored_epoch": history.restored_epoch,
        "train_examples": history.train_examples,
        "eval_examples": history.eval_examples,
        "lr": lr,
        "batch_size": batch_size,
        "grad_accum": grad_accum,
        "warmup_ratio": warmup_ratio,
        "seed": seed,
        "counterfactual_augmentation": counterfactual_augmentation,
        "knowledge_augmentation": knowledge_augmentation,
        "adversarial": history.adversarial,
        "perturbation_augmentation": augmented,
        "dtype": canonical_dtype(dtype),
        "final_train_loss": history.records[-1].train_loss if history.records else None,
    }
    return history


def _accelerator(grad_accum: int, dtype: Any) -> Any:
    """An ``Accelerator`` in the mixed precision of ``dtype`` (``"no"`` for float32).

    Accelerate keeps one precision per process (its shared ``AcceleratorState``); when an
    earlier ``train`` in this process set another, that state is reset (the distributed
    state is kept), so models of different precisions train one after the other.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    wanted = mixed_precision(dtype)
    state = AcceleratorState._shared_state
    if state and state.get("_mixed_precision") != wanted:
        AcceleratorState._reset_state()
    accelerator = Accelerator(gradient_accumulation_steps=grad_accum, mixed_precision=wanted)
    check_training_dtype(dtype, accelerator.device)
    return accelerator


def _cast_embeddings(model: Any, dtype: Any) -> Any:
    """In mixed precision, a hook casting the input embeddings' output to ``dtype`` (the
    handle to remove; ``None`` in float32). Trained as masked rows (IA3, prefix tuning), the
    whole embedding matrix is a float32 master weight, and a lookup is no op autocast casts:
    without the hook its float32 output would meet the 16-bit layer norm after it."""
    import torch

    if dtype == torch.float32:
        return None

    def cast(_module: Any, _args: Any, output: Any) -> Any:
        return output.to(dtype) if output.is_floating_point() else output

    return model.get_input_embeddings().register_forward_hook(cast)


# ---------------------------------------------------------------------- what training reports
def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _epoch_line(record: EpochRecord, epochs: int, best_epoch: int) -> str:
    """``epoch 3/8: loss 0.412, eval accuracy 0.810, macro_f1 0.790 (best)``."""
    line = f"epoch {record.epoch}/{epochs}: loss {record.train_loss:.3f}"
    if not record.eval:
        return line
    shown = (
        ("accuracy", "macro_f1", "entity_f1") if "macro_f1" in record.eval else ("loss", "perplexity")
    )
    line += ", eval " + ", ".join(
        f"{name} {float(record.eval[name]):.3f}" for name in shown if name in record.eval
    )
    return line + (" (best)" if record.best else f" (best: epoch {best_epoch})")


def _end_line(history: TrainingHistory, bad_epochs: int) -> str:
    """How training ended and which epoch's weights the model keeps."""
    last = len(history.records)
    if not history.metric:
        return (
            f"training finished after {_plural(last, 'epoch')}; kept the weights of the last "
            "epoch (no eval data to choose the best one)"
        )
    best = f"(eval {history.metric} {history.best_value:.3f})"
    kept = (
        f"restored the weights of epoch {history.restored_epoch} {best}"
        if history.restored_epoch is not None
        else f"kept the weights of epoch {last} {best}"
    )
    if history.stopped_early:
        return (
            f"early stopping after epoch {last}: no improvement for "
            f"{_plural(bad_epochs, 'epoch')}; {kept}"
        )
    return f"training finished after {_plural(last, 'epoch')}; {kept}, the best epoch"


def _collapse_hint(cm: CulturalModel, examples: Sequence[Any], epochs: int, lr: float) -> str:
    """What to try when a classifier predicts one label for everything."""
    if cm.head_type == "token-cls":
        gold = Counter(cm.labels[t] for e in examples for t in (e.tags or ()))
    else:
        gold = Counter(cm.labels[e.label] for e in examples if e.label is not None)
    counts = ", ".join(f"{label} {n}" for label, n in gold.most_common())
    return (
        f"hint: train longer (epochs={epochs} now), with a higher learning rate (lr={lr:g} "
        f"now) or on more balanced data (training labels: {counts})"
    )


def _collapse_line(
    record: EpochRecord, head_type: str, where: str, predicted: _Predictions, hint: str
) -> str:
    """The warning for an epoch after which a classifier predicted one label only."""
    unit = "labelled words" if head_type == "token-cls" else "rows"
    return (
        f"the model predicted only {record.single_label!r} for all {predicted.total} {where} "
        f"{unit} at epoch {record.epoch}: it does not tell the labels apart (yet); {hint}"
    )


class _Predictions:
    """Counts of the gold and predicted label ids of a classifier's labelled positions."""

    def __init__(self) -> None:
        self.gold: Counter[int] = Counter()
        self.predicted: Counter[int] = Counter()

    @property
    def total(self) -> int:
        return sum(self.predicted.values())

    def add(self, logits: Any, labels: Any) -> None:
        """Count one batch (``labels`` -100 marks positions without a label)."""
        labels = labels.to(logits.device)
        mask = labels != -100
        self.gold.update(labels[mask].tolist())
        self.predicted.update(logits.detach().argmax(-1)[mask].tolist())

    @contextmanager
    def counting(self, model: Any) -> Iterator[None]:
        """Count every labelled forward pass of ``model`` inside the block (``None``: none).

        A forward hook, so the eval pass of :meth:`CulturalModel.evaluate` is counted as it
        runs instead of predicting the eval set a second time.
        """
        if model is None:
            yield
            return

        def hook(_module: Any, _args: Any, kwargs: dict[str, Any], output: Any) -> None:
            if kwargs.get("labels") is not None and getattr(output, "logits", None) is not None:
                self.add(output.logits, kwargs["labels"])

        handle = model.register_forward_hook(hook, with_kwargs=True)
        try:
            yield
        finally:
            handle.remove()

    def single_label(self, labels: Sequence[str]) -> str | None:
        """The one label predicted everywhere, unless the gold labels are all that label too."""
        if len(self.predicted) != 1 or set(self.gold) == set(self.predicted):
            return None
        (only,) = self.predicted
        return labels[only]


class _LineFormatter(logging.Formatter):
    """INFO lines as they are; warnings and errors prefixed with their level."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        return message


@contextmanager
def log_to_stderr(level: int = logging.INFO) -> Iterator[None]:
    """Show this module's lines (per epoch, how training ended, warnings) on stderr while the
    block runs, as ``cultura train`` does::

        with log_to_stderr():
            model.train("train.jsonl", eval="dev.jsonl")
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LineFormatter())
    saved = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)


# ---------------------------------------------------------------------- progress bar
def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _show_progress(progress: bool | None, console: Any) -> bool:
    """``progress`` when given, else whether stderr is a terminal (or a notebook)."""
    if progress is not None:
        return progress
    return bool(console.is_terminal or console.is_jupyter)


def _progress(show: bool, console: Any, *, loss: bool = True) -> Any:
    """The bar of one epoch on ``console`` (stderr), with its running ``loss`` field unless
    ``loss=False`` (a wide-and-deep fit's bars); it disappears when the work ends."""
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
        *([TextColumn("loss {task.fields[loss]:.4f}")] if loss else []),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not show,
    )
