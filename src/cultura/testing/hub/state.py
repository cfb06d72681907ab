"""What a :class:`~cultura.testing.hub.LocalHub` stores: repos, commits and blobs, in memory.

Everything the request handlers and the fault API read or change sits in one
:class:`HubState`, guarded by its lock.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from cultura.testing.hub.faults import Fault

__all__ = ["Commit", "HTTPError", "HubState", "Repo", "RequestRecord", "git_blob_oid", "now"]

_COMMIT = re.compile(r"[0-9a-f]{40}")


def git_blob_oid(data: bytes) -> str:
    """The git blob id of ``data`` (what the Hub reports as a regular file's ``oid``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def now() -> str:
    """The current UTC time as the Hub writes it (``2024-01-01T00:00:00.000Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Commit:
    """One commit: its parent and the blob id of every file."""

    oid: str
    parent: str | None
    tree: dict[str, str]  # path -> blob oid
    title: str
    message: str
    author: str
    date: str


@dataclass
class Repo:
    """One model repo: its branches (name -> commit id) and every commit."""

    repo_id: str
    private: bool
    created_at: str
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    downloads: int = 0


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered (no headers: they may hold a token)."""

    method: str
    path: str
    status: int


class HTTPError(Exception):
    """An error the server answers: ``status``, a JSON body with ``message`` (and ``extra``),
    ``X-Error-Code: code`` and further ``headers``."""

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


class HubState:
    """Repos, commits and blobs (all in memory), guarded by one lock."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.lock = threading.RLock()
        self.tokens = tokens
        self.repos: dict[str, Repo] = {}
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
        self, repo: Repo, parent: str | None, tree: dict[str, str], title: str, message: str,
        author: str,
    ) -> Commit:
        self._counter += 1
        blob = json.dumps(
            [repo.repo_id, parent, sorted(tree.items()), title, message, self._counter,
             time.time_ns()]
        ).encode()
        oid = hashlib.sha1(blob).hexdigest()
        commit = Commit(oid, parent, dict(tree), title, message, author, now())
        repo.commits[oid] = commit
        return commit

    def repo(self, repo_id: str, user: str | None) -> Repo:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and user is None):
            raise HTTPError(404, f"Repository {repo_id} not found", code="RepoNotFound")
        return repo

    def resolve(self, repo: Repo, revision: str) -> Commit:
        revision = unquote(revision)
        if revision in repo.branches:
            return repo.commits[repo.branches[revision]]
        if _COMMIT.fullmatch(revision) and revision in repo.commits:
            return repo.commits[revision]
        raise HTTPError(
            404, f"Invalid rev id: {revision}", code="RevisionNotFound"
        )

    def content(self, repo: Repo, commit: Commit, path: str) -> bytes:
        tampered = self.tampered.get((repo.repo_id, commit.oid, path))
        if tampered is not None:
            return tampered
        return self.blobs[commit.tree[path]]
