"""Errors raised by :mod:`cultura.serve` (no heavy imports: the HTTP layer maps them to 4xx)."""

from __future__ import annotations

from cultura.core.errors import CulturaError

__all__ = ["NotServedError", "ServeError", "UnsupportedAdapterError"]


class ServeError(CulturaError):
    """A serving request or configuration is wrong (bad batch, wrong base, full server, ...)."""


class NotServedError(ServeError, LookupError):
    """A row asks for a culture the server has no adapter for (nor for its fallback chain)."""


class UnsupportedAdapterError(ServeError):
    """An adapter cannot be served by a :class:`~cultura.serve.MultiCultureServer` (e.g. a
    causal-LM head, IA3 or prefix tuning, a different base model)."""
