"""The adapter artifact: one directory (and one Hub repo) per trained culture adapter.

Layout (see docs/artifact.md)::

    adapter_config.json          PEFT config (plain ``PeftModel.from_pretrained`` loads it)
    adapter_model.safetensors    PEFT weights, the head included through ``modules_to_save``
    added_tokens.safetensors     rows of the extended embedding matrix (only when tokens added)
    tokenizer files              the extended tokenizer (only when tokens added)
    cultura.json                 the manifest below
    README.md                    model card with YAML front matter

This module has no torch import: the registry and the CLI use it to validate, hash and
describe artifacts without loading a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cultura.core.errors import CulturaError
from cultura.core.tags import Culture

FORMAT_VERSION = 1
MANIFEST = "cultura.json"
CARD = "README.md"
ADDED_TOKENS = "added_tokens.safetensors"
PEFT_CONFIG = "adapter_config.json"
PEFT_WEIGHTS = "adapter_model.safetensors"
#: files never listed in the manifest's hashes (the manifest itself; the card is rewritten
#: on publish and hashed separately by the Hub)
UNHASHED = frozenset({MANIFEST, CARD, ".gitattributes"})
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


class ArtifactError(CulturaError):
    """An adapter directory is missing files, has bad hashes or a malformed manifest."""


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
    """sha256 of every file in ``directory`` (relative POSIX paths), except :data:`UNHASHED`."""
    root = Path(directory)
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in UNHASHED and not rel.startswith("."):
            out[rel] = sha256_file(path)
    return out


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

    ``tokenizer`` holds ``normalizers`` (list of {id, plugin, distribution, version}),
    ``added_tokens`` (count), ``vocab_size_before``/``vocab_size_after``, ``plugins``.
    ``knowledge`` lists the sources used ({name, distribution, version, license}).
    ``bias`` is the bias report summary (or ``None`` when no check was run).
    ``synthesized`` marks a manifest cultura wrote for a plain PEFT repo (interop).
    ``settings`` holds what loading needs besides the files: ``max_length``, ``knowledge``
    ({enabled, top_k, max_chars}) and ``row_training`` (how added rows trained).
    ``training`` summarizes the last training run (hyper-parameters, best eval metrics).
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
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["knowledge"] = [dict(k) for k in self.knowledge]
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = MANIFEST) -> Manifest:
        def need(key: str, kind: type | tuple[type, ...]) -> Any:
            if key not in data:
                raise ArtifactError(f"{where}: missing field {key!r}; re-save the adapter")
            value = data[key]
            if not isinstance(value, kind):
                raise ArtifactError(
                    f"{where}: field {key!r} must be {getattr(kind, '__name__', kind)}, "
                    f"got {type(value).__name__}"
                )
            return value

        version = need("format_version", int)
        if version > FORMAT_VERSION:
            raise ArtifactError(
                f"{where}: format_version {version} is newer than this cultura supports "
                f"({FORMAT_VERSION}); upgrade cultura (pip install -U cultura)"
            )
        base = need("base_model", dict)
        if not isinstance(base.get("id"), str) or not base["id"]:
            raise ArtifactError(f"{where}: field 'base_model.id' must be a non-empty string")
        culture = need("culture", str)
        try:
            culture = Culture.parse(culture).tag
        except CulturaError as exc:
            raise ArtifactError(f"{where}: field 'culture': {exc}") from None
        return cls(
            culture=culture,
            task=need("task", str),
            head_type=need("head_type", str),
            base_model=BaseModelRef(
                id=base["id"],
                revision=base.get("revision"),
                architecture=base.get("architecture", ""),
                fingerprint=base.get("fingerprint", ""),
                weights=base.get("weights", ""),
                vocab_size=int(base.get("vocab_size", 0)),
            ),
            labels=tuple(data.get("labels", ())),
            peft_method=data.get("peft_method", "lora"),
            tokenizer=dict(data.get("tokenizer", {})),
            knowledge=tuple(data.get("knowledge", ())),
            bias=data.get("bias"),
            license=data.get("license", "apache-2.0"),
            synthesized=bool(data.get("synthesized", False)),
            files=dict(need("files", dict)),
            created_with=data.get("created_with", ""),
            settings=_mapping(data, "settings", where),
            training=_mapping(data, "training", where),
            format_version=version,
        )


def _mapping(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ArtifactError(f"{where}: field {key!r} must be an object, got {type(value).__name__}")
    return dict(value)


def read_manifest(directory: str | Path) -> Manifest:
    """Read and validate ``cultura.json`` in ``directory``."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ArtifactError(
            f"{directory}: no {MANIFEST}; this is not a cultura adapter directory "
            "(a plain PEFT adapter loads with hf:<org>/<repo> plus --culture and --task)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: must hold a JSON object")
    return Manifest.from_dict(data, where=str(path))


def verify_artifact(directory: str | Path) -> Manifest:
    """Check that every file the manifest lists exists with the recorded sha256.

    Raises :class:`ArtifactError` naming each missing, changed or unexpected file.
    """
    root = Path(directory)
    manifest = read_manifest(root)
    problems = []
    for rel, expected in sorted(manifest.files.items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"missing {rel}")
        elif sha256_file(path) != expected:
            problems.append(f"{rel} changed (sha256 differs from {MANIFEST})")
    for required in (PEFT_CONFIG, PEFT_WEIGHTS):
        if required not in manifest.files:
            problems.append(f"{MANIFEST} does not list {required}")
    extra = sorted(set(compute_hashes(root)) - set(manifest.files))
    problems += [f"unexpected file {rel} (not in {MANIFEST})" for rel in extra]
    if problems:
        raise ArtifactError(
            f"adapter {root} failed verification: " + "; ".join(problems)
            + ". Re-download it (cultura pull --force) or re-save it from the model"
        )
    return manifest


@contextmanager
def atomic_directory(target: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory next to ``target``; rename it into place on success.

    Nothing is left half-written: on error the temporary directory is removed and an
    existing ``target`` is untouched.
    """
    target = Path(target)
    if target.exists() and not overwrite and any(target.iterdir()):
        raise ArtifactError(f"{target} exists and is not empty; pass overwrite=True or pick another")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
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
        "library_name": "peft",
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
    return meta


def render_card(manifest: Manifest, *, bias_markdown: str | None = None) -> str:
    """The model card (README.md): YAML front matter, usage, labels, provenance, bias table."""
    import yaml

    front = yaml.safe_dump(card_metadata(manifest), allow_unicode=True, sort_keys=False)
    labels = ", ".join(manifest.labels) or "(generative head)"
    normalizers = manifest.tokenizer.get("normalizers", [])
    lines = [
        "---",
        front.rstrip(),
        "---",
        "",
        f"# {manifest.culture}/{manifest.task} — a cultura adapter",
        "",
        f"A {manifest.peft_method.upper()} adapter with a `{manifest.head_type}` head for "
        f"culture `{manifest.culture}` on base model `{manifest.base_model.id}`.",
        "",
        "## Usage",
        "",
        "```python",
        "import cultura",
        f'model = cultura.load("{manifest.culture}/{manifest.task}", '
        f'base="{manifest.base_model.id}")',
        'print(model.predict(["..."]))',
        "```",
        "",
        "Plain PEFT loads it too (resize the embeddings first when tokens were added; see the "
        "cultura docs).",
        "",
        f"Labels: {labels}",
        "",
        "## Culture adaptation",
        "",
        f"- normalizers: {', '.join(n['id'] for n in normalizers) or 'none'}",
        f"- added tokens: {manifest.tokenizer.get('added_tokens', 0)}",
        f"- knowledge sources: {', '.join(k['name'] for k in manifest.knowledge) or 'none'}",
        "",
        "## Bias report",
        "",
    ]
    if bias_markdown:
        lines.append(bias_markdown.rstrip())
    elif manifest.bias:
        lines.append(f"Passed: {bool(manifest.bias.get('passed'))}")
    else:
        lines.append("No bias checks were run for this adapter.")
    return "\n".join(lines) + "\n"
