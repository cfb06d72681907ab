"""Classification metrics without extra dependencies: accuracy and macro-F1."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["classification_metrics"]


def classification_metrics(
    gold: Sequence[int], pred: Sequence[int], labels: Sequence[str]
) -> dict[str, object]:
    """Accuracy, macro-F1 (over the labels present in ``gold`` or ``pred``, like
    scikit-learn's default) and per-label F1 keyed by label name."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    n = len(gold)
    correct = sum(1 for g, p in zip(gold, pred, strict=True) if g == p)
    present = sorted(set(gold) | set(pred))
    per_label: dict[str, float] = {}
    for label in present:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == p == label)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if p == label and g != label)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p != label)
        denom = 2 * tp + fp + fn
        per_label[labels[label]] = (2 * tp / denom) if denom else 0.0
    macro = sum(per_label.values()) / len(per_label) if per_label else 0.0
    return {
        "accuracy": correct / n if n else 0.0,
        "macro_f1": macro,
        "n": n,
        "per_label_f1": per_label,
    }
