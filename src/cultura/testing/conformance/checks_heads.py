"""Checks on adapter heads: unique labels, sample data that parses, uses only declared
labels and is balanced."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from cultura.core.types import LM_HEAD_TYPES
from cultura.testing.conformance.loading import PluginUnderTest
from cultura.testing.conformance.registry import CheckSkipped, needs, register
from cultura.testing.conformance.texts import read_jsonl

__all__ = ["check_adapter_heads", "check_sample_data_balanced"]


def _sample_rows(spec: Any) -> tuple[Path, list[tuple[int, dict[str, Any]]]]:
    path = Path(spec.sample_data())
    assert path.is_file(), f"head {spec.task!r}: sample_data() returned {path}, which is not a file"
    rows = read_jsonl(path)
    assert rows, f"{path}: no rows"
    return path, rows


def _row_labels(spec: Any, path: Path, rows: list[tuple[int, dict[str, Any]]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    labels = set(spec.labels)
    for lineno, row in rows:
        if spec.head_type == "token-cls":
            tokens, tags = row.get("tokens"), row.get("tags")
            assert isinstance(tokens, list) and isinstance(tags, list) and len(tokens) == len(tags), (
                f"{path}:{lineno}: token-cls rows need 'tokens' and 'tags' lists of equal length"
            )
            for tag in tags:
                assert tag in labels, f"{path}:{lineno}: tag {tag!r} is not one of {spec.labels}"
                counts[tag] += 1
        elif spec.head_type == "seq-cls":
            text, label = row.get("text"), row.get("label")
            assert isinstance(text, str) and text.strip(), f"{path}:{lineno}: 'text' missing or empty"
            assert label in labels, f"{path}:{lineno}: label {label!r} is not one of {spec.labels}"
            counts[label] += 1
        else:
            assert isinstance(row.get("text"), str), f"{path}:{lineno}: 'text' missing"
    return counts


def _has_sample_data(plugin: PluginUnderTest) -> str | None:
    reason = needs("cultura_adapter_heads")(plugin)
    if reason:
        return reason
    if not any(spec.sample_data for _, spec in plugin.results("cultura_adapter_heads")):
        return "no adapter head declares sample_data"
    return None


@register("api", needs("cultura_adapter_heads"))
def check_adapter_heads(plugin: PluginUnderTest) -> None:
    """Adapter heads have unique labels; sample data parses and uses only declared labels."""
    heads = plugin.results("cultura_adapter_heads")
    if not heads:
        raise CheckSkipped("cultura_adapter_heads returns no spec for any declared culture")
    for tag, spec in heads:
        assert len(set(spec.labels)) == len(spec.labels), f"{spec.task} ({tag}): duplicate labels"
        if spec.sample_data is not None:
            path, rows = _sample_rows(spec)
            _row_labels(spec, path, rows)


@register("quality", _has_sample_data)
def check_sample_data_balanced(plugin: PluginUnderTest) -> None:
    """Sample data covers every label, with at least 5 rows each and at most 1.5x imbalance."""
    for _, spec in plugin.results("cultura_adapter_heads"):
        if spec.sample_data is None or spec.head_type in LM_HEAD_TYPES:
            continue
        path, rows = _sample_rows(spec)
        counts = _row_labels(spec, path, rows)
        missing = [label for label in spec.labels if counts[label] == 0]
        assert not missing, f"{path}: labels never used: {missing}"
        if spec.head_type == "seq-cls":
            low, high = min(counts.values()), max(counts.values())
            assert low >= 5, f"{path}: only {low} rows for some label ({dict(counts)})"
            assert high <= 1.5 * low, f"{path}: unbalanced labels {dict(counts)}"
