"""The adapter artifact: one directory (and one Hub repo) per trained culture adapter.

Layout (see docs/reference/artifact.md)::

    adapter_config.json          PEFT config (plain ``PeftModel.from_pretrained`` loads it)
    adapter_model.safetensors    PEFT weights, the head included through ``modules_to_save``
    added_tokens.safetensors     rows of the extended embedding matrix (only when tokens added)
    language_adapter.safetensors the language adapter's LoRA merged into the base (only for an
                                 adapter built with ``start_from``; see cultura.adapt.lm)
    tokenizer files              the tokenizer as used (extended when tokens were added)
    cultura.json                 the manifest below
    README.md                    model card with YAML front matter

Adapters are data from strangers: nothing in one ever runs. Only the file types of
:data:`ALLOWED_SUFFIXES` may be in an artifact, no JSON file of it may ask for remote code
(:func:`refuse_remote_code`), every field of ``cultura.json`` is type-checked and bounded when
it is read (:meth:`Manifest.from_dict`), the PEFT config may not declare more than its weights
hold (:func:`check_peft_config`) and safetensors headers are checked against the file size
before anything is allocated (:func:`read_safetensors_header`).

This module has no torch import: the registry and the CLI use it to validate, hash and
describe artifacts without loading a model.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import struct
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cultura.adapt.wide_files import MODEL_FILES
from cultura.core.errors import CulturaError
from cultura.core.grammar import TASK
from cultura.core.tags import Culture
from cultura.core.types import HEAD_TYPES, LM_HEAD_TYPES, PEFT_METHODS

FORMAT_VERSION = 1
MANIFEST = "cultura.json"
CARD = "README.md"
ADDED_TOKENS = "added_tokens.safetensors"
#: ``format`` in the metadata of :data:`ADDED_TOKENS`
ADDED_TOKENS_FORMAT = "cultura-added-tokens/1"
PEFT_CONFIG = "adapter_config.json"
PEFT_WEIGHTS = "adapter_model.safetensors"
#: the language adapter's LoRA factors an adapter built with ``start_from`` merges into its
#: base (:mod:`cultura.adapt.lm`); named by the manifest's ``start_from.file``
LANGUAGE_LORA = "language_adapter.safetensors"
#: what an artifact holds: a PEFT adapter on a base model, or a wide model (a classifier or a
#: tagger fitted in seconds on what the culture's plugins know; :mod:`cultura.adapt.wide`,
#: :mod:`cultura.adapt.tagger`)
KINDS = ("peft", "wide")
#: a wide artifact's model files, by head type: its metadata (read first) and its weights
WIDE_FILES = MODEL_FILES
#: files never listed in the manifest's hashes (the manifest itself; the card is rewritten
#: on publish and hashed separately by the Hub)
UNHASHED = frozenset({MANIFEST, CARD, ".gitattributes"})
#: how added embedding rows train (``settings.row_training``): LoRA through PEFT's
#: ``trainable_token_indices``; prefix/IA3 through a gradient mask on the embedding matrix
ROW_TRAINING_PEFT = "trainable_tokens"
ROW_TRAINING_MASK = "gradient_mask"
#: config keys that define an architecture's shape; their values form the fingerprint
FINGERPRINT_KEYS = (
    "model_type",
    "hidden_size",
    "n_embd",
    "num_hidden_layers",
    "n_layer",
    "num_attention_heads",
    "n_head",
    "num_key_value_heads",
    "intermediate_size",
    "n_inner",
    "max_position_embeddings",
    "n_positions",
    "type_vocab_size",
    "hidden_act",
    "activation_function",
)

# Bounds of the manifest fields that become sizes, allocations or paths (docs/reference/artifact.md)
#: largest ``cultura.json`` read (bytes)
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
#: most files an artifact may list
MAX_FILES = 4096
#: most labels, and the longest label (characters)
MAX_LABELS = 4096
MAX_LABEL_CHARS = 256
#: largest vocabulary (embedding rows) before or after extension
MAX_VOCAB = 4_000_000
#: most tokens an adapter may add to the vocabulary
MAX_ADDED = 1_000_000
#: largest ``settings.max_length`` (tokens)
MAX_LENGTH = 131_072
#: largest knowledge ``top_k`` and ``max_chars``
MAX_TOP_K = 1024
MAX_KNOWLEDGE_CHARS = 65_536
#: most entries of the recorded lists (normalizers, knowledge sources, split patterns, plugins)
MAX_ITEMS = 1024
#: most bias check results recorded in ``bias.checks``
MAX_BIAS_CHECKS = 65_536
#: longest short text field (ids, versions, license, architecture) and split pattern
MAX_TEXT = 256
MAX_PATTERN_CHARS = 1024
#: longest ``base_model.id`` (a Hub id, an alias or an absolute path)
MAX_BASE_ID = 4096
#: largest safetensors header read (bytes), as the safetensors library itself allows
MAX_SAFETENSORS_HEADER = 100_000_000
#: most LoRA modules a language adapter merged through ``start_from`` may hold
MAX_LORA_MODULES = 4096
#: the fields of ``start_from`` (anything else is refused)
START_FROM_FIELDS = frozenset({
    "name", "revision", "culture", "task", "head_type", "adapter_sha256", "lora_sha256",
    "file", "modules", "added_tokens",
})

_HEX = re.compile(r"[0-9a-f]+")
#: a key of ``tokenizer.init``: how rows were initialized (``fvt``, ``start_from``,
#: ``gloss:cc-cedict``)
_INIT_KIND = re.compile(r"[a-z][a-z_]{0,15}(:[a-z0-9][a-z0-9_.\-]{0,63})?")
#: a name that is only shown (``start_from.name``): no control characters, no backticks
_SHOWN_NAME = re.compile(r"[^\x00-\x1f\x7f`]*")
_REVISION = re.compile(r"[A-Za-z0-9_.\-/]{1,255}")
#: how to fix an artifact that fails a check (appended to the errors)
FIX_HINT = "re-download the adapter or re-save it with cultura"


class ArtifactError(CulturaError):
    """An adapter directory is missing files, has bad hashes or a malformed manifest."""


# ---------------------------------------------------------------------------- file types
#: The only file types an artifact may hold: weights as safetensors, configuration and
#: tokenizer data as JSON or text, sentencepiece models (protobuf), Jinja chat templates (text
#: that transformers renders in a sandbox, only in ``apply_chat_template``, which cultura never
#: calls) and the card. Anything else (``.py``, pickles, archives, executables) is refused on
#: save, pull, install and load.
ALLOWED_SUFFIXES = (".safetensors", ".json", ".txt", ".model", ".jinja", ".md")
#: names allowed whatever their suffix
ALLOWED_NAMES = frozenset({".gitattributes"})
#: file types that may hold a pickle (named as such in the refusal)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz")
#: longest relative path accepted in an artifact (bytes of UTF-8)
MAX_RELPATH = 255


def check_file_name(rel: object, where: str) -> str:
    """Validate one relative file name of an artifact (as listed in ``cultura.json``).

    Returns it unchanged; raises :class:`ArtifactError` naming ``where`` when it is not a
    string, is absolute, escapes the directory (``..``), holds a backslash, a control
    character or a NUL, is too long, or has a file type outside :data:`ALLOWED_SUFFIXES`.
    """
    if not isinstance(rel, str):
        raise ArtifactError(f"{where}: file name must be a string, got {type(rel).__name__}")
    parts = rel.split("/")
    if (
        not rel
        or rel.startswith("/")
        or "\\" in rel
        or any(p in ("", ".", "..") for p in parts)
        or any(ord(c) < 32 or ord(c) == 127 for c in rel)
        or (len(parts[0]) >= 2 and parts[0][1] == ":")
    ):
        raise ArtifactError(f"{where}: unsafe file name {rel!r}; refusing it")
    if len(rel.encode("utf-8", "surrogatepass")) > MAX_RELPATH:
        raise ArtifactError(f"{where}: file name longer than {MAX_RELPATH} bytes; refusing it")
    name = parts[-1]
    if name not in ALLOWED_NAMES and not name.lower().endswith(ALLOWED_SUFFIXES):
        kind = (
            "is a format that may hold a pickle"
            if name.lower().endswith(PICKLE_SUFFIXES)
            else "is not an allowed artifact file type"
        )
        raise ArtifactError(
            f"{where}: file {rel!r} {kind} (allowed: {', '.join(ALLOWED_SUFFIXES)}); adapters "
            "are data and may not carry code or pickles (cultura loads safetensors only), so "
            "this adapter is refused"
        )
    return rel


def artifact_files(directory: str | Path) -> list[str]:
    """The files of an artifact directory (relative POSIX paths, sorted), without
    :data:`UNHASHED` and hidden entries (a path part starting with ``.``: ``.gitattributes``,
    the download cache ``huggingface_hub`` keeps in ``.cache/``), which nothing ever loads."""
    root = Path(directory)
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel in UNHASHED or any(p.startswith(".") for p in rel.split("/")):
            continue
        if path.is_file():
            out.append(rel)
    return out


def check_file_types(directory: str | Path) -> None:
    """Raise :class:`ArtifactError` when ``directory`` holds a file outside the allow-list
    (:func:`check_file_name`), listed in the manifest or not."""
    for rel in artifact_files(directory):
        check_file_name(rel, str(directory))


# ---------------------------------------------------------------------------- remote code
def _remote_code_key(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None  # malformed JSON is reported by whoever parses the file
    if isinstance(data, dict):
        for key in ("auto_map", "custom_pipelines"):
            if key in data:
                return key
    return None


def refuse_remote_code_file(path: str | Path, where: str) -> None:
    """Raise :class:`ArtifactError` if the JSON config ``path`` asks for remote code."""
    path = Path(path)
    key = _remote_code_key(path)
    if key is not None:
        raise ArtifactError(
            f"{where}: {path.name} has {key!r}, which asks to run code shipped "
            "with the model; cultura never runs code from adapters or models "
            "(trust_remote_code is always off), so this one is refused"
        )


def refuse_remote_code(directory: str | Path, where: str | None = None) -> None:
    """Raise :class:`ArtifactError` if a JSON config in ``directory`` asks for remote code.

    transformers runs Python named by ``auto_map`` (in ``config.json``,
    ``tokenizer_config.json``, ``adapter_config.json`` …) when ``trust_remote_code`` is set
    and prompts for it otherwise; cultura never allows it, so such an artifact is refused
    before any loader sees it.
    """
    root = Path(directory)
    for path in sorted(root.glob("*.json")):
        refuse_remote_code_file(path, where or str(root))


# ---------------------------------------------------------------------------- hashing
def config_fingerprint(config: Mapping[str, Any]) -> str:
    """sha256 (hex, first 16 chars) of the architecture-defining fields of a model config."""
    shape = {k: config[k] for k in FINGERPRINT_KEYS if k in config and config[k] is not None}
    blob = json.dumps(shape, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def compute_hashes(directory: str | Path) -> dict[str, str]:
    """sha256 of every file of :func:`artifact_files` (relative POSIX paths)."""
    root = Path(directory)
    return {rel: sha256_file(root / rel) for rel in artifact_files(root)}


# ---------------------------------------------------------------------------- safetensors
#: bytes per element of the safetensors dtypes
_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2,
    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a safetensors header."""

    dtype: str
    shape: tuple[int, ...]


def read_added_rows(
    directory: Path, n_added: int, hidden: int, *, lm_head: bool | None
) -> tuple[list[str], dict[str, Any]]:
    """``(tokens, tensors)`` of ``directory``'s ``added_tokens.safetensors``: ``embedding``,
    ``token_ids`` and, with ``lm_head=True``, ``lm_head`` (``lm_head_bias`` when present;
    ``lm_head=None``: both only when present).

    The file's header (dtype, shapes, byte ranges against the file size) and its token list are
    checked against ``n_added`` rows of width ``hidden`` before anything is read or allocated;
    only those tensors are loaded.
    """
    from safetensors import safe_open

    path = directory / ADDED_TOKENS
    if not path.is_file():
        raise ArtifactError(
            f"{directory}: {ADDED_TOKENS} is missing but {MANIFEST} records "
            f"{n_added} added tokens; re-download or re-save the adapter"
        )
    header, meta = read_safetensors_header(path)
    if meta.get("format") != ADDED_TOKENS_FORMAT:
        raise ArtifactError(f"{path}: not a cultura added-tokens file (format {meta.get('format')!r})")
    wanted = {"embedding": (n_added, hidden), "token_ids": (n_added,)}
    if lm_head or (lm_head is None and "lm_head" in header):
        wanted["lm_head"] = (n_added, hidden)
        if "lm_head_bias" in header:
            wanted["lm_head_bias"] = (n_added,)
    for name, shape in wanted.items():
        got = header[name].shape if name in header else None
        if got != shape:
            raise ArtifactError(
                f"{path}: tensor {name!r} has shape {list(got) if got else 'none'}, the manifest "
                f"records {n_added} added tokens of width {hidden}, so it should be "
                f"{list(shape)}; the file does not belong to this adapter"
            )
    if header["token_ids"].dtype != "I64":
        raise ArtifactError(f"{path}: token_ids must be int64, got {header['token_ids'].dtype}")
    tokens = _token_list(meta.get("tokens", ""), path)
    if len(tokens) != n_added:
        raise ArtifactError(
            f"{path}: lists {len(tokens)} tokens in its metadata, the manifest records {n_added}"
        )
    try:
        with safe_open(str(path), framework="pt") as fh:
            return tokens, {name: fh.get_tensor(name) for name in wanted}
    except Exception as exc:  # safetensors raises its own error types
        raise ArtifactError(f"{path}: not a readable safetensors file ({exc})") from None


def _token_list(text: str, path: Path) -> list[str]:
    """The added tokens recorded in the metadata of ``added_tokens.safetensors``."""
    try:
        tokens = json.loads(text)
    except (ValueError, RecursionError):
        tokens = None
    if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
        raise ArtifactError(
            f"{path}: its 'tokens' metadata must be a JSON list of non-empty strings; "
            "re-save the adapter"
        )
    return tokens


def read_safetensors_header(path: str | Path) -> tuple[dict[str, TensorInfo], dict[str, str]]:
    """``(tensors, metadata)`` of a safetensors file, read from its header only.

    Nothing is unpickled or allocated beyond the header: every tensor's dtype, shape and byte
    range are checked against each other and against the file's size, so a header that
    declares more data than the file holds is an :class:`ArtifactError` naming the file.
    """
    path = Path(path)

    def bad(why: str) -> ArtifactError:
        return ArtifactError(f"{path}: not a valid safetensors file ({why}); {FIX_HINT}")

    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                raise bad("shorter than its 8-byte header length")
            (length,) = struct.unpack("<Q", raw)
            if length > min(MAX_SAFETENSORS_HEADER, size - 8):
                raise bad(f"header length {length} exceeds the file ({size} bytes)")
            header = json.loads(fh.read(length).decode("utf-8"))
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read it ({exc})") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad("the header is not JSON") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    data_size = size - 8 - length
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise bad("__metadata__ must map strings to strings")
    tensors = {}
    for name, entry in header.items():
        try:
            dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise bad(f"tensor {name!r} has no dtype, shape and data_offsets") from None
        if (
            dtype not in _DTYPE_BYTES
            or not isinstance(shape, list)
            or not all(_is_int(d) and d >= 0 for d in shape + [begin, end])
        ):
            raise bad(f"tensor {name!r} has a malformed dtype, shape or data_offsets")
        if not begin <= end <= data_size or end - begin != math.prod(shape) * _DTYPE_BYTES[dtype]:
            raise bad(
                f"tensor {name!r} ({dtype} {shape}) declares bytes {begin}..{end}, but the "
                f"file holds {data_size} bytes of data"
            )
        tensors[name] = TensorInfo(dtype, tuple(shape))
    return tensors, metadata


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------- manifest
@dataclass(frozen=True)
class BaseModelRef:
    """The base model an adapter was trained on."""

    id: str
    revision: str | None = None
    architecture: str = ""
    fingerprint: str = ""
    vocab_size: int = 0
    #: digest of the base checkpoint's input-embedding rows (see ``heads.embedding_digest``):
    #: tells apart two bases with the same config but different weights
    weights: str = ""


@dataclass(frozen=True)
class Manifest:
    """``cultura.json``: everything needed to rebuild, verify and describe an adapter.

    ``tokenizer`` holds ``normalizers`` (list of {id, key, plugin, distribution, version}:
    ``id`` is the full id naming the conversion, ``key`` the profile's merge key),
    ``added_tokens`` (count), ``vocab_size_before``/``vocab_size_after``, ``plugins``.
    ``knowledge`` lists the sources used ({name, distribution, version, license}).
    ``bias`` is the bias report summary (or ``None`` when no check was run).
    ``synthesized`` marks a manifest cultura wrote for a plain PEFT repo (interop).
    ``settings`` holds what loading needs besides the files: ``max_length``, ``knowledge``
    ({enabled, top_k, max_chars}) and ``row_training`` (how added rows trained).
    ``training`` summarizes the last training run (hyper-parameters, best eval metrics).
    ``start_from`` records the language adapter a task adapter was stacked on (``None``
    otherwise): ``name`` and ``revision`` as given and resolved, its ``culture``, ``task`` and
    ``head_type``, ``adapter_sha256`` (its ``adapter_model.safetensors``, when it was saved),
    ``lora_sha256`` (the LoRA factors merged, stored in ``file``), ``modules`` and
    ``added_tokens`` (see :mod:`cultura.adapt.lm`).
    ``training_data`` references the data every version of the adapter was trained and
    evaluated on, by location, sha256 and per-example hashes, never by its text
    (:func:`_training_data`; :mod:`cultura.adapt.continual`). ``lineage`` records the version
    this one continues (``parent``), how (``rehearsal``, ``penalty``), the earlier versions
    (``ancestors``) and the regression ``gate`` it passed before publishing (``None`` for an
    adapter trained from scratch and never gated).
    ``kind`` is ``"peft"`` (absent from older manifests) or ``"wide"``: a wide model's files
    (:data:`WIDE_FILES`) instead of PEFT's; ``peft_method`` then means nothing, and a wide
    tagger records no base model (``base_model.id`` empty).
    """

    culture: str
    task: str
    head_type: str
    base_model: BaseModelRef
    labels: tuple[str, ...] = ()
    peft_method: str = "lora"
    tokenizer: Mapping[str, Any] = field(default_factory=dict)
    knowledge: tuple[Mapping[str, Any], ...] = ()
    bias: Mapping[str, Any] | None = None
    license: str = "apache-2.0"
    synthesized: bool = False
    files: Mapping[str, str] = field(default_factory=dict)
    created_with: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    start_from: Mapping[str, Any] | None = None
    training_data: tuple[Mapping[str, Any], ...] = ()
    lineage: Mapping[str, Any] | None = None
    kind: str = "peft"
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["knowledge"] = [dict(k) for k in self.knowledge]
        data["training_data"] = [dict(d) for d in self.training_data]
        # only adapters stacked on a language adapter, trained on referenced data or resumed
        # from another version have these
        for key in ("start_from", "lineage"):
            if data[key] is None:
                del data[key]
        if not data["training_data"]:
            del data["training_data"]
        if data["kind"] == "peft":  # what every manifest written before wide ones was
            del data["kind"]
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = MANIFEST) -> Manifest:
        """Validate ``data`` (a parsed ``cultura.json``) field by field and build the manifest.

        Every field has a type and, where it becomes a path, a size or an allocation, bounds
        (docs/reference/artifact.md); a violation is an :class:`ArtifactError` naming ``where``
        and the field. Nothing is allocated from a field before it passed.
        """
        check = _Fields(where)
        version = check.integer(data, "format_version", 1, None)
        if version > FORMAT_VERSION:
            raise ArtifactError(
                f"{where}: format_version {version} is newer than this cultura supports "
                f"({FORMAT_VERSION}); upgrade cultura (pip install -U cultura)"
            )
        culture = check.text(data, "culture", 128)
        try:
            culture = Culture.parse(culture).tag
        except CulturaError as exc:
            raise ArtifactError(f"{where}: field 'culture': {exc}") from None
        tokenizer = check.obj(data, "tokenizer", {})
        settings = check.obj(data, "settings", {})
        files = _files(check, data)
        kind = check.choice(data, "kind", KINDS, "peft")
        head_type = check.choice(data, "head_type", HEAD_TYPES)
        if kind == "wide" and head_type not in WIDE_FILES:
            raise check.fail("head_type", f"one of {', '.join(WIDE_FILES)} for a wide model", head_type)
        return cls(
            culture=culture,
            task=check.text(
                data, "task", 64, pattern=TASK,
                what="a task name (lowercase letters, digits, '_', '.', '-', at most 64)",
            ),
            head_type=head_type,
            base_model=_base_model(check, check.obj(data, "base_model"),
                                   required=not (kind == "wide" and head_type == "token-cls")),
            labels=_labels(check, data),
            peft_method=check.choice(data, "peft_method", PEFT_METHODS, "lora"),
            tokenizer=_tokenizer(check, tokenizer),
            knowledge=tuple(_knowledge(check, data)),
            bias=_bias(check, data),
            license=check.text(data, "license", MAX_TEXT, "apache-2.0"),
            synthesized=check.boolean(data, "synthesized", False),
            files=files,
            created_with=check.text(data, "created_with", MAX_TEXT, ""),
            settings=_settings(check, settings),
            training=check.obj(data, "training", {}),
            start_from=_start_from(check, data, files),
            training_data=tuple(_training_data(check, data)),
            lineage=_lineage(check, data),
            kind=kind,
            format_version=version,
        )


_REQUIRED: Any = object()


class _Fields:
    """Typed, bounded reads of ``cultura.json`` fields; every error names the file and the
    field's dotted path (``tokenizer.vocab_size_after``, ``labels[3]``)."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, name: str, expected: str, value: Any) -> ArtifactError:
        return ArtifactError(
            f"{self.where}: field {name!r} must be {expected}, got {_describe(value)}; {FIX_HINT}"
        )

    def get(self, data: Mapping[str, Any], key: str, default: Any, prefix: str) -> Any:
        if key in data:
            return data[key]
        if default is _REQUIRED:
            raise ArtifactError(f"{self.where}: missing field {prefix + key!r}; {FIX_HINT}")
        return default

    def integer(
        self, data: Mapping[str, Any], key: str, lo: int, hi: int | None,
        default: Any = _REQUIRED, prefix: str = "",
    ) -> int:
        value = self.get(data, key, default, prefix)
        if not _is_int(value) or value < lo or (hi is not None and value > hi):
            bounds = f"at least {lo}" if hi is None else f"in {lo}..{hi}"
            raise self.fail(prefix + key, f"an integer {bounds}", value)
        return value

    def number(self, data: Mapping[str, Any], key: str, default: Any, prefix: str = "") -> float:
        value = self.get(data, key, default, prefix)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise self.fail(prefix + key, "a finite number", value)
        return float(value)

    def boolean(self, data: Mapping[str, Any], key: str, default: Any, prefix: str = "") -> bool:
        value = self.get(data, key, default, prefix)
        if not isinstance(value, bool):
            raise self.fail(prefix + key, "true or false", value)
        return value

    def text(
        self, data: Mapping[str, Any], key: str, max_chars: int, default: Any = _REQUIRED,
        prefix: str = "", *, pattern: re.Pattern[str] | None = None, what: str | None = None,
        nullable: bool = False,
    ) -> Any:
        value = self.get(data, key, default, prefix)
        return self.string(value, prefix + key, max_chars, pattern=pattern, what=what,
                           nullable=nullable)

    def string(
        self, value: Any, name: str, max_chars: int, *, pattern: re.Pattern[str] | None = None,
        what: str | None = None, nullable: bool = False, non_empty: bool = False,
    ) -> Any:
        if value is None and nullable:
            return None
        expected = what or f"a string of at most {max_chars} characters" + (
            " (or null)" if nullable else ""
        )
        if (
            not isinstance(value, str)
            or len(value) > max_chars
            or (non_empty and not value)
            or any(ord(c) < 32 and c not in "\t\n" for c in value)
            or (pattern is not None and not pattern.fullmatch(value))
        ):
            raise self.fail(name, expected, value)
        return value

    def choice(
        self, data: Mapping[str, Any], key: str, options: tuple[str, ...],
        default: Any = _REQUIRED, prefix: str = "",
    ) -> str:
        value = self.get(data, key, default, prefix)
        if not isinstance(value, str) or value not in options:
            raise self.fail(prefix + key, f"one of {', '.join(map(repr, options))}", value)
        return value

    def obj(
        self, data: Mapping[str, Any], key: str, default: Any = _REQUIRED, prefix: str = ""
    ) -> dict[str, Any]:
        value = self.get(data, key, default, prefix)
        if not isinstance(value, dict):
            raise self.fail(prefix + key, "an object", value)
        return dict(value)

    def array(
        self, data: Mapping[str, Any], key: str, max_items: int, default: Any = _REQUIRED,
        prefix: str = "",
    ) -> list[Any]:
        value = self.get(data, key, default, prefix)
        if not isinstance(value, list) or len(value) > max_items:
            raise self.fail(prefix + key, f"an array of at most {max_items} items", value)
        return value


def _describe(value: Any) -> str:
    """A short, safe description of a JSON value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"string {shown!r}"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    if isinstance(value, dict):
        return f"an object of {len(value)} fields"
    return type(value).__name__


def _hex_digest(check: _Fields, data: Mapping[str, Any], key: str, prefix: str) -> str:
    value = check.text(data, key, 64, "", prefix, what="empty or 16 to 64 lowercase hex digits")
    if value and (len(value) < 16 or not _HEX.fullmatch(value)):
        raise check.fail(prefix + key, "empty or 16 to 64 lowercase hex digits", value)
    return value


def _base_model(check: _Fields, base: dict[str, Any], *, required: bool = True) -> BaseModelRef:
    """``base_model``; ``required=False`` (a wide tagger, which reads no base) allows no id."""
    p = "base_model."
    ident = check.text(
        base, "id", MAX_BASE_ID, _REQUIRED if required else "", prefix=p,
        what=f"a non-empty string of at most {MAX_BASE_ID} characters (a Hub id, an embedded "
        "base alias or an absolute path)",
    )
    if not ident and required:
        raise check.fail(p + "id", "a non-empty string", ident)
    revision = check.text(base, "revision", 255, None, p, nullable=True)
    if revision is not None and (not _REVISION.fullmatch(revision) or ".." in revision):
        raise check.fail(p + "revision", "a branch, tag or commit id (letters, digits, "
                         "'_', '.', '-', '/', no '..') or null", revision)
    return BaseModelRef(
        id=ident,
        revision=revision,
        architecture=check.text(base, "architecture", MAX_TEXT, "", p),
        fingerprint=_hex_digest(check, base, "fingerprint", p),
        vocab_size=check.integer(base, "vocab_size", 0, MAX_VOCAB, 0, p),
        weights=_hex_digest(check, base, "weights", p),
    )


def _labels(check: _Fields, data: Mapping[str, Any]) -> tuple[str, ...]:
    labels = check.array(data, "labels", MAX_LABELS, [])
    for i, label in enumerate(labels):
        check.string(label, f"labels[{i}]", MAX_LABEL_CHARS, non_empty=True,
                     what=f"a non-empty string of at most {MAX_LABEL_CHARS} characters")
    if len(set(labels)) != len(labels):
        raise check.fail("labels", "unique strings", labels)
    return tuple(labels)


def _tokenizer(check: _Fields, tok: dict[str, Any]) -> dict[str, Any]:
    p = "tokenizer."
    for i, norm in enumerate(check.array(tok, "normalizers", MAX_ITEMS, [], p)):
        q = f"{p}normalizers[{i}]"
        if not isinstance(norm, dict):
            raise check.fail(q, "an object", norm)
        full_id = check.text(norm, "id", MAX_TEXT, prefix=q + ".")
        for key in ("key", "plugin", "distribution", "version"):
            check.text(norm, key, MAX_TEXT, None, q + ".", nullable=True)
        merge_key = norm.get("key")  # absent from manifests written before ids named variants
        if merge_key is not None and full_id != merge_key and not full_id.startswith(f"{merge_key}."):
            raise check.fail(
                f"{q}.id", f"its key {merge_key!r}, or that key plus '.variant'", full_id
            )
    added = check.integer(tok, "added_tokens", 0, MAX_ADDED, 0, p)
    before = check.integer(tok, "vocab_size_before", 0, MAX_VOCAB, 0, p)
    after = check.integer(tok, "vocab_size_after", 0, MAX_VOCAB, 0, p)
    if added and not (before and after):
        raise ArtifactError(
            f"{check.where}: fields 'tokenizer.vocab_size_before' and "
            f"'tokenizer.vocab_size_after' must give the embedding rows before and after adding "
            f"{added} tokens, got {before} and {after}; {FIX_HINT}"
        )
    if after and not before <= after <= before + added:
        raise ArtifactError(
            f"{check.where}: fields 'tokenizer.vocab_size_before' ({before}), "
            f"'tokenizer.vocab_size_after' ({after}) and 'tokenizer.added_tokens' ({added}) do "
            "not fit together: the vocabulary never shrinks and grows by at most the number of "
            f"added tokens; {FIX_HINT}"
        )
    check.boolean(tok, "tied_lm_head", True, p)
    for name, count in check.obj(tok, "init", {}, p).items():
        if not isinstance(name, str) or not _INIT_KIND.fullmatch(name):
            raise check.fail(p + "init", "keys like 'fvt', 'mean' or 'gloss:cc-cedict'", name)
        check.integer({name: count}, name, 0, MAX_ADDED, prefix=p + "init.")
    check.obj(tok, "extensions", {}, p)
    for key, max_chars in (("split_patterns", MAX_PATTERN_CHARS), ("plugins", MAX_TEXT)):
        for i, item in enumerate(check.array(tok, key, MAX_ITEMS, [], p)):
            check.string(item, f"{p}{key}[{i}]", max_chars)
    return tok


def _knowledge(check: _Fields, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    sources = check.array(data, "knowledge", MAX_ITEMS, [])
    for i, source in enumerate(sources):
        q = f"knowledge[{i}]."
        if not isinstance(source, dict):
            raise check.fail(q[:-1], "an object", source)
        check.text(source, "name", MAX_TEXT, prefix=q)
        for key in ("distribution", "version", "license"):
            check.text(source, key, MAX_TEXT, None, q, nullable=True)
        check.integer(source, "entries", 0, None, 0, q)
        sha = check.text(source, "sha256", 64, "", q)
        if sha and not (len(sha) == 64 and _HEX.fullmatch(sha)):
            raise check.fail(q + "sha256", "64 lowercase hex digits", sha)
    return [dict(s) for s in sources]


def _bias(check: _Fields, data: Mapping[str, Any]) -> dict[str, Any] | None:
    bias = data.get("bias")
    if bias is None:
        return None
    bias = check.obj(data, "bias")
    check.boolean(bias, "passed", False, "bias.")
    check.array(bias, "checks", MAX_BIAS_CHECKS, [], "bias.")
    return bias


def _files(check: _Fields, data: Mapping[str, Any]) -> dict[str, str]:
    files = check.obj(data, "files")
    if len(files) > MAX_FILES:
        raise check.fail("files", f"an object of at most {MAX_FILES} files", files)
    for rel, digest in files.items():
        check_file_name(rel, f"{check.where}: field 'files'")
        if not isinstance(digest, str) or len(digest) != 64 or not _HEX.fullmatch(digest):
            raise check.fail(f"files.{rel}", "a sha256 (64 lowercase hex digits)", digest)
    return files


def _sha256(check: _Fields, data: Mapping[str, Any], key: str, prefix: str,
            nullable: bool = False) -> str | None:
    what = "64 lowercase hex digits" + (" or null" if nullable else "")
    value = check.text(data, key, 64, prefix=prefix, what=what, nullable=nullable)
    if value is not None and not (len(value) == 64 and _HEX.fullmatch(value)):
        raise check.fail(prefix + key, what, value)
    return value


def _start_from(
    check: _Fields, data: Mapping[str, Any], files: Mapping[str, str]
) -> dict[str, Any] | None:
    """The language adapter a task adapter stacks on (``start_from``), every field checked:
    the name is only shown (never followed), the file is :data:`LANGUAGE_LORA` and listed in
    ``files``, counts are bounded, hashes are hex; unknown fields are refused."""
    if data.get("start_from") is None:
        return None
    p = "start_from."
    found = check.obj(data, "start_from")
    unknown = sorted(set(found) - START_FROM_FIELDS)
    if unknown:
        raise check.fail(p + unknown[0], f"absent (start_from holds {', '.join(sorted(START_FROM_FIELDS))})",
                         found[unknown[0]])
    revision = check.text(found, "revision", 255, None, p, nullable=True)
    if revision is not None and (not _REVISION.fullmatch(revision) or ".." in revision):
        raise check.fail(p + "revision", "a branch, tag or commit id (letters, digits, "
                         "'_', '.', '-', '/', no '..') or null", revision)
    culture = check.text(found, "culture", 128, prefix=p)
    try:
        culture = Culture.parse(culture).tag
    except CulturaError as exc:
        raise ArtifactError(f"{check.where}: field 'start_from.culture': {exc}") from None
    out = {
        "name": check.text(found, "name", MAX_BASE_ID, "", p, pattern=_SHOWN_NAME,
                           what=f"a string of at most {MAX_BASE_ID} characters without control "
                           "characters or backticks"),
        "revision": revision,
        "culture": culture,
        "task": check.text(found, "task", 64, prefix=p, pattern=TASK,
                           what="a task name (lowercase letters, digits, '_', '.', '-', at most 64)"),
        "head_type": check.choice(found, "head_type", LM_HEAD_TYPES, prefix=p),
        "adapter_sha256": _sha256(check, found, "adapter_sha256", p, nullable=True),
        "lora_sha256": _sha256(check, found, "lora_sha256", p),
        "file": check.choice(found, "file", (LANGUAGE_LORA,), prefix=p),
        "modules": check.integer(found, "modules", 1, MAX_LORA_MODULES, prefix=p),
        "added_tokens": check.integer(found, "added_tokens", 0, MAX_ADDED, 0, p),
    }
    if LANGUAGE_LORA not in files:
        raise ArtifactError(
            f"{check.where}: field 'start_from' names {LANGUAGE_LORA}, but 'files' does not "
            f"list it; {FIX_HINT}"
        )
    return out


# Bounds of ``training_data`` and ``lineage`` (cultura.adapt.continual writes them)
#: most data references (``training_data`` entries) and earlier versions (``lineage.ancestors``)
MAX_DATA_REFS = 256
MAX_ANCESTORS = 256
#: most per-example hashes one data reference holds (larger data is referenced by its sha256)
MAX_EXAMPLE_HASHES = 200_000
#: hex digits of a per-example hash (the first 128 bits of its sha256)
EXAMPLE_HASH_CHARS = 32
#: the highest version number
MAX_VERSION = 1_000_000
DATA_ROLES = ("train", "eval")
PENALTY_KINDS = ("ewc", "l2sp")
GATE_METRICS = ("accuracy", "macro_f1", "entity_f1")
_DATA_REF_FIELDS = frozenset({
    "role", "version", "uri", "sha256", "examples", "example_hashes", "license", "text_field",
    "label_field",
})
_VERSION_FIELDS = frozenset({"name", "repo", "revision", "adapter_sha256", "version"})
_LINEAGE_FIELDS = frozenset({"version", "parent", "rehearsal", "penalty", "ancestors", "gate"})
_COMMIT = re.compile(r"[0-9a-f]{40}")
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}")
_SHOWN = "a string of at most {n} characters without control characters or backticks"


def _only(check: _Fields, found: Mapping[str, Any], allowed: frozenset[str], name: str) -> None:
    unknown = sorted(set(found) - allowed)
    if unknown:
        raise check.fail(f"{name}.{unknown[0]}", f"absent ({name} holds {', '.join(sorted(allowed))})",
                         found[unknown[0]])


def _shown(check: _Fields, data: Mapping[str, Any], key: str, prefix: str, max_chars: int,
           default: Any = None) -> str | None:
    """A nullable text that is only shown (card, messages), never followed or run."""
    return check.text(data, key, max_chars, default, prefix, pattern=_SHOWN_NAME,
                      what=_SHOWN.format(n=max_chars) + " (or null)", nullable=True)


def _training_data(check: _Fields, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``training_data``: where each version's data was, its sha256 and per-example hashes.

    Locations are only shown (a manifest cannot make cultura read a file: rehearsal reads the
    files the user gives and compares their hashes with these); hashes are hex of fixed length,
    counts and lists bounded, unknown fields refused.
    """
    refs = check.array(data, "training_data", MAX_DATA_REFS, [])
    out = []
    for i, ref in enumerate(refs):
        p = f"training_data[{i}]"
        if not isinstance(ref, dict):
            raise check.fail(p, "an object", ref)
        _only(check, ref, _DATA_REF_FIELDS, p)
        q = p + "."
        examples = check.integer(ref, "examples", 0, None, prefix=q)
        hashes = check.array(ref, "example_hashes", MAX_EXAMPLE_HASHES, [], q)
        for j, digest in enumerate(hashes):
            if not (isinstance(digest, str) and len(digest) == EXAMPLE_HASH_CHARS
                    and _HEX.fullmatch(digest)):
                raise check.fail(f"{q}example_hashes[{j}]",
                                 f"{EXAMPLE_HASH_CHARS} lowercase hex digits", digest)
        if hashes and len(hashes) != examples:
            raise check.fail(q + "example_hashes", f"empty or one hash per example ({examples})",
                             hashes)
        out.append({
            "role": check.choice(ref, "role", DATA_ROLES, prefix=q),
            "version": check.integer(ref, "version", 1, MAX_VERSION, prefix=q),
            "uri": _shown(check, ref, "uri", q, MAX_BASE_ID),
            "sha256": _sha256(check, {"sha256": ref.get("sha256")}, "sha256", q, nullable=True),
            "examples": examples,
            "example_hashes": list(hashes),
            "license": _shown(check, ref, "license", q, MAX_TEXT),
            "text_field": _shown(check, ref, "text_field", q, MAX_TEXT),
            "label_field": _shown(check, ref, "label_field", q, MAX_TEXT),
        })
    return out


def _version_ref(check: _Fields, found: Any, name: str) -> dict[str, Any]:
    """One version of an adapter (``lineage.parent``, ``lineage.ancestors[i]``)."""
    if not isinstance(found, dict):
        raise check.fail(name, "an object", found)
    _only(check, found, _VERSION_FIELDS, name)
    q = name + "."
    repo = check.text(found, "repo", 193, None, q, pattern=_REPO_ID, nullable=True,
                      what="a Hub repo id ORG/NAME or null")
    revision = check.text(found, "revision", 40, None, q, pattern=_COMMIT, nullable=True,
                          what="a commit id (40 lowercase hex digits) or null")
    return {
        "name": _shown(check, found, "name", q, MAX_BASE_ID),
        "repo": repo,
        "revision": revision,
        "adapter_sha256": _sha256(check, {"adapter_sha256": found.get("adapter_sha256")},
                                  "adapter_sha256", q, nullable=True),
        "version": check.integer(found, "version", 1, MAX_VERSION, 1, q),
    }


def _lineage(check: _Fields, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """``lineage``: the version this adapter continues and how; every field checked, unknown
    ones refused, names only shown."""
    if data.get("lineage") is None:
        return None
    found = check.obj(data, "lineage")
    _only(check, found, _LINEAGE_FIELDS, "lineage")
    p = "lineage."
    out: dict[str, Any] = {
        "version": check.integer(found, "version", 1, MAX_VERSION, prefix=p),
        "parent": (None if found.get("parent") is None
                   else _version_ref(check, found["parent"], p + "parent")),
        "ancestors": [
            _version_ref(check, a, f"{p}ancestors[{i}]")
            for i, a in enumerate(check.array(found, "ancestors", MAX_ANCESTORS, [], p))
        ],
        "rehearsal": None,
        "penalty": None,
        "gate": None,
    }
    if found.get("rehearsal") is not None:
        reh = check.obj(found, "rehearsal", prefix=p)
        q = p + "rehearsal."
        _only(check, reh, frozenset({"examples", "requested", "sources"}), p + "rehearsal")
        sources = check.array(reh, "sources", MAX_DATA_REFS, [], q)
        for i, src in enumerate(sources):
            if not isinstance(src, dict):
                raise check.fail(f"{q}sources[{i}]", "an object", src)
            _only(check, src, frozenset({"version", "sha256", "examples"}), f"{q}sources[{i}]")
            check.integer(src, "version", 1, MAX_VERSION, prefix=f"{q}sources[{i}].")
            check.integer(src, "examples", 0, None, 0, f"{q}sources[{i}].")
            _sha256(check, {"sha256": src.get("sha256")}, "sha256", f"{q}sources[{i}].",
                    nullable=True)
        out["rehearsal"] = {
            "examples": check.integer(reh, "examples", 0, None, prefix=q),
            "requested": check.number(reh, "requested", 0.0, q),
            "sources": [dict(s) for s in sources],
        }
    if found.get("penalty") is not None:
        pen = check.obj(found, "penalty", prefix=p)
        q = p + "penalty."
        _only(check, pen, frozenset({"kind", "lambda", "fisher_examples"}), p + "penalty")
        strength = check.number(pen, "lambda", _REQUIRED, q)
        if strength < 0:
            raise check.fail(q + "lambda", "a number at least 0", strength)
        out["penalty"] = {
            "kind": check.choice(pen, "kind", PENALTY_KINDS, prefix=q),
            "lambda": strength,
            "fisher_examples": check.integer(pen, "fisher_examples", 0, None, 0, q),
        }
    if found.get("gate") is not None:
        gate = check.obj(found, "gate", prefix=p)
        q = p + "gate."
        _only(check, gate, frozenset({"metric", "old", "new", "forgetting", "max_forgetting",
                                      "passed", "examples", "data_sha256", "previous"}),
              p + "gate")
        out["gate"] = {
            "metric": check.choice(gate, "metric", GATE_METRICS, prefix=q),
            **{k: check.number(gate, k, _REQUIRED, q)
               for k in ("old", "new", "forgetting", "max_forgetting")},
            "passed": check.boolean(gate, "passed", _REQUIRED, q),
            "examples": check.integer(gate, "examples", 0, None, 0, q),
            "data_sha256": _sha256(check, {"data_sha256": gate.get("data_sha256")},
                                   "data_sha256", q, nullable=True),
            "previous": (None if gate.get("previous") is None
                         else _version_ref(check, gate["previous"], q + "previous")),
        }
    return out


def _settings(check: _Fields, settings: dict[str, Any]) -> dict[str, Any]:
    p = "settings."
    check.integer(settings, "max_length", 1, MAX_LENGTH, 128, p)
    check.choice(settings, "row_training", ("", ROW_TRAINING_PEFT, ROW_TRAINING_MASK), "", p)
    know = check.obj(settings, "knowledge", {}, p)
    q = p + "knowledge."
    check.boolean(know, "enabled", False, q)
    check.integer(know, "top_k", 0, MAX_TOP_K, 0, q)
    check.integer(know, "max_chars", 0, MAX_KNOWLEDGE_CHARS, 0, q)
    check.number(know, "min_score", 0.0, q)
    return settings


def read_json_object(path: Path, *, max_bytes: int = MAX_MANIFEST_BYTES) -> dict[str, Any]:
    """Parse the JSON object in ``path`` (at most ``max_bytes``); :class:`ArtifactError` for
    a file that is too large, not UTF-8 JSON, nested too deeply or not an object."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ArtifactError(f"{path}: {size} bytes, more than the {max_bytes} allowed; {FIX_HINT}")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read it ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except (UnicodeDecodeError, RecursionError):
        raise ArtifactError(f"{path}: not valid JSON (not UTF-8, or nested too deeply)") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: must hold a JSON object")
    return data


def read_manifest(directory: str | Path) -> Manifest:
    """Read and validate ``cultura.json`` in ``directory``."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ArtifactError(
            f"{directory}: no {MANIFEST}; this is not a cultura adapter directory "
            "(a plain PEFT adapter loads with hf:<org>/<repo> plus --culture and --task)"
        )
    return Manifest.from_dict(read_json_object(path), where=str(path))


# ---------------------------------------------------------------------------- PEFT config
#: ``peft_type`` of ``adapter_config.json`` for each ``peft_method``
PEFT_TYPES = {"lora": "LORA", "prefix": "PREFIX_TUNING", "ia3": "IA3"}
#: prefix-tuning sizes PEFT allocates from, and their bounds
_PREFIX_SIZES = {
    "num_virtual_tokens": 65_536,
    "token_dim": 65_536,
    "encoder_hidden_size": 65_536,
    "num_layers": 1024,
    "num_attention_heads": 1024,
    "num_transformer_submodules": 2,
}


def check_peft_config(directory: str | Path, manifest: Manifest) -> None:
    """Refuse an ``adapter_config.json`` that would make PEFT allocate more than the adapter's
    weights hold, or that names another method than the manifest.

    PEFT builds the adapter layers from the config before it loads any weight, so the sizes
    in it are checked against the header of ``adapter_model.safetensors``: LoRA ranks
    (``r``, ``rank_pattern``) may not exceed the largest rank stored, prefix tuning's virtual
    tokens and widths must match the stored prompt embeddings, ``trainable_token_indices``
    must be vocabulary rows, and ``layer_replication`` (which copies base layers) is refused.
    """
    root = Path(directory)
    config_path = root / PEFT_CONFIG
    config = read_json_object(config_path)
    check = _Fields(str(config_path))
    expected = PEFT_TYPES[manifest.peft_method]
    check.choice(config, "peft_type", (expected,))
    tensors, _ = read_safetensors_header(root / PEFT_WEIGHTS)
    if config.get("layer_replication") is not None:
        raise check.fail("layer_replication", "null (cultura adapters never replicate layers)",
                         config["layer_replication"])
    if expected == "LORA":
        stored = max(
            (t.shape[0] for n, t in tensors.items()
             if (".lora_A." in n or ".lora_embedding_A." in n) and t.shape),
            default=0,
        )
        if not stored:
            raise ArtifactError(f"{root / PEFT_WEIGHTS}: holds no LoRA weights; {FIX_HINT}")
        check.integer(config, "r", 1, stored)
        for module, rank in check.obj(config, "rank_pattern", {}).items():
            check.integer({module: rank}, module, 1, stored, prefix="rank_pattern.")
        _check_token_indices(check, config, manifest)
    elif expected == "PREFIX_TUNING":
        sizes = {k: check.integer(config, k, 1, hi) for k, hi in _PREFIX_SIZES.items()}
        embeddings = tensors.get("prompt_embeddings")
        want = (
            sizes["num_virtual_tokens"] * sizes["num_transformer_submodules"],
            sizes["num_layers"] * 2 * sizes["token_dim"],
        )
        if embeddings is None or embeddings.shape != want:
            raise ArtifactError(
                f"{config_path}: declares prompt embeddings of shape {list(want)}, but "
                f"{PEFT_WEIGHTS} holds {list(embeddings.shape) if embeddings else 'none'}; {FIX_HINT}"
            )


def _check_token_indices(check: _Fields, config: Mapping[str, Any], manifest: Manifest) -> None:
    value = config.get("trainable_token_indices")
    if value is None:
        return
    rows = int(manifest.tokenizer.get("vocab_size_after") or manifest.base_model.vocab_size
               or MAX_VOCAB)
    groups = value.items() if isinstance(value, dict) else [("", value)]
    for module, ids in groups:
        name = "trainable_token_indices" + (f".{module}" if module else "")
        if (
            not isinstance(ids, list)
            or len(ids) > MAX_ADDED
            or not all(_is_int(i) and 0 <= i < rows for i in ids)
        ):
            raise check.fail(name, f"a list of at most {MAX_ADDED} token ids below {rows}", ids)


# ---------------------------------------------------------------------------- verification
def verify_artifact(directory: str | Path) -> Manifest:
    """Check an artifact before anything loads it; returns its manifest.

    In order: no JSON file asks for remote code, ``cultura.json`` is valid, every file it lists
    exists with the recorded sha256, every file present is listed and of an allowed type, and
    the PEFT config declares no more than its weights hold. Raises :class:`ArtifactError`
    naming each missing, changed, unexpected or refused file.
    """
    root = Path(directory)
    refuse_remote_code(root)
    manifest = read_manifest(root)
    problems = []
    for rel, expected in sorted(manifest.files.items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"missing {rel}")
        elif sha256_file(path) != expected:
            problems.append(f"{rel} changed (sha256 differs from {MANIFEST})")
    for required in model_files(manifest):
        if required not in manifest.files:
            problems.append(f"{MANIFEST} does not list {required}")
    for rel in artifact_files(root):
        if rel not in manifest.files:
            try:
                check_file_name(rel, str(root))
                problems.append(f"unexpected file {rel} (not in {MANIFEST})")
            except ArtifactError as exc:
                problems.append(str(exc).removeprefix(f"{root}: "))
    if problems:
        raise ArtifactError(
            f"adapter {root} failed verification: " + "; ".join(problems)
            + ". Re-download it (cultura pull --force) or re-save it from the model"
        )
    check_model_files(root, manifest)
    return manifest


def model_files(manifest: Manifest) -> tuple[str, ...]:
    """The files every artifact of ``manifest``'s kind holds besides the manifest: PEFT's
    config and weights, or a wide model's metadata and weights."""
    if manifest.kind == "wide":
        return WIDE_FILES[manifest.head_type]
    return (PEFT_CONFIG, PEFT_WEIGHTS)


def check_model_files(directory: str | Path, manifest: Manifest) -> None:
    """The checks of the model's own files that need no model: the PEFT config against its
    weights (:func:`check_peft_config`), or a wide model's metadata field by field, agreeing
    with the manifest (its weights are checked against it when it loads)."""
    if manifest.kind != "wide":
        check_peft_config(directory, manifest)
        return
    from cultura.adapt.wide_files import read_meta

    path = Path(directory) / WIDE_FILES[manifest.head_type][0]
    if not path.is_file() or path.is_symlink():
        raise ArtifactError(f"{path}: missing (or a link); {FIX_HINT}")
    try:
        meta = read_meta(manifest.head_type, path)
    except CulturaError as exc:
        raise ArtifactError(f"{exc}; {FIX_HINT}") from None
    try:
        culture = Culture.parse(meta["culture"]).tag
    except CulturaError as exc:
        raise ArtifactError(f"{path}: field 'culture': {exc}; {FIX_HINT}") from None
    for key, found, recorded in (("labels", meta["labels"], list(manifest.labels)),
                                 ("culture", culture, manifest.culture)):
        if found != recorded:
            raise ArtifactError(f"{path}: field {key!r} is {found!r}, {MANIFEST} records "
                                f"{recorded!r}; {FIX_HINT}")


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows.

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting and restoring
    it (``os.umask`` has no read-only form), under a lock so no two cultura threads race.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def apply_umask_modes(root: Path) -> None:
    """Give ``root`` and every directory under it mode ``0o777 & ~umask`` and every file
    ``0o666 & ~umask``, as if created with plain ``mkdir``/``open`` (temporary files and
    directories are created private: 0700/0600). Symbolic links are left alone."""
    mask = current_umask()
    dir_mode, file_mode = 0o777 & ~mask, 0o666 & ~mask
    os.chmod(root, dir_mode)
    for folder, dirs, files in os.walk(root):
        for names, mode in ((dirs, dir_mode), (files, file_mode)):
            for name in names:
                path = os.path.join(folder, name)
                if not os.path.islink(path):
                    os.chmod(path, mode)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``path`` atomically (a reader sees the old or the new file, never half of one),
    with the mode a plain ``open`` would give (``0o666 & ~umask``), not ``mkstemp``'s 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_directory(target: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory next to ``target``; rename it into place on success.

    Nothing is left half-written: on error the temporary directory is removed and an
    existing ``target`` is untouched. The directory that lands has the modes the user's
    umask gives (:func:`apply_umask_modes`), not the private ones of a temporary directory.
    """
    target = Path(target)
    if target.exists() and not overwrite and any(target.iterdir()):
        raise ArtifactError(f"{target} exists and is not empty; pass overwrite=True or pick another")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        apply_umask_modes(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def card_metadata(manifest: Manifest) -> dict[str, Any]:
    """YAML front matter of the model card (design.md §4)."""
    meta: dict[str, Any] = {
        "library_name": "cultura" if manifest.kind == "wide" else "peft",
        "base_model": manifest.base_model.id,
        "language": [manifest.culture],
        "license": manifest.license,
        "tags": ["cultura", f"culture:{manifest.culture}", f"task:{manifest.task}",
                 f"head:{manifest.head_type}"],
    }
    if manifest.bias:
        meta["cultura_bias"] = {
            "passed": bool(manifest.bias.get("passed")),
            "checks": manifest.bias.get("checks", []),
        }
        meta["tags"].append("bias-checked" if manifest.bias.get("passed") else "bias-failing")
    if not manifest.base_model.id:  # a wide tagger reads no base model
        del meta["base_model"]
    if manifest.kind == "wide":
        meta["tags"].append("cultura-wide")
    lineage = manifest.lineage
    if lineage:
        parent = lineage.get("parent") or {}
        meta["cultura_lineage"] = {
            "version": lineage["version"],
            "parent": {k: parent.get(k) for k in ("repo", "revision", "adapter_sha256")}
            if parent else None,
            "regression_gate": (
                {k: lineage["gate"][k] for k in ("metric", "forgetting", "max_forgetting", "passed")}
                if lineage.get("gate") else None
            ),
        }
    return meta


#: how the card names each of :data:`~cultura.core.types.PEFT_METHODS`, with its article
PEFT_METHOD_PHRASES = {"lora": "A LoRA", "ia3": "An IA3", "prefix": "A prefix-tuning"}
#: a PyPI distribution name (PEP 508), the only text a card puts in its ``pip install`` line
_DISTRIBUTION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
#: the core package: never the plugin to name (its built-in plugin serves only ``und``)
_CORE_DISTRIBUTION = "cultura"


def normalizer_records(profile: Any) -> list[dict[str, Any]]:
    """``tokenizer.normalizers`` of a manifest for a culture profile: each normalizer's full id
    (naming the conversion, ``zh.script.s2twp``), merge key and plugin."""
    return [
        {
            "id": c.value.full_id,
            "key": c.key,
            "plugin": c.provenance.plugin,
            "distribution": c.provenance.distribution,
            "version": c.provenance.version,
        }
        for c in profile.normalizers
    ]


def plugin_distributions(manifest: Manifest) -> list[str]:
    """The PyPI distributions of the plugins an adapter was built with, in recorded order.

    From ``tokenizer.plugins`` (``"<distribution> <version>"``, every plugin that contributed
    to the culture: normalizers, vocabulary, knowledge, heads, bias checks) and each
    normalizer's ``distribution``; the core ``cultura`` and names that are not distribution
    names are left out.
    """
    recorded = [str(p).rsplit(" ", 1)[0] for p in manifest.tokenizer.get("plugins", [])]
    recorded += [str(n.get("distribution") or "") for n in manifest.tokenizer.get("normalizers", [])]
    seen: dict[str, None] = {}
    for name in recorded:
        if name != _CORE_DISTRIBUTION and _DISTRIBUTION.fullmatch(name):
            seen.setdefault(name, None)
    return list(seen)


def _install_lines(manifest: Manifest) -> list[str]:
    plugins = plugin_distributions(manifest)
    if plugins:
        return [
            f"Loading it needs the culture plugin{'s' if len(plugins) > 1 else ''} it was built "
            "with (normalizers, labels, knowledge):",
            "",
            "```console",
            f"pip install {' '.join(plugins)}",
            "```",
        ]
    if manifest.culture == "und":
        return ["Loading it needs only cultura:", "", "```console", "pip install cultura",
                "```"]
    return [
        f"`cultura.json` records no plugin for culture `{manifest.culture}`; loading it needs "
        f"an installed plugin that serves `{manifest.culture}` (see the cultura plugin "
        "directory).",
    ]


def _wide_lines(manifest: Manifest) -> tuple[str, str, list[str]]:
    """A wide model's card: its summary, the note on other loaders and its adaptation lines
    (the word rules and gloss sources its features come from, as ``training`` records)."""
    training = manifest.training
    sources = [str(s) for s in training.get("gloss_sources", []) if isinstance(s, str)]
    if manifest.head_type == "token-cls":
        summary = (f"A wide tagger for culture `{manifest.culture}`: a linear-chain CRF over each "
                   "token's window, its word in the culture's segmenter and the word's dictionary "
                   "glosses. It reads no base model.")
        rules = training.get("word_rules")
        lines = [f"- word segmenter: {rules if isinstance(rules, str) else 'none'}"]
    else:
        summary = (f"A wide classifier for culture `{manifest.culture}`: character n-grams, the "
                   "words of the text's gloss view (its words replaced by their dictionary "
                   f"glosses) and the frozen base model `{manifest.base_model.id}`'s embedding "
                   "of the view and of the text, in one logistic regression.")
        lines = []
    lines.append(f"- gloss sources: {', '.join(sources) or 'none'}")
    return summary, " It loads with cultura only (it is not a PEFT adapter).", lines


def _init_sources(manifest: Manifest) -> str:
    """`` (initialized from: gloss:cc-cedict 5092, mean 719)``: where the added rows started
    (names and counts as the manifest check admits them: no markdown can hide there)."""
    counts = manifest.tokenizer.get("init") or {}
    if not isinstance(counts, dict) or not counts:
        return ""
    parts = [f"{name} {count}" for name, count in sorted(counts.items(), key=lambda kv: -kv[1])]
    return f" (initialized from: {', '.join(parts)})"


def _start_from_lines(manifest: Manifest) -> list[str]:
    """The card's line about the language adapter a task adapter stacks on (if any)."""
    start = manifest.start_from
    if not start:
        return []
    name = start["name"] or f"{start['culture']}/{start['task']} (in memory)"
    return [
        f"- language adapter: `{name}` ({start['head_type']}, LoRA merged into the base; "
        f"`{LANGUAGE_LORA}` holds it, sha256 `{start['lora_sha256'][:16]}…`)"
    ]


def _version_name(ref: Mapping[str, Any]) -> str:
    """A version as the card shows it: ``hf:org/repo@0123abcd…``, else its name, else the
    first digits of its weights' sha256 (fields checked by :func:`_version_ref`)."""
    if ref.get("repo"):
        return f"hf:{ref['repo']}" + (f"@{ref['revision'][:12]}" if ref.get("revision") else "")
    if ref.get("name"):
        return str(ref["name"])
    sha = ref.get("adapter_sha256")
    return f"weights sha256 {sha[:16]}…" if sha else "unknown"


def _lineage_lines(manifest: Manifest) -> list[str]:
    """The card's ``## Versions`` section: lineage, data references, penalty, gate."""
    lineage, refs = manifest.lineage, manifest.training_data
    if not lineage and not refs:
        return []
    version = lineage["version"] if lineage else 1
    lines = ["## Versions", "", f"This is version {version} of the adapter."]
    if lineage and lineage.get("parent"):
        parent = lineage["parent"]
        sha = parent.get("adapter_sha256")
        lines.append(
            f"It continues version {parent['version']}, `{_version_name(parent)}`"
            + (f" (weights sha256 `{sha[:16]}…`)" if sha else "") + "."
        )
        earlier = [f"`{_version_name(a)}` (v{a['version']})" for a in lineage.get("ancestors", [])]
        if earlier:
            lines.append(f"Earlier versions: {', '.join(earlier)}.")
    lines.append("")
    if lineage and lineage.get("rehearsal"):
        reh = lineage["rehearsal"]
        lines.append(f"- rehearsal: {reh['examples']} examples of the earlier training data "
                     "mixed into the new data, verified against their recorded hashes")
    elif lineage and lineage.get("parent"):
        lines.append("- rehearsal: none")
    if lineage and lineage.get("penalty"):
        pen = lineage["penalty"]
        what = {"ewc": "EWC (diagonal Fisher of the earlier data", "l2sp": "L2-SP ("}[pen["kind"]]
        if pen["kind"] == "ewc":
            what += f", {pen['fisher_examples']} examples)"
        else:
            what += "pull toward the parent's weights)"
        lines.append(f"- penalty: {what}, lambda {pen['lambda']:g}")
    if lineage and lineage.get("gate"):
        gate = lineage["gate"]
        verdict = "passed" if gate["passed"] else "FAILED"
        lines.append(
            f"- regression gate {verdict}: {gate['metric']} {100 * gate['old']:.1f} → "
            f"{100 * gate['new']:.1f} on {gate['examples']} examples of the earlier evaluation "
            f"data (forgetting {gate['forgetting']:.1f} points, at most "
            f"{gate['max_forgetting']:g} allowed)"
        )
    if refs:
        lines += ["", "Training data (referenced by sha256 and per-example hashes; the text is "
                  "not part of this adapter):", "",
                  "| version | role | data | sha256 | examples | licence |",
                  "|---|---|---|---|---|---|"]
        for ref in refs:
            sha = f"`{ref['sha256'][:16]}…`" if ref.get("sha256") else "(records)"
            # shown names hold no backticks or control characters; a pipe would end the cell
            where = f"`{ref['uri']}`".replace("|", "\\|") if ref.get("uri") else "(in memory)"
            licence = (f"`{ref['license']}`".replace("|", "\\|") if ref.get("license")
                       else "not declared")
            lines.append(f"| {ref['version']} | {ref['role']} | {where} | {sha} | "
                         f"{ref['examples']} | {licence} |")
    return [*lines, ""]


def render_card(
    manifest: Manifest, *, bias_markdown: str | None = None, repo_id: str | None = None
) -> str:
    """The model card (README.md): YAML front matter, usage, labels, provenance, bias report.

    Args:
        manifest: the adapter's manifest; the method, plugins and license come from it.
        bias_markdown: the bias report as Markdown (``BiasReport.to_markdown()``, which has
            its own ``## Bias report`` heading; text without a heading gets one).
        repo_id: the Hub repository the card is published to (``org/name``); the usage
            snippet then loads ``hf:<repo_id>`` instead of the registry name.
    """
    import yaml

    front = yaml.safe_dump(card_metadata(manifest), allow_unicode=True, sort_keys=False)
    labels = ", ".join(manifest.labels) or "(generative head)"
    normalizers = manifest.tokenizer.get("normalizers", [])
    if repo_id:
        name, load_args = f"hf:{repo_id}", f'"hf:{repo_id}"'
    else:
        name = f"{manifest.culture}/{manifest.task}"
        load_args = f'"{name}", base="{manifest.base_model.id}"' if manifest.base_model.id else f'"{name}"'
    if manifest.kind == "wide":
        summary, plain, adaptation = _wide_lines(manifest)
    else:
        summary = (f"{PEFT_METHOD_PHRASES[manifest.peft_method]} adapter with a "
                   f"`{manifest.head_type}` head for culture `{manifest.culture}` on base model "
                   f"`{manifest.base_model.id}`.")
        plain = (" Plain PEFT loads it too (resize the embeddings first when tokens were added; "
                 "see the cultura docs).")
        adaptation = [
            f"- added tokens: {manifest.tokenizer.get('added_tokens', 0)}{_init_sources(manifest)}",
            f"- knowledge sources: {', '.join(k['name'] for k in manifest.knowledge) or 'none'}",
            *_start_from_lines(manifest),
        ]
    lines = [
        "---",
        front.rstrip(),
        "---",
        "",
        f"# {manifest.culture}/{manifest.task} — a cultura adapter",
        "",
        summary,
        "",
        "## Usage",
        "",
        *_install_lines(manifest),
        "",
        "```python",
        "import cultura",
        f"model = cultura.load({load_args})",
        'print(model.predict(["..."]))',
        "```",
        "",
        f"or `cultura predict {name} \"...\"`.{plain}",
        "",
        f"Labels: {labels}",
        "",
        f"License: `{manifest.license}` (this adapter; the base model and the plugins' data "
        "have their own).",
        "",
        "## Culture adaptation",
        "",
        f"- normalizers: {', '.join(n['id'] for n in normalizers) or 'none'}",
        *adaptation,
        "",
        *_lineage_lines(manifest),
    ]
    bias = (bias_markdown or "").strip()
    if not bias.startswith("#"):
        lines += ["## Bias report", ""]
    if bias:
        lines.append(bias)
    elif manifest.bias:
        lines.append(f"Passed: {bool(manifest.bias.get('passed'))}")
    else:
        lines.append("No bias checks were run for this adapter.")
    return "\n".join(lines) + "\n"
