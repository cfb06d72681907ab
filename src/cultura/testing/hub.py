"""A local, in-memory, Hugging Face Hub-compatible server for offline tests.

Plugin authors (and cultura's own tests) use it to exercise publishing, pulling and searching
with the *real* ``huggingface_hub`` client, without a network::

    from cultura.testing.hub import LocalHub

    with LocalHub() as hub:                      # listens on 127.0.0.1, a free port
        api = HfApi(endpoint=hub.url, token=hub.token)
        api.create_repo("org/adapter")
        ...

or, in a pytest suite, a fixture built on :func:`serve_local_hub` (see
``tests/registry/conftest.py``), which also points ``HF_ENDPOINT`` and ``HF_TOKEN`` at it.

What it implements — the part of the Hub API that ``huggingface_hub`` uses for model repos:

* ``POST /api/repos/create``, ``DELETE /api/repos/delete``, ``GET /api/whoami-v2``,
  ``POST /api/validate-yaml``;
* ``POST /api/models/{repo}/preupload/{rev}`` (every file is uploaded "regular", i.e. inline)
  and ``POST /api/models/{repo}/commit/{rev}`` (NDJSON: header, file, deletedFile,
  deletedFolder; ``parentCommit`` is honoured). A commit is applied all or nothing;
* ``GET /api/models/{repo}[/revision/{rev}]`` (model info with tags, card data, siblings),
  ``GET /api/models/{repo}/tree/{rev}[/{path}]``, ``POST .../paths-info/{rev}``,
  ``GET .../refs``, ``GET .../commits/{rev}``, ``POST .../branch/{name}``;
* ``HEAD``/``GET /{repo}/resolve/{rev}/{path}`` with ``ETag``, ``X-Repo-Commit``,
  ``Content-Length`` and byte ranges (so interrupted downloads resume);
* ``GET /api/models`` with ``filter`` (all must match), ``search``, ``author``, ``sort``,
  ``limit``, ``full`` and ``cardData``. Tags are derived from the README front matter as the
  Hub does (``tags``, ``library_name``, ``language``, ``license:``, ``base_model:``);
* authentication: a request with an unknown token gets ``401 Invalid credentials`` (on every
  route, as on the Hub); writes need a valid token; private repos are hidden without one.

Faults for robustness tests: :meth:`LocalHub.fail` (answer an HTTP error),
:meth:`LocalHub.drop` (cut the connection in the middle of a response body),
:meth:`LocalHub.trickle` (send a response body a few bytes at a time, slowly) and
:meth:`LocalHub.tamper` (serve different bytes for a stored file, as corrupted storage or a
malicious mirror would). Lies of a hostile server, for security tests:
:meth:`LocalHub.override_sha` (answer any string as a repo's commit id) and
:meth:`LocalHub.declare_size` (list a file with a size other than its own).
:attr:`LocalHub.log` records method, path and status of every request — never headers, so
tokens do not end up in it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = ["Fault", "LocalHub", "RequestRecord", "git_blob_oid", "serve_local_hub"]

DEFAULT_TOKEN = "hf_cultura_local_hub_token"
DEFAULT_USER = "cultura-tester"
_REPO_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


def git_blob_oid(data: bytes) -> str:
    """The git blob id of ``data`` (what the Hub reports as a regular file's ``oid``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class _Commit:
    oid: str
    parent: str | None
    tree: dict[str, str]  # path -> blob oid
    title: str
    message: str
    author: str
    date: str


@dataclass
class _Repo:
    repo_id: str
    private: bool
    created_at: str
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, _Commit] = field(default_factory=dict)
    downloads: int = 0


@dataclass
class Fault:
    """A fault the server injects into matching requests.

    Attributes:
        method: HTTP method to match (``"GET"``, ``"POST"``, ...).
        pattern: regular expression searched in the request path.
        action: ``"status"`` (answer ``status`` with a JSON error, after reading the request
            body), ``"drop"`` (send the headers and ``fraction`` of the body, then close the
            connection; a resumed ``Range`` request is cut before any byte) or ``"trickle"``
            (send the headers, then the body ``chunk`` bytes at a time, ``delay`` seconds
            apart; any route).
        times: how many requests it hits (``None``: until :meth:`LocalHub.clear_faults`).
        hits: how many requests it has hit so far.
    """

    method: str
    pattern: str
    action: str = "status"
    status: int = 500
    fraction: float = 0.5
    chunk: int = 1
    delay: float = 0.05
    times: int | None = 1
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return method == self.method and re.search(self.pattern, path) is not None


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered (no headers: they may hold a token)."""

    method: str
    path: str
    status: int


class _HTTPError(Exception):
    def __init__(
        self, status: int, message: str, *, code: str | None = None,
        headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.extra = extra or {}


def _front_matter(readme: bytes | None) -> dict[str, Any]:
    if not readme:
        return {}
    text = readme.decode("utf-8", errors="replace")
    match = re.match(r"\A\s*---\s*\n(.*?)\n---\s*(\n|\Z)", text, flags=re.S)
    if not match:
        return {}
    import yaml

    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _derive_tags(card: dict[str, Any]) -> list[str]:
    """Tags as the Hub derives them from a model card's front matter."""
    tags: list[str] = []
    tags += _as_list(card.get("tags"))
    if card.get("library_name"):
        tags.append(str(card["library_name"]))
    tags += _as_list(card.get("language"))
    for lic in _as_list(card.get("license")):
        tags.append(f"license:{lic}")
    for base in _as_list(card.get("base_model")):
        tags.append(f"base_model:{base}")
        if card.get("library_name") == "peft":
            tags.append(f"base_model:adapter:{base}")
    seen: dict[str, None] = {}
    for tag in tags:
        seen.setdefault(tag, None)
    return list(seen)


class _State:
    """Repos, commits and blobs (all in memory), guarded by one lock."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.lock = threading.RLock()
        self.tokens = tokens
        self.repos: dict[str, _Repo] = {}
        self.blobs: dict[str, bytes] = {}
        self.tampered: dict[tuple[str, str, str], bytes] = {}  # (repo, commit, path) -> bytes
        self.sha_overrides: dict[str, str] = {}  # repo -> the commit id answered for it
        self.declared_sizes: dict[tuple[str, str], int] = {}  # (repo, path) -> size listed
        self.faults: list[Fault] = []
        self.log: list[RequestRecord] = []
        self._counter = 0

    # ------------------------------------------------------------------ commits
    def put_blob(self, data: bytes) -> str:
        oid = git_blob_oid(data)
        self.blobs[oid] = data
        return oid

    def new_commit(
        self, repo: _Repo, parent: str | None, tree: dict[str, str], title: str, message: str,
        author: str,
    ) -> _Commit:
        self._counter += 1
        blob = json.dumps(
            [repo.repo_id, parent, sorted(tree.items()), title, message, self._counter,
             time.time_ns()]
        ).encode()
        oid = hashlib.sha1(blob).hexdigest()
        commit = _Commit(oid, parent, dict(tree), title, message, author, _now())
        repo.commits[oid] = commit
        return commit

    def repo(self, repo_id: str, user: str | None) -> _Repo:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and user is None):
            raise _HTTPError(404, f"Repository {repo_id} not found", code="RepoNotFound")
        return repo

    def resolve(self, repo: _Repo, revision: str) -> _Commit:
        revision = unquote(revision)
        if revision in repo.branches:
            return repo.commits[repo.branches[revision]]
        if _COMMIT.fullmatch(revision) and revision in repo.commits:
            return repo.commits[revision]
        raise _HTTPError(
            404, f"Invalid rev id: {revision}", code="RevisionNotFound"
        )

    def content(self, repo: _Repo, commit: _Commit, path: str) -> bytes:
        tampered = self.tampered.get((repo.repo_id, commit.oid, path))
        if tampered is not None:
            return tampered
        return self.blobs[commit.tree[path]]


class LocalHub:
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
        self._state = _State({token: user, **(extra_tokens or {})})
        self._server: ThreadingHTTPServer | None = None
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
        handler = type("_BoundHandler", (_Handler,), {"hub": self, "state": self._state})
        server = _Server((self._host, self._port), handler)
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

    # -------------------------------------------------------------- fault API
    def fail(self, method: str, pattern: str, *, status: int = 500, times: int | None = 1) -> Fault:
        """Answer the next ``times`` requests matching ``method`` and ``pattern`` with ``status``.

        The request body is read first, so the client has sent everything (e.g. a whole
        commit) when the error arrives. Nothing is changed on the server.
        """
        fault = Fault(method.upper(), pattern, "status", status=status, times=times)
        with self._state.lock:
            self._state.faults.append(fault)
        return fault

    def drop(
        self, method: str, pattern: str, *, fraction: float = 0.5, times: int | None = 1
    ) -> Fault:
        """Cut the connection of matching requests after ``fraction`` of the response body."""
        if not 0 <= fraction < 1:
            raise ValueError("fraction must be in [0, 1)")
        fault = Fault(method.upper(), pattern, "drop", fraction=fraction, times=times)
        with self._state.lock:
            self._state.faults.append(fault)
        return fault

    def trickle(
        self, method: str, pattern: str, *, chunk: int = 1, delay: float = 0.05,
        times: int | None = 1,
    ) -> Fault:
        """Send the body of matching responses ``chunk`` bytes at a time, ``delay`` seconds
        apart (a server that stalls without ever timing out a read)."""
        if chunk < 1 or delay < 0:
            raise ValueError("chunk must be >= 1 and delay >= 0")
        fault = Fault(method.upper(), pattern, "trickle", chunk=chunk, delay=delay, times=times)
        with self._state.lock:
            self._state.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._state.lock:
            self._state.faults.clear()

    def override_sha(self, repo_id: str, sha: str | None) -> None:
        """Answer ``sha`` (any string, e.g. ``"../../.."``) as the commit of ``repo_id``: in model
        info, in the ``X-Repo-Commit`` header of downloads and in commit answers, as a hostile
        server would. ``None`` answers the truth again."""
        with self._state.lock:
            if sha is None:
                self._state.sha_overrides.pop(repo_id, None)
            else:
                self._state.sha_overrides[repo_id] = sha

    def declare_size(self, repo_id: str, path: str, size: int | None) -> None:
        """List ``path`` of ``repo_id`` with ``size`` bytes in tree and paths-info answers,
        whatever its real size (the download still serves the real bytes). ``None`` lists the
        real size again."""
        with self._state.lock:
            if size is None:
                self._state.declared_sizes.pop((repo_id, path), None)
            else:
                self._state.declared_sizes[(repo_id, path)] = size

    def tamper(
        self, repo_id: str, path: str, *, revision: str = "main", data: bytes | None = None
    ) -> bytes:
        """Serve other bytes for ``path`` at ``revision`` (default: one byte flipped, same size).

        The commit id, tree and ``ETag`` stay what they were: only the content changes, as with
        corrupted storage or a malicious mirror. Returns the bytes now served.
        """
        with self._state.lock:
            repo = self._state.repos[repo_id]
            commit = self._state.resolve(repo, revision)
            original = self._state.blobs[commit.tree[path]]
            if data is None:
                if not original:
                    raise ValueError(f"{path} is empty; pass data=")
                middle = len(original) // 2
                data = original[:middle] + bytes([original[middle] ^ 0xFF]) + original[middle + 1:]
            self._state.tampered[(repo_id, commit.oid, path)] = data
            return data


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up (pooled connections closed by the client)."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the Hub API emulation (one instance per connection)."""

    protocol_version = "HTTP/1.1"
    server_version = "cultura-local-hub/1"
    hub: LocalHub
    state: _State
    #: the fault matching the request being answered (``None`` for most requests)
    active_fault: Fault | None = None

    # ----------------------------------------------------------------- plumbing
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        """Silence the default stderr access log (it is kept in :attr:`LocalHub.log`)."""

    def _record(self, status: int) -> None:
        with self.state.lock:
            self.state.log.append(RequestRecord(self.command, urlsplit(self.path).path, status))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, body: bytes = b"", *, content_type: str = "application/json",
        headers: dict[str, str] | None = None, head: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        fault = getattr(self, "active_fault", None)
        if not head and body and fault is not None and fault.action == "trickle":
            for start in range(0, len(body), fault.chunk):
                if self.hub.stopping.is_set():
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body[start:start + fault.chunk])
                self.wfile.flush()
                time.sleep(fault.delay)
        elif not head and body:
            self.wfile.write(body)
        self._record(status)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers=headers)

    def _error(self, err: _HTTPError) -> None:
        headers = dict(err.headers)
        if err.code:
            headers["X-Error-Code"] = err.code
        headers["X-Error-Message"] = err.message
        self._send(
            err.status, json.dumps({"error": err.message, **err.extra}).encode(), headers=headers,
            head=self.command == "HEAD",
        )

    def _user(self) -> str | None:
        """The authenticated user, ``None`` when anonymous; 401 for an unknown token."""
        auth = self.headers.get("Authorization")
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        user = self.state.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise _HTTPError(401, _INVALID_CREDENTIALS)
        return user

    def _need_user(self) -> str:
        user = self._user()
        if user is None:
            raise _HTTPError(401, "You must be authenticated to do this (pass a token)")
        return user

    def _fault(self) -> Fault | None:
        path = urlsplit(self.path).path
        with self.state.lock:
            for fault in self.state.faults:
                if fault.matches(self.command, path):
                    fault.hits += 1
                    return fault
        return None

    # ------------------------------------------------------------------ dispatch
    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        body = b""
        try:
            if self.command in ("POST", "PUT", "DELETE"):
                body = self._read_body()
            fault = self.active_fault = self._fault()
            if fault is not None and fault.action == "status":
                raise _HTTPError(fault.status, f"Injected server error {fault.status}")
            self._route(body, fault)
        except _HTTPError as err:
            self._error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in the emulation: answer 500, keep serving
            self._error(_HTTPError(500, f"internal error: {type(exc).__name__}: {exc}"))

    def _route(self, body: bytes, fault: Fault | None) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        method = self.command
        user = self._user()
        if parts[:2] == ["api", "whoami-v2"] and method == "GET":
            return self._whoami(self._need_user())
        if parts[:3] == ["api", "repos", "create"] and method == "POST":
            return self._create_repo(self._need_user(), body)
        if parts[:3] == ["api", "repos", "delete"] and method == "DELETE":
            return self._delete_repo(self._need_user(), body)
        if parts[:2] == ["api", "validate-yaml"] and method == "POST":
            return self._json(200, {"errors": [], "warnings": []})
        if parts[:2] == ["api", "models"] and len(parts) == 2 and method == "GET":
            return self._list_models(user, query)
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            repo_id = f"{parts[2]}/{parts[3]}"
            rest = parts[4:]
            return self._repo_api(user, repo_id, rest, query, body)
        if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
            repo_id = f"{parts[0]}/{parts[1]}"
            return self._resolve(user, repo_id, parts[3], "/".join(parts[4:]), fault)
        raise _HTTPError(404, f"no route for {method} {url.path}")

    # -------------------------------------------------------------------- routes
    def _whoami(self, user: str) -> None:
        self._json(
            200,
            {
                "type": "user",
                "id": hashlib.sha1(user.encode()).hexdigest()[:24],
                "name": user,
                "fullname": user,
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}},
            },
        )

    def _create_repo(self, user: str, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        name = payload.get("name") or ""
        org = payload.get("organization") or user
        if payload.get("type") not in (None, "model"):
            raise _HTTPError(400, "this test hub only hosts model repos")
        if not _REPO_PART.fullmatch(name) or not _REPO_PART.fullmatch(org):
            raise _HTTPError(400, f"invalid repo name {org}/{name}")
        repo_id = f"{org}/{name}"
        url = f"{self.hub.url}/{repo_id}"
        with self.state.lock:
            if repo_id in self.state.repos:
                raise _HTTPError(409, "You already created this model repo", extra={"url": url})
            private = bool(payload.get("private")) or payload.get("visibility") == "private"
            repo = _Repo(repo_id, private, _now())
            gitattributes = self.state.put_blob(b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
            commit = self.state.new_commit(
                repo, None, {".gitattributes": gitattributes}, "initial commit", "", user
            )
            repo.branches["main"] = commit.oid
            self.state.repos[repo_id] = repo
        self._json(200, {"url": url, "name": repo_id, "id": hashlib.sha1(repo_id.encode()).hexdigest()[:24]})

    def _delete_repo(self, user: str, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        repo_id = f"{payload.get('organization') or user}/{payload.get('name')}"
        with self.state.lock:
            if repo_id not in self.state.repos:
                raise _HTTPError(404, f"Repository {repo_id} not found", code="RepoNotFound")
            del self.state.repos[repo_id]
        self._json(200, {})

    def _model_json(self, repo: _Repo, commit: _Commit, *, full: bool, card: bool) -> dict[str, Any]:
        readme = self.state.content(repo, commit, "README.md") if "README.md" in commit.tree else None
        card_data = _front_matter(readme)
        data: dict[str, Any] = {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": self.state.sha_overrides.get(repo.repo_id, commit.oid),
            "lastModified": commit.date,
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": repo.downloads,
            "likes": 0,
            "tags": _derive_tags(card_data),
            "library_name": card_data.get("library_name"),
            "pipeline_tag": card_data.get("pipeline_tag"),
        }
        if card:
            data["cardData"] = card_data
        if full:
            data["siblings"] = [{"rfilename": p} for p in sorted(commit.tree)]
        return data

    def _list_models(self, user: str | None, query: dict[str, list[str]]) -> None:
        filters = query.get("filter", [])
        search = (query.get("search") or [""])[0].lower()
        author = (query.get("author") or [None])[0]
        full = "full" in query
        card = "cardData" in query or full
        with self.state.lock:
            items = []
            for repo in self.state.repos.values():
                if repo.private and user is None:
                    continue
                if author and repo.repo_id.split("/")[0] != author:
                    continue
                if search and search not in repo.repo_id.lower():
                    continue
                commit = repo.commits[repo.branches["main"]]
                data = self._model_json(repo, commit, full=full, card=card)
                if all(f in data["tags"] for f in filters):
                    items.append(data)
        sort = (query.get("sort") or ["createdAt"])[0]
        key = {"downloads": "downloads", "likes": "likes", "lastModified": "lastModified"}.get(
            sort, "createdAt"
        )
        items.sort(key=lambda d: (d[key], d["id"]), reverse=True)
        if query.get("limit"):
            items = items[: int(query["limit"][0])]
        self._json(200, items)

    def _repo_api(
        self, user: str | None, repo_id: str, rest: list[str], query: dict[str, list[str]],
        body: bytes,
    ) -> None:
        method = self.command
        with self.state.lock:
            repo = self.state.repo(repo_id, user)
        if (not rest or (rest[0] == "revision" and len(rest) >= 2)) and method in ("GET", "HEAD"):
            with self.state.lock:  # answered outside the lock: a trickled answer blocks no one
                commit = self.state.resolve(repo, "/".join(rest[1:]) if rest else "main")
                info = self._model_json(repo, commit, full=True, card=True)
            return self._json(200, info)
        if rest[0] == "tree" and len(rest) >= 2 and method == "GET":
            return self._tree(repo, rest[1], "/".join(rest[2:]), "recursive" in query and
                              query["recursive"][0].lower() in ("1", "true"))
        if rest[0] == "paths-info" and len(rest) == 2 and method == "POST":
            return self._paths_info(repo, rest[1], body)
        if rest[0] == "refs" and method == "GET":
            with self.state.lock:
                branches = [
                    {"name": b, "ref": f"refs/heads/{b}", "targetCommit": oid}
                    for b, oid in sorted(repo.branches.items())
                ]
            return self._json(200, {"branches": branches, "tags": [], "converts": [],
                                    "pullRequests": []})
        if rest[0] == "commits" and len(rest) == 2 and method == "GET":
            return self._commits(repo, rest[1])
        if rest[0] == "preupload" and len(rest) == 2 and method == "POST":
            self._need_user()
            return self._preupload(repo, rest[1], body)
        if rest[0] == "commit" and len(rest) == 2 and method == "POST":
            return self._commit(repo, rest[1], body, self._need_user())
        if rest[0] == "branch" and len(rest) == 2 and method == "POST":
            self._need_user()
            return self._branch(repo, rest[1], body)
        raise _HTTPError(404, f"no route for {method} /api/models/{repo_id}/{'/'.join(rest)}")

    def _file_entry(self, repo: _Repo, commit: _Commit, path: str) -> dict[str, Any]:
        oid = commit.tree[path]
        size = self.state.declared_sizes.get((repo.repo_id, path), len(self.state.blobs[oid]))
        return {"type": "file", "oid": oid, "size": size, "path": path}

    def _tree(self, repo: _Repo, revision: str, prefix: str, recursive: bool) -> None:
        with self.state.lock:
            commit = self.state.resolve(repo, revision)
            base = prefix.strip("/")
            entries: dict[str, dict[str, Any]] = {}
            for path in sorted(commit.tree):
                if base and not path.startswith(base + "/"):
                    continue
                rel = path[len(base) + 1:] if base else path
                parts = rel.split("/")
                if recursive:
                    for i in range(1, len(parts)):
                        folder = "/".join(([base] if base else []) + parts[:i])
                        entries.setdefault(folder, {"type": "directory", "oid": "0" * 40,
                                                    "size": 0, "path": folder})
                    entries[path] = self._file_entry(repo, commit, path)
                elif len(parts) == 1:
                    entries[path] = self._file_entry(repo, commit, path)
                else:
                    folder = "/".join(([base] if base else []) + parts[:1])
                    entries.setdefault(folder, {"type": "directory", "oid": "0" * 40, "size": 0,
                                                "path": folder})
            if base and not entries:
                raise _HTTPError(404, f"{base} does not exist at {revision}", code="EntryNotFound")
        self._json(200, list(entries.values()))

    def _paths_info(self, repo: _Repo, revision: str, body: bytes) -> None:
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            paths = json.loads(body or b"{}").get("paths", [])
        else:
            paths = parse_qs(body.decode()).get("paths", [])
        with self.state.lock:
            commit = self.state.resolve(repo, revision)
            out = [self._file_entry(repo, commit, p) for p in paths if p in commit.tree]
        self._json(200, out)

    def _commits(self, repo: _Repo, revision: str) -> None:
        with self.state.lock:
            commit: _Commit | None = self.state.resolve(repo, revision)
            out = []
            while commit is not None:
                out.append({
                    "id": commit.oid,
                    "title": commit.title,
                    "message": commit.message,
                    "date": commit.date,
                    "authors": [{"user": commit.author}],
                })
                commit = repo.commits[commit.parent] if commit.parent else None
        self._json(200, out)

    def _preupload(self, repo: _Repo, revision: str, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        with self.state.lock:
            try:
                tree = self.state.resolve(repo, revision).tree
            except _HTTPError:
                tree = {}
        files = []
        for item in payload.get("files", []):
            path = item["path"]
            files.append({
                "path": path,
                "uploadMode": "regular",
                "shouldIgnore": False,
                "oid": tree.get(path),
            })
        self._json(200, {"files": files, "commitOid": None})

    def _commit(self, repo: _Repo, revision: str, body: bytes, user: str) -> None:
        revision = unquote(revision)
        header: dict[str, Any] = {}
        operations: list[tuple[str, dict[str, Any]]] = []
        for number, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key, value = item["key"], item["value"]
            except (ValueError, KeyError, TypeError):
                raise _HTTPError(400, f"commit payload line {number} is not a valid operation") from None
            if key == "header":
                header = value
            else:
                operations.append((key, value))
        if not header.get("summary"):
            raise _HTTPError(400, "commit payload has no header with a summary")
        with self.state.lock:
            if revision not in repo.branches:
                raise _HTTPError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")
            head = repo.branches[revision]
            parent = header.get("parentCommit")
            if parent and not head.startswith(parent):
                raise _HTTPError(412, f"parent commit {parent} is not the head of {revision} ({head})")
            tree = dict(repo.commits[head].tree)
            new_blobs: dict[str, bytes] = {}
            for key, value in operations:  # applied to a copy: all or nothing
                path = str(value.get("path", ""))
                if not path or path.startswith("/") or ".." in path.split("/"):
                    raise _HTTPError(400, f"invalid path {path!r} in commit")
                if key == "file":
                    if value.get("encoding") != "base64":
                        raise _HTTPError(400, f"unsupported encoding for {path}")
                    data = base64.b64decode(value["content"])
                    oid = git_blob_oid(data)
                    new_blobs[oid] = data
                    tree[path] = oid
                elif key == "deletedFile":
                    if path not in tree:
                        raise _HTTPError(404, f"A file with this name doesn't exist: {path}",
                                         code="EntryNotFound")
                    del tree[path]
                elif key == "deletedFolder":
                    prefix = path.rstrip("/") + "/"
                    for p in [p for p in tree if p.startswith(prefix)]:
                        del tree[p]
                elif key == "lfsFile":
                    raise _HTTPError(
                        400, f"{path}: LFS uploads are not supported by this test hub "
                        "(preupload answers 'regular' for every file)"
                    )
                else:
                    raise _HTTPError(400, f"unsupported commit operation {key!r}")
            self.state.blobs.update(new_blobs)
            commit = self.state.new_commit(
                repo, head, tree, header["summary"], header.get("description", ""), user
            )
            repo.branches[revision] = commit.oid
        self._json(
            200,
            {
                "success": True,
                "commitOid": self.state.sha_overrides.get(repo.repo_id, commit.oid),
                "commitUrl": f"{self.hub.url}/{repo.repo_id}/commit/{commit.oid}",
                "commitMessage": header["summary"],
                "hookOutput": "",
                "pullRequestUrl": None,
            },
        )

    def _branch(self, repo: _Repo, branch: str, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        branch = unquote(branch)
        with self.state.lock:
            if branch in repo.branches:
                raise _HTTPError(409, f"Reference refs/heads/{branch} already exists")
            start = self.state.resolve(repo, payload.get("startingPoint") or "main")
            repo.branches[branch] = start.oid
        self._json(200, {})

    def _resolve(
        self, user: str | None, repo_id: str, revision: str, path: str, fault: Fault | None
    ) -> None:
        head = self.command == "HEAD"
        with self.state.lock:
            repo = self.state.repo(repo_id, user)
            commit = self.state.resolve(repo, revision)
            if path not in commit.tree:
                raise _HTTPError(404, f"Entry not found: {path}", code="EntryNotFound",
                                 headers={"X-Repo-Commit": commit.oid})
            data = self.state.content(repo, commit, path)
            etag = commit.tree[path]
            if not head and path in ("adapter_config.json", "config.json"):
                repo.downloads += 1
        headers = {
            "X-Repo-Commit": self.state.sha_overrides.get(repo.repo_id, commit.oid),
            "ETag": f'"{etag}"',
            "Accept-Ranges": "bytes",
            "Content-Disposition": f'inline; filename="{quote(path.split("/")[-1])}"',
        }
        status, body = 200, data
        ranged = self.headers.get("Range")
        if ranged and not head:
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", ranged.strip())
            if not match:
                raise _HTTPError(416, f"unsupported range {ranged}")
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else len(data) - 1
            if start >= len(data):
                raise _HTTPError(416, "range not satisfiable",
                                 headers={"Content-Range": f"bytes */{len(data)}"})
            body = data[start:end + 1]
            status = 206
            headers["Content-Range"] = f"bytes {start}-{start + len(body) - 1}/{len(data)}"
        if fault is not None and fault.action == "drop" and not head:
            return self._drop(status, body, headers, 0 if ranged else int(len(body) * fault.fraction))
        self._send(status, body, content_type="application/octet-stream", headers=headers,
                   head=head)

    def _drop(self, status: int, body: bytes, headers: dict[str, str], sent: int) -> None:
        """Promise ``len(body)`` bytes, send ``sent`` of them, then cut the connection."""
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body[:sent])
        self.wfile.flush()
        self._record(-1)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass



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
