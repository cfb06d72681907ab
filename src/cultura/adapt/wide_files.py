"""The metadata files of wide models, read as untrusted data: ``wide.json`` of a
:class:`~cultura.adapt.wide.WideDeepClassifier` and ``tagger.json`` of a
:class:`~cultura.adapt.tagger.WideTagger`.

Each is checked field by field (types, sizes, ranges) before anything is allocated from it;
the weights next to it are checked against its sha256 and shapes by the model's ``load``.
This module imports nothing of the model stack, so :mod:`cultura.adapt.artifact` can check a
wide artifact's metadata without loading a model.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cultura.core.errors import CulturaError

__all__ = [
    "FORMAT_VERSION",
    "MAX_DEEP_DIM",
    "MAX_FEATURES",
    "MAX_FEATURE_CHARS",
    "MAX_LABELS",
    "MAX_NGRAMS",
    "MODEL_FILES",
    "read_classifier_meta",
    "read_meta",
    "read_model_files",
    "read_tagger_meta",
    "write_model_files",
]

FORMAT_VERSION = 1
#: a wide model's files, by head type: its metadata and its weights
MODEL_FILES = {"seq-cls": ("wide.json", "wide.safetensors"),
               "token-cls": ("tagger.json", "tagger.safetensors")}
#: the largest metadata file read
MAX_META_BYTES = 256 * 1024 * 1024
MAX_LABELS = 1_000
#: a classifier's n-grams (both vocabularies together) and deep features
MAX_NGRAMS = 2_000_000
MAX_DEEP_DIM = 65_536
#: a tagger's feature names, and the length of one
MAX_FEATURES = 2_000_000
MAX_FEATURE_CHARS = 1_000


def _header(path: Path, fmt: str, what: str, strings: tuple[str, ...]
            ) -> tuple[dict[str, Any], Callable[[str, str], CulturaError]]:
    """The parsed file once its size, JSON, ``format``, ``format_version``, the non-empty
    ``strings``, ``weights_sha256`` and ``labels`` passed; and the error maker for its fields."""
    if path.stat().st_size > MAX_META_BYTES:
        raise CulturaError(f"{path}: larger than {MAX_META_BYTES >> 20} MiB; not a {what} cultura wrote")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CulturaError(f"{path}: not valid UTF-8 JSON ({exc})") from None

    def fail(name: str, why: str) -> CulturaError:
        return CulturaError(f"{path}: field {name!r} {why}")

    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise CulturaError(f"{path}: not a cultura {what} (format)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise fail("format_version", f"must be {FORMAT_VERSION}; upgrade cultura to read newer ones")
    for name in (*strings, "weights_sha256"):
        if not isinstance(meta.get(name), str) or not meta[name]:
            raise fail(name, "must be a non-empty string")
    if not re.fullmatch(r"[0-9a-f]{64}", meta["weights_sha256"]):
        raise fail("weights_sha256", "must be 64 lower-case hex digits")
    labels = meta.get("labels")
    if (not isinstance(labels, list) or not 2 <= len(labels) <= MAX_LABELS
            or not all(isinstance(x, str) and x for x in labels) or len(set(labels)) != len(labels)):
        raise fail("labels", f"must list 2 to {MAX_LABELS} distinct non-empty strings")
    if not isinstance(meta.get("gloss_sources"), list) or not all(
            isinstance(s, str) for s in meta["gloss_sources"]):
        raise fail("gloss_sources", "must be a list of strings")
    return meta, fail


def read_classifier_meta(path: Path) -> dict[str, Any]:
    """``wide.json``, checked field by field."""
    meta, fail = _header(path, "cultura-wide-deep", "wide-and-deep classifier",
                         ("culture", "base"))
    total = 0
    for name, unit in (("ngrams", "characters"), ("view_ngrams", "words")):
        grams = meta.get(f"{name[:-1]}_range")
        if (not isinstance(grams, list) or len(grams) != 2 or not all(type(g) is int for g in grams)
                or not 1 <= grams[0] <= grams[1] <= 8):
            raise fail(f"{name[:-1]}_range", "must be [low, high] with 1 <= low <= high <= 8")
        values = meta.get(name)

        def fits(g: object, low: int = grams[0], high: int = grams[1], chars: bool = unit == "characters") -> bool:
            if not isinstance(g, str) or not g:
                return False
            if chars:
                return low <= len(g) <= high
            return g.split() == g.split(" ") and low <= len(g.split(" ")) <= high

        if (not isinstance(values, list) or len(values) > MAX_NGRAMS
                or not all(fits(g) for g in values)
                or len(set(values)) != len(values)):
            raise fail(name, f"must list at most {MAX_NGRAMS:,} distinct n-grams of "
                       f"{grams[0]}-{grams[1]} {unit}")
        total += len(values)
    if total > MAX_NGRAMS:
        raise fail("view_ngrams", f"the two vocabularies hold more than {MAX_NGRAMS:,} n-grams")
    for name in ("deep_weight", "C"):
        value = meta.get(name)
        if type(value) not in (int, float) or not 0 < value < 1e6:
            raise fail(name, "must be a positive number")
    if not isinstance(meta.get("cv", []), list):
        raise fail("cv", "must be a list")
    meta.setdefault("cv", [])
    return meta


def read_tagger_meta(path: Path) -> dict[str, Any]:
    """``tagger.json``, checked field by field."""
    meta, fail = _header(path, "cultura-wide-tagger", "wide tagger", ("culture",))
    names = meta.get("features")
    if (not isinstance(names, list) or len(names) > MAX_FEATURES
            or not all(isinstance(x, str) and 0 < len(x) <= MAX_FEATURE_CHARS for x in names)
            or len(set(names)) != len(names)):
        raise fail("features", f"must list at most {MAX_FEATURES:,} distinct non-empty strings "
                   f"of at most {MAX_FEATURE_CHARS} characters")
    settings = meta.get("settings")
    if (not isinstance(settings, dict) or set(settings) != {"c1", "c2", "max_iterations"}
            or not all(type(v) in (int, float) and math.isfinite(v) and v >= 0 for v in settings.values())):
        raise fail("settings", "must give c1, c2 and max_iterations as non-negative numbers")
    if meta.get("word_rules") is not None and not isinstance(meta.get("word_rules"), str):
        raise fail("word_rules", "must be a string or null")
    return meta


def read_meta(head_type: str, path: Path) -> dict[str, Any]:
    """The metadata file of a ``head_type`` wide model, checked field by field."""
    return read_classifier_meta(path) if head_type == "seq-cls" else read_tagger_meta(path)


def write_model_files(directory: str | Path, head_type: str, meta: dict[str, Any],
                      tensors: dict[str, Any]) -> Path:
    """Write a wide model's :data:`MODEL_FILES` to ``directory`` (created): ``tensors`` as
    safetensors, ``meta`` with their sha256 (``weights_sha256``) as JSON."""
    from safetensors.torch import save

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta_name, weights_name = MODEL_FILES[head_type]
    blob = save(tensors)
    (directory / weights_name).write_bytes(blob)
    text = json.dumps({**meta, "weights_sha256": hashlib.sha256(blob).hexdigest()},
                      ensure_ascii=False, indent=1)
    (directory / meta_name).write_text(text, encoding="utf-8")
    return directory


def read_model_files(directory: str | Path, head_type: str, what: str,
                     ) -> tuple[dict[str, Any], dict[str, Any], Path, Path]:
    """``(meta, tensors, meta path, weights path)`` of a saved wide model, read as untrusted
    data: neither file may be missing or a link, the metadata passes its reader
    (:func:`read_classifier_meta`, :func:`read_tagger_meta`), the weights match its
    ``weights_sha256``, parse as safetensors and hold only finite values. Shapes are the
    model's to check (``what`` names it in the errors: ``WideTagger``)."""
    from safetensors.torch import load

    directory = Path(directory)
    meta_name, weights_name = MODEL_FILES[head_type]
    meta_path, weights_path = directory / meta_name, directory / weights_name
    for path in (meta_path, weights_path):
        if not path.is_file() or path.is_symlink():
            raise CulturaError(f"{path}: missing (or a link); save it with {what}.save")
    meta = read_meta(head_type, meta_path)
    blob = weights_path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta["weights_sha256"]:
        raise CulturaError(f"{weights_path}: sha256 differs from weights_sha256 in {meta_path}; "
                           "the file was changed or damaged")
    try:
        tensors = load(blob)
    except Exception as exc:  # safetensors' own parse errors
        raise CulturaError(f"{weights_path}: not a safetensors file ({exc})") from None
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise CulturaError(f"{weights_path}: tensor {name!r} holds NaN or infinite values")
    return meta, tensors, meta_path, weights_path
