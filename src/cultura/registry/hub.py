"""Publish, pull and search culture adapters on the Hugging Face Hub.

Everything goes through the real ``huggingface_hub`` client, with the endpoint read from
``HF_ENDPOINT`` at call time (see :mod:`cultura.registry.settings`) and the token from
``HF_TOKEN`` / the stored login unless one is passed. Tokens are never printed or logged;
error messages are passed through :func:`~cultura.registry.settings.redact` as well.

* :func:`publish` validates an artifact, runs the culture's bias checks as a gate, rewrites
  the model card, and uploads every file in **one** commit (a failure leaves no partial
  commit).
* :func:`pull` downloads exactly the files ``cultura.json`` lists (``allow_patterns``), checks
  every sha256 and installs into the local registry; a failed or tampered download installs
  nothing. A plain PEFT repo (no ``cultura.json``) is pulled with a synthesized manifest when
  ``culture`` and ``task`` are given.
* :func:`search` lists cultura adapters by tag (``cultura``, ``culture:<tag>``,
  ``task:<task>``, ``base_model:<id>``).
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt.artifact import (
    CARD,
    MANIFEST,
    ArtifactError,
    Manifest,
    read_manifest,
    render_card,
    verify_artifact,
)
from cultura.core.errors import CulturaError, UnknownCultureError
from cultura.core.tags import Culture
from cultura.registry.errors import HubError, IntegrityError, OfflineError
from cultura.registry.names import HubName, PathName, RegistryName, parse
from cultura.registry.settings import hub_endpoint, is_offline, redact
from cultura.registry.store import InstalledAdapter, LocalRegistry, Origin

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from cultura.core.plugins import PluginManager

__all__ = [
    "HubAdapter",
    "PublishResult",
    "fetch_manifest",
    "publish",
    "pull",
    "pull_repo",
    "search",
]

log = logging.getLogger("cultura.registry")
#: file extensions that may hold pickles; cultura never downloads or loads them
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz")


# --------------------------------------------------------------------------- errors
def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _translate(exc: Exception, action: str, endpoint: str, repo_id: str | None, token: str | None) -> CulturaError:
    """Turn a ``huggingface_hub``/network exception into a :class:`HubError` saying what to do."""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    what = f"repository {repo_id}" if repo_id else "the request"
    status = _status(exc)
    if isinstance(exc, CulturaError):
        return exc
    if isinstance(exc, OfflineModeIsEnabled):
        message = (
            f"{action}: huggingface_hub is in offline mode (HF_HUB_OFFLINE was set when it was "
            "imported); unset HF_HUB_OFFLINE and start a new process to go online"
        )
    elif isinstance(exc, RevisionNotFoundError):
        message = f"{action}: {what} has no such revision at {endpoint}; check the @revision"
    elif isinstance(exc, RepositoryNotFoundError) and status != 401:
        message = (
            f"{action}: {what} was not found at {endpoint} (or it is private and the token "
            "cannot read it); check the name, or set HF_TOKEN to a token with access"
        )
    elif status == 401:
        sent = "the token" if _has_token(token) else "no token"
        message = (
            f"{action}: the Hub at {endpoint} rejected {sent} (401 Unauthorized). Set HF_TOKEN "
            "to a valid token (or run `hf auth login`); the token itself is never printed"
        )
    elif status == 403:
        message = (
            f"{action}: the token has no write access to {what} at {endpoint} (403); use a "
            "token with write permission for that namespace"
        )
    elif status is not None and status >= 500:
        message = (
            f"{action}: the Hub at {endpoint} failed with a server error ({status}); nothing was "
            "changed by this step. Try again later"
        )
    elif isinstance(exc, HfHubHTTPError) and status is not None:
        detail = str(exc).splitlines()[-1] if str(exc) else ""
        message = f"{action}: the Hub at {endpoint} answered {status} for {what}: {detail}"
    else:
        message = (
            f"{action}: cannot complete the transfer with the Hub at {endpoint} "
            f"({type(exc).__name__}: {exc}). Check the network and HF_ENDPOINT and try again, "
            "or work from the local registry (HF_HUB_OFFLINE=1)"
        )
    return HubError(redact(message, token), status=status)


def _has_token(token: str | None) -> bool:
    if token:
        return True
    try:
        from huggingface_hub import get_token

        return get_token() is not None
    except Exception:
        return False


@contextmanager
def _hub_call(action: str, endpoint: str, repo_id: str | None, token: str | None) -> Iterator[None]:
    try:
        yield
    except CulturaError:
        raise
    except Exception as exc:  # network and Hub errors: re-raised as HubError, token redacted
        raise _translate(exc, action, endpoint, repo_id, token) from None


def _api(endpoint: str | None, token: str | None) -> HfApi:
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub_endpoint(endpoint), token=token, library_name="cultura")


def _require_online(offline: bool | None, what: str) -> None:
    if is_offline(offline):
        raise OfflineError(
            f"{what}: offline mode is on (HF_HUB_OFFLINE or CULTURA_OFFLINE, or --offline); "
            "unset it to reach the Hub, or use what `cultura list` shows as installed"
        )


def _progress(enabled: bool) -> bool:
    import sys

    return enabled and sys.stderr.isatty()


@contextmanager
def _spinner(message: str, enabled: bool) -> Iterator[None]:
    """A spinner on stderr while a single long request runs (only on a terminal)."""
    if not _progress(enabled):
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield


# ------------------------------------------------------------------------ publish
@dataclass(frozen=True)
class PublishResult:
    """What :func:`publish` did: where the adapter is and at which commit."""

    repo_id: str
    url: str
    commit: str
    commit_url: str
    revision: str
    files: tuple[str, ...]
    bias: dict[str, Any] | None

    def __str__(self) -> str:
        return f"{self.url} @ {self.commit}"


def _bias_gate(
    directory: Path,
    manifest: Manifest,
    *,
    allow_failures: bool,
    manager: PluginManager | None,
    progress: bool,
) -> tuple[dict[str, Any] | None, str | None, str]:
    """Run the culture's bias checks; returns (summary, markdown, note).

    Raises :class:`cultura.bias.gate.BiasGateError` when a check fails and failures are not
    allowed. The checks are looked up first, so an adapter whose culture has none is not loaded.
    """
    from cultura.core.profile import build_profile

    try:
        profile = build_profile(manifest.culture, manager)
        checks = profile.bias_checks
    except UnknownCultureError:
        checks = ()
    if not checks:
        note = (
            f"no bias checks apply to culture {manifest.culture} (no installed plugin declares "
            "any); publishing without a new bias report"
        )
        return (dict(manifest.bias) if manifest.bias else None), None, note
    try:
        from cultura.bias.gate import run_gate
    except ImportError as exc:
        raise CulturaError(
            f"{len(checks)} bias check(s) apply to culture {manifest.culture} but the bias "
            f"engine cannot be imported ({exc}); reinstall cultura"
        ) from None
    # raises cultura.bias.gate.BiasGateError (naming each failing check) unless allowed
    report = run_gate(
        directory, culture=manifest.culture, allow_failures=allow_failures, manager=manager,
        progress=progress,
    )
    if report.passed:
        note = f"bias checks passed ({len(report.ran)} run)"
    else:
        failing = ", ".join(r.check_id for r in report.failures)
        note = f"bias checks FAILED ({failing}); publishing anyway as asked (--allow-bias-failures)"
    return dict(report.summary()), report.to_markdown(), note


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def publish(
    directory: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    allow_bias_failures: bool = False,
    commit_message: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    manager: PluginManager | None = None,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
) -> PublishResult:
    """Publish the adapter artifact in ``directory`` to the Hub repo ``repo_id``, in one commit.

    Steps: verify the artifact (files, sha256, manifest); run the culture's bias checks as a
    gate (refuse on failure unless ``allow_bias_failures``; the summary goes into
    ``cultura.json`` and the card metadata, the report into the card); render the model card;
    create the repo (``private``) and the branch ``revision`` if needed; upload every file and
    delete stale ones in a single commit. On success the rewritten ``cultura.json`` and
    ``README.md`` are written back to ``directory``.
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    directory = Path(directory)
    say = echo or log.info
    parsed = parse(f"hf:{repo_id}")  # validates org/name
    assert isinstance(parsed, HubName)
    if parsed.revision:
        raise CulturaError(f"--repo takes ORG/NAME without @revision; use --revision for {repo_id}")
    endpoint = hub_endpoint(endpoint)
    branch = revision or "main"
    try:
        manifest = verify_artifact(directory)
    except ArtifactError as exc:
        raise ArtifactError(f"cannot publish: {exc}") from None
    for rel in manifest.files:
        if rel.lower().endswith(PICKLE_SUFFIXES):
            raise ArtifactError(
                f"cannot publish {directory}: {rel} may hold a pickle; cultura artifacts use "
                "safetensors only. Re-save the adapter with safetensors"
            )
    api = _api(endpoint, token)
    action = f"publishing {directory} to {repo_id}"
    with _hub_call(action, endpoint, repo_id, token):
        api.whoami()  # fail fast on a missing or bad token, before running the bias checks
    summary, bias_md, note = _bias_gate(
        directory, manifest, allow_failures=allow_bias_failures, manager=manager, progress=progress
    )
    say(note)
    final = replace(manifest, bias=summary)
    manifest_bytes = final.to_json().encode("utf-8")
    card_bytes = render_card(final, bias_markdown=bias_md).encode("utf-8")
    files = sorted(set(final.files) | {MANIFEST, CARD})
    with _hub_call(action, endpoint, repo_id, token):
        api.create_repo(repo_id, private=private, exist_ok=True)
        if branch != "main":
            api.create_branch(repo_id, branch=branch, exist_ok=True)
        remote = set(api.list_repo_files(repo_id, revision=branch))
        operations: list[Any] = [
            CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(directory / rel))
            for rel in sorted(final.files)
        ]
        operations += [
            CommitOperationAdd(path_in_repo=MANIFEST, path_or_fileobj=manifest_bytes),
            CommitOperationAdd(path_in_repo=CARD, path_or_fileobj=card_bytes),
        ]
        operations += [
            CommitOperationDelete(path_in_repo=rel)
            for rel in sorted(remote - set(files) - {".gitattributes"})
        ]
        message = commit_message or (
            f"cultura: publish {final.culture}/{final.task} adapter (base {final.base_model.id})"
        )
        size = sum((directory / rel).stat().st_size for rel in final.files)
        with _spinner(f"uploading {len(operations)} file operation(s), {size / 1024:.0f} KiB, "
                     f"to {repo_id} in one commit", progress):
            info = api.create_commit(
                repo_id, operations, commit_message=message, revision=branch
            )
    _write_atomic(directory / MANIFEST, manifest_bytes)
    _write_atomic(directory / CARD, card_bytes)
    url = f"{endpoint}/{repo_id}" + (f"/tree/{branch}" if branch != "main" else "")
    return PublishResult(
        repo_id=repo_id,
        url=url,
        commit=info.oid,
        commit_url=info.commit_url,
        revision=branch,
        files=tuple(files),
        bias=summary,
    )


# --------------------------------------------------------------------------- pull
def _check_relpath(rel: str, where: str) -> None:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        raise IntegrityError(f"{where}: unsafe file name {rel!r} in {MANIFEST}; refusing it")
    if rel.lower().endswith(PICKLE_SUFFIXES):
        raise IntegrityError(
            f"{where}: {MANIFEST} lists {rel}, a format that may hold a pickle; cultura loads "
            "safetensors only and refuses this adapter"
        )


def fetch_manifest(
    repo_id: str, revision: str | None = None, *, token: str | None = None,
    endpoint: str | None = None,
) -> tuple[Manifest | None, str]:
    """``cultura.json`` of ``repo_id`` at ``revision`` (``None`` if the repo has none) and the
    commit it was read at."""
    from huggingface_hub.errors import EntryNotFoundError

    endpoint = hub_endpoint(endpoint)
    api = _api(endpoint, token)
    with _hub_call(f"reading {repo_id}", endpoint, repo_id, token):
        commit = api.model_info(repo_id, revision=revision).sha
        assert commit is not None
        with tempfile.TemporaryDirectory(prefix="cultura-manifest-") as tmp:
            try:
                path = api.hf_hub_download(repo_id, MANIFEST, revision=commit, local_dir=tmp)
            except EntryNotFoundError:
                return None, commit
            return read_manifest(Path(path).parent), commit


def _download_artifact(
    api: HfApi, repo_id: str, commit: str, staging: Path, *, progress: bool
) -> Manifest | None:
    """Download ``cultura.json`` then exactly the files it lists; ``None`` if there is none."""
    from huggingface_hub.errors import EntryNotFoundError

    try:
        api.hf_hub_download(repo_id, MANIFEST, revision=commit, local_dir=staging)
    except EntryNotFoundError:
        return None
    manifest = read_manifest(staging)
    where = f"hf:{repo_id}@{commit[:12]}"
    for rel in manifest.files:
        _check_relpath(rel, where)
    patterns = [glob.escape(rel) for rel in sorted(manifest.files)] + [CARD]
    _snapshot(api, repo_id, commit, staging, patterns, progress=progress)
    return manifest


def _snapshot(
    api: HfApi, repo_id: str, commit: str, staging: Path, patterns: Sequence[str], *,
    progress: bool,
) -> None:
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    quiet = not _progress(progress)
    if quiet:
        disable_progress_bars()
    try:
        api.snapshot_download(
            repo_id, revision=commit, local_dir=staging, allow_patterns=list(patterns),
            max_workers=4,
        )
    finally:
        if quiet:
            enable_progress_bars()


def _verify_download(staging: Path, repo_id: str, commit: str) -> Manifest:
    try:
        return verify_artifact(staging)
    except ArtifactError as exc:
        detail = str(exc).split("failed verification: ", 1)[-1].split(". Re-download")[0]
        raise IntegrityError(
            f"hf:{repo_id}@{commit[:12]} failed verification: {detail}. The files served do not "
            f"match the sha256 in its {MANIFEST} (tampered or corrupted); nothing was installed. "
            "Report it to the repo owner; do not use this adapter"
        ) from None


def pull_repo(
    repo_id: str,
    revision: str | None = None,
    *,
    culture: str | None = None,
    task: str | None = None,
    labels: Sequence[str] | None = None,
    head_type: str | None = None,
    force: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    registry: LocalRegistry | None = None,
    offline: bool | None = None,
    progress: bool = True,
) -> InstalledAdapter:
    """Download ``repo_id`` at ``revision``, verify every file and install it.

    Returns the existing entry when that commit is already installed (``force`` re-downloads).
    A repo without ``cultura.json`` is treated as a plain PEFT adapter: ``culture`` and
    ``task`` are then required and a manifest is synthesized (marked ``synthesized``).
    """
    _require_online(offline, f"cannot pull hf:{repo_id}")
    endpoint = hub_endpoint(endpoint)
    registry = registry or LocalRegistry()
    api = _api(endpoint, token)
    action = f"pulling hf:{repo_id}" + (f"@{revision}" if revision else "")
    with _hub_call(action, endpoint, repo_id, token):
        commit = api.model_info(repo_id, revision=revision).sha
    assert commit is not None
    existing = registry.find_commit(repo_id, commit)
    if existing is not None and not force:
        registry.verify(existing)
        return existing
    staging = Path(tempfile.mkdtemp(prefix="pull-", dir=registry.tmp_dir()))
    try:
        with _hub_call(action, endpoint, repo_id, token):
            manifest = _download_artifact(api, repo_id, commit, staging, progress=progress)
            if manifest is None:
                from cultura.registry.interop import download_plain_peft

                download_plain_peft(
                    api, repo_id, commit, staging, culture=culture, task=task, labels=labels,
                    head_type=head_type, offline=bool(offline), endpoint=endpoint, token=token,
                    snapshot=lambda patterns: _snapshot(
                        api, repo_id, commit, staging, patterns, progress=progress
                    ),
                )
        _verify_download(staging, repo_id, commit)
        origin = Origin("hub", repo_id=repo_id, commit=commit, revision=revision or "main",
                        endpoint=endpoint)
        return registry.install(staging, origin=origin, overwrite=force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def pull(
    name: str,
    *,
    base: Any = None,
    culture: str | None = None,
    task: str | None = None,
    labels: Sequence[str] | None = None,
    force: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    registry: LocalRegistry | None = None,
    offline: bool | None = None,
    manager: PluginManager | None = None,
    progress: bool = True,
) -> InstalledAdapter:
    """Download, verify and install the adapter ``name`` into the local registry.

    ``name`` is ``hf:<org>/<repo>[@revision]`` (that repo), ``<culture>/<task>[@revision]``
    (the best compatible adapter on the Hub, walking the culture's fallback chain; ``base``
    filters by base model) or a local path (installs that directory).
    """
    parsed = parse(name)
    registry = registry or LocalRegistry()
    if isinstance(parsed, PathName):
        folder = parsed.resolved()
        if not folder.is_dir():
            raise CulturaError(f"{name}: no such directory")
        return registry.install(folder, overwrite=force)
    if isinstance(parsed, HubName):
        return pull_repo(
            parsed.repo_id, parsed.revision, culture=culture, task=task, labels=labels,
            force=force, token=token, endpoint=endpoint, registry=registry, offline=offline,
            progress=progress,
        )
    assert isinstance(parsed, RegistryName)
    _require_online(offline, f"cannot pull {name}")
    from cultura.registry.resolve import best_hub_candidate

    repo_id, revision = best_hub_candidate(
        parsed, base=base, token=token, endpoint=endpoint, offline=bool(offline), manager=manager
    )
    return pull_repo(
        repo_id, revision, force=force, token=token, endpoint=endpoint, registry=registry,
        offline=offline, progress=progress,
    )


# ------------------------------------------------------------------------- search
@dataclass(frozen=True)
class HubAdapter:
    """A cultura adapter found on the Hub."""

    repo_id: str
    sha: str | None
    culture: str
    task: str
    head_type: str
    base_model: str
    downloads: int
    bias: dict[str, Any] | None
    private: bool
    last_modified: str | None

    @property
    def name(self) -> str:
        return f"{self.culture}/{self.task}"

    def bias_summary(self) -> str:
        if not self.bias:
            return "not checked"
        checks = self.bias.get("checks") or []
        state = "passed" if self.bias.get("passed") else "FAILED"
        return f"{state} ({len(checks)} check(s))" if checks else state

    def as_dict(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id, "sha": self.sha, "name": self.name,
            "culture": self.culture, "task": self.task, "head_type": self.head_type,
            "base_model": self.base_model, "downloads": self.downloads, "bias": self.bias,
            "private": self.private, "last_modified": self.last_modified,
        }


def _tag_value(tags: Sequence[str], prefix: str) -> str:
    for tag in tags:
        if tag.startswith(prefix):
            return tag[len(prefix):]
    return ""


def _to_adapter(info: Any) -> HubAdapter:
    tags = list(info.tags or [])
    card = info.card_data.to_dict() if info.card_data is not None else {}
    base = card.get("base_model") or _tag_value(tags, "base_model:")
    if isinstance(base, list):
        base = base[0] if base else ""
    bias = card.get("cultura_bias")
    return HubAdapter(
        repo_id=info.id,
        sha=info.sha,
        culture=_tag_value(tags, "culture:"),
        task=_tag_value(tags, "task:"),
        head_type=_tag_value(tags, "head:"),
        base_model=str(base or ""),
        downloads=int(info.downloads or 0),
        bias=dict(bias) if isinstance(bias, dict) else None,
        private=bool(info.private),
        last_modified=info.last_modified.isoformat() if info.last_modified else None,
    )


def search(
    culture: str | None = None,
    task: str | None = None,
    base: str | None = None,
    *,
    limit: int = 50,
    token: str | None = None,
    endpoint: str | None = None,
    offline: bool | None = None,
) -> list[HubAdapter]:
    """Cultura adapters on the Hub with the exact ``culture`` tag (canonicalized), ``task`` and
    ``base`` model id; most downloaded first, then by repo id."""
    _require_online(offline, "cannot search the Hub")
    endpoint = hub_endpoint(endpoint)
    filters = ["cultura"]
    if culture:
        filters.append(f"culture:{Culture.parse(culture).tag}")
    if task:
        filters.append(f"task:{task}")
    if base:
        filters.append(f"base_model:{base}")
    api = _api(endpoint, token)
    with _hub_call("searching the Hub", endpoint, None, token):
        infos = list(
            api.list_models(filter=filters, cardData=True, full=True, sort="downloads", limit=limit)
        )
    found = [_to_adapter(i) for i in infos]
    return sorted(found, key=lambda a: (-a.downloads, a.repo_id))

