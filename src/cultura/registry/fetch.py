"""The Hub client underneath publish, pull and search: error translation and checked downloads.

* :func:`hub_call` turns a ``huggingface_hub`` or network exception into a
  :class:`~cultura.registry.errors.HubError` saying what to do, with the token redacted;
  :func:`hub_api` is the client, for the endpoint of ``HF_ENDPOINT`` unless one is passed.
* :class:`Fetcher` downloads the files of one pull, checking every answer of the server
  (commit ids, declared and received sizes) under the deadline and the budget of bytes of a
  :class:`Transfer`.

:mod:`cultura.registry.download` (pulling repos), :mod:`cultura.registry.interop` (plain PEFT
repos), :mod:`cultura.registry.search` and :mod:`cultura.registry.hub` (publish) build on it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cultura.core.errors import CulturaError
from cultura.registry.errors import HubError, IntegrityError, OfflineError, PullTimeoutError
from cultura.registry.settings import (
    hub_endpoint,
    is_offline,
    max_file_bytes,
    max_pull_bytes,
    max_text_bytes,
    redact,
)
from cultura.registry.store import check_commit

if TYPE_CHECKING:
    from huggingface_hub import HfApi

__all__ = [
    "Fetcher",
    "Transfer",
    "check_declared_size",
    "hub_api",
    "hub_call",
    "require_online",
    "show_progress",
]


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
def hub_call(action: str, endpoint: str, repo_id: str | None, token: str | None) -> Iterator[None]:
    """Run the block, re-raising a Hub or network error as a :class:`HubError` that names
    ``action`` and says what to do (cultura's own errors pass unchanged)."""
    try:
        yield
    except CulturaError:
        raise
    except Exception as exc:  # network and Hub errors: re-raised as HubError, token redacted
        raise _translate(exc, action, endpoint, repo_id, token) from None


def hub_api(endpoint: str | None, token: str | None) -> HfApi:
    """The ``huggingface_hub`` client for ``endpoint`` (default: ``HF_ENDPOINT``)."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub_endpoint(endpoint), token=token, library_name="cultura")


def require_online(offline: bool | None, what: str) -> None:
    """Raise :class:`OfflineError` (``what``: the step refused) when offline mode is on."""
    if is_offline(offline):
        raise OfflineError(
            f"{what}: offline mode is on (HF_HUB_OFFLINE or CULTURA_OFFLINE, or --offline); "
            "unset it to reach the Hub, or use what `cultura list` shows as installed"
        )


def show_progress(enabled: bool) -> bool:
    """Whether to draw progress: ``enabled`` and stderr is a terminal."""
    import sys

    return enabled and sys.stderr.isatty()


# ---------------------------------------------------------------------- downloads
#: seconds between two checks of a pull's deadline and of the bytes it holds on disk
POLL_S = 0.1
#: seconds a download that was given up gets to stop before its staging directory goes
GRACE_S = 1.0
#: bytes on disk a pull may hold beyond what the server declared (a synthesized manifest)
SLACK_BYTES = 64 << 10

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


class Transfer:
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
        self.tqdm_class = _guarded_tqdm(self.cancelled, quiet=not show_progress(progress))
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
    transfer: Transfer

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


