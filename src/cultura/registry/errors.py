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
    "ResolutionError",
]


class HubError(CulturaError):
    """The Hub refused or failed a request (auth, not found, server error, network)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class IntegrityError(CulturaError):
    """Downloaded files do not match the sha256 recorded for them; nothing was installed."""


class LockError(CulturaError):
    """``cultura.lock`` does not match what is installed or downloadable (a hard error)."""


class OfflineError(CulturaError):
    """Something needed is not in the local registry and offline mode forbids downloading it."""


class ResolutionError(CulturaError):
    """No adapter matches a name (with the base model given), or a name is ambiguous."""

