"""The :class:`LocalHub` server and :func:`serve_local_hub`, which points ``HF_ENDPOINT`` and
``HF_TOKEN`` at one."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cultura.testing.hub.faults import FaultInjection
from cultura.testing.hub.handler import Handler, Server
from cultura.testing.hub.state import HubState, RequestRecord

__all__ = ["DEFAULT_TOKEN", "DEFAULT_USER", "LocalHub", "serve_local_hub"]

DEFAULT_TOKEN = "hf_cultura_local_hub_token"
DEFAULT_USER = "cultura-tester"


class LocalHub(FaultInjection):
    """A Hub-compatible server on ``127.0.0.1`` (a free port unless ``port`` is given).

    Args:
        token: the token that authenticates as ``user`` (also available as :attr:`token`).
        user: the user name ``whoami`` reports; any namespace is writable with a valid token.
        extra_tokens: more ``token -> user`` pairs.

    Use :meth:`start`/:meth:`stop` or ``with LocalHub() as hub:``; :attr:`url` is the
    endpoint to give ``HfApi(endpoint=...)`` or ``HF_ENDPOINT``.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        user: str = DEFAULT_USER,
        extra_tokens: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.user = user
        self._host = host
        self._port = port
        self._state = HubState({token: user, **(extra_tokens or {})})
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        #: set while stopping: trickling responses end (the connection closes)
        self.stopping = threading.Event()

    # --------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalHub is not running; call start() or use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalHub:
        """Start serving in a background thread (idempotent); returns ``self``."""
        if self._server is not None:
            return self
        self.stopping.clear()
        handler = type("_BoundHandler", (Handler,), {"hub": self, "state": self._state})
        server = Server((self._host, self._port), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="cultura-local-hub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._server is None:
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------- inspection API
    @property
    def log(self) -> list[RequestRecord]:
        """Every request answered so far (method, path, status)."""
        with self._state.lock:
            return list(self._state.log)

    def repo_ids(self) -> list[str]:
        with self._state.lock:
            return sorted(self._state.repos)

    def commits(self, repo_id: str, branch: str = "main") -> list[str]:
        """Commit ids on ``branch``, newest first."""
        with self._state.lock:
            repo = self._state.repos[repo_id]
            out = []
            oid: str | None = repo.branches[branch]
            while oid is not None:
                out.append(oid)
                oid = repo.commits[oid].parent
            return out

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """The files of ``repo_id`` at ``revision`` (what a client would download)."""
        with self._state.lock:
            repo = self._state.repos[repo_id]
            commit = self._state.resolve(repo, revision)
            return {p: self._state.content(repo, commit, p) for p in sorted(commit.tree)}

    def set_downloads(self, repo_id: str, downloads: int) -> None:
        with self._state.lock:
            self._state.repos[repo_id].downloads = downloads


@contextmanager
def serve_local_hub(**options: Any) -> Iterator[LocalHub]:
    """Run a :class:`LocalHub` with ``HF_ENDPOINT`` and ``HF_TOKEN`` pointing at it.

    The variables are restored afterwards. cultura reads them on every call, so code under test
    talks to this server; ``huggingface_hub`` calls made directly should pass
    ``endpoint=hub.url``. This is what the ``local_hub`` pytest fixture uses::

        @pytest.fixture
        def local_hub():
            with serve_local_hub() as hub:
                yield hub
    """
    names = ("HF_ENDPOINT", "HF_TOKEN")
    saved = {name: os.environ.get(name) for name in names}
    with LocalHub(**options) as hub:
        os.environ["HF_ENDPOINT"] = hub.url
        os.environ["HF_TOKEN"] = hub.token
        try:
            yield hub
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
