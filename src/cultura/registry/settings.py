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
    ``CULTURA_PULL_TIMEOUT``    seconds one pull may take in all (default 1800)
    ``CULTURA_MAX_FILE_BYTES``  largest ``.safetensors`` file a pull accepts (default 8 GiB)
    ``CULTURA_MAX_TEXT_BYTES``  largest other file (JSON, text, card, ``.model``; default 64 MiB)
    ``CULTURA_MAX_PULL_BYTES``  largest adapter in all (default 16 GiB)

Hub answers are data from strangers: sizes are the ones the server declares, checked before
anything is downloaded and again on disk while it downloads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cultura.core.errors import CulturaError

DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "true", "yes", "on"}
GIB = 1 << 30
MIB = 1 << 20
#: defaults of the limits above (seconds, bytes)
DEFAULT_PULL_TIMEOUT = 1800.0
DEFAULT_MAX_FILE_BYTES = 8 * GIB
DEFAULT_MAX_TEXT_BYTES = 64 * MIB
DEFAULT_MAX_PULL_BYTES = 16 * GIB
#: token shapes redacted even when they are not the configured token
_TOKEN_PATTERN = re.compile(r"\b(?:hf_|api_org_)[A-Za-z0-9]{16,}\b")
#: ``scheme://user:password@`` in a URL
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s]+@")


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


def redact(text: str, token: str | None = None) -> str:
    """``text`` with every secret replaced by ``***``.

    Secrets are ``token``, ``HF_TOKEN`` and ``HUGGING_FACE_HUB_TOKEN`` (exact occurrences,
    whatever their length), anything shaped like a Hub token (``hf_...``, ``api_org_...``) and
    credentials inside URLs (``https://user:password@host`` -> ``https://***@host``).
    """
    secrets = {token, os.environ.get("HF_TOKEN"), os.environ.get("HUGGING_FACE_HUB_TOKEN")}
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    return _TOKEN_PATTERN.sub("***", text)


def _positive(variable: str, default: float, kind: type[int] | type[float]) -> float:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise CulturaError(
            f"{variable}={raw!r} is not a positive {'integer' if kind is int else 'number'}; "
            f"unset it for the default ({default:g}) or give e.g. {variable}={default:g}"
        )
    return value


def pull_timeout(timeout: float | None = None) -> float:
    """Seconds one pull may take in all: ``timeout``, else ``CULTURA_PULL_TIMEOUT``, else 1800."""
    if timeout is not None:
        if timeout <= 0:
            raise CulturaError(f"timeout must be a positive number of seconds, got {timeout!r}")
        return float(timeout)
    return float(_positive("CULTURA_PULL_TIMEOUT", DEFAULT_PULL_TIMEOUT, float))


def max_file_bytes() -> int:
    """Largest ``.safetensors`` file a pull accepts (``CULTURA_MAX_FILE_BYTES``, default 8 GiB)."""
    return int(_positive("CULTURA_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES, int))


def max_text_bytes() -> int:
    """Largest other file a pull accepts (``CULTURA_MAX_TEXT_BYTES``, default 64 MiB)."""
    return int(_positive("CULTURA_MAX_TEXT_BYTES", DEFAULT_MAX_TEXT_BYTES, int))


def max_pull_bytes() -> int:
    """Largest adapter a pull accepts, all files together (``CULTURA_MAX_PULL_BYTES``,
    default 16 GiB)."""
    return int(_positive("CULTURA_MAX_PULL_BYTES", DEFAULT_MAX_PULL_BYTES, int))
