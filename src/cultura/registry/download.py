"""Reading and pulling Hub repos: every file checked before anything is installed.

* :func:`pull_repo` downloads exactly the files ``cultura.json`` lists (one by one), checks
  every sha256 and installs into the local registry; a failed or tampered download installs
  nothing. A plain PEFT repo (no ``cultura.json``) is pulled with a synthesized manifest when
  ``culture`` and ``task`` are given (:mod:`cultura.registry.interop`). Every Hub answer is
  data from a stranger: commit ids, file names and types, declared and received sizes are
  checked before they are used, and a pull has an overall deadline.
* :func:`fetch_manifest` and :func:`fetch_config` read one repo's ``cultura.json`` or a base
  model's ``config.json`` under the same checks.

Resolution (:mod:`cultura.registry.resolve`) pulls through here; :func:`cultura.registry.hub.pull`
adds adapter names on top.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cultura.adapt.artifact import (
    CARD,
    MANIFEST,
    ArtifactError,
    Manifest,
    read_manifest,
    refuse_remote_code,
    verify_artifact,
)
from cultura.core.errors import CulturaError
from cultura.registry.errors import IntegrityError
from cultura.registry.fetch import Fetcher, Transfer, hub_api, hub_call, require_online
from cultura.registry.interop import download_plain_peft, hub_model_id, safetensors_shapes
from cultura.registry.names import parse
from cultura.registry.settings import hub_endpoint, pull_timeout
from cultura.registry.store import InstalledAdapter, LocalRegistry, Origin, check_manifest_paths

__all__ = ["fetch_config", "fetch_manifest", "pull_repo"]

_NOTHING = "; nothing was installed"
_REFUSED = "; the adapter was refused and nothing was installed"


def _read_remote_manifest(folder: Path, where: str) -> Manifest:
    """``cultura.json`` downloaded into ``folder``; a malformed one is an :class:`IntegrityError`
    naming the repo and the field, not a network fault."""
    try:
        return read_manifest(folder)
    except ArtifactError as exc:
        detail = str(exc).replace(f"{folder / MANIFEST}: ", "").replace(f"{folder}: ", "")
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        detail = f"malformed ({type(exc).__name__}: {exc})"
    ending = _NOTHING if "refused" in detail else _REFUSED
    raise IntegrityError(f"{where}: {MANIFEST}: {detail}{ending}")


def _check_listed(manifest: Manifest, where: str) -> None:
    """Refuse a manifest whose culture, task or files are unsafe (before downloading them):
    file names go through :func:`~cultura.adapt.artifact.check_file_name` (no ``..``, no
    absolute path, allow-listed types only: code and pickles are never downloaded)."""
    try:
        check_manifest_paths(manifest, where)
    except ArtifactError as exc:
        raise IntegrityError(f"{exc}{_NOTHING}") from None


def _check_repo(repo_id: str, revision: str | None) -> None:
    """Refuse a repo id or revision outside the names grammar (they end up in URLs)."""
    parse(f"hf:{repo_id}" + (f"@{revision}" if revision else ""))


def fetch_manifest(
    repo_id: str, revision: str | None = None, *, token: str | None = None,
    endpoint: str | None = None, timeout: float | None = None,
) -> tuple[Manifest | None, str]:
    """``cultura.json`` of ``repo_id`` at ``revision`` (``None`` if the repo has none) and the
    commit it was read at, checked as :func:`pull_repo` checks it."""
    _check_repo(repo_id, revision)
    endpoint = hub_endpoint(endpoint)
    action = f"reading hf:{repo_id}"
    transfer = Transfer(action, pull_timeout(timeout), endpoint=endpoint, progress=False)
    fetcher = Fetcher(hub_api(endpoint, token), transfer)
    with hub_call(action, endpoint, repo_id, token):
        commit = transfer.run(lambda: fetcher.commit(repo_id, revision))
        where = f"hf:{repo_id}@{commit[:12]}"
        with tempfile.TemporaryDirectory(prefix="cultura-manifest-") as tmp:
            folder = transfer.work = Path(tmp)

            def read() -> Manifest | None:
                sizes = fetcher.sizes(repo_id, commit, [MANIFEST])
                if MANIFEST not in sizes:
                    return None
                fetcher.download(repo_id, commit, folder, sizes)
                return _read_remote_manifest(folder, where)

            manifest = transfer.run(read)
    if manifest is not None:
        _check_listed(manifest, where)
    return manifest, commit


def fetch_config(
    repo_id: str, *, token: str | None = None, endpoint: str | None = None,
    timeout: float | None = None,
) -> dict[str, Any] | None:
    """``config.json`` of the Hub model ``repo_id`` (``None`` when it has none), read at a
    checked commit through a temporary folder: no answer of the server chooses a path, in the
    Hugging Face cache or anywhere else, and the size and time limits of a pull apply."""
    if hub_model_id(repo_id) is None:
        raise CulturaError(f"{repo_id!r} is not a Hub model id (ORG/NAME)")
    endpoint = hub_endpoint(endpoint)
    action = f"reading the config of {repo_id}"
    transfer = Transfer(action, pull_timeout(timeout), endpoint=endpoint, progress=False)
    fetcher = Fetcher(hub_api(endpoint, token), transfer)
    with hub_call(action, endpoint, repo_id, token):
        commit = transfer.run(lambda: fetcher.commit(repo_id, None))
        with tempfile.TemporaryDirectory(prefix="cultura-config-") as tmp:
            folder = transfer.work = Path(tmp)

            def read() -> dict[str, Any] | None:
                sizes = fetcher.sizes(repo_id, commit, ["config.json"])
                if not sizes:
                    return None
                fetcher.download(repo_id, commit, folder, sizes)
                data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
                return data if isinstance(data, dict) else None

            return transfer.run(read)


def _download_artifact(fetcher: Fetcher, repo_id: str, commit: str, staging: Path) -> Manifest | None:
    """Download ``cultura.json`` then exactly the files it lists (and the card); ``None`` if the
    repo has no ``cultura.json``. Names, types and sizes are checked before each download."""
    where = f"hf:{repo_id}@{commit[:12]}"
    first = fetcher.sizes(repo_id, commit, [MANIFEST])
    if MANIFEST not in first:
        return None
    fetcher.download(repo_id, commit, staging, first)
    manifest = _read_remote_manifest(staging, where)
    _check_listed(manifest, where)
    sizes = fetcher.sizes(repo_id, commit, [*sorted(manifest.files), CARD])
    missing = sorted(set(manifest.files) - set(sizes))
    if missing:
        raise IntegrityError(
            f"{where}: {MANIFEST} lists {', '.join(missing)}, which the repo does not hold at "
            "that commit; the adapter was refused and nothing was installed"
        )
    fetcher.download(repo_id, commit, staging, sizes)
    return manifest


def _verify_download(staging: Path, repo_id: str, commit: str) -> Manifest:
    """Check a downloaded artifact before it is installed: no remote code, every sha256, the
    PEFT config against its weights, every safetensors header."""
    where = f"hf:{repo_id}@{commit[:12]}"
    try:
        refuse_remote_code(staging, where)
    except ArtifactError as exc:
        raise IntegrityError(f"{exc}{_NOTHING}") from None
    try:
        manifest = verify_artifact(staging)
    except ArtifactError as exc:
        text = str(exc)
        if "failed verification: " not in text:
            detail = text.replace(f"{staging}{os.sep}", "").replace(str(staging), where)
            raise IntegrityError(f"{where}: {detail}{_NOTHING}") from None
        detail = text.split("failed verification: ", 1)[-1].split(". Re-download")[0]
        raise IntegrityError(
            f"{where} failed verification: {detail}. The files served do not "
            f"match the sha256 in its {MANIFEST} (tampered or corrupted); nothing was installed. "
            "Report it to the repo owner; do not use this adapter"
        ) from None
    for rel in sorted(manifest.files):
        if rel.lower().endswith(".safetensors"):
            safetensors_shapes(staging / rel, f"{where}: {rel}")
    return manifest


def pull_repo(
    repo_id: str,
    revision: str | None = None,
    *,
    culture: str | None = None,
    task: str | None = None,
    labels: Sequence[str] | None = None,
    head_type: str | None = None,
    base: str | None = None,
    force: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    registry: LocalRegistry | None = None,
    offline: bool | None = None,
    progress: bool = True,
    timeout: float | None = None,
) -> InstalledAdapter:
    """Download ``repo_id`` at ``revision``, verify every file and install it.

    Returns the existing entry when that commit is already installed (``force`` re-downloads).
    A repo without ``cultura.json`` is treated as a plain PEFT adapter: ``culture`` and
    ``task`` are then required and a manifest is synthesized (marked ``synthesized``); ``base``
    (a Hub id, or a local folder you trust) replaces the base model its config names.

    Every answer of the server is checked before it is used: the commit id (40 hex digits),
    the manifest (culture, task, file names and types), declared and received sizes
    (``CULTURA_MAX_FILE_BYTES``, ``CULTURA_MAX_TEXT_BYTES``, ``CULTURA_MAX_PULL_BYTES``),
    sha256 of every file, remote code and safetensors headers. The whole pull must finish
    within ``timeout`` seconds (default ``CULTURA_PULL_TIMEOUT``, 1800). A refused or failed
    pull installs nothing and leaves no staging directory.
    """
    require_online(offline, f"cannot pull hf:{repo_id}")
    _check_repo(repo_id, revision)
    endpoint = hub_endpoint(endpoint)
    registry = registry or LocalRegistry()
    action = f"pulling hf:{repo_id}" + (f"@{revision}" if revision else "")
    transfer = Transfer(action, pull_timeout(timeout), endpoint=endpoint, progress=progress)
    fetcher = Fetcher(hub_api(endpoint, token), transfer)
    with hub_call(action, endpoint, repo_id, token):
        commit = transfer.run(lambda: fetcher.commit(repo_id, revision))
    existing = registry.find_commit(repo_id, commit)
    if existing is not None and not force:
        registry.verify(existing)
        return existing
    with registry.staging() as work:
        transfer.work = work
        staging = work / "artifact"
        with hub_call(action, endpoint, repo_id, token):
            manifest = transfer.run(lambda: _download_artifact(fetcher, repo_id, commit, staging))
            if manifest is None:
                transfer.run(lambda: download_plain_peft(
                    fetcher, repo_id, commit, staging, work / "base", culture=culture, task=task,
                    labels=labels, head_type=head_type, base=base,
                ))
        _verify_download(staging, repo_id, commit)
        origin = Origin("hub", repo_id=repo_id, commit=commit, revision=revision or "main",
                        endpoint=endpoint)
        return registry.install(staging, origin=origin, overwrite=force)
