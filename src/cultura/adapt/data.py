"""Training and evaluation data: JSONL, CSV/TSV, Python records or a ``datasets.Dataset``.

Record shapes by head type:

* ``seq-cls``: ``{"text": ..., "label": ...}`` — the label is one of the head's (localized)
  labels, or its integer id;
* ``token-cls``: ``{"tokens": [...], "tags": [...]}`` — one tag per token (in CSV files both
  columns hold space-separated strings or JSON arrays);
* ``causal-lm``: ``{"text": ...}``.

Every bad record raises :class:`~cultura.core.errors.DataError` naming the file, the line (or
record number) and the field, and saying how to fix it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cultura.core.errors import DataError

__all__ = ["Example", "load_examples", "read_records", "read_texts"]

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".tsv")


@dataclass(frozen=True)
class Example:
    """One validated example.

    Attributes:
        text: the input text (``seq-cls``, ``causal-lm``).
        label: the label id (``seq-cls``), or ``None`` when unlabelled.
        tokens / tags: words and their tag ids (``token-cls``).
        where: ``file:line`` (or ``record N``) the example came from, for error messages.
    """

    text: str | None = None
    label: int | None = None
    tokens: tuple[str, ...] | None = None
    tags: tuple[int, ...] | None = None
    where: str = ""


def _is_dataset(obj: object) -> bool:
    module = type(obj).__module__ or ""
    return module.split(".")[0] == "datasets" and hasattr(obj, "column_names")


def read_records(data: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield ``(where, record)`` pairs from a file path, a list of records or a Dataset.

    A list may hold mappings, ``(text, label)`` tuples or plain strings (``{"text": s}``).
    """
    if isinstance(data, (str, Path)):
        yield from _read_file(Path(data))
        return
    if _is_dataset(data):
        for i, row in enumerate(data):
            yield f"dataset record {i}", row
        return
    if isinstance(data, Mapping) or not isinstance(data, Iterable):
        raise DataError(
            f"cannot read training data from a {type(data).__name__}; pass a .jsonl/.csv path, "
            "a list of records ({'text': ..., 'label': ...}) or a datasets.Dataset"
        )
    for i, row in enumerate(data):
        where = f"record {i}"
        if isinstance(row, str):
            yield where, {"text": row}
        elif isinstance(row, Mapping):
            yield where, row
        elif isinstance(row, Sequence) and len(row) == 2:
            yield where, {"text": row[0], "label": row[1]}
        else:
            raise DataError(
                f"{where}: expected a mapping, a (text, label) pair or a string, "
                f"got {type(row).__name__}"
            )


def _read_file(path: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if not path.is_file():
        raise DataError(f"{path}: no such file; pass a .jsonl or .csv file of examples")
    suffix = path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        yield from _read_jsonl(path)
    elif suffix in CSV_SUFFIXES:
        yield from _read_csv(path, "\t" if suffix == ".tsv" else ",")
    else:
        raise DataError(
            f"{path}: unknown data format {suffix or '(no suffix)'!r}; use .jsonl, .json, "
            ".csv or .tsv"
        )


def _read_jsonl(path: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise DataError(f"{path}: item {i}: expected a JSON object, got {type(row).__name__}")
            yield f"{path}: item {i}", row
        return
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno}); each line "
                "must be one JSON object"
            ) from None
        if not isinstance(row, Mapping):
            raise DataError(
                f"{path}:{lineno}: expected a JSON object per line, got {type(row).__name__}"
            )
        yield f"{path}:{lineno}", row


def _read_csv(path: Path, delimiter: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter=delimiter)
            if not reader.fieldnames:
                raise DataError(f"{path}:1: no header row; the first row must name the columns")
            row_start = 2
            for row in reader:
                yield f"{path}:{row_start}", row
                row_start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from None


def _label_id(where: str, field: str, value: Any, labels: Sequence[str]) -> int:
    if isinstance(value, bool) or value is None or value == "":
        raise DataError(f"{where}: field {field!r} is missing; expected one of {', '.join(labels)}")
    if isinstance(value, int):
        if 0 <= value < len(labels):
            return value
        raise DataError(
            f"{where}: field {field!r}: label id {value} is out of range 0-{len(labels) - 1} "
            f"({', '.join(labels)})"
        )
    if isinstance(value, str):
        if value in labels:
            return labels.index(value)
        stripped = value.strip()
        if stripped in labels:
            return labels.index(stripped)
        if stripped.isdigit() and int(stripped) < len(labels):
            return int(stripped)
    raise DataError(
        f"{where}: field {field!r}: unknown label {value!r}; expected one of "
        f"{', '.join(labels)} (or an id 0-{len(labels) - 1})"
    )


def _word_list(where: str, field: str, value: Any) -> list[Any]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: field {field!r}: invalid JSON array ({exc.msg})") from None
        else:
            value = text.split()
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)) or not value:
        raise DataError(f"{where}: field {field!r} must be a non-empty list, got {value!r}")
    return list(value)


def _text(where: str, field: str, row: Mapping[str, Any]) -> str:
    value = row.get(field)
    if not isinstance(value, str) or not value.strip():
        hint = f"; the record has fields {', '.join(map(str, row))}" if field not in row else ""
        raise DataError(
            f"{where}: field {field!r} must be a non-empty string, got {value!r}{hint}"
        )
    return value


def load_examples(
    data: Any,
    head_type: str,
    labels: Sequence[str] = (),
    *,
    require_labels: bool = True,
    text_field: str = "text",
    label_field: str = "label",
    tokens_field: str = "tokens",
    tags_field: str = "tags",
) -> list[Example]:
    """Read and validate examples for a head of ``head_type`` with ``labels``.

    ``require_labels=False`` accepts unlabelled records (for prediction). Raises
    :class:`DataError` naming the file, line and field of the first bad record.
    """
    labels = list(labels)
    out: list[Example] = []
    for where, row in read_records(data):
        if head_type == "token-cls":
            tokens = [str(t) for t in _word_list(where, tokens_field, row.get(tokens_field))]
            tags: tuple[int, ...] | None = None
            if tags_field in row and row[tags_field] not in (None, ""):
                raw = _word_list(where, tags_field, row[tags_field])
                if len(raw) != len(tokens):
                    raise DataError(
                        f"{where}: field {tags_field!r} has {len(raw)} tags for {len(tokens)} "
                        "tokens; give exactly one tag per token"
                    )
                tags = tuple(_label_id(where, tags_field, t, labels) for t in raw)
            elif require_labels:
                raise DataError(f"{where}: field {tags_field!r} is missing (one tag per token)")
            out.append(Example(tokens=tuple(tokens), tags=tags, where=where))
        elif head_type == "seq-cls":
            text = _text(where, text_field, row)
            label: int | None = None
            if row.get(label_field) not in (None, ""):
                label = _label_id(where, label_field, row[label_field], labels)
            elif require_labels:
                raise DataError(
                    f"{where}: field {label_field!r} is missing; expected one of "
                    f"{', '.join(labels)}"
                )
            out.append(Example(text=text, label=label, where=where))
        elif head_type == "causal-lm":
            out.append(Example(text=_text(where, text_field, row), where=where))
        else:
            raise DataError(f"unknown head type {head_type!r}")
    if not out:
        raise DataError(f"{_describe(data)}: no examples found")
    return out


def read_texts(data: Any, *, text_field: str = "text") -> list[str]:
    """Plain texts from a file (``.txt``: one per line), records or a Dataset."""
    if isinstance(data, (str, Path)) and Path(data).suffix.lower() not in (
        *JSON_SUFFIXES,
        *CSV_SUFFIXES,
    ):
        path = Path(data)
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        try:
            return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return [_text(where, text_field, row) for where, row in read_records(data)]


def _describe(data: Any) -> str:
    if isinstance(data, (str, Path)):
        return str(data)
    return type(data).__name__
