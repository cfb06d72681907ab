"""Bias-check records from data files: validation with file, line and field in every error.

The parser behind user check files (:func:`cultura.bias.importers.read_check_file`, what
``--data`` reads) and plugins' ``bias.json`` (:func:`cultura.core.plugin_data.read_bias_checks`).
It needs only :mod:`cultura.core` and PyYAML (imported when :func:`line_map` runs), so plugin
data can be read without the bias package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cultura.core.errors import DataError, RegistrationError
from cultura.core.types import BIAS_METRICS, BiasCheck, MinimalPair

__all__ = ["CHECK_FIELDS", "PAIR_CHECK_FIELDS", "build_checks", "build_pair_checks", "data_error", "line_map"]

#: the fields of a check record, those of :class:`~cultura.core.types.BiasCheck`
CHECK_FIELDS: tuple[str, ...] = (
    "id",
    "category",
    "metric",
    "threshold",
    "term_groups",
    "templates",
    "pairs",
    "target_label",
    "license",
    "description",
)


#: the fields of a pair check given in code (its pairs come from the file)
PAIR_CHECK_FIELDS: tuple[str, ...] = tuple(f for f in CHECK_FIELDS if f not in
                                           ("term_groups", "templates", "pairs"))


def data_error(path: Path, line: int | None, where: str, message: str) -> DataError:
    """A :class:`DataError` saying ``path:line: where: message`` (``path`` alone without a line)."""
    loc = f"{path}:{line}" if line else str(path)
    return DataError(f"{loc}: {where}: {message}")


def line_map(text: str) -> dict[tuple[Any, ...], int]:
    """path (keys and indices) -> 1-based line, from the YAML composition of ``text``."""
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    out: dict[tuple[Any, ...], int] = {}

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        out.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                out.setdefault(path + (name,), key.start_mark.line + 1)
                walk(value, path + (name,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    if root is not None:
        walk(root, ())
    return out


def _pair(path: Path, line: int | None, where: str, raw: Any) -> MinimalPair:
    if isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) == 2:
        raw = {"more": raw[0], "less": raw[1]}
    if not isinstance(raw, Mapping):
        raise data_error(path, line, where, "a pair is {more: ..., less: ..., direction: stereo} "
                   "or a two-item list [more, less]")
    unknown = sorted(set(raw) - {"more", "less", "direction", "bias_type"})
    if unknown:
        raise data_error(path, line, f"{where} field {unknown[0]!r}",
                   "unknown; a pair has more, less, direction, bias_type")
    try:
        return MinimalPair(**{k: v for k, v in raw.items()})
    except RegistrationError as exc:
        raise data_error(path, line, f"{where} field {exc.field!r}", exc.message) from None
    except TypeError as exc:
        raise data_error(path, line, where, str(exc)) from None


def build_checks(
    path: Path,
    items: Sequence[Any],
    lines: Mapping[tuple[Any, ...], int],
    *,
    base: tuple[Any, ...] = (),
    default_license: str | None = None,
) -> list[BiasCheck]:
    """Validate check records (mappings of :data:`CHECK_FIELDS`) and build :class:`BiasCheck` s.

    ``lines`` maps a record path (``base + (index, field, ...)``) to its 1-based line in
    ``path`` (see :func:`line_map`); errors name ``path``, that line and the field. Shared by
    :func:`cultura.bias.importers.read_check_file` and
    :func:`cultura.core.plugin_data.bias_checks_from_json`.
    """
    checks: list[BiasCheck] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(items):
        at: tuple[Any, ...] = base + (index,)
        line = lines.get(at)
        where = f"check #{index + 1}"
        if not isinstance(raw, Mapping):
            raise data_error(path, line, where, f"must be a mapping of {', '.join(CHECK_FIELDS)}")
        if isinstance(raw.get("id"), str):
            where += f" ({raw['id']!r})"
        unknown = sorted(set(raw) - set(CHECK_FIELDS))
        if unknown:
            raise data_error(path, lines.get(at + (unknown[0],), line), f"{where} field {unknown[0]!r}",
                       f"unknown field; a check has {', '.join(CHECK_FIELDS)}")
        for required in ("id", "category", "metric", "threshold"):
            if required not in raw:
                raise data_error(path, line, f"{where} field {required!r}", "is missing")
        if raw["metric"] not in BIAS_METRICS:
            raise data_error(path, lines.get(at + ("metric",), line), f"{where} field 'metric'",
                       f"must be one of {', '.join(BIAS_METRICS)}, got {raw['metric']!r}")
        threshold = raw["threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise data_error(path, lines.get(at + ("threshold",), line), f"{where} field 'threshold'",
                       f"must be a number, got {threshold!r}")
        groups = raw.get("term_groups", {})
        if not isinstance(groups, Mapping):
            raise data_error(path, lines.get(at + ("term_groups",), line), f"{where} field 'term_groups'",
                       "must be a mapping group -> list of terms")
        for group, terms in groups.items():
            if isinstance(terms, str) or not isinstance(terms, list):
                raise data_error(path, lines.get(at + ("term_groups", group), line),
                           f"{where} field 'term_groups.{group}'", "must be a list of terms")
        templates = raw.get("templates", [])
        if isinstance(templates, str) or not isinstance(templates, list):
            raise data_error(path, lines.get(at + ("templates",), line), f"{where} field 'templates'",
                       "must be a list of strings containing {term}")
        raw_pairs = raw.get("pairs", [])
        if not isinstance(raw_pairs, list):
            raise data_error(path, lines.get(at + ("pairs",), line), f"{where} field 'pairs'",
                       "must be a list of pairs")
        pairs = tuple(
            _pair(path, lines.get(at + ("pairs", j), line), f"{where} field 'pairs[{j}]'", p)
            for j, p in enumerate(raw_pairs)
        )
        license_ = raw.get("license", default_license)
        if not license_:
            raise data_error(path, line, f"{where} field 'license'",
                       "is missing; state the license of your check data (e.g. CC-BY-4.0), per "
                       "check or once at the top level")
        try:
            check = BiasCheck(
                id=raw["id"],
                category=raw["category"],
                metric=raw["metric"],
                threshold=float(threshold),
                term_groups={str(g): tuple(t) for g, t in groups.items()},
                templates=tuple(templates),
                pairs=pairs,
                target_label=raw.get("target_label"),
                license=str(license_),
                description=str(raw.get("description", "")),
            )
        except RegistrationError as exc:
            raise data_error(path, lines.get(at + (exc.field,), line), f"{where} field {exc.field!r}",
                       exc.message) from None
        if check.id in seen:
            raise data_error(path, line, f"{where} field 'id'",
                       f"duplicate id {check.id!r} (first used by check #{seen[check.id]})")
        seen[check.id] = index + 1
        checks.append(check)
    return checks


def build_pair_checks(
    path: Path,
    raw_pairs: Sequence[Any],
    specs: Sequence[Mapping[str, Any]],
    lines: Mapping[tuple[Any, ...], int],
    *,
    base: tuple[Any, ...] = ("pairs",),
    default_license: str | None = None,
) -> list[BiasCheck]:
    """Several pair checks sharing one list of pairs, each taking the pairs of its category.

    Every spec in ``specs`` gives the :data:`PAIR_CHECK_FIELDS` of one check (id, category,
    metric, threshold, description, ...) and takes the pairs of ``raw_pairs`` whose
    ``bias_type`` equals its ``category``; two specs of one category (a ``crows_pairs`` and a
    ``pair_ll`` check) share its pairs. Every pair must name, in ``bias_type``, the category of
    a spec, and every spec must get at least one pair, so that no pair is silently left out and
    no check reports a category it has no pairs for. ``lines`` maps ``base + (index, ...)`` to
    the 1-based line of pair ``index`` in ``path``; errors name ``path``, that line and the pair
    (``pair #3``, counted from 1 in the file).
    """
    if isinstance(specs, (str, Mapping)) or not isinstance(specs, Sequence) or not specs:
        raise data_error(path, None, "pairs_checks", "must be a non-empty list of mappings with "
                         f"{', '.join(PAIR_CHECK_FIELDS)}")
    categories: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        where = f"pairs_checks[{i}]"
        if not isinstance(spec, Mapping):
            raise data_error(path, None, where, f"must be a mapping with {', '.join(PAIR_CHECK_FIELDS)}, "
                             f"got {type(spec).__name__}")
        unknown = sorted(set(spec) - set(PAIR_CHECK_FIELDS))
        if unknown:
            raise data_error(path, None, f"{where} field {unknown[0]!r}",
                             f"not a field of a pair check (its pairs come from the file's pairs, "
                             f"chosen by bias_type); use {', '.join(PAIR_CHECK_FIELDS)}")
        category = spec.get("category")
        if not isinstance(category, str) or not category.strip():
            raise data_error(path, None, f"{where} field 'category'",
                             f"must be a non-empty string (the bias_type of its pairs), got {category!r}")
        categories.setdefault(category, []).append(i)
    members: dict[str, list[int]] = {c: [] for c in categories}
    for k, raw in enumerate(raw_pairs):
        line = lines.get(base + (k,))
        where = f"pair #{k + 1}"
        _pair(path, line, where, raw)  # each pair's own fields, named by its place in the file
        bias_type = raw.get("bias_type") if isinstance(raw, Mapping) else None
        if bias_type not in members:
            what = "is missing" if bias_type is None else f"{bias_type!r} is the category of no pair check"
            raise data_error(path, lines.get(base + (k, "bias_type"), line), f"{where} field 'bias_type'",
                             f"{what}; give it one of {', '.join(repr(c) for c in members)} (it "
                             "chooses the pair checks that score the pair) or declare a pair "
                             "check of that category")
        members[bias_type].append(k)
    pair_lines: dict[int, list[tuple[tuple[Any, ...], int]]] = {}
    for key, value in lines.items():
        if key[: len(base)] == base and len(key) > len(base) and isinstance(key[len(base)], int):
            pair_lines.setdefault(key[len(base)], []).append((key[len(base) + 1 :], value))
    records: list[dict[str, Any]] = []
    check_lines: dict[tuple[Any, ...], int] = {}
    for i, spec in enumerate(specs):
        chosen = members[spec["category"]]
        if not chosen:
            raise data_error(path, lines.get(base), f"pairs_checks[{i}] ({spec.get('id')!r})",
                             f"no pair has bias_type {spec['category']!r}; add pairs of that "
                             "category or remove the check")
        records.append({**spec, "pairs": [raw_pairs[k] for k in chosen]})
        if base in lines:
            check_lines[(i,)] = lines[base]
        for j, k in enumerate(chosen):
            for rest, value in pair_lines.get(k, ()):
                check_lines[(i, "pairs", j) + rest] = value
    return build_checks(path, records, check_lines, default_license=default_license)
