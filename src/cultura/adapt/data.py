"""Training and evaluation data: JSONL, CSV/TSV, a folder of one ``.txt`` file per label,
Python records or a ``datasets.Dataset``.

Record shapes by head type (field names are the defaults; ``text_field`` / ``label_field``,
``--text-field`` / ``--label-field`` on the command line, name others):

* ``seq-cls``: ``{"text": ..., "label": ...}`` — the label is the name of one of the head's
  labels; or a folder ``DATA/`` of ``DATA/<label>.txt`` files, one text per line;
* ``token-cls``: ``{"tokens": [...], "tags": [...]}`` — one tag per token (in CSV files both
  columns hold space-separated strings or JSON arrays); ``text_field`` names the tokens field
  and ``label_field`` the tags field;
* ``causal-lm`` and ``masked-lm`` (language adapters): unlabeled text — ``{"text": ...}``
  records, plain strings, a ``.txt`` file with one text per line, or any labeled data (labels
  ignored; token lists are joined; see :func:`lm_examples`).

Labels are matched to the head's labels exactly, else after the culture's normalizers ran on
both (``normalize=``: ``負面`` matches ``负面`` for zh-Hans); the head's spelling is kept.
Integer labels (and digit strings such as CSV cells ``0``/``1``) need an explicit
``label_map={0: "负面", 1: "正面"}`` — data sets disagree on which id is which class — except
in a ``datasets.Dataset`` whose label column is a ``ClassLabel`` (its names are the map).
``label_map`` maps any raw value, e.g. ``{"pos": "正面"}``. Boolean labels are refused.

Every bad record raises :class:`~cultura.core.errors.DataError` naming the file, the line (or
record number) and the field, and saying how to fix it.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cultura.core.errors import CulturaError, DataError
from cultura.core.types import LM_HEAD_TYPES

__all__ = [
    "Example",
    "LabelMatcher",
    "default_fields",
    "labels_from_data",
    "lm_examples",
    "load_examples",
    "read_records",
    "read_texts",
    "resolve_labels",
]

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".tsv")
#: the suffix of the files in a folder of labelled texts (``DATA/<label>.txt``)
FOLDER_SUFFIX = ".txt"

#: a batched text normalizer, e.g. :meth:`cultura.core.profile.CultureProfile.normalize`
Normalize = Callable[[list[str]], list[str]]

_DEFAULT_FIELDS = {
    "seq-cls": ("text", "label"),
    "token-cls": ("tokens", "tags"),
    "causal-lm": ("text", "label"),
    "masked-lm": ("text", "label"),
}
_INTEGER = re.compile(r"[+-]?\d+")


def default_fields(
    head_type: str, text_field: str | None = None, label_field: str | None = None
) -> tuple[str, str]:
    """``(text_field, label_field)`` with ``None`` replaced by the head type's default:
    ``text``/``label``, or ``tokens``/``tags`` for ``token-cls``."""
    if head_type not in _DEFAULT_FIELDS:
        raise DataError(
            f"unknown head type {head_type!r}; expected one of {', '.join(_DEFAULT_FIELDS)}"
        )
    text_default, label_default = _DEFAULT_FIELDS[head_type]
    return text_field or text_default, label_field or label_default


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


def is_missing(value: Any) -> bool:
    """Whether a label cell is empty (``None``, ``""`` or white space)."""
    return value is None or (isinstance(value, str) and not value.strip())


def _map_keys(label_map: Mapping[Any, Any] | None, map_name: str) -> dict[str, str]:
    """``label_map`` with its keys as text (``1`` and ``"1"`` are one key), checked."""
    if label_map is None:
        return {}
    if not isinstance(label_map, Mapping):
        raise CulturaError(
            f"{map_name} must map data values to label names, e.g. {{0: '负面', 1: '正面'}}; "
            f"got a {type(label_map).__name__}"
        )
    out: dict[str, str] = {}
    for key, value in label_map.items():
        if isinstance(key, bool) or not isinstance(key, (int, str)) or not str(key).strip():
            raise CulturaError(
                f"{map_name}: key {key!r} must be an integer or a non-empty string (the value "
                "as it appears in the data)"
            )
        if not isinstance(value, str) or not value.strip():
            raise CulturaError(f"{map_name}: {key!r} must map to a label name, got {value!r}")
        text = str(key).strip()
        if out.get(text, value.strip()) != value.strip():
            raise CulturaError(
                f"{map_name}: {text!r} is mapped twice ({out[text]!r} and {value.strip()!r})"
            )
        out[text] = value.strip()
    return out


def _map_example(key: str, labels: Sequence[str]) -> str:
    """How to map ``key``, on the command line and in Python."""
    target = labels[0] if labels else "LABEL"
    python_key = int(key) if _INTEGER.fullmatch(key) else key
    return f"--label-map '{key}={target}' (Python: label_map={{{python_key!r}: {target!r}}})"


class LabelMatcher:
    """Turns the label values of data records into ids of a head's ``labels``.

    A value is looked up in ``label_map`` first (keys compared as text, so ``1`` and ``"1"``
    are one key), then matched to the labels exactly, then after ``normalize`` (the culture's
    normalizers) ran on both. Integers, digit strings and booleans match only through the map
    or a label of that exact name (``"1"`` for star ratings).
    """

    def __init__(
        self,
        labels: Sequence[str],
        *,
        normalize: Normalize | None = None,
        label_map: Mapping[Any, Any] | None = None,
        map_name: str = "label_map",
    ) -> None:
        self.labels = tuple(labels)
        self._normalize = normalize
        self._forms: dict[str, str] = {}
        self._map = _map_keys(label_map, map_name)
        self._map_name = map_name
        self._by_form: dict[str, list[int]] = {}
        for i, label in enumerate(self.labels):
            self._by_form.setdefault(self.form(label), []).append(i)

    def form(self, text: str) -> str:
        """``text`` stripped and normalized: the form labels are compared in (memoized)."""
        text = text.strip()
        if self._normalize is None:
            return text
        if text not in self._forms:
            self._forms[text] = self._normalize([text])[0].strip()
        return self._forms[text]

    def candidates(self, text: str) -> list[int]:
        """Ids of the labels ``text`` matches: exactly, else after normalization."""
        text = text.strip()
        if text in self.labels:
            return [self.labels.index(text)]
        return list(self._by_form.get(self.form(text), []))

    def name(self, where: str, field: str, value: Any) -> str:
        """The label name ``value`` stands for (through the map); the label need not be one of
        :attr:`labels`. Raises :class:`DataError` for integers without a mapping."""
        key = self._key(where, field, value)
        if key in self._map:
            return self._map[key]
        if _INTEGER.fullmatch(key):
            raise self._integer_error(where, field, key)
        return key

    def id(self, where: str, field: str, value: Any) -> int:
        """The id of the label ``value`` stands for; :class:`DataError` naming ``where`` and
        ``field`` (and how to fix it) when there is none."""
        key = self._key(where, field, value)
        mapped = self._map.get(key)
        found = self.candidates(key if mapped is None else mapped)
        if len(found) == 1:
            return found[0]
        labels = ", ".join(self.labels)
        if len(found) > 1:
            same = ", ".join(self.labels[i] for i in found)
            raise DataError(
                f"{where}: field {field!r}: label {key!r} matches several labels after the "
                f"culture's normalizers ({same}); write the label exactly as the head spells it"
            )
        if mapped is not None:
            raise DataError(
                f"{where}: field {field!r}: {self._map_name} maps {key!r} to {mapped!r}, which "
                f"is not one of the labels: {labels}"
            )
        if _INTEGER.fullmatch(key):
            raise self._integer_error(where, field, key)
        raise DataError(
            f"{where}: field {field!r}: unknown label {key!r}; labels: {labels}. Fix the row, "
            f"map the value with {_map_example(key, self.labels)}, or choose the head's labels "
            "(--labels / --labels-from-data; labels= in Python)"
        )

    def _key(self, where: str, field: str, value: Any) -> str:
        if is_missing(value):
            raise DataError(f"{where}: field {field!r} is missing; expected a label name")
        if isinstance(value, bool):
            raise DataError(
                f"{where}: field {field!r}: boolean label {value!r} is refused (which class is "
                "true?); write the label's name"
                + (f" (one of {', '.join(self.labels)})" if self.labels else "")
            )
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            return value.strip()
        raise DataError(
            f"{where}: field {field!r}: a label must be a label name (a string), got "
            f"{type(value).__name__} {value!r}"
        )

    def _integer_error(self, where: str, field: str, key: str) -> DataError:
        if self._map:
            return DataError(
                f"{where}: field {field!r}: {key!r} is not in the {self._map_name} (it maps "
                f"{', '.join(self._map)}); add it: {_map_example(key, self.labels)}"
            )
        names = list(self.labels[:2]) or ["neg", "pos"]
        cli = ",".join(f"{i}={name}" for i, name in enumerate(names))
        python = ", ".join(f"{i}: {name!r}" for i, name in enumerate(names))
        return DataError(
            f"{where}: field {field!r}: integer label {key} needs an explicit mapping to a label "
            f"name (data sets disagree on which id is which class): pass --label-map {cli} "
            f"(Python: label_map={{{python}}}) with your data's ids"
            + (f" and the labels {', '.join(self.labels)}" if self.labels else "")
            + "; if the numbers are the class names, name them as the head's labels "
            "(--labels 1,2,3; labels= in Python)"
        )


def resolve_labels(
    requested: Sequence[str],
    known: Sequence[str] = (),
    *,
    normalize: Normalize | None = None,
    what: str = "labels",
) -> tuple[str, ...]:
    """The labels of a head built with ``requested`` labels, in their order.

    A requested label that matches one of the ``known`` labels (the plugin head's) exactly or
    after ``normalize`` is spelled as the known one, so outputs keep the plugin's spelling.
    Raises :class:`CulturaError` for a string instead of a list, a non-string or empty label,
    two labels that are one after normalization, or fewer than two labels.
    """
    if isinstance(requested, str) or not isinstance(requested, Iterable):
        raise CulturaError(
            f"{what} must be a list of label names, e.g. ['正面', '负面'], got {requested!r}; "
            "for the labels of a data file use labels_from_data(path) "
            "(cultura.adapt.data; --labels-from-data on the command line)"
        )
    matcher = LabelMatcher(known, normalize=normalize)
    out: list[str] = []
    seen: dict[str, str] = {}
    for label in requested:
        if not isinstance(label, str) or not label.strip():
            raise CulturaError(f"{what}: {label!r} is not a label name (a non-empty string)")
        found = matcher.candidates(label)
        spelled = matcher.labels[found[0]] if len(found) == 1 else label.strip()
        form = matcher.form(spelled)
        if form in seen:
            raise CulturaError(
                f"{what}: {seen[form]!r} and {label!r} are one label (after the culture's "
                "normalizers); give each label once"
            )
        seen[form] = label
        out.append(spelled)
    if len(out) < 2:
        raise CulturaError(f"{what}: a classifier head needs at least two labels, got {out}")
    return tuple(out)


def _is_dataset(obj: object) -> bool:
    module = type(obj).__module__ or ""
    return module.split(".")[0] == "datasets" and hasattr(obj, "column_names")


def _dataset_label_map(data: Any, label_field: str) -> dict[int, str] | None:
    """The names of a ``datasets.ClassLabel`` label column (or a sequence of them)."""
    if not _is_dataset(data):
        return None
    feature = (getattr(data, "features", None) or {}).get(label_field)
    names = getattr(feature, "names", None) or getattr(getattr(feature, "feature", None), "names", None)
    return dict(enumerate(names)) if names else None


def _matcher(
    data: Any,
    labels: Sequence[str],
    label_field: str,
    label_map: Mapping[Any, Any] | None,
    normalize: Normalize | None,
) -> LabelMatcher:
    if label_map is None and (names := _dataset_label_map(data, label_field)) is not None:
        return LabelMatcher(
            labels, normalize=normalize, label_map=names, map_name="dataset's ClassLabel names"
        )
    return LabelMatcher(labels, normalize=normalize, label_map=label_map)


def read_records(
    data: Any, *, text_field: str = "text", label_field: str = "label"
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield ``(where, record)`` pairs from a file or folder path, a list of records or a
    Dataset.

    A list may hold mappings, ``(text, label)`` tuples or plain strings (``{"text": s}``). A
    folder holds ``<label>.txt`` files; each non-blank line becomes
    ``{text_field: line, label_field: <label>}``.
    """
    if isinstance(data, (str, Path)):
        yield from _read_path(Path(data), text_field, label_field)
        return
    if _is_dataset(data):
        for i, row in enumerate(data):
            yield f"dataset record {i}", row
        return
    if isinstance(data, Mapping) or not isinstance(data, Iterable):
        raise DataError(
            f"cannot read training data from a {type(data).__name__}; pass a .jsonl/.csv path, "
            "a folder of <label>.txt files, a list of records ({'text': ..., 'label': ...}) or "
            "a datasets.Dataset"
        )
    for i, row in enumerate(data):
        where = f"record {i}"
        if isinstance(row, str):
            yield where, {text_field: row}
        elif isinstance(row, Mapping):
            yield where, row
        elif isinstance(row, Sequence) and len(row) == 2:
            yield where, {text_field: row[0], label_field: row[1]}
        else:
            raise DataError(
                f"{where}: expected a mapping, a (text, label) pair or a string, "
                f"got {type(row).__name__}"
            )


def _read_path(path: Path, text_field: str, label_field: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if path.is_dir():
        yield from _read_folder(path, text_field, label_field)
        return
    if not path.is_file():
        raise DataError(
            f"{path}: no such file; pass a .jsonl or .csv file of examples, or a folder of "
            "<label>.txt files"
        )
    suffix = path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        yield from _read_jsonl(path)
    elif suffix in CSV_SUFFIXES:
        yield from _read_csv(path, "\t" if suffix == ".tsv" else ",")
    else:
        raise DataError(
            f"{path}: unknown data format {suffix or '(no suffix)'!r}; use .jsonl, .json, "
            ".csv or .tsv, or a folder of <label>.txt files (one text per line)"
        )


def _read_utf8(path: Path, encoding: str = "utf-8") -> str:
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _read_folder(path: Path, text_field: str, label_field: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """A folder of ``<label>.txt`` files: the file stem is the label, one text per line
    (UTF-8, a byte-order mark allowed; blank lines skipped); hidden files are ignored."""
    files = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    other = [p.name for p in files if not p.is_file() or p.suffix.lower() != FOLDER_SUFFIX]
    if other:
        raise DataError(
            f"{path}: a folder of labelled texts holds only <label>.txt files (one text per "
            f"line; the file name is the label); move {', '.join(other)} out of it"
        )
    if not files:
        raise DataError(
            f"{path}: no <label>.txt files in the folder; write one file per label, "
            f"{path}/<label>.txt, with one text per line"
        )
    for file in files:
        for lineno, line in enumerate(_read_utf8(file, "utf-8-sig").splitlines(), start=1):
            if line.strip():
                yield f"{file}:{lineno}", {text_field: line, label_field: file.stem}


def _read_jsonl(path: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    text = _read_utf8(path)
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


def _fields_hint(field: str, row: Mapping[str, Any], option: str) -> str:
    if field in row:
        return ""
    return (
        f"; the record has fields {', '.join(map(str, row))} (name the field with "
        f"--{option}-field, {option}_field= in Python)"
    )


def _text(where: str, field: str, row: Mapping[str, Any]) -> str:
    value = row.get(field)
    if not isinstance(value, str) or not value.strip():
        raise DataError(
            f"{where}: field {field!r} must be a non-empty string, got {value!r}"
            + _fields_hint(field, row, "text")
        )
    return value


def _refuse_folder(data: Any, head_type: str) -> None:
    if head_type == "token-cls" and isinstance(data, (str, Path)) and Path(data).is_dir():
        raise DataError(
            f"{data}: a folder of <label>.txt files holds labelled texts (seq-cls); token-cls "
            "data is a .jsonl/.csv file of records with tokens and tags"
        )


def load_examples(
    data: Any,
    head_type: str,
    labels: Sequence[str] = (),
    *,
    require_labels: bool = True,
    text_field: str | None = None,
    label_field: str | None = None,
    label_map: Mapping[Any, str] | None = None,
    normalize: Normalize | None = None,
) -> list[Example]:
    """Read and validate every example for a head of ``head_type`` with ``labels``.

    Args:
        data: a .jsonl/.json/.csv/.tsv path, a folder of ``<label>.txt`` files, records or a
            ``datasets.Dataset`` (see the module docstring).
        labels: the head's labels, in id order.
        require_labels: ``False`` accepts unlabelled records (for prediction).
        text_field / label_field: the record fields holding the text (the tokens for
            ``token-cls``) and the label (the tags); ``None``: see :func:`default_fields`.
        label_map: data values to label names, e.g. ``{0: "负面", 1: "正面"}`` (needed for
            integer labels).
        normalize: the culture's batched normalizer; labels that differ from the head's only
            by what it changes (script, width) match.

    Raises :class:`DataError` naming the file, line and field of the first bad record.
    """
    text_field, label_field = default_fields(head_type, text_field, label_field)
    if head_type in LM_HEAD_TYPES:  # unlabeled text, any of the shapes above
        return lm_examples(data, text_field)
    _refuse_folder(data, head_type)
    matcher = _matcher(data, labels, label_field, label_map, normalize)
    out: list[Example] = []
    for where, row in read_records(data, text_field=text_field, label_field=label_field):
        if head_type == "token-cls":
            tokens = [str(t) for t in _word_list(where, text_field, row.get(text_field))]
            tags: tuple[int, ...] | None = None
            if not is_missing(row.get(label_field)):
                raw = _word_list(where, label_field, row[label_field])
                if len(raw) != len(tokens):
                    raise DataError(
                        f"{where}: field {label_field!r} has {len(raw)} tags for {len(tokens)} "
                        "tokens; give exactly one tag per token"
                    )
                tags = tuple(matcher.id(where, label_field, t) for t in raw)
            elif require_labels:
                raise DataError(
                    f"{where}: field {label_field!r} is missing (one tag per token)"
                    + _fields_hint(label_field, row, "label")
                )
            out.append(Example(tokens=tuple(tokens), tags=tags, where=where))
        elif head_type == "seq-cls":
            text = _text(where, text_field, row)
            label: int | None = None
            if not is_missing(row.get(label_field)):
                label = matcher.id(where, label_field, row[label_field])
            elif require_labels:
                raise DataError(
                    f"{where}: field {label_field!r} is missing; expected one of "
                    f"{', '.join(labels)}" + _fields_hint(label_field, row, "label")
                )
            out.append(Example(text=text, label=label, where=where))
        else:
            out.append(Example(text=_text(where, text_field, row), where=where))
    if not out:
        raise DataError(f"{_describe(data)}: no examples found")
    return out


#: Han characters and kana (words are not separated by spaces)
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def _join_words(words: Sequence[str]) -> str:
    """Words joined with spaces, except between two Han/kana characters (``北 京`` -> ``北京``)."""
    out = ""
    for word in words:
        if out and not (_CJK_CHAR.match(out[-1]) and _CJK_CHAR.match(word[:1])):
            out += " "
        out += word
    return out


def lm_examples(data: Any, text_field: str | None = None) -> list[Example]:
    """Unlabeled texts for an LM head (``causal-lm``, ``masked-lm``), as examples.

    ``data``: a ``.txt`` file (one text per line, UTF-8, blank lines skipped), a .jsonl/.csv
    file or folder of labeled texts, records (``{"text": ...}`` or plain strings) or a
    Dataset. A record's ``text_field`` (default ``text``) is the text; a record without it
    but with a ``tokens`` list (NER data) gives its words joined. Labels are ignored. Raises
    :class:`DataError` naming the file, line and field of the first bad record.
    """
    field_name = text_field or "text"
    out: list[Example] = []
    if isinstance(data, (str, Path)) and Path(data).suffix.lower() == ".txt" and not Path(data).is_dir():
        path = Path(data)
        if not path.is_file():
            raise DataError(f"{path}: no such file; pass a .txt file with one text per line")
        for number, line in enumerate(_read_utf8(path, "utf-8-sig").splitlines(), 1):
            if line.strip():
                out.append(Example(text=line, where=f"{path}:{number}"))
    else:
        for where, row in read_records(data, text_field=field_name):
            out.append(Example(text=_lm_text(where, field_name, row), where=where))
    if not out:
        raise DataError(f"{_describe(data)}: no texts found; an LM adapter trains on non-empty texts")
    return out


def _lm_text(where: str, field_name: str, row: Mapping[str, Any]) -> str:
    value = row.get(field_name)
    if value is None and isinstance(row.get("tokens"), (list, tuple)):
        words = row["tokens"]
        if words and all(isinstance(w, str) for w in words):
            value = _join_words([w for w in words if w])
    if not isinstance(value, str) or not value.strip():
        fields = ", ".join(map(str, row)) or "none"
        raise DataError(
            f"{where}: field {field_name!r} must be a non-empty string, got {value!r} (the "
            f"record has fields {fields}); name the text field with --text-field "
            "(text_field= in Python)"
        )
    return value


def labels_from_data(
    data: Any,
    head_type: str = "seq-cls",
    *,
    label_field: str | None = None,
    label_map: Mapping[Any, str] | None = None,
    normalize: Normalize | None = None,
) -> tuple[str, ...]:
    """The distinct labels of ``data`` (the tags, for ``token-cls``) in sorted (code point)
    order, so the order does not depend on the order of the rows.

    Values that are one label after ``normalize`` count once, spelled as first seen; values
    go through ``label_map`` first, and integers need it (see :class:`LabelMatcher`). Pass
    the result to ``adapt(..., labels=...)``, which spells labels the plugin head also has
    as the plugin does. Raises :class:`DataError` for a record without a label or fewer than
    two labels.
    """
    if head_type in LM_HEAD_TYPES:
        raise CulturaError(f"a {head_type} head has no labels to take from the data")
    _, label_field = default_fields(head_type, None, label_field)
    _refuse_folder(data, head_type)
    matcher = _matcher(data, (), label_field, label_map, normalize)
    spellings: dict[str, str] = {}
    for where, row in read_records(data, label_field=label_field):
        value = row.get(label_field)
        if is_missing(value):
            raise DataError(
                f"{where}: field {label_field!r} is missing; every training record needs a "
                "label" + _fields_hint(label_field, row, "label")
            )
        values = _word_list(where, label_field, value) if head_type == "token-cls" else [value]
        for item in values:
            name = matcher.name(where, label_field, item)
            spellings.setdefault(matcher.form(name), name)
    found = sorted(spellings.values())
    if len(found) < 2:
        raise DataError(
            f"{_describe(data)}: field {label_field!r} holds {len(found)} distinct label(s) "
            f"({', '.join(found) or 'none'}); a {head_type} head needs at least two"
        )
    return tuple(found)


def read_texts(data: Any, *, text_field: str = "text") -> list[str]:
    """Plain texts from a file (``.txt``: one per line), records or a Dataset."""
    if isinstance(data, (str, Path)) and Path(data).suffix.lower() not in (
        *JSON_SUFFIXES,
        *CSV_SUFFIXES,
    ):
        path = Path(data)
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        return [line for line in _read_utf8(path).splitlines() if line.strip()]
    return [_text(where, text_field, row) for where, row in read_records(data, text_field=text_field)]


def _describe(data: Any) -> str:
    if isinstance(data, (str, Path)):
        return str(data)
    return type(data).__name__
