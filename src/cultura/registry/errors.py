"""Errors of the registry (all :class:`~cultura.core.errors.CulturaError` subclasses).

A refused publish raises :class:`cultura.bias.gate.BiasGateError` (from the bias engine).
"""

from __future__ import annotations

from cultura.core.errors import CulturaError

__all__ = [
    "HubError",
    "IntegrityError",
    "LockError",
    "OfflineError",
    "PullTimeoutError",
    "ResolutionError",
]


class HubError(CulturaError):
    """The Hub refused or failed a request (auth, not found, server error, network)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class IntegrityError(CulturaError):
    """A Hub answer was refused: downloaded files do not match the sha256 recorded for them, or
    the server sent something unsafe (a malformed commit id or manifest, a file name or type
    that is not allowed, a size over a limit). Nothing was installed."""


class PullTimeoutError(HubError):
    """A pull did not finish within its deadline (``CULTURA_PULL_TIMEOUT``); nothing was
    installed."""


class LockError(CulturaError):
    """``cultura.lock`` does not match what is installed or downloadable (a hard error)."""


class OfflineError(CulturaError):
    """Something needed is not in the local registry and offline mode forbids downloading it."""


class ResolutionError(CulturaError):
    """No adapter matches a name (with the base model given), or a name is ambiguous."""

