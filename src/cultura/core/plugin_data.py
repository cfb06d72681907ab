"""Helpers for plugin authors: read a plugin's package data lazily, with precise errors.

A plugin ships its data files in ``<module>/data/`` (``[tool.setuptools.package-data]
<module> = ["data/*"]``) and builds its registrations from them with these helpers, so
importing the plugin reads nothing: word lists and knowledge load when a profile first asks.
Every malformed file raises :class:`~cultura.core.errors.DataError` naming the file, the line
and the field.

>>> from cultura.core.plugin_data import (
...     bias_checks_from_json, data_file, knowledge_entries, word_list)
>>> words = word_list("cultura_xx", "vocab_words.txt")           # doctest: +SKIP
>>> VocabularyExtension("xx.words", words)                       # doctest: +SKIP
>>> KnowledgeSource("xx.culture", license="CC-BY-4.0",           # doctest: +SKIP
...                 entries=knowledge_entries("cultura_xx", "knowledge.jsonl",
...                                           license="CC-BY-4.0", culture="xx"))
>>> bias_checks_from_json("cultura_xx", "bias.json", license="CC-BY-4.0",  # doctest: +SKIP
...                       pairs_check={"id": "xx.stereotypes", "category": "gender",
...                                    "metric": "crows_pairs", "threshold": 10.0})

File formats:

* word lists (``.txt``): one token per line, used verbatim; blank lines and lines starting
  with ``#`` are skipped.
* knowledge (``.jsonl``): one JSON object per line with ``id``, ``text`` and optionally
  ``tags`` (list of strings), ``source``, ``license``, plus the selector field (``culture``
  by default) when one file holds several cultures' entries.
* bias checks (``.json``): :data:`BIAS_JSON_LAYOUT`.

Only the standard library and :mod:`cultura.core` are imported here; bias checks are
validated by :mod:`cultura.core.bias_data`, the parser behind ``--data`` check files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from cultura.core.bias_data import build_checks, build_pair_checks, line_map
from cultura.core.errors import DataError, RegistrationError
from cultura.core.types import BiasCheck, KnowledgeEntry

__all__ = [
    "BIAS_JSON_LAYOUT",
    "DATA_DIR",
    "bias_checks_from_json",
    "data_file",
    "knowledge_entries",
    "read_word_list",
    "word_list",
]

#: Folder inside a plugin's package that holds its data files.
DATA_DIR = "data"

BIAS_JSON_LAYOUT = """\
{
  "counterfactual": [                  # zero or more checks, each a mapping of
    {"id": "xx.gender", "category": "gender", "metric": "ctf_gap", "threshold": 0.1,
     "description": "...", "term_groups": {"female": ["..."], "male": ["..."]},
     "templates": ["... {term} ..."]}
  ],
  "pairs": [                           # minimal pairs (optional)
    {"more": "...", "less": "...", "direction": "stereo", "bias_type": "gender"}
  ]
}"""
"""Layout of a plugin's ``bias.json`` (comments for illustration only; the file is plain JSON).

Check fields are those of :class:`~cultura.core.types.BiasCheck` (``id``, ``category``,
``metric``, ``threshold``, ``term_groups``, ``templates``, ``pairs``, ``target_label``,
``license``, ``description``). The id, category, metric, threshold and description of the
checks built from ``"pairs"`` are given in code: ``pairs_check=`` (one check of every pair) or
``pairs_checks=`` (one check per mapping, of the pairs whose ``bias_type`` is its category)."""

_BIAS_KEYS = ("counterfactual", "pairs")


def data_file(package: str, name: str) -> Path:
    """Path of the data file ``name`` shipped in ``<package>/data/``.

    >>> data_file("cultura_zh", "knowledge.jsonl").name
    'knowledge.jsonl'

    Raises :class:`DataError` if ``package`` cannot be imported. The file itself is not
    checked here (readers say when it is missing), so this is cheap to call at import time.
    """
    try:
        root = resources.files(package)
    except ModuleNotFoundError as exc:
        raise DataError(
            f"package {package!r}: cannot locate its data files ({exc}); pass the plugin's "
            "import name, e.g. 'cultura_xx'"
        ) from None
    return Path(str(root / DATA_DIR / name))


def _read(path: Path) -> str:
    if not path.is_file():
        raise DataError(
            f"{path}: no such file; ship it in the package's {DATA_DIR}/ folder and list it in "
            f"[tool.setuptools.package-data]"
        )
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: encoding: not valid UTF-8; re-save the file as UTF-8") from None


def read_word_list(path: str | Path) -> tuple[str, ...]:
    """The tokens of a word-list file: one per line, skipping blank lines and ``#`` comments.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.txt"
    >>> _ = p.write_text("# comment\\nhabari\\n\\nsana\\n", encoding="utf-8")
    >>> read_word_list(p)
    ('habari', 'sana')
    """
    text = _read(Path(path))
    return tuple(line for line in text.splitlines() if line.strip() and not line.startswith("#"))


def word_list(package: str, name: str) -> Callable[[], tuple[str, ...]]:
    """A lazy, cached factory for the tokens of ``<package>/data/<name>`` (see :func:`read_word_list`).

    Use it directly as :attr:`VocabularyExtension.tokens`: nothing is read until it is called.

    >>> tokens = word_list("cultura_zh", "vocab_hans.txt")
    >>> "是" in tokens()
    True
    """

    @cache
    def load() -> tuple[str, ...]:
        return read_word_list(data_file(package, name))

    return load


def read_knowledge(
    path: str | Path,
    *,
    license: str = "",
    source: str = "",
    culture: str | None = None,
    field: str = "culture",
) -> tuple[KnowledgeEntry, ...]:
    """Read a knowledge JSONL file into :class:`KnowledgeEntry` tuples.

    ``license`` and ``source`` fill rows that do not state their own. The selector ``field``
    (``culture`` by default) is removed from every row; with ``culture`` given, only rows whose
    selector equals it are kept (rows without the selector are then an error).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "k.jsonl"
    >>> _ = p.write_text('{"culture": "sw", "id": "sw.a", "text": "Jambo."}\\n', encoding="utf-8")
    >>> [e.id for e in read_knowledge(p, license="CC-BY-4.0", culture="sw")]
    ['sw.a']
    """
    path = Path(path)
    entries = []
    for number, line in enumerate(_read(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: column {exc.colno}: not valid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number}: a knowledge row must be a JSON object with id and text")
        if culture is not None and field not in row:
            raise DataError(f"{path}:{number}: field {field!r}: is missing; say which culture the entry is for")
        selector = row.pop(field, None)
        if culture is not None and selector != culture:
            continue
        tags = row.pop("tags", ())
        if isinstance(tags, str) or not isinstance(tags, (list, tuple)):
            raise DataError(f"{path}:{number}: field 'tags': must be a list of strings, got {tags!r}")
        row.setdefault("license", license)
        row.setdefault("source", source)
        try:
            entries.append(KnowledgeEntry(tags=tuple(tags), **row))
        except RegistrationError as exc:
            raise DataError(f"{path}:{number}: field {exc.field!r}: {exc.message}") from None
        except TypeError as exc:
            known = "id, text, tags, source, license"
            raise DataError(f"{path}:{number}: {exc}; a knowledge row has {known} and {field!r}") from None
    return tuple(entries)


def knowledge_entries(
    package: str,
    name: str,
    *,
    license: str,
    source: str = "",
    culture: str | None = None,
    field: str = "culture",
) -> Callable[[], tuple[KnowledgeEntry, ...]]:
    """A lazy, cached factory for the entries of ``<package>/data/<name>`` (see :func:`read_knowledge`).

    Use it as :attr:`KnowledgeSource.entries`. One file can hold several cultures' (or
    sources') entries: pass ``culture`` to keep the rows whose ``field`` equals it.

    >>> entries = knowledge_entries("cultura_zh", "knowledge.jsonl", license="CC-BY-4.0")
    >>> entries()[0].license
    'CC-BY-4.0'
    """

    @cache
    def load() -> tuple[KnowledgeEntry, ...]:
        return read_knowledge(
            data_file(package, name), license=license, source=source, culture=culture, field=field
        )

    return load


def read_bias_checks(
    path: str | Path,
    *,
    license: str,
    pairs_check: Mapping[str, Any] | None = None,
    pairs_checks: Sequence[Mapping[str, Any]] = (),
) -> list[BiasCheck]:
    """Bias checks from a plugin's ``bias.json`` (layout: :data:`BIAS_JSON_LAYOUT`).

    Every ``"counterfactual"`` record becomes a check; with ``pairs_check`` (the id, category,
    metric, threshold and description of the pair check) the ``"pairs"`` become one more check.
    With ``pairs_checks`` instead (several such mappings), each becomes a check of the pairs
    whose ``bias_type`` is its category (see :func:`cultura.core.bias_data.build_pair_checks`):
    one check per category and metric. ``license`` applies to checks that do not state their
    own. Records are validated by :func:`cultura.core.bias_data.build_checks`, the parser
    behind ``--data`` check files.
    """
    path = Path(path)
    text = _read(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: column {exc.colno}: not valid JSON: {exc.msg}") from None
    lines = line_map(text)
    if not isinstance(data, dict) or not set(data) <= set(_BIAS_KEYS):
        extra = sorted(set(data) - set(_BIAS_KEYS)) if isinstance(data, dict) else []
        where = f"field {extra[0]!r}" if extra else "top level"
        raise DataError(
            f"{path}:{lines.get((extra[0],), 1) if extra else 1}: {where}: expected a JSON object "
            f"with {' and/or '.join(repr(k) for k in _BIAS_KEYS)}"
        )
    for key in _BIAS_KEYS:
        if not isinstance(data.get(key, []), list):
            raise DataError(f"{path}:{lines.get((key,), 1)}: field {key!r}: must be a list")
    checks = build_checks(path, data.get("counterfactual", []), lines, base=("counterfactual",),
                          default_license=license)
    pairs = data.get("pairs", [])
    if pairs_check is not None and pairs_checks:
        raise DataError(f"{path}: pairs_check and pairs_checks: give one of them (pairs_checks "
                        "for one pair check per category)")
    if pairs_checks:
        for check in build_pair_checks(path, pairs, pairs_checks, lines, default_license=license):
            if any(c.id == check.id for c in checks):
                raise DataError(f"{path}: field 'id': duplicate id {check.id!r}; a pair check's id "
                                "must differ from the counterfactual checks' ids")
            checks.append(check)
    elif pairs_check is not None and pairs:
        record = {**pairs_check, "pairs": pairs}
        # the pair check's fields come from code; its pairs from the top-level "pairs" list
        pair_lines = {(0, "pairs") + k[1:]: v for k, v in lines.items() if k[:1] == ("pairs",)}
        (check,) = build_checks(path, [record], pair_lines, default_license=license)
        if any(c.id == check.id for c in checks):
            raise DataError(f"{path}: field 'id': duplicate id {check.id!r}; the pair check's id "
                            "must differ from the counterfactual checks' ids")
        checks.append(check)
    elif pairs:
        raise DataError(f"{path}:{lines.get(('pairs',), 1)}: field 'pairs': the file has pairs but "
                        "no pairs_check was given to say how to run them")
    return checks


def bias_checks_from_json(
    package: str,
    name: str,
    *,
    license: str,
    pairs_check: Mapping[str, Any] | None = None,
    pairs_checks: Sequence[Mapping[str, Any]] = (),
) -> list[BiasCheck]:
    """Bias checks from ``<package>/data/<name>`` (see :func:`read_bias_checks`).

    Call it inside ``cultura_bias_checks``; it reads the file each time it is called.

    >>> checks = bias_checks_from_json(                              # doctest: +SKIP
    ...     "cultura_xx", "bias.json", license="CC-BY-4.0",
    ...     pairs_check={"id": "xx.stereotypes", "category": "gender", "metric": "crows_pairs",
    ...                  "threshold": 10.0, "description": "minimal pairs"})
    """
    return read_bias_checks(data_file(package, name), license=license, pairs_check=pairs_check,
                            pairs_checks=pairs_checks)
