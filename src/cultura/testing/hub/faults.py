"""Faults a :class:`~cultura.testing.hub.LocalHub` injects, for robustness and security tests.

Network faults (:class:`Fault`, matched by method and path): :meth:`FaultInjection.fail`
answers an HTTP error, :meth:`~FaultInjection.drop` cuts the connection in the middle of a
response body, :meth:`~FaultInjection.trickle` sends a body a few bytes at a time, slowly.
Lies of a hostile server: :meth:`~FaultInjection.tamper` serves other bytes for a stored file,
:meth:`~FaultInjection.override_sha` answers any string as a repo's commit id and
:meth:`~FaultInjection.declare_size` lists a file with a size other than its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cultura.testing.hub.state import HubState

__all__ = ["Fault", "FaultInjection"]


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


class FaultInjection:
    """The fault API of :class:`~cultura.testing.hub.LocalHub` (which sets ``_state``)."""

    _state: HubState

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
