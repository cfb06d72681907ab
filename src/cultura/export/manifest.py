"""``cultura_export.json``: what an exported directory holds, checked field by field.

An exported directory (``cultura export ADAPTER --format onnx``) is data from whoever made it:
:meth:`ExportManifest.from_dict` reads every field with a type and bounds (with the checker
``cultura.json`` is read with, :mod:`cultura.adapt.artifact`), refuses unknown fields, and
:func:`verify_directory` then requires that the directory holds exactly the files the manifest
lists (plain files at the top level, no links), each with its recorded sha256.

Layout::

    model.onnx             the merged model (LoRA folded in, added-token rows, the head)
    tokenizer.json, ...    the adapter's tokenizer files (its added tokens included)
    cultura_export.json    this manifest
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cultura.adapt.artifact import (
    MAX_FILES,
    MAX_LENGTH,
    MAX_TEXT,
    MAX_TOP_K,
    MAX_VOCAB,
    ArtifactError,
    _Fields,
    _labels,
    _sha256,
    check_file_name,
    read_json_object,
    sha256_file,
)
from cultura.core.errors import CulturaError
from cultura.core.grammar import TASK
from cultura.core.tags import Culture
from cultura.export.errors import ExportError

__all__ = [
    "DEFAULT_OPSET",
    "EXPORT_MANIFEST",
    "FORMAT",
    "HEAD_TYPES",
    "INPUT_NAMES",
    "MAX_OPSET",
    "MIN_OPSET",
    "ONNX_FILE",
    "QUANTIZATIONS",
    "ExportManifest",
    "read_export_manifest",
    "verify_directory",
]

EXPORT_MANIFEST = "cultura_export.json"
FORMAT = "cultura-onnx/1"
ONNX_FILE = "model.onnx"
#: heads an ONNX export runs (one forward pass to logits)
HEAD_TYPES = ("seq-cls", "token-cls")
QUANTIZATIONS = ("int8",)
#: opsets the exporter (torch's TorchScript-based ``torch.onnx.export``) writes: 14 is the first
#: with the attention ops transformers' encoders trace to, 20 the exporter's last
MIN_OPSET, MAX_OPSET, DEFAULT_OPSET = 14, 20, 17
#: the graph inputs an export may declare (what the culture's encoder produces)
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
#: normalizer ids and knowledge sources recorded (bounded like cultura.json's lists)
MAX_ITEMS = 1024
_FIELDS = frozenset({
    "format", "culture", "task", "head_type", "labels", "opset", "quantization", "inputs",
    "output", "vocab_size", "max_length", "normalizers", "knowledge", "knowledge_sources",
    "source", "parity", "files", "created_with",
})
_SOURCE_FIELDS = frozenset({"adapter", "revision", "base_model", "base_fingerprint", "files"})


def _fail(where: str, message: str) -> ExportError:
    return ExportError(f"{where}: {message}; re-export the adapter with cultura export")


@dataclass(frozen=True)
class ExportManifest:
    """The fields of ``cultura_export.json``.

    ``labels`` are in the culture's language, in logit order; ``inputs`` the graph's input
    names in order (``output`` is always ``logits``); ``vocab_size`` the rows of the merged
    embedding (every token id the tokenizer gives must be below it); ``normalizers`` the full
    ids of the normalizers the adapter ran before tokenizing (the runtime runs the installed
    plugins' and warns when they differ); ``knowledge`` the injection settings
    (``enabled``, ``top_k``, ``max_chars``, ``min_score``) and ``knowledge_sources`` the
    sources' ``name`` and ``sha256``; ``source`` the adapter exported (``adapter`` as given,
    ``revision``, ``base_model``, ``base_fingerprint`` and ``files``, the sha256 of its files);
    ``parity`` the largest logit difference to the PyTorch adapter measured at export
    (``texts``, ``max_abs_diff``); ``files`` the sha256 of every file of the directory.
    """

    culture: str
    task: str
    head_type: str
    labels: tuple[str, ...]
    opset: int
    quantization: str | None
    inputs: tuple[str, ...]
    vocab_size: int
    max_length: int
    normalizers: tuple[str, ...] = ()
    knowledge: Mapping[str, Any] = field(default_factory=dict)
    knowledge_sources: tuple[Mapping[str, str], ...] = ()
    source: Mapping[str, Any] = field(default_factory=dict)
    parity: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    created_with: str = ""
    output: str = "logits"
    format: str = FORMAT

    def to_json(self) -> str:
        data = asdict(self)
        for key in ("labels", "inputs", "normalizers"):
            data[key] = list(data[key])
        data["knowledge_sources"] = [dict(s) for s in self.knowledge_sources]
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = EXPORT_MANIFEST) -> ExportManifest:
        """Validate ``data`` (a parsed ``cultura_export.json``) and build the manifest; an
        :class:`~cultura.export.errors.ExportError` names ``where`` and the field."""
        try:
            return cls._from_dict(data, where)
        except ArtifactError as exc:  # the shared field checker's errors
            raise ExportError(str(exc).replace("re-download the adapter or re-save it with "
                                               "cultura", "re-export the adapter")) from None

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any], where: str) -> ExportManifest:
        check = _Fields(where)
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise _fail(where, f"unknown field {unknown[0]!r} (this cultura reads "
                        f"{', '.join(sorted(_FIELDS))})")
        fmt = check.text(data, "format", 64)
        if fmt != FORMAT:
            raise _fail(where, f"field 'format' is {fmt!r}; this cultura reads {FORMAT!r} "
                        "(a newer cultura may read it: pip install -U cultura)")
        try:
            culture = Culture.parse(check.text(data, "culture", 128)).tag
        except CulturaError as exc:
            raise _fail(where, f"field 'culture': {exc}") from None
        head_type = check.choice(data, "head_type", HEAD_TYPES)
        labels = _labels(check, data)
        if len(labels) < 2:
            raise check.fail("labels", "an array of at least two label names", labels)
        inputs = check.array(data, "inputs", len(INPUT_NAMES))
        for i, name in enumerate(inputs):
            if name not in INPUT_NAMES:
                raise check.fail(f"inputs[{i}]", f"one of {', '.join(INPUT_NAMES)}", name)
        if "input_ids" not in inputs or len(set(inputs)) != len(inputs):
            raise check.fail("inputs", "distinct input names including 'input_ids'", inputs)
        quantization = check.text(data, "quantization", 16, None, nullable=True)
        if quantization is not None and quantization not in QUANTIZATIONS:
            raise check.fail("quantization", f"null or one of {', '.join(QUANTIZATIONS)}",
                             quantization)
        normalizers = check.array(data, "normalizers", MAX_ITEMS, [])
        for i, ident in enumerate(normalizers):
            check.string(ident, f"normalizers[{i}]", MAX_TEXT, non_empty=True)
        return cls(
            culture=culture,
            task=check.text(data, "task", 64, pattern=TASK,
                            what="a task name (lowercase letters, digits, '_', '.', '-')"),
            head_type=head_type,
            labels=labels,
            opset=check.integer(data, "opset", MIN_OPSET, MAX_OPSET),
            quantization=quantization,
            inputs=tuple(inputs),
            output=check.choice(data, "output", ("logits",), "logits"),
            vocab_size=check.integer(data, "vocab_size", 1, MAX_VOCAB),
            max_length=check.integer(data, "max_length", 1, MAX_LENGTH),
            normalizers=tuple(normalizers),
            knowledge=_knowledge(check, check.obj(data, "knowledge", {})),
            knowledge_sources=tuple(_sources(check, data)),
            source=_source(check, check.obj(data, "source", {})),
            parity=_parity(check, check.obj(data, "parity", {})),
            files=_files(check, data, "files", where, exported=True),
            created_with=check.text(data, "created_with", MAX_TEXT, ""),
            format=fmt,
        )


def _knowledge(check: _Fields, know: dict[str, Any]) -> dict[str, Any]:
    p = "knowledge."
    unknown = sorted(set(know) - {"enabled", "top_k", "max_chars", "min_score"})
    if unknown:
        raise check.fail(p + unknown[0], "absent", know[unknown[0]])
    return {
        "enabled": check.boolean(know, "enabled", False, p),
        "top_k": check.integer(know, "top_k", 0, MAX_TOP_K, 0, p),
        "max_chars": check.integer(know, "max_chars", 0, 65_536, 0, p),
        "min_score": check.number(know, "min_score", 0.0, p),
    }


def _sources(check: _Fields, data: Mapping[str, Any]) -> list[dict[str, str]]:
    out = []
    for i, source in enumerate(check.array(data, "knowledge_sources", MAX_ITEMS, [])):
        q = f"knowledge_sources[{i}]."
        if not isinstance(source, dict) or set(source) - {"name", "sha256"}:
            raise check.fail(q[:-1], "an object with 'name' and 'sha256'", source)
        out.append({"name": check.text(source, "name", MAX_TEXT, prefix=q),
                    "sha256": _sha256(check, source, "sha256", q)})
    return out


def _source(check: _Fields, source: dict[str, Any]) -> dict[str, Any]:
    p = "source."
    unknown = sorted(set(source) - _SOURCE_FIELDS)
    if unknown:
        raise check.fail(p + unknown[0], f"absent (source holds {', '.join(sorted(_SOURCE_FIELDS))})",
                         source[unknown[0]])
    return {
        "adapter": check.text(source, "adapter", 4096, "", p),
        "revision": check.text(source, "revision", 255, None, p, nullable=True),
        "base_model": check.text(source, "base_model", 4096, "", p),
        "base_fingerprint": check.text(source, "base_fingerprint", 64, "", p),
        "files": _files(check, source, "files", check.where, prefix=p),
    }


def _parity(check: _Fields, parity: dict[str, Any]) -> dict[str, Any]:
    p = "parity."
    unknown = sorted(set(parity) - {"texts", "max_abs_diff"})
    if unknown:
        raise check.fail(p + unknown[0], "absent", parity[unknown[0]])
    if not parity:
        return {}
    return {"texts": check.integer(parity, "texts", 0, MAX_ITEMS, prefix=p),
            "max_abs_diff": check.number(parity, "max_abs_diff", None, p)}


def _files(check: _Fields, data: Mapping[str, Any], key: str, where: str, *,
           prefix: str = "", exported: bool = False) -> dict[str, str]:
    """A ``{file name: sha256}`` object; an exported directory's names are plain file names
    at its top level: :data:`ONNX_FILE` (required) and tokenizer files of the types adapters
    may hold (:func:`~cultura.adapt.artifact.check_file_name`)."""
    files = check.obj(data, key, {} if prefix else None, prefix)
    if len(files) > MAX_FILES:
        raise check.fail(prefix + key, f"an object of at most {MAX_FILES} files", files)
    for rel, digest in files.items():
        if not (exported and rel == ONNX_FILE):
            check_file_name(rel, f"{where}: field {prefix + key!r}")
            if exported and ("/" in rel or rel == EXPORT_MANIFEST):
                raise _fail(where, f"field 'files' lists {rel!r}; an export holds only "
                            f"{ONNX_FILE} and tokenizer files at its top level")
        _sha256(check, {rel: digest}, rel, f"{prefix}{key}.")
    if exported and ONNX_FILE not in files:
        raise _fail(where, f"field 'files' does not list {ONNX_FILE}")
    return files


def read_export_manifest(directory: str | Path) -> ExportManifest:
    """Read and validate ``cultura_export.json`` in ``directory``."""
    path = Path(directory) / EXPORT_MANIFEST
    if not path.is_file():
        raise ExportError(
            f"{directory}: no {EXPORT_MANIFEST}; this is not a directory written by "
            "`cultura export --format onnx` (export the adapter first)"
        )
    try:
        data = read_json_object(path, max_bytes=4 * 1024 * 1024)
    except ArtifactError as exc:
        raise ExportError(str(exc)) from None
    return ExportManifest.from_dict(data, where=str(path))


def verify_directory(directory: str | Path, manifest: ExportManifest, *,
                     skip: frozenset[str] = frozenset()) -> None:
    """Require that ``directory`` holds exactly the files ``manifest.files`` lists (besides
    the manifest), each a regular file (no link) with its recorded sha256; files in ``skip``
    are checked by the caller (the runtime hashes the ONNX bytes it runs)."""
    root = Path(directory)
    where = str(root)
    present = set()
    for path in sorted(root.iterdir()):
        if path.name == EXPORT_MANIFEST or path.name.startswith("."):
            continue
        if path.is_symlink() or not path.is_file():
            kind = "a link" if path.is_symlink() else "not a regular file"
            raise _fail(where, f"{path.name} is {kind}; an export holds plain files only")
        if path.name not in manifest.files:
            raise _fail(where, f"{path.name} is not listed in {EXPORT_MANIFEST}")
        present.add(path.name)
    missing = sorted(set(manifest.files) - present)
    if missing:
        raise _fail(where, f"{missing[0]} is listed in {EXPORT_MANIFEST} but missing")
    for name in sorted(present - skip):
        if sha256_file(root / name) != manifest.files[name]:
            raise _fail(where, f"{name} does not match its sha256 in {EXPORT_MANIFEST} (changed "
                        "or corrupt)")
