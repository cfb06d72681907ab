"""Plain PEFT repos as cultura adapters: a manifest is synthesized from what the repo holds.

An existing PEFT LoRA repo (``adapter_config.json`` + ``adapter_model.safetensors``) has no
``cultura.json``. Given the culture and task by the user, :func:`download_plain_peft`
downloads only its safetensors weights, PEFT config, tokenizer files and card, checks each
file against the Hub's tree listing (git blob id, or sha256 for LFS files), and writes a
``cultura.json`` marked ``synthesized: true``. Pickled weights (``adapter_model.bin``) are
never downloaded: such a repo is refused.

The repo's config is data from a stranger: its ``base_model_name_or_path`` must be a Hub model
id (``org/name``, or a legacy ``name``) and is fetched from the Hub like the adapter; a local
path there is refused (nothing local is ever read or copied because a repo says so) unless
the user names the base model (``base=`` / ``--base``), which may be a local folder.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cultura.adapt.artifact import (
    ADDED_TOKENS,
    MANIFEST,
    PEFT_CONFIG,
    PEFT_TYPES,
    PEFT_WEIGHTS,
    ArtifactError,
    BaseModelRef,
    Manifest,
    compute_hashes,
    config_fingerprint,
    read_json_object,
    read_safetensors_header,
    sha256_file,
)
from cultura.core.errors import CulturaError
from cultura.core.grammar import is_hub_repo_id
from cultura.core.tags import Culture
from cultura.registry.errors import IntegrityError
from cultura.registry.fetch import Fetcher, check_declared_size
from cultura.registry.names import try_parse
from cultura.registry.store import check_task

__all__ = ["TASK_TYPES", "download_plain_peft", "safetensors_shapes", "synthesize_manifest"]

#: PEFT task_type -> cultura head type
TASK_TYPES = {"SEQ_CLS": "seq-cls", "TOKEN_CLS": "token-cls", "CAUSAL_LM": "causal-lm"}
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
    "vocab.json", "merges.txt", "added_tokens.json", "tokenizer.model", "spiece.model",
)
BASE_CONFIG = "config.json"
_HEAD_MODULES = ("classifier", "score")


def safetensors_shapes(path: Path, where: str | None = None) -> dict[str, list[int]]:
    """Tensor name -> shape, read from a safetensors header (no tensor is loaded).

    The header is checked as data from a stranger
    (:func:`~cultura.adapt.artifact.read_safetensors_header`: its length must fit the file and
    every tensor's bytes must lie inside the data and match its dtype and shape); anything else
    raises :class:`IntegrityError` naming ``where`` (default: the path).
    """
    try:
        tensors, _metadata = read_safetensors_header(path)
    except ArtifactError as exc:
        detail = str(exc).removeprefix(f"{path}: ")
        raise IntegrityError(f"{where or path}: {detail}; refusing it") from None
    return {name: list(info.shape) for name, info in tensors.items()}


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


def _read_json(path: Path, where: str) -> dict[str, Any]:
    """A repo's JSON config (size-capped, see :func:`read_json_object`), errors naming ``where``."""
    try:
        return read_json_object(path)
    except ArtifactError as exc:
        raise CulturaError(f"{where}: {str(exc).replace(str(path), path.name)}") from None


def synthesize_manifest(
    directory: Path,
    *,
    culture: str,
    task: str,
    labels: Sequence[str] | None = None,
    head_type: str | None = None,
    base_config: Mapping[str, Any] | None = None,
    base_id: str | None = None,
    base_revision: str | None = None,
) -> Manifest:
    """Write ``cultura.json`` for the plain PEFT adapter in ``directory``; returns it.

    ``base_id``/``base_revision`` name the base model (default: the PEFT config's
    ``base_model_name_or_path`` and ``revision``); ``base_config`` is its ``config.json``.
    """
    config_path = directory / PEFT_CONFIG
    peft_config = _read_json(config_path, str(directory))
    if base_id is None:
        base_id = str(peft_config.get("base_model_name_or_path") or "")
        base_revision = peft_config.get("revision")
    if not base_id:
        raise CulturaError(f"{config_path}: no base_model_name_or_path; cannot tell the base model")
    task_type = str(peft_config.get("task_type") or "")
    head = head_type or TASK_TYPES.get(task_type)
    if head is None:
        raise CulturaError(
            f"{config_path}: task_type {task_type!r} has no cultura head type; pass head_type "
            f"(one of {sorted(set(TASK_TYPES.values()))})"
        )
    peft_type = str(peft_config.get("peft_type") or "LORA")
    methods = {v: k for k, v in PEFT_TYPES.items()}
    if peft_type not in methods:
        raise CulturaError(
            f"{config_path}: peft_type {peft_type[:40]!r} is not one cultura loads "
            f"(one of {sorted(methods)})"
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
    config = dict(base_config or {})
    architectures = config.get("architectures") or []
    manifest = Manifest(
        culture=tag,
        task=task,
        head_type=head,
        base_model=BaseModelRef(
            id=base_id,
            revision=base_revision,
            architecture=architectures[0] if architectures else "",
            fingerprint=config_fingerprint(config) if config else "",
            vocab_size=int(config.get("vocab_size") or 0),
        ),
        labels=chosen,
        peft_method=methods[peft_type],
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


def hub_model_id(value: object) -> str | None:
    """``value`` if it is a Hub model id (``org/name`` or a legacy ``name``) that is not also a
    path on this machine, else ``None``."""
    if not isinstance(value, str) or not is_hub_repo_id(value):
        return None
    return None if Path(value).expanduser().exists() else value


def _base_files(
    fetcher: Fetcher, base: str, revision: str | None, folder: Path, where: str
) -> Path:
    """A folder with the base model's config and tokenizer files: the user's own folder, or
    those files of the Hub model ``base`` downloaded (checked) into ``folder``."""
    local = Path(base).expanduser()
    if local.is_dir():
        return local
    if revision is not None and try_parse(f"hf:org/name@{revision}") is None:
        raise IntegrityError(f"{where}: {PEFT_CONFIG} names the base revision {revision!r}, "
                             "which is not a valid git revision; the adapter was refused")
    commit = fetcher.commit(base, revision)
    sizes = fetcher.sizes(base, commit, [BASE_CONFIG, *TOKENIZER_FILES])
    fetcher.download(base, commit, folder, sizes)
    return folder


def _base_model(peft_config: Mapping[str, Any], base: str | None, where: str) -> str:
    """The base model: ``base`` when the user named one, else the config's, which must be a
    Hub model id (a path there would make cultura read local files because a repo says so)."""
    if base:
        if not Path(base).expanduser().is_dir() and hub_model_id(base) is None:
            raise CulturaError(f"--base {base!r} is neither a folder nor a Hub model id "
                               "(ORG/NAME); name the base model of this adapter")
        return base
    named = peft_config.get("base_model_name_or_path")
    if hub_model_id(named) is None:
        shown = repr(named) if len(repr(named)) <= 80 else repr(named)[:79] + "…"
        raise IntegrityError(
            f"{where}: {PEFT_CONFIG} field 'base_model_name_or_path' is {shown}, which is not a "
            "Hub model id (a local path, or not ORG/NAME); cultura never reads local files "
            "because a repo names them, so the adapter was refused. Name the base model "
            "yourself: cultura pull ... --base ORG/NAME (or a local folder you trust)"
        )
    return str(named)


def download_plain_peft(
    fetcher: Fetcher,
    repo_id: str,
    commit: str,
    staging: Path,
    base_folder: Path,
    *,
    culture: str | None,
    task: str | None,
    labels: Sequence[str] | None,
    head_type: str | None,
    base: str | None = None,
) -> Manifest:
    """Download a plain PEFT repo into ``staging``, verify it, synthesize its manifest.

    The base model's config (for the fingerprint) and, when the repo has none, its tokenizer
    come from ``base`` (a Hub id or a local folder the user named) or else from the Hub model
    the repo's config names, downloaded into ``base_folder``.
    """
    from huggingface_hub.hf_api import RepoFile

    where = f"hf:{repo_id}@{commit[:12]}"
    tree = {
        f.path: f for f in fetcher.api.list_repo_tree(repo_id, revision=commit, recursive=True)
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
    Culture.parse(culture)
    check_task(task, f"{where} (--task)")
    wanted = [PEFT_CONFIG, PEFT_WEIGHTS, "README.md", ADDED_TOKENS, *TOKENIZER_FILES]
    files = [p for p in wanted if p in tree]
    fetcher.download(repo_id, commit, staging,
                     {p: check_declared_size(tree[p].size, p, where) for p in files})
    problems = []
    for rel in files:
        path = staging / rel
        entry = tree[rel]
        if not path.is_file():
            problems.append(f"missing {rel}")
        elif entry.lfs is not None:
            if sha256_file(path) != entry.lfs.sha256:
                problems.append(f"{rel} sha256 differs from the Hub's LFS pointer")
        elif _git_blob_oid(path) != entry.blob_id:
            problems.append(f"{rel} differs from the Hub's git blob id")
    if problems:
        raise IntegrityError(
            f"{where} failed verification: {'; '.join(problems)}; nothing was installed"
        )
    peft_config = _read_json(staging / PEFT_CONFIG, where)
    base_id = _base_model(peft_config, base, where)
    revision = peft_config.get("revision") if not base else None
    if revision is not None and not isinstance(revision, str):
        raise IntegrityError(f"{where}: {PEFT_CONFIG} field 'revision' must be a string, got "
                             f"{type(revision).__name__}; the adapter was refused")
    source = _base_files(fetcher, base_id, revision, base_folder, where)
    base_config = (_read_json(source / BASE_CONFIG, base_id)
                   if (source / BASE_CONFIG).is_file() else None)
    if not any((staging / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
        found = [n for n in TOKENIZER_FILES if (source / n).is_file()]
        if not found:
            raise CulturaError(
                f"{where} has no tokenizer files and its base model {base_id!r} has none "
                "either; publish the tokenizer with the adapter, or name a base with --base"
            )
        for name in found:
            shutil.copyfile(source / name, staging / name)
    return synthesize_manifest(
        staging, culture=culture, task=task, labels=labels, head_type=head_type,
        base_config=base_config, base_id=base_id, base_revision=revision,
    )
