"""``cultura serve``: serve culture adapters over HTTP (see :mod:`cultura.serve.http`).

The module imports neither torch nor starlette: ``cultura serve --help`` stays fast, and a
missing ``serve`` extra, a bad ``--host`` or API key, and a non-loopback address without a key
are all reported before any model is loaded.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import click

from cultura.adapt.precision import DTYPE_CHOICES, DTYPE_HELP

KEY_ENV = "CULTURA_API_KEY"
MAX_KEY_FILE_BYTES = 64 * 1024


def _split(spec: str) -> tuple[str | None, str]:
    """``CULTURE=ADAPTER`` -> (culture, adapter); ``ADAPTER`` -> (None, adapter)."""
    culture, sep, adapter = spec.partition("=")
    if sep and culture and "/" not in culture and adapter:
        return culture, adapter
    return None, spec


def _api_key(api_key: str | None, api_key_file: Path | None) -> tuple[str, str] | None:
    """``(key, where it came from)``: ``--api-key``, else ``--api-key-file``, else
    ``$CULTURA_API_KEY``; None when none is given."""
    from cultura.serve.errors import ServeError

    if api_key is not None and api_key_file is not None:
        raise click.UsageError("give --api-key or --api-key-file, not both")
    if api_key is not None:
        return api_key, "--api-key"
    if api_key_file is None:
        return (os.environ[KEY_ENV], KEY_ENV) if KEY_ENV in os.environ else None
    where = f"--api-key-file {api_key_file}"
    try:
        info = api_key_file.stat()
        if info.st_size > MAX_KEY_FILE_BYTES:
            raise ServeError(f"{where} has {info.st_size} bytes; an API key file holds one key")
        key = api_key_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ServeError(f"cannot read {where}: {getattr(exc, 'strerror', None) or exc}") from None
    if os.name == "posix" and info.st_mode & 0o077:
        click.echo(f"warning: {where} can be read by other users (mode "
                   f"{stat.filemode(info.st_mode)}); chmod 600 {api_key_file}", err=True)
    return key, where


@click.command()
@click.argument("adapters", nargs=-1, required=True, metavar="[CULTURE=]ADAPTER...")
@click.option("--base", default=None, metavar="MODEL",
              help="Base model (path, Hub id or alias); default: the first adapter's base.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; one that is not loopback (0.0.0.0, ::, a LAN address) "
                   "needs an API key or --insecure.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0: any free port; the URL is printed).")
@click.option("--slots", default=8, show_default=True, type=click.IntRange(1),
              help="Adapters resident at once (more are swapped in on demand).")
@click.option("--engine", type=click.Choice(["auto", "fused", "peft"]), default="auto",
              show_default=True, help="Mixed-batch engine.")
@click.option("--max-batch-size", default=64, show_default=True, type=click.IntRange(1),
              help="Rows per dynamic batch.")
@click.option("--max-wait-ms", default=5.0, show_default=True, type=click.FloatRange(0),
              help="How long a batch waits for more requests.")
@click.option("--api-key", default=None, metavar="KEY",
              help=f"Require 'Authorization: Bearer KEY' on every endpoint but GET /health "
                   f"(default: ${KEY_ENV}). Shows in ps: prefer --api-key-file or the variable.")
@click.option("--api-key-file", default=None, metavar="PATH", type=click.Path(path_type=Path),
              help="Read the API key from a file (one line; chmod 600).")
@click.option("--insecure", is_flag=True,
              help="Serve a non-loopback address without an API key, knowingly.")
@click.option("--max-body-bytes", default=1 << 20, show_default=True, type=click.IntRange(1),
              help="Largest /predict request body; larger ones get 413 unread.")
@click.option("--device", default=None, help="torch device (default: cuda when available).")
@click.option("--dtype", type=click.Choice(DTYPE_CHOICES), default="auto", show_default=True,
              help=DTYPE_HELP)
@click.option("--cuda-graphs", is_flag=True,
              help="Replay the fused forward pass as CUDA graphs (CUDA only; helps small batches).")
@click.option("--quantize", type=click.Choice(["int8"]), default=None,
              help="Dynamic int8 quantization of the base's linear layers (CPU, float32 only; "
                   "LoRA and heads stay float).")
@click.option("--offline", is_flag=True, help="Resolve adapter names from the local registry only.")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(
    adapters: tuple[str, ...], base: str | None, host: str, port: int, slots: int, engine: str,
    max_batch_size: int, max_wait_ms: float, api_key: str | None, api_key_file: Path | None,
    insecure: bool, max_body_bytes: int, device: str | None, dtype: str, quantize: str | None,
    cuda_graphs: bool, offline: bool, log_level: str,
) -> None:
    """Serve culture adapters over an HTTP JSON API, batching requests across cultures.

    Each ADAPTER is a registry name (zh-Hant-TW/sentiment, hf:org/repo) or an adapter
    directory; CULTURE=ADAPTER serves it under another culture tag. All share one base model.

    Only loopback (127.0.0.1, the default) is served without an API key; give one with
    --api-key-file, --api-key or $CULTURA_API_KEY to listen on another address.

    \b
    Example:
      cultura serve zh-Hant-TW/sentiment sw-KE=./adapters/sw --port 8000
      curl -s localhost:8000/predict -H 'content-type: application/json' \\
           -d '{"text": "這部電影很好看", "culture": "zh-TW"}'
      cultura serve zh/sentiment --host 0.0.0.0 --api-key-file key.txt
      curl -s HOST:8000/predict -H "Authorization: Bearer $KEY" ...
    Endpoints: POST /predict, GET /health, /cultures, /metrics.
    """
    from cultura.serve.http import Limits, check_api_key, check_bind, create_app, require, run

    given = _api_key(api_key, api_key_file)
    if given is not None:
        check_api_key(*given)
    host, warning = check_bind(host, has_key=given is not None, insecure=insecure)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    require("starlette")
    require("uvicorn")
    from cultura.serve.server import MultiCultureServer

    server = MultiCultureServer(base, slots=slots, engine=engine, device=device,
                                batch_size=max_batch_size, offline=True if offline else None,
                                dtype=dtype, quantize=quantize, cuda_graphs=cuda_graphs)
    for spec in adapters:
        culture, adapter = _split(spec)
        key = server.add(adapter, culture=culture)
        click.echo(f"serving {key} from {adapter}", err=True)
    app = create_app(server, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
                     limits=Limits(max_body_bytes=max_body_bytes),
                     api_key=None if given is None else given[0])
    auth = "API key required" if given is not None else "no API key"

    def ready(url: str) -> None:
        click.echo(f"cultura serve: listening on {url} ({len(server.cultures)} cultures, "
                   f"engine {engine}, {auth}); Ctrl+C stops", err=True)
        sys.stderr.flush()

    run(app, host=host, port=port, log_level=log_level, insecure=insecure, on_ready=ready)
