"""Where the registry lives and which Hub it talks to, read from the environment *at call time*.

``huggingface_hub`` reads ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` once, when it is imported.
cultura reads them on every call and passes the endpoint explicitly to every client call, so a
test (or a long-running process) can point cultura at another Hub by changing the variables.

Variables:
    ``CULTURA_HOME``     the local registry (default ``$XDG_CACHE_HOME/cultura`` or
                         ``~/.cache/cultura``)
    ``HF_ENDPOINT``      the Hub (default ``https://huggingface.co``)
    ``HF_TOKEN``         the token (read by ``huggingface_hub``; never printed or logged)
    ``CULTURA_OFFLINE``, ``HF_HUB_OFFLINE``   work from the local registry only
    ``CULTURA_LOCK``     a lockfile to verify loads against (default ``./cultura.lock`` if it
                         exists)
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "true", "yes", "on"}


def cultura_home() -> Path:
    """The local registry root."""
    explicit = os.environ.get("CULTURA_HOME")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache).expanduser() if cache else Path.home() / ".cache") / "cultura"


def hub_endpoint(endpoint: str | None = None) -> str:
    """The Hub endpoint: ``endpoint`` if given, else ``HF_ENDPOINT``, else huggingface.co."""
    value = endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    return value.rstrip("/")


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` if given, else whether ``CULTURA_OFFLINE`` or ``HF_HUB_OFFLINE`` is set."""
    if offline is not None:
        return offline
    return any(
        os.environ.get(var, "").strip().lower() in _TRUE
        for var in ("CULTURA_OFFLINE", "HF_HUB_OFFLINE")
    )


def redact(text: str, token: str | None) -> str:
    """``text`` with ``token`` (and the ``HF_TOKEN`` in the environment) replaced by ``***``."""
    for secret in (token, os.environ.get("HF_TOKEN"), os.environ.get("HUGGING_FACE_HUB_TOKEN")):
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
