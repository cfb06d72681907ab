"""The HTTP JSON API of ``cultura serve`` (Starlette on uvicorn; the ``serve`` extra).

Endpoints
    ``POST /predict``
        ``{"text": "...", "culture": "zh-TW", "top_k": 1}`` -> one prediction
        ``{"culture": "sw", "inputs": [{"text": "..."}, {"text": "...", "culture": "ar"}]}``
        -> ``{"predictions": [...]}`` (an item's ``culture`` overrides the top-level one).
        A prediction is ``{"text", "culture", "label", "score", "top": [...]}``; ``culture`` is
        the served culture the row went to (``zh-TW`` goes to ``zh-Hant`` when only that is
        served).
    ``GET /health``: status, base model, engine, served cultures.
    ``GET /cultures``: every served culture with labels, source and counters.
    ``GET /metrics``: Prometheus text format counters (requests by status, rows by culture,
    batches, batch sizes, queue and model time).

Dynamic batching
    Requests are queued; a single batching task takes the first waiting request, then keeps
    taking requests for up to ``max_wait_ms`` or until ``max_batch_size`` rows, whatever their
    cultures, and runs them as one :meth:`MultiCultureServer.predict` call in a worker thread
    (the event loop keeps accepting requests meanwhile). Each request gets exactly its own rows
    back, in order.

Errors
    Bad requests get a 4xx JSON body ``{"error": "...", "field": "..."}`` that says what was
    wrong and where: 400 (not JSON), 413 (too large: body, items or text), 415 (not JSON
    content type), 422 (missing/mistyped/unknown fields, a culture not served), 503 (queue
    full: retry later).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cultura.core.errors import CulturaError, TagError
from cultura.serve.errors import NotServedError, ServeError

__all__ = ["DynamicBatcher", "Metrics", "RequestError", "create_app", "parse_request", "run"]

EXTRA_HINT = "pip install 'cultura[serve]' (starlette and uvicorn)"


def require(module: str) -> Any:
    """Import ``module`` of the ``serve`` extra or raise a :class:`CulturaError` naming it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise CulturaError(f"cultura serve needs {module!r} from the 'serve' extra: {EXTRA_HINT}") from None


class RequestError(Exception):
    """A request the API refuses: HTTP ``status``, a message and the offending field."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message}
        if self.field is not None:
            out["field"] = self.field
        return out


@dataclass(frozen=True)
class Limits:
    """What one request may carry."""

    max_items: int = 256
    max_text_chars: int = 10_000
    max_body_bytes: int = 1 << 20
    max_top_k: int = 100


@dataclass(frozen=True)
class Parsed:
    """A validated request: ``(text, culture)`` rows, whether it was the single form, top_k."""

    rows: list[tuple[str, str]]
    single: bool
    top_k: int


_SINGLE_FIELDS = ("text", "culture", "top_k")
_BATCH_FIELDS = ("inputs", "culture", "top_k")
_ITEM_FIELDS = ("text", "culture")


def _check_fields(obj: dict[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = [k for k in obj if k not in allowed]
    if unknown:
        raise RequestError(
            422,
            f"unknown field {unknown[0]!r} in {where} (allowed: {', '.join(allowed)})",
            unknown[0] if where == "the request" else f"{where}.{unknown[0]}",
        )


def _text(value: Any, field_name: str, limits: Limits) -> str:
    if value is None:
        raise RequestError(422, f"field {field_name!r} is required (a string)", field_name)
    if not isinstance(value, str):
        raise RequestError(
            422, f"field {field_name!r} must be a string, got {type(value).__name__}", field_name
        )
    if len(value) > limits.max_text_chars:
        raise RequestError(
            413,
            f"field {field_name!r} has {len(value)} characters; at most {limits.max_text_chars} "
            "are accepted (split the text)",
            field_name,
        )
    return value


def _culture(value: Any, field_name: str, route: Callable[[str], str]) -> str:
    if value is None:
        raise RequestError(422, f"field {field_name!r} is required (a BCP-47 tag such as 'zh-TW')", field_name)
    if not isinstance(value, str):
        raise RequestError(
            422, f"field {field_name!r} must be a string, got {type(value).__name__}", field_name
        )
    try:
        return route(value)
    except (NotServedError, TagError) as exc:
        raise RequestError(422, f"{field_name}: {exc}", field_name) from None


def parse_request(body: bytes, route: Callable[[str], str], limits: Limits | None = None) -> Parsed:
    """Validate a ``/predict`` body; cultures are routed (served or on a fallback chain)."""
    limits = limits or Limits()
    if len(body) > limits.max_body_bytes:
        raise RequestError(413, f"request body has {len(body)} bytes; at most {limits.max_body_bytes}")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise RequestError(400, f"request body is not valid JSON{where}: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError(
            422,
            f"request body must be a JSON object such as {{\"text\": \"...\", \"culture\": \"zh\"}}, "
            f"got a JSON {type(data).__name__}",
        )
    top_k = data.get("top_k", 1)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= limits.max_top_k:
        raise RequestError(422, f"field 'top_k' must be an integer from 1 to {limits.max_top_k}, got {top_k!r}", "top_k")
    if "inputs" not in data:
        _check_fields(data, _SINGLE_FIELDS, "the request")
        text = _text(data.get("text"), "text", limits)
        return Parsed([(text, _culture(data.get("culture"), "culture", route))], True, top_k)
    _check_fields(data, _BATCH_FIELDS, "the request")
    items = data["inputs"]
    if not isinstance(items, list) or not items:
        raise RequestError(422, "field 'inputs' must be a non-empty list of {\"text\", \"culture\"} objects", "inputs")
    if len(items) > limits.max_items:
        raise RequestError(
            413, f"'inputs' has {len(items)} items; at most {limits.max_items} per request", "inputs"
        )
    default = data.get("culture")
    rows = []
    for i, item in enumerate(items):
        where = f"inputs[{i}]"
        if not isinstance(item, dict):
            raise RequestError(422, f"{where} must be an object with 'text' and 'culture'", where)
        _check_fields(item, _ITEM_FIELDS, where)
        text = _text(item.get("text"), f"{where}.text", limits)
        culture = item.get("culture", default)
        name = f"{where}.culture" if "culture" in item or default is None else "culture"
        rows.append((text, _culture(culture, name, route)))
    return Parsed(rows, False, top_k)


class Metrics:
    """Counters for ``/metrics`` (Prometheus text exposition format)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[int] = Counter()
        self.rows: Counter[str] = Counter()
        self.batches = 0
        self.batch_rows = 0
        self.max_batch_rows = 0
        self.batch_cultures = 0
        self.queue_seconds = 0.0
        self.predict_seconds = 0.0
        self.queued_rows = 0
        self.request_seconds = 0.0
        self.started = time.time()

    def render(self, server: Any) -> str:
        stats = server.stats
        with self.lock:
            lines = [
                "# HELP cultura_requests_total HTTP /predict requests by status code.",
                "# TYPE cultura_requests_total counter",
                *(f'cultura_requests_total{{status="{s}"}} {n}' for s, n in sorted(self.requests.items())),
                "# HELP cultura_rows_total Rows predicted, by served culture.",
                "# TYPE cultura_rows_total counter",
                *(f'cultura_rows_total{{culture="{c}"}} {n}' for c, n in sorted(self.rows.items())),
                "# HELP cultura_batches_total Dynamic batches run.",
                "# TYPE cultura_batches_total counter",
                f"cultura_batches_total {self.batches}",
                "# HELP cultura_batch_rows_total Rows over all dynamic batches.",
                "# TYPE cultura_batch_rows_total counter",
                f"cultura_batch_rows_total {self.batch_rows}",
                "# HELP cultura_batch_cultures_total Distinct cultures over all dynamic batches.",
                "# TYPE cultura_batch_cultures_total counter",
                f"cultura_batch_cultures_total {self.batch_cultures}",
                "# HELP cultura_batch_rows_max Largest dynamic batch so far.",
                "# TYPE cultura_batch_rows_max gauge",
                f"cultura_batch_rows_max {self.max_batch_rows}",
                "# HELP cultura_queued_rows Rows waiting for a batch.",
                "# TYPE cultura_queued_rows gauge",
                f"cultura_queued_rows {self.queued_rows}",
                "# HELP cultura_queue_seconds_total Time requests waited before their batch ran.",
                "# TYPE cultura_queue_seconds_total counter",
                f"cultura_queue_seconds_total {self.queue_seconds:.6f}",
                "# HELP cultura_predict_seconds_total Time spent in model prediction.",
                "# TYPE cultura_predict_seconds_total counter",
                f"cultura_predict_seconds_total {self.predict_seconds:.6f}",
                "# HELP cultura_request_seconds_total Time from request to response, /predict.",
                "# TYPE cultura_request_seconds_total counter",
                f"cultura_request_seconds_total {self.request_seconds:.6f}",
            ]
        lines += [
            "# HELP cultura_forward_passes_total Model forward passes (a batch with more cultures than slots needs several).",
            "# TYPE cultura_forward_passes_total counter",
            f"cultura_forward_passes_total {stats.get('forwards', 0)}",
            "# HELP cultura_adapter_swaps_total Adapters loaded into a slot.",
            "# TYPE cultura_adapter_swaps_total counter",
            f"cultura_adapter_swaps_total {stats.get('swaps', 0)}",
            "# HELP cultura_uptime_seconds Seconds since the app started.",
            "# TYPE cultura_uptime_seconds gauge",
            f"cultura_uptime_seconds {time.time() - self.started:.3f}",
        ]
        return "\n".join(lines) + "\n"


@dataclass
class _Job:
    rows: list[tuple[str, str]]
    top_k: int
    future: asyncio.Future[list[dict[str, Any]]]
    enqueued: float = field(default_factory=time.perf_counter)


class DynamicBatcher:
    """Collects concurrent requests into batches across cultures (see the module docstring)."""

    def __init__(
        self,
        predict: Callable[[list[str], list[str], int], list[dict[str, Any]]],
        metrics: Metrics,
        *,
        max_batch_size: int = 64,
        max_wait_ms: float = 5.0,
        max_queue_rows: int = 4096,
    ) -> None:
        if max_batch_size < 1 or max_wait_ms < 0 or max_queue_rows < 1:
            raise ServeError("max_batch_size and max_queue_rows must be >= 1, max_wait_ms >= 0")
        self.predict = predict
        self.metrics = metrics
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue_rows = max_queue_rows
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cultura-predict")
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._task = self._executor = None

    async def submit(self, rows: list[tuple[str, str]], top_k: int) -> list[dict[str, Any]]:
        """Queue ``rows`` and wait for their predictions (in order)."""
        if self._queue is None:
            raise RuntimeError("the batcher is not running (start() it in the app's lifespan)")
        with self.metrics.lock:
            if self.metrics.queued_rows + len(rows) > self.max_queue_rows:
                raise RequestError(
                    503, f"the server is busy ({self.metrics.queued_rows} rows queued); retry later"
                )
            self.metrics.queued_rows += len(rows)
        job = _Job(rows, top_k, asyncio.get_running_loop().create_future())
        await self._queue.put(job)
        return await job.future

    async def _loop(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self._queue.get()]
            n = len(jobs[0].rows)
            deadline = loop.time() + self.max_wait
            while n < self.max_batch_size:
                if self._queue.empty():
                    timeout = deadline - loop.time()
                    if timeout <= 0:
                        break
                    try:
                        job = await asyncio.wait_for(self._queue.get(), timeout)
                    except asyncio.TimeoutError:
                        break
                else:
                    job = self._queue.get_nowait()
                jobs.append(job)
                n += len(job.rows)
            await self._run(jobs, n)

    async def _run(self, jobs: list[_Job], n: int) -> None:
        texts = [t for job in jobs for t, _ in job.rows]
        cultures = [c for job in jobs for _, c in job.rows]
        top_k = max(job.top_k for job in jobs)
        now = time.perf_counter()
        with self.metrics.lock:
            self.metrics.queued_rows -= n
            self.metrics.queue_seconds += sum(now - job.enqueued for job in jobs)
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self._executor, self.predict, texts, cultures, top_k)
        except Exception as exc:  # the model failed: every request of the batch gets a 500
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        with self.metrics.lock:
            self.metrics.batches += 1
            self.metrics.batch_rows += n
            self.metrics.batch_cultures += len(set(cultures))
            self.metrics.max_batch_rows = max(self.metrics.max_batch_rows, n)
            self.metrics.predict_seconds += time.perf_counter() - now
            for c in cultures:
                self.metrics.rows[c] += 1
        start = 0
        for job in jobs:
            mine = results[start : start + len(job.rows)]
            start += len(job.rows)
            for r in mine:
                r["top"] = r["top"][: job.top_k]
            if not job.future.done():
                job.future.set_result(mine)


def create_app(
    server: Any,
    *,
    max_batch_size: int = 64,
    max_wait_ms: float = 5.0,
    max_queue_rows: int = 4096,
    limits: Limits | None = None,
) -> Any:
    """The Starlette app serving ``server`` (a :class:`MultiCultureServer`)."""
    require("starlette")
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    metrics = Metrics()

    def predict(texts: list[str], cultures: list[str], top_k: int) -> list[dict[str, Any]]:
        return server.predict(texts, cultures, top_k=top_k)

    batcher = DynamicBatcher(
        predict, metrics, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
        max_queue_rows=max_queue_rows,
    )

    def reply(status: int, body: Any) -> JSONResponse:
        with metrics.lock:
            metrics.requests[status] += 1
        return JSONResponse(body, status_code=status)

    async def predict_endpoint(request: Request) -> Response:
        start = time.perf_counter()
        try:
            kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
            if kind not in ("application/json", ""):
                raise RequestError(415, f"send JSON with Content-Type: application/json, not {kind!r}")
            body = await request.body()
            parsed = parse_request(body, server.route, limits)
            results = await batcher.submit(parsed.rows, parsed.top_k)
        except RequestError as exc:
            return reply(exc.status, exc.body())
        except ServeError as exc:
            return reply(422, {"error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - the model failed; say so, keep serving
            return reply(500, {"error": f"prediction failed: {type(exc).__name__}: {exc}"})
        finally:
            with metrics.lock:
                metrics.request_seconds += time.perf_counter() - start
        return reply(200, results[0] if parsed.single else {"predictions": results})

    async def health(request: Request) -> Response:
        info = server.describe()
        return JSONResponse({
            "status": "ok",
            "base": info["base"],
            "engine": info["engine"],
            "slots": info["slots"],
            "cultures": [c["culture"] for c in info["cultures"]],
        })

    async def cultures(request: Request) -> Response:
        return JSONResponse(server.describe())

    async def metrics_endpoint(request: Request) -> Response:
        return PlainTextResponse(metrics.render(server), media_type="text/plain; version=0.0.4")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: f"no such endpoint {request.url.path!r} (POST /predict, GET /health, "
                        "/cultures, /metrics)",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(
            exc.status_code, str(exc.detail))
        return JSONResponse({"error": message}, status_code=exc.status_code)

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = Starlette(
        routes=[
            Route("/predict", predict_endpoint, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/cultures", cultures, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.batcher = batcher
    app.state.server = server
    return app


def run(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "warning",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``app`` with uvicorn until interrupted; ``on_ready(url)`` once it listens (with the
    real port when ``port=0``)."""
    uvicorn = require("uvicorn")
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on")
    server = uvicorn.Server(config)

    async def main() -> None:
        async def announce() -> None:
            while not server.started:
                if server.should_exit:
                    return
                await asyncio.sleep(0.05)
            if on_ready is not None:
                on_ready(bound_url(server))

        watcher = asyncio.create_task(announce())
        try:
            await server.serve()
        finally:
            watcher.cancel()

    asyncio.run(main())


def bound_url(server: Any) -> str:
    """``http://host:port`` a started ``uvicorn.Server`` listens on."""
    for s in getattr(server, "servers", []):
        for sock in s.sockets:
            host, port = sock.getsockname()[:2]
            return f"http://{host}:{port}"
    return f"http://{server.config.host}:{server.config.port}"
