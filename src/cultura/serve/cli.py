"""``cultura serve``: serve culture adapters over HTTP (see :mod:`cultura.serve.http`).

The module imports neither torch nor starlette: ``cultura serve --help`` stays fast, and a
missing ``serve`` extra is reported by name before any model is loaded.
"""

from __future__ import annotations

import sys

import click


def _split(spec: str) -> tuple[str | None, str]:
    """``CULTURE=ADAPTER`` -> (culture, adapter); ``ADAPTER`` -> (None, adapter)."""
    culture, sep, adapter = spec.partition("=")
    if sep and culture and "/" not in culture and adapter:
        return culture, adapter
    return None, spec


@click.command()
@click.argument("adapters", nargs=-1, required=True, metavar="[CULTURE=]ADAPTER...")
@click.option("--base", default=None, metavar="MODEL",
              help="Base model (path, Hub id or alias); default: the first adapter's base.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
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
@click.option("--device", default=None, help="torch device (default: cuda when available).")
@click.option("--offline", is_flag=True, help="Resolve adapter names from the local registry only.")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(
    adapters: tuple[str, ...], base: str | None, host: str, port: int, slots: int, engine: str,
    max_batch_size: int, max_wait_ms: float, device: str | None, offline: bool, log_level: str,
) -> None:
    """Serve culture adapters over an HTTP JSON API, batching requests across cultures.

    Each ADAPTER is a registry name (zh-Hant-TW/sentiment, hf:org/repo) or an adapter
    directory; CULTURE=ADAPTER serves it under another culture tag. All share one base model.

    \b
    Example:
      cultura serve zh-Hant-TW/sentiment sw-KE=./adapters/sw --port 8000
      curl -s localhost:8000/predict -H 'content-type: application/json' \\
           -d '{"text": "這部電影很好看", "culture": "zh-TW"}'
    Endpoints: POST /predict, GET /health, /cultures, /metrics.
    """
    from cultura.serve.http import create_app, require, run

    require("starlette")
    require("uvicorn")
    from cultura.serve.server import MultiCultureServer

    server = MultiCultureServer(base, slots=slots, engine=engine, device=device,
                                batch_size=max_batch_size, offline=True if offline else None)
    for spec in adapters:
        culture, adapter = _split(spec)
        key = server.add(adapter, culture=culture)
        click.echo(f"serving {key} from {adapter}", err=True)
    app = create_app(server, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms)

    def ready(url: str) -> None:
        click.echo(f"cultura serve: listening on {url} ({len(server.cultures)} cultures, "
                   f"engine {engine}); Ctrl+C stops", err=True)
        sys.stderr.flush()

    run(app, host=host, port=port, log_level=log_level, on_ready=ready)
