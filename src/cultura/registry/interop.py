"""Plain PEFT repos as cultura adapters: a manifest is synthesized from what the repo holds.

An existing PEFT LoRA repo (``adapter_config.json`` + ``adapter_model.safetensors``) has no
``cultura.json``. Given the culture and task by the user, :func:`download_plain_peft`
downloads only its safetensors weights, PEFT config, tokenizer files and card, checks each
file against the Hub's tree listing (git blob id, or sha256 for LFS files), and writes a
``cultura.json`` marked ``synthesized: true``. Pickled weights (``adapter_model.bin``) are
never downloaded: such a repo is refused.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt.artifact import (
    ADDED_TOKENS,
    MANIFEST,
    PEFT_CONFIG,
    PEFT_WEIGHTS,
    BaseModelRef,
    Manifest,
    compute_hashes,
    config_fingerprint,
)
from cultura.core.errors import CulturaError
from cultura.core.tags import Culture
from cultura.registry.errors import IntegrityError

if TYPE_CHECKING:
    from huggingface_hub import HfApi

__all__ = ["TASK_TYPES", "download_plain_peft", "safetensors_shapes", "synthesize_manifest"]

#: PEFT task_type -> cultura head type
TASK_TYPES = {"SEQ_CLS": "seq-cls", "TOKEN_CLS": "token-cls", "CAUSAL_LM": "causal-lm"}
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
    "vocab.json", "merges.txt", "added_tokens.json", "tokenizer.model", "spiece.model",
)
_HEAD_MODULES = ("classifier", "score")


def safetensors_shapes(path: Path) -> dict[str, list[int]]:
    """Tensor name -> shape, read from a safetensors header (no tensor is loaded)."""
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise IntegrityError(f"{path}: not a safetensors file (too short)")
        (size,) = struct.unpack("<Q", raw)
        if size > 100_000_000:
            raise IntegrityError(f"{path}: not a safetensors file (header size {size})")
        header = json.loads(fh.read(size))
    return {k: list(v["shape"]) for k, v in header.items() if k != "__metadata__"}


def _num_labels(weights: Path) -> int | None:
    for name, shape in sorted(safetensors_shapes(weights).items()):
        parts = name.split(".")
        if any(m in parts for m in _HEAD_MODULES) and name.endswith("weight") and len(shape) == 2:
            return int(shape[0])
    return None


def _labels_from_plugins(culture: str, task: str, count: int | None) -> tuple[str, ...] | None:
    try:
        from cultura.core.profile import culture as profile_of

        labels = profile_of(culture).head(task).labels
    except CulturaError:
        return None
    return labels if labels and (count is None or len(labels) == count) else None


def _base_config(base_id: str, revision: str | None, *, offline: bool, endpoint: str,
                 token: str | None) -> dict[str, Any] | None:
    from cultura.registry.compat import describe_base

    info = describe_base(base_id, offline=offline, endpoint=endpoint, token=token)
    return dict(info.config) if info is not None and info.config else None


def synthesize_manifest(
    directory: Path,
    *,
    culture: str,
    task: str,
    labels: Sequence[str] | None = None,
    head_type: str | None = None,
    base_config: dict[str, Any] | None = None,
) -> Manifest:
    """Write ``cultura.json`` for the plain PEFT adapter in ``directory``; returns it."""
    config_path = directory / PEFT_CONFIG
    try:
        peft_config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CulturaError(f"{config_path}: cannot read the PEFT config ({exc})") from None
    base_id = peft_config.get("base_model_name_or_path") or ""
    if not base_id:
        raise CulturaError(f"{config_path}: no base_model_name_or_path; cannot tell the base model")
    task_type = str(peft_config.get("task_type") or "")
    head = head_type or TASK_TYPES.get(task_type)
    if head is None:
        raise CulturaError(
            f"{config_path}: task_type {task_type!r} has no cultura head type; pass head_type "
            f"(one of {sorted(set(TASK_TYPES.values()))})"
        )
    count = _num_labels(directory / PEFT_WEIGHTS) if head != "causal-lm" else None
    tag = Culture.parse(culture).tag
    if labels:
        chosen = tuple(labels)
        if count is not None and len(chosen) != count:
            raise CulturaError(
                f"{len(chosen)} labels given but the adapter's head has {count} outputs"
            )
    elif head == "causal-lm":
        chosen = ()
    else:
        chosen = _labels_from_plugins(tag, task, count) or tuple(
            f"LABEL_{i}" for i in range(count or 0)
        )
    config = base_config or {}
    architectures = config.get("architectures") or []
    manifest = Manifest(
        culture=tag,
        task=task,
        head_type=head,
        base_model=BaseModelRef(
            id=base_id,
            revision=peft_config.get("revision"),
            architecture=architectures[0] if architectures else "",
            fingerprint=config_fingerprint(config) if config else "",
            vocab_size=int(config.get("vocab_size") or 0),
        ),
        labels=chosen,
        peft_method=str(peft_config.get("peft_type") or "lora").lower(),
        synthesized=True,
        files=compute_hashes(directory),
        created_with="cultura (synthesized from a plain PEFT repo)",
    )
    (directory / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _git_blob_oid(data_path: Path) -> str:
    digest = hashlib.sha1()
    digest.update(b"blob %d\0" % data_path.stat().st_size)
    with open(data_path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    from cultura.adapt.artifact import sha256_file

    return sha256_file(path)


def _copy_base_tokenizer(
    api: HfApi, base_id: str, revision: str | None, staging: Path, *, where: str, offline: bool
) -> None:
    """Put the base model's tokenizer files into ``staging`` (cultura artifacts carry one)."""
    import shutil

    folder = Path(base_id).expanduser()
    if folder.is_dir():
        found = [n for n in TOKENIZER_FILES if (folder / n).is_file()]
        for name in found:
            shutil.copyfile(folder / name, staging / name)
    elif not offline and base_id:
        api.snapshot_download(base_id, revision=revision, local_dir=staging,
                              allow_patterns=list(TOKENIZER_FILES))
        found = [n for n in TOKENIZER_FILES if (staging / n).is_file()]
    else:
        found = []
    if not found:
        raise CulturaError(
            f"{where} has no tokenizer files and the tokenizer of its base model {base_id!r} "
            "cannot be read (offline, or not a model folder/repo); pull it online, or publish "
            "the tokenizer with the adapter"
        )


def download_plain_peft(
    api: HfApi,
    repo_id: str,
    commit: str,
    staging: Path,
    *,
    culture: str | None,
    task: str | None,
    labels: Sequence[str] | None,
    head_type: str | None,
    offline: bool,
    endpoint: str,
    token: str | None,
    snapshot: Callable[[Sequence[str]], None],
) -> Manifest:
    """Download a plain PEFT repo into ``staging``, verify it, synthesize its manifest."""
    from huggingface_hub.hf_api import RepoFile

    where = f"hf:{repo_id}@{commit[:12]}"
    tree = {
        f.path: f for f in api.list_repo_tree(repo_id, revision=commit, recursive=True)
        if isinstance(f, RepoFile)
    }
    if PEFT_CONFIG not in tree:
        raise CulturaError(
            f"{where} has neither {MANIFEST} nor {PEFT_CONFIG}: it is not an adapter repo"
        )
    if PEFT_WEIGHTS not in tree:
        pickled = [p for p in tree if p.startswith("adapter_model.")]
        raise CulturaError(
            f"{where} has no {PEFT_WEIGHTS}"
            + (f" (only {', '.join(pickled)}, which may hold pickles)" if pickled else "")
            + "; cultura loads safetensors weights only. Ask the owner to publish safetensors"
        )
    if not culture or not task:
        raise CulturaError(
            f"{where} is a plain PEFT adapter (no {MANIFEST}); say which culture and task it "
            f"serves: cultura pull hf:{repo_id} --culture <tag> --task <task>"
        )
    wanted = [PEFT_CONFIG, PEFT_WEIGHTS, "README.md", ADDED_TOKENS, *TOKENIZER_FILES]
    files = [p for p in wanted if p in tree]
    snapshot(files)
    problems = []
    for rel in files:
        path = staging / rel
        entry = tree[rel]
        if not path.is_file():
            problems.append(f"missing {rel}")
        elif entry.lfs is not None:
            if _sha256(path) != entry.lfs.sha256:
                problems.append(f"{rel} sha256 differs from the Hub's LFS pointer")
        elif _git_blob_oid(path) != entry.blob_id:
            problems.append(f"{rel} differs from the Hub's git blob id")
    if problems:
        raise IntegrityError(
            f"{where} failed verification: {'; '.join(problems)}; nothing was installed"
        )
    peft_config = json.loads((staging / PEFT_CONFIG).read_text(encoding="utf-8"))
    base_id = str(peft_config.get("base_model_name_or_path") or "")
    base_config = _base_config(
        base_id, peft_config.get("revision"), offline=offline, endpoint=endpoint, token=token
    )
    if not any((staging / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
        _copy_base_tokenizer(api, base_id, peft_config.get("revision"), staging, where=where,
                             offline=offline)
    return synthesize_manifest(
        staging, culture=culture, task=task, labels=labels, head_type=head_type,
        base_config=base_config,
    )
