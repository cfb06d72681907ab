"""Publish, pull and search culture adapters on the Hugging Face Hub.

Everything goes through the real ``huggingface_hub`` client, with the endpoint read from
``HF_ENDPOINT`` at call time (see :mod:`cultura.registry.settings`) and the token from
``HF_TOKEN`` / the stored login unless one is passed. Tokens are never printed or logged;
error messages are passed through :func:`~cultura.registry.settings.redact` as well.

* :func:`publish` validates an artifact, runs the culture's bias checks as a gate, rewrites
  the model card, and uploads every file in **one** commit (a failure leaves no partial
  commit).
* :func:`pull` downloads exactly the files ``cultura.json`` lists (one by one), checks
  every sha256 and installs into the local registry; a failed or tampered download installs
  nothing. A plain PEFT repo (no ``cultura.json``) is pulled with a synthesized manifest when
  ``culture`` and ``task`` are given. Every Hub answer is data from a stranger: commit ids,
  file names and types, declared and received sizes are checked before they are used, and a
  pull has an overall deadline (see :func:`pull_repo`).
* :func:`search` lists cultura adapters by tag (``cultura``, ``culture:<tag>``,
  ``task:<task>``, ``base_model:<id>``).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cultura.adapt.artifact import (
    CARD,
    MANIFEST,
    PICKLE_SUFFIXES,
    ArtifactError,
    Manifest,
    read_manifest,
    refuse_remote_code,
    render_card,
    verify_artifact,
    write_atomic,
)
from cultura.core.errors import CulturaError, UnknownCultureError
from cultura.core.tags import Culture
from cultura.registry.errors import HubError, IntegrityError, OfflineError, PullTimeoutError
from cultura.registry.names import HubName, PathName, RegistryName, parse, try_parse
from cultura.registry.settings import (
    hub_endpoint,
    is_offline,
    max_file_bytes,
    max_pull_bytes,
    max_text_bytes,
    pull_timeout,
    redact,
)
from cultura.registry.store import (
    COMMIT_ID,
    InstalledAdapter,
    LocalRegistry,
    Origin,
    check_commit,
    check_manifest_paths,
)

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from cultura.core.plugins import PluginManager

__all__ = [
    "Fetcher",
    "HubAdapter",
    "PublishResult",
    "fetch_manifest",
    "publish",
    "pull",
    "pull_repo",
    "search",
]

log = logging.getLogger("cultura.registry")


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


#: a licence id as the Hub's card metadata takes it (``apache-2.0``, ``cc-by-sa-4.0``, ``other``)
LICENSE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,63}")


def _check_token(
    api: HfApi, action: str, endpoint: str, repo_id: str, token: str | None,
    say: Callable[[str], None],
) -> None:
    """Fail fast on a missing or bad token, before the bias checks run.

    A Hub-compatible server without ``/api/whoami-v2`` (a mirror, a self-hosted Hub) answers
    404 or 405 there; the token is then checked by the create-repo step instead.
    """
    try:
        with _hub_call(f"{action} (step: checking the token)", endpoint, repo_id, token):
            api.whoami()
    except HubError as exc:
        if exc.status not in (404, 405, 501):
            raise
        say(f"note: {endpoint} has no token check (whoami answered {exc.status}); the token is "
            "checked when the repo is created")


def publish(
    directory: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    allow_bias_failures: bool = False,
    commit_message: str | None = None,
    license: str | None = None,
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
    ``README.md`` are written back to ``directory``. ``license`` (an SPDX id such as
    ``cc-by-4.0``) replaces the licence the adapter was saved with, in the manifest and card.
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
    if license is not None and not LICENSE_ID.fullmatch(license):
        raise CulturaError(
            f"--license {license[:40]!r} is not a licence id; use an SPDX-style id such as "
            "apache-2.0, mit or cc-by-4.0 (the Hub's license field)"
        )
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
    _check_token(api, action, endpoint, repo_id, token, say)
    summary, bias_md, note = _bias_gate(
        directory, manifest, allow_failures=allow_bias_failures, manager=manager, progress=progress
    )
    say(note)
    final = replace(manifest, bias=summary, license=license or manifest.license)
    manifest_bytes = final.to_json().encode("utf-8")
    card_bytes = render_card(final, bias_markdown=bias_md, repo_id=repo_id).encode("utf-8")
    files = sorted(set(final.files) | {MANIFEST, CARD})
    with _hub_call(f"{action} (step: creating the repo)", endpoint, repo_id, token):
        api.create_repo(repo_id, private=private, exist_ok=True)
    if branch != "main":
        with _hub_call(f"{action} (step: creating branch {branch})", endpoint, repo_id, token):
            api.create_branch(repo_id, branch=branch, exist_ok=True)
    with _hub_call(f"{action} (step: listing the repo's files)", endpoint, repo_id, token):
        remote = set(api.list_repo_files(repo_id, revision=branch))
    with _hub_call(f"{action} (step: uploading the commit)", endpoint, repo_id, token):
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
    commit = check_commit(info.oid, repo_id)
    write_atomic(directory / MANIFEST, manifest_bytes)
    write_atomic(directory / CARD, card_bytes)
    url = redact(f"{endpoint}/{repo_id}" + (f"/tree/{branch}" if branch != "main" else ""), token)
    return PublishResult(
        repo_id=repo_id,
        url=url,
        commit=commit,
        commit_url=redact(str(info.commit_url), token),
        revision=branch,
        files=tuple(files),
        bias=summary,
    )


# --------------------------------------------------------------------------- pull
#: seconds between two checks of a pull's deadline and of the bytes it holds on disk
POLL_S = 0.1
#: seconds a download that was given up gets to stop before its staging directory goes
GRACE_S = 1.0
#: bytes on disk a pull may hold beyond what the server declared (a synthesized manifest)
SLACK_BYTES = 64 << 10
_NOTHING = "; nothing was installed"
_REFUSED = "; the adapter was refused and nothing was installed"

T = TypeVar("T")


class _Cancelled(Exception):
    """Raised inside a download thread whose pull was given up (deadline, size)."""


def _guarded_tqdm(cancelled: threading.Event, *, quiet: bool) -> type[Any]:
    """A huggingface_hub progress bar class that stops the download once ``cancelled`` is set
    (every received chunk updates a bar), silent when ``quiet``."""
    from huggingface_hub.utils import tqdm as hf_tqdm

    class GuardedTqdm(hf_tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if quiet:
                kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            if cancelled.is_set():
                raise _Cancelled("the pull was given up")
            return super().update(n)  # type: ignore[no-any-return]

    return GuardedTqdm


def _bytes_on_disk(folder: Path) -> int:
    """Bytes of the files a download wrote under ``folder`` (huggingface_hub's own metadata
    under ``.cache/huggingface`` aside, but its partial ``.incomplete`` files counted)."""
    total = 0
    for root, _dirs, names in os.walk(folder):
        internal = f"{os.sep}.cache{os.sep}huggingface" in root + os.sep
        for name in names:
            if internal and not name.endswith(".incomplete"):
                continue
            try:
                stat = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += stat.st_size
    return total


class _Transfer:
    """The network part of one pull, run in a worker thread under an overall deadline and a
    budget of bytes on disk.

    huggingface_hub's timeouts bound each read, not a download: a server trickling a byte a
    second never times out. Here the calling thread waits at most until the deadline and
    checks every :data:`POLL_S` seconds that the staging directory holds no more than the
    server declared; when either is exceeded the pull is given up and its staging directory
    removed. The worker (a daemon thread) stops at the next chunk it hands on (through
    :func:`_guarded_tqdm`; huggingface_hub hands on up to 10 MB at a time), at its next read
    timeout (``HF_HUB_DOWNLOAD_TIMEOUT``) or when the server closes; what it may still write
    lands in a staging directory that the next registry operation removes (:meth:`~cultura.
    registry.store.LocalRegistry.clean_stale`).
    """

    def __init__(self, what: str, timeout: float, *, endpoint: str, progress: bool) -> None:
        self.what = what
        self.timeout = timeout
        self.started = time.monotonic()
        self.endpoint = endpoint
        self.cancelled = threading.Event()
        self.tqdm_class = _guarded_tqdm(self.cancelled, quiet=not _progress(progress))
        self.work: Path | None = None
        self.budget = 0

    def download_options(self, api: HfApi) -> dict[str, Any]:
        """Keyword arguments for ``hf_hub_download``: the guarded progress bar, where this
        huggingface_hub version takes one."""
        import inspect

        takes = "tqdm_class" in inspect.signature(api.hf_hub_download).parameters
        return {"tqdm_class": self.tqdm_class} if takes else {}

    def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` in a worker thread; raises what it raised, or :class:`PullTimeoutError` /
        :class:`IntegrityError` when the deadline or the budget is exceeded (also Ctrl-C stops
        the worker)."""
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["value"] = fn()
            except BaseException as exc:  # handed to the calling thread
                outcome["error"] = exc

        worker = threading.Thread(target=target, name="cultura-pull", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                worker.join(POLL_S)
                if worker.is_alive():
                    self._check()
        except BaseException:
            self.cancelled.set()
            worker.join(GRACE_S)
            raise
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]  # type: ignore[no-any-return]

    def _check(self) -> None:
        waited = time.monotonic() - self.started
        if waited > self.timeout:
            raise PullTimeoutError(redact(
                f"{self.what}: gave up after {waited:.1f}s, the time one pull may take "
                f"({self.timeout:g}s); the Hub at {self.endpoint} sends too slowly or has "
                "stalled, and nothing was installed. If the connection is only slow, raise the "
                "limit with CULTURA_PULL_TIMEOUT=SECONDS (cultura pull --timeout, or timeout= "
                "in Python)"
            ))
        if self.work is not None:
            used = _bytes_on_disk(self.work)
            if used > self.budget + SLACK_BYTES:
                raise IntegrityError(
                    f"{self.what}: the server sent more bytes than it declared ({used} on disk, "
                    f"{self.budget} declared); the download was stopped and nothing was "
                    "installed. Do not use this adapter"
                )


def check_declared_size(value: object, rel: str, where: str) -> int:
    """``value`` if it is a byte count, as the Hub declares the size of ``rel``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IntegrityError(f"{where}: the Hub declared the size {value!r} for {rel}, which is "
                             "not a byte count; the answer was refused")
    return value


def _check_sizes(where: str, sizes: Mapping[str, int], already: int) -> int:
    """Refuse files or a total over the limits; returns ``already`` plus these sizes."""
    for rel, size in sorted(sizes.items()):
        weights = rel.lower().endswith(".safetensors")
        limit = max_file_bytes() if weights else max_text_bytes()
        if size > limit:
            variable = "CULTURA_MAX_FILE_BYTES" if weights else "CULTURA_MAX_TEXT_BYTES"
            raise IntegrityError(
                f"{where}: {rel} is declared as {size} bytes, over the limit of {limit} for "
                f"{'a weights file' if weights else 'a file of this type'} ({variable}); "
                "nothing was downloaded. Raise the limit only if you trust this adapter"
            )
    total = already + sum(sizes.values())
    if total > max_pull_bytes():
        raise IntegrityError(
            f"{where}: the files to download add up to {total} bytes, over the limit of "
            f"{max_pull_bytes()} for one pull (CULTURA_MAX_PULL_BYTES); nothing was installed. "
            "Raise the limit only if you trust this adapter"
        )
    return total


@dataclass
class Fetcher:
    """Downloads for one pull: every answer of the server is checked before it is used
    (commit ids, declared sizes, bytes received), and every file lands in a staging folder."""

    api: HfApi
    transfer: _Transfer

    def commit(self, repo_id: str, revision: str | None) -> str:
        """The commit ``revision`` of ``repo_id`` is at (checked to be 40 hex digits)."""
        return check_commit(self.api.model_info(repo_id, revision=revision).sha, repo_id)

    def sizes(self, repo_id: str, commit: str, paths: Sequence[str]) -> dict[str, int]:
        """The size the server declares for each of ``paths`` that exists at ``commit``."""
        from huggingface_hub.hf_api import RepoFile

        where = f"hf:{repo_id}@{commit[:12]}"
        wanted = set(paths)
        infos = self.api.get_paths_info(repo_id, sorted(wanted), revision=commit)
        return {
            info.path: check_declared_size(info.size, info.path, where)
            for info in infos if isinstance(info, RepoFile) and info.path in wanted
        }

    def download(self, repo_id: str, commit: str, folder: Path, sizes: Mapping[str, int]) -> None:
        """Download the files ``sizes`` names into ``folder``, refusing any over the limits and
        any that arrives with another size than the one declared.

        Files come one at a time, in the calling (worker) thread: huggingface_hub's
        ``snapshot_download`` would use a thread pool, whose threads keep the process alive
        after a pull was given up.
        """
        where = f"hf:{repo_id}@{commit[:12]}"
        self.transfer.budget = _check_sizes(where, sizes, self.transfer.budget)
        folder.mkdir(parents=True, exist_ok=True)
        options = self.transfer.download_options(self.api)
        for rel, size in sorted(sizes.items()):
            if self.transfer.cancelled.is_set():
                raise _Cancelled("the pull was given up")
            self.api.hf_hub_download(repo_id, rel, revision=commit, local_dir=folder, **options)
            path = folder / rel
            if path.stat().st_size != size:
                raise IntegrityError(
                    f"{where}: {rel} arrived with {path.stat().st_size} bytes but the server "
                    f"declared {size}; the adapter was refused and nothing was installed"
                )


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
    transfer = _Transfer(action, pull_timeout(timeout), endpoint=endpoint, progress=False)
    fetcher = Fetcher(_api(endpoint, token), transfer)
    with _hub_call(action, endpoint, repo_id, token):
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
    import json

    from cultura.registry.interop import hub_model_id

    if hub_model_id(repo_id) is None:
        raise CulturaError(f"{repo_id!r} is not a Hub model id (ORG/NAME)")
    endpoint = hub_endpoint(endpoint)
    action = f"reading the config of {repo_id}"
    transfer = _Transfer(action, pull_timeout(timeout), endpoint=endpoint, progress=False)
    fetcher = Fetcher(_api(endpoint, token), transfer)
    with _hub_call(action, endpoint, repo_id, token):
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
    from cultura.registry.interop import safetensors_shapes

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
    _require_online(offline, f"cannot pull hf:{repo_id}")
    _check_repo(repo_id, revision)
    endpoint = hub_endpoint(endpoint)
    registry = registry or LocalRegistry()
    action = f"pulling hf:{repo_id}" + (f"@{revision}" if revision else "")
    transfer = _Transfer(action, pull_timeout(timeout), endpoint=endpoint, progress=progress)
    fetcher = Fetcher(_api(endpoint, token), transfer)
    with _hub_call(action, endpoint, repo_id, token):
        commit = transfer.run(lambda: fetcher.commit(repo_id, revision))
    existing = registry.find_commit(repo_id, commit)
    if existing is not None and not force:
        registry.verify(existing)
        return existing
    with registry.staging() as work:
        transfer.work = work
        staging = work / "artifact"
        with _hub_call(action, endpoint, repo_id, token):
            manifest = transfer.run(lambda: _download_artifact(fetcher, repo_id, commit, staging))
            if manifest is None:
                from cultura.registry.interop import download_plain_peft

                transfer.run(lambda: download_plain_peft(
                    fetcher, repo_id, commit, staging, work / "base", culture=culture, task=task,
                    labels=labels, head_type=head_type, base=base,
                ))
        _verify_download(staging, repo_id, commit)
        origin = Origin("hub", repo_id=repo_id, commit=commit, revision=revision or "main",
                        endpoint=endpoint)
        return registry.install(staging, origin=origin, overwrite=force)


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
    timeout: float | None = None,
) -> InstalledAdapter:
    """Download, verify and install the adapter ``name`` into the local registry.

    ``name`` is ``hf:<org>/<repo>[@revision]`` (that repo; for a plain PEFT repo ``base``
    replaces the base model its config names), ``<culture>/<task>[@revision]`` (the best
    compatible adapter on the Hub, walking the culture's fallback chain; ``base`` filters by
    base model) or a local path (installs that directory). ``timeout``: seconds the download
    may take in all (default ``CULTURA_PULL_TIMEOUT``, 1800).
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
            base=base if isinstance(base, str) else None, force=force, token=token,
            endpoint=endpoint, registry=registry, offline=offline, progress=progress,
            timeout=timeout,
        )
    assert isinstance(parsed, RegistryName)
    _require_online(offline, f"cannot pull {name}")
    from cultura.registry.resolve import best_hub_candidate

    repo_id, revision = best_hub_candidate(
        parsed, base=base, token=token, endpoint=endpoint, offline=bool(offline), manager=manager
    )
    return pull_repo(
        repo_id, revision, force=force, token=token, endpoint=endpoint, registry=registry,
        offline=offline, progress=progress, timeout=timeout,
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
        """``passed (3 run, 1 skipped)``: the card's bias verdict and what it rests on."""
        if not self.bias:
            return "not checked"
        checks = self.bias.get("checks")
        checks = [c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []
        skipped = sum(1 for c in checks if c.get("status") == "skipped")
        state = "passed" if self.bias.get("passed") is True else "FAILED"
        if not checks:
            return state
        return f"{state} ({len(checks) - skipped} run" + (
            f", {skipped} skipped)" if skipped else ")"
        )

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
    sha = info.sha if isinstance(info.sha, str) and COMMIT_ID.fullmatch(info.sha) else None
    return HubAdapter(
        repo_id=info.id,
        sha=sha,
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
    found = []
    for info in infos:  # answers are data: a result with an id that is no Hub id is dropped
        if not isinstance(try_parse(f"hf:{info.id}"), HubName):
            log.warning("search: ignoring a result with the invalid repo id %r", info.id)
            continue
        found.append(_to_adapter(info))
    return sorted(found, key=lambda a: (-a.downloads, a.repo_id))

