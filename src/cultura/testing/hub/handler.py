"""The HTTP side of a :class:`~cultura.testing.hub.LocalHub`: the routes of the Hub API that
``huggingface_hub`` uses for model repos, answered from a :class:`~.state.HubState`.

One :class:`Handler` instance answers one connection; :class:`Server` serves them in threads.
Model info derives tags from the README front matter as the Hub does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from cultura.testing.hub.faults import Fault
from cultura.testing.hub.state import (
    Commit,
    HTTPError,
    HubState,
    Repo,
    RequestRecord,
    git_blob_oid,
    now,
)

if TYPE_CHECKING:
    from cultura.testing.hub.server import LocalHub

__all__ = ["Handler", "Server"]

_REPO_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


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


class Server(ThreadingHTTPServer):
    """The threading HTTP server of a LocalHub."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up (pooled connections closed by the client)."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the Hub API emulation (one instance per connection)."""

    protocol_version = "HTTP/1.1"
    server_version = "cultura-local-hub/1"
    hub: LocalHub
    state: HubState
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

    def _error(self, err: HTTPError) -> None:
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
            raise HTTPError(401, _INVALID_CREDENTIALS)
        return user

    def _need_user(self) -> str:
        user = self._user()
        if user is None:
            raise HTTPError(401, "You must be authenticated to do this (pass a token)")
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
                raise HTTPError(fault.status, f"Injected server error {fault.status}")
            self._route(body, fault)
        except HTTPError as err:
            self._error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in the emulation: answer 500, keep serving
            self._error(HTTPError(500, f"internal error: {type(exc).__name__}: {exc}"))

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
        raise HTTPError(404, f"no route for {method} {url.path}")

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
            raise HTTPError(400, "this test hub only hosts model repos")
        if not _REPO_PART.fullmatch(name) or not _REPO_PART.fullmatch(org):
            raise HTTPError(400, f"invalid repo name {org}/{name}")
        repo_id = f"{org}/{name}"
        url = f"{self.hub.url}/{repo_id}"
        with self.state.lock:
            if repo_id in self.state.repos:
                raise HTTPError(409, "You already created this model repo", extra={"url": url})
            private = bool(payload.get("private")) or payload.get("visibility") == "private"
            repo = Repo(repo_id, private, now())
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
                raise HTTPError(404, f"Repository {repo_id} not found", code="RepoNotFound")
            del self.state.repos[repo_id]
        self._json(200, {})

    def _model_json(self, repo: Repo, commit: Commit, *, full: bool, card: bool) -> dict[str, Any]:
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
        raise HTTPError(404, f"no route for {method} /api/models/{repo_id}/{'/'.join(rest)}")

    def _file_entry(self, repo: Repo, commit: Commit, path: str) -> dict[str, Any]:
        oid = commit.tree[path]
        size = self.state.declared_sizes.get((repo.repo_id, path), len(self.state.blobs[oid]))
        return {"type": "file", "oid": oid, "size": size, "path": path}

    def _tree(self, repo: Repo, revision: str, prefix: str, recursive: bool) -> None:
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
                raise HTTPError(404, f"{base} does not exist at {revision}", code="EntryNotFound")
        self._json(200, list(entries.values()))

    def _paths_info(self, repo: Repo, revision: str, body: bytes) -> None:
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            paths = json.loads(body or b"{}").get("paths", [])
        else:
            paths = parse_qs(body.decode()).get("paths", [])
        with self.state.lock:
            commit = self.state.resolve(repo, revision)
            out = [self._file_entry(repo, commit, p) for p in paths if p in commit.tree]
        self._json(200, out)

    def _commits(self, repo: Repo, revision: str) -> None:
        with self.state.lock:
            commit: Commit | None = self.state.resolve(repo, revision)
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

    def _preupload(self, repo: Repo, revision: str, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        with self.state.lock:
            try:
                tree = self.state.resolve(repo, revision).tree
            except HTTPError:
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

    def _commit(self, repo: Repo, revision: str, body: bytes, user: str) -> None:
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
                raise HTTPError(400, f"commit payload line {number} is not a valid operation") from None
            if key == "header":
                header = value
            else:
                operations.append((key, value))
        if not header.get("summary"):
            raise HTTPError(400, "commit payload has no header with a summary")
        with self.state.lock:
            if revision not in repo.branches:
                raise HTTPError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")
            head = repo.branches[revision]
            parent = header.get("parentCommit")
            if parent and not head.startswith(parent):
                raise HTTPError(412, f"parent commit {parent} is not the head of {revision} ({head})")
            tree = dict(repo.commits[head].tree)
            new_blobs: dict[str, bytes] = {}
            for key, value in operations:  # applied to a copy: all or nothing
                path = str(value.get("path", ""))
                if not path or path.startswith("/") or ".." in path.split("/"):
                    raise HTTPError(400, f"invalid path {path!r} in commit")
                if key == "file":
                    if value.get("encoding") != "base64":
                        raise HTTPError(400, f"unsupported encoding for {path}")
                    data = base64.b64decode(value["content"])
                    oid = git_blob_oid(data)
                    new_blobs[oid] = data
                    tree[path] = oid
                elif key == "deletedFile":
                    if path not in tree:
                        raise HTTPError(404, f"A file with this name doesn't exist: {path}",
                                         code="EntryNotFound")
                    del tree[path]
                elif key == "deletedFolder":
                    prefix = path.rstrip("/") + "/"
                    for p in [p for p in tree if p.startswith(prefix)]:
                        del tree[p]
                elif key == "lfsFile":
                    raise HTTPError(
                        400, f"{path}: LFS uploads are not supported by this test hub "
                        "(preupload answers 'regular' for every file)"
                    )
                else:
                    raise HTTPError(400, f"unsupported commit operation {key!r}")
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

    def _branch(self, repo: Repo, branch: str, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        branch = unquote(branch)
        with self.state.lock:
            if branch in repo.branches:
                raise HTTPError(409, f"Reference refs/heads/{branch} already exists")
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
                raise HTTPError(404, f"Entry not found: {path}", code="EntryNotFound",
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
                raise HTTPError(416, f"unsupported range {ranged}")
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else len(data) - 1
            if start >= len(data):
                raise HTTPError(416, "range not satisfiable",
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
