"""Metrics without extra dependencies: accuracy and macro-F1 for classifiers, and entity-level
precision, recall and F1 for BIO (IOB2) tagging, scored like seqeval's default mode.

Entity spans follow seqeval (and conlleval): ``B-X`` starts an entity, ``I-X`` continues an
entity of type ``X`` and starts one after ``O`` or an entity of another type (an ``I-`` without
``B-`` is not dropped), a type change inside a span ends one entity and starts another. An
entity counts as found only when its type, start and end all match (exact span match).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["bio_entities", "classification_metrics", "entity_metrics", "is_bio"]


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


def is_bio(labels: Sequence[str]) -> bool:
    """Whether ``labels`` are a BIO tag set: each ``O``, ``B-TYPE`` or ``I-TYPE``, with at
    least one ``B-``."""
    return any(t.startswith("B-") for t in labels) and all(
        t == "O" or (t[:2] in ("B-", "I-") and len(t) > 2) for t in labels
    )


def bio_entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entities of one tag sequence as ``(type, start, end)`` with ``end`` exclusive (see
    the module docstring); a tag that is not ``B-``/``I-`` counts as ``O``."""
    entities: list[tuple[str, int, int]] = []
    start: int | None = None
    kind = ""
    for i, tag in enumerate(tags):
        prefix, tag_type = (tag[0], tag[2:]) if tag[:2] in ("B-", "I-") else ("O", "")
        if start is not None and (prefix != "I" or tag_type != kind):
            entities.append((kind, start, i))
            start = None
        if prefix == "B" or (prefix == "I" and start is None):
            start, kind = i, tag_type
    if start is not None:
        entities.append((kind, start, len(tags)))
    return entities


def _prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def entity_metrics(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]
) -> dict[str, object]:
    """Entity-level scores of predicted tag sequences against gold ones (one pair per
    sentence): micro-averaged ``entity_precision``, ``entity_recall``, ``entity_f1``,
    ``entity_support`` (gold entities) and ``per_entity_type``, mapping each type to its
    ``precision``, ``recall``, ``f1`` and ``support``."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sequences but {len(pred)} predicted")
    true_pos: dict[str, int] = {}
    n_gold: dict[str, int] = {}
    n_pred: dict[str, int] = {}
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"sequence {i}: {len(g)} gold tags but {len(p)} predicted")
        gold_set, pred_set = set(bio_entities(g)), set(bio_entities(p))
        for kind, *_ in gold_set:
            n_gold[kind] = n_gold.get(kind, 0) + 1
        for kind, *_ in pred_set:
            n_pred[kind] = n_pred.get(kind, 0) + 1
        for kind, *_ in gold_set & pred_set:
            true_pos[kind] = true_pos.get(kind, 0) + 1
    per_type: dict[str, dict[str, float | int]] = {}
    for kind in sorted(set(n_gold) | set(n_pred)):
        precision, recall, f1 = _prf(true_pos.get(kind, 0), n_pred.get(kind, 0), n_gold.get(kind, 0))
        per_type[kind] = {"precision": precision, "recall": recall, "f1": f1,
                          "support": n_gold.get(kind, 0)}
    precision, recall, f1 = _prf(
        sum(true_pos.values()), sum(n_pred.values()), sum(n_gold.values())
    )
    return {
        "entity_precision": precision,
        "entity_recall": recall,
        "entity_f1": f1,
        "entity_support": sum(n_gold.values()),
        "per_entity_type": per_type,
    }
