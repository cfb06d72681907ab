"""The HTTP JSON API of ``cultura serve`` (Starlette on uvicorn; the ``serve`` extra).

Endpoints
    ``POST /predict``
        ``{"text": "...", "culture": "zh-TW", "top_k": 1}`` -> one prediction
        ``{"culture": "sw", "inputs": [{"text": "..."}, {"text": "...", "culture": "ar"}]}``
        -> ``{"predictions": [...]}`` (an item's ``culture`` overrides the top-level one).
        A prediction is ``{"text", "culture", "label", "score", "top": [...]}``; ``culture`` is
        the served culture the row went to (``zh-TW`` goes to ``zh-Hant`` when only that is
        served). On a ``token-cls`` server it is ``{"text", "culture", "words", "entities"}``
        (``top_k`` does not apply).
    ``POST /generate`` (a ``causal-lm`` server)
        ``{"text": "...", "culture": "sw", "max_new_tokens": 32}`` -> one generation;
        ``{"culture": "sw", "inputs": [{"text": ...}, ...]}`` -> ``{"generations": [...]}``, a
        generation being ``{"text", "culture", "generated", "score", "token_ids"}``. Greedy
        unless ``"do_sample": true`` (``"temperature"``, ``"seed"``). A request's rows run as
        one mixed batch in one decode loop, requests one after another; ``max_new_tokens`` is
        capped by :class:`Limits` ``max_new_tokens`` and the rows by ``max_generate_items``.
    ``GET /health``: status, base model, engine, served cultures (only the status to a client
    without the key when an API key is set: a liveness probe needs none).
    ``GET /cultures``: every served culture with task, labels and counters (no file paths).
    ``GET /metrics``: Prometheus text format counters (requests by status, rows by culture,
    batches, batch sizes, queue and model time).

Trust boundary
    With an API key every request but ``GET /health`` needs ``Authorization: Bearer KEY``
    (401 otherwise). :func:`check_bind` refuses a non-loopback address without a key. Bodies
    are read chunk by chunk and refused (413) once past :class:`Limits` ``max_body_bytes``,
    before JSON parsing; every field is type-, size- and range-checked; responses carry no file
    path and no exception text (a failure is logged with a request id, which the 500 names).

Dynamic batching
    Requests are queued; a single batching task takes the first waiting request, then keeps
    taking requests for up to ``max_wait_ms`` or until ``max_batch_size`` rows, whatever their
    cultures, and runs them as one :meth:`MultiCultureServer.predict` call in a worker thread
    (the event loop keeps accepting requests meanwhile). Each request gets exactly its own rows
    back, in order.

Errors
    Bad requests get a 4xx JSON body ``{"error": "...", "field": "..."}`` that says what was
    wrong and where: 400 (not JSON, nested too deeply, a text that is not valid Unicode), 401
    (API key missing or wrong), 408 (body too slow), 413 (too large: body, items or text), 415
    (not JSON content type), 422 (missing/mistyped/unknown/out-of-range fields, a malformed
    culture tag, a culture not served), 503 (queue full: retry later).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from cultura.core.errors import CulturaError, TagError
from cultura.serve.errors import NotServedError, ServeError

__all__ = [
    "DynamicBatcher", "Limits", "Metrics", "RequestError", "check_api_key", "check_bind",
    "create_app", "parse_generate", "parse_request", "run",
]

EXTRA_HINT = "pip install 'cultura[serve]' (starlette and uvicorn)"
KEY_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
MIN_KEY_CHARS = 16
MAX_KEY_CHARS = 1024

logger = logging.getLogger("cultura.serve")


def require(module: str) -> Any:
    """Import ``module`` of the ``serve`` extra or raise a :class:`CulturaError` naming it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise CulturaError(f"cultura serve needs {module!r} from the 'serve' extra: {EXTRA_HINT}") from None


# --------------------------------------------------------------------------- where it listens
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _host_kind(host: str) -> str | None:
    """``"loopback"``, ``"address"`` (any other IP or host name) or None when not a host."""
    if host.lower() in ("localhost", "localhost."):
        return "loopback"
    try:
        return "loopback" if ipaddress.ip_address(host).is_loopback else "address"
    except ValueError:
        pass
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return None
    return None if labels[-1].isdigit() else "address"  # "127.1", "300.1.2.3" are not names


def check_bind(host: str, *, has_key: bool, insecure: bool) -> tuple[str, str | None]:
    """Validate ``--host`` and the rule that only loopback may be served without an API key.

    Returns ``(host, warning)``: the host to bind (brackets around an IPv6 address dropped) and
    a warning to print when ``insecure`` lets a non-loopback address go without a key. Raises a
    :class:`ServeError` for something that is not an IP address or host name, and for a
    non-loopback address (``0.0.0.0`` and ``::`` included) without a key or ``insecure``.
    Loopback is 127.0.0.0/8, ``::1`` and ``localhost``.
    """
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    kind = _host_kind(bare)
    if kind is None:
        raise ServeError(
            f"--host {host[:80]!r} is not an IP address or host name; give 127.0.0.1 (this "
            "machine only), ::1, localhost, an interface address, or 0.0.0.0 (every interface, "
            "needs an API key)"
        )
    if kind == "loopback" or has_key:
        return bare, None
    if not insecure:
        raise ServeError(
            f"refusing to serve on {bare} without an API key: it is not a loopback address, so "
            "anyone who can reach it could use the server; pass --api-key-file PATH (or "
            "--api-key KEY, or set CULTURA_API_KEY), or --insecure to serve without a key "
            "knowingly, or --host 127.0.0.1 for this machine only"
        )
    return bare, (
        f"serving on {bare} without an API key (--insecure): anyone who can reach this address "
        "can send requests and see what is served"
    )


def check_api_key(key: str, source: str = "api_key") -> bytes:
    """``key`` as the bytes requests are compared with; a :class:`ServeError` (which never shows
    the key) unless it has 16 to 1024 visible ASCII characters. ``source`` names where it came
    from in the message (``--api-key-file key.txt``, ``CULTURA_API_KEY``)."""
    if not MIN_KEY_CHARS <= len(key) <= MAX_KEY_CHARS or not all("!" <= c <= "~" for c in key):
        raise ServeError(
            f"the API key from {source} must have {MIN_KEY_CHARS} to {MAX_KEY_CHARS} visible ASCII "
            f"characters and no spaces (it has {len(key)} characters); {KEY_HINT}"
        )
    return key.encode("ascii")


def bearer_matches(header: bytes | None, key: bytes) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <key>`` (constant-time compare)."""
    scheme, _, token = (header or b"").partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(b" "), key)


# --------------------------------------------------------------------------- requests
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
    """What one request may carry, and how long its body may take to arrive."""

    max_items: int = 256
    max_text_chars: int = 10_000
    max_body_bytes: int = 1 << 20
    max_top_k: int = 100
    max_tag_chars: int = 64
    body_timeout_s: float = 30.0
    max_new_tokens: int = 256
    max_generate_items: int = 32

    def __post_init__(self) -> None:
        small = [name for name, value in vars(self).items() if not value > 0]
        if small:
            raise ServeError(f"Limits: {', '.join(small)} must be > 0")


@dataclass(frozen=True)
class Parsed:
    """A validated request: ``(text, culture)`` rows, whether it was the single form, top_k."""

    rows: list[tuple[str, str]]
    single: bool
    top_k: int


@dataclass(frozen=True)
class ParsedGenerate:
    """A validated ``/generate`` request: rows, whether it was the single form, and the
    :meth:`~cultura.serve.MultiCultureServer.generate` options."""

    rows: list[tuple[str, str]]
    single: bool
    options: dict[str, Any]


@dataclass(frozen=True)
class _BigInt:
    """A JSON integer too long to convert (Python refuses over 4300 digits), kept as its size."""

    digits: int


def _int(digits: str) -> int | _BigInt:
    return int(digits) if len(digits) <= 30 else _BigInt(len(digits))


def _shown(value: Any) -> str:
    """``value`` for an error message, never long: a number or constant as JSON, else its type."""
    if isinstance(value, _BigInt):
        return f"an integer of {value.digits} digits"
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return type(value).__name__


def _echo(name: str, limit: int = 40) -> str:
    """A client-given name fit to echo: cut to ``limit`` characters, non-printables escaped."""
    return repr(name if len(name) <= limit else name[:limit] + "...")[1:-1]


_ITEM_FIELDS = ("text", "culture")
_GENERATE_OPTIONS = ("max_new_tokens", "do_sample", "temperature", "seed")
_TAG_CHARS = re.compile(r"[A-Za-z0-9_-]+")


def _check_fields(obj: dict[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = [k for k in obj if k not in allowed]
    if unknown:
        name = _echo(unknown[0])
        raise RequestError(
            422,
            f"unknown field '{name}' in {where} (allowed: {', '.join(allowed)})",
            name if where == "the request" else f"{where}.{name}",
        )


def _text(value: Any, field_name: str, limits: Limits) -> str:
    if value is None:
        raise RequestError(422, f"field {field_name!r} is required (a string)", field_name)
    if not isinstance(value, str):
        raise RequestError(422, f"field {field_name!r} must be a string, got {_shown(value)}", field_name)
    if len(value) > limits.max_text_chars:
        raise RequestError(
            413,
            f"field {field_name!r} has {len(value)} characters; at most {limits.max_text_chars} "
            "are accepted (split the text)",
            field_name,
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RequestError(
            400,
            f"field {field_name!r} has a lone surrogate at character {exc.start} (a \\ud800-\\udfff "
            "escape without its pair), which is not text; send UTF-8 text, or escape surrogates in pairs",
            field_name,
        ) from None
    return value


def _culture(value: Any, field_name: str, route: Callable[[str], str], limits: Limits) -> str:
    if value is None:
        raise RequestError(422, f"field {field_name!r} is required (a BCP-47 tag such as 'zh-TW')", field_name)
    if not isinstance(value, str):
        raise RequestError(422, f"field {field_name!r} must be a string, got {_shown(value)}", field_name)
    if len(value) > limits.max_tag_chars or not _TAG_CHARS.fullmatch(value):
        got = f"{len(value)} characters" if len(value) > limits.max_tag_chars else f"'{_echo(value)}'"
        raise RequestError(
            422,
            f"{field_name}: a culture tag is a BCP-47 tag such as 'zh-TW' (letters, digits and "
            f"'-', at most {limits.max_tag_chars} characters), got {got}",
            field_name,
        )
    try:
        return route(value)
    except (NotServedError, TagError) as exc:
        raise RequestError(422, f"{field_name}: {exc}", field_name) from None


def _json_object(body: bytes, limits: Limits) -> dict[str, Any]:
    """The JSON object of a request body (size-checked before parsing)."""
    if len(body) > limits.max_body_bytes:
        raise RequestError(413, f"request body has {len(body)} bytes; at most {limits.max_body_bytes}")
    try:
        data = json.loads(body, parse_int=_int)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise RequestError(400, f"request body is not valid JSON{where}: {exc}") from None
    except RecursionError:
        raise RequestError(
            400, "request body nests arrays or objects too deeply to parse; a /predict body has "
            "3 levels: {\"inputs\": [{\"text\": ...}]}"
        ) from None
    if not isinstance(data, dict):
        raise RequestError(
            422,
            f"request body must be a JSON object such as {{\"text\": \"...\", \"culture\": \"zh\"}}, "
            f"got a JSON {type(data).__name__}",
        )
    return data


def _rows(
    data: dict[str, Any], route: Callable[[str], str], limits: Limits, *,
    options: Sequence[str], max_items: int,
) -> tuple[list[tuple[str, str]], bool]:
    """The ``(text, served culture)`` rows of a single-form or ``inputs`` request whose other
    top-level fields are ``options``, and whether it was the single form."""
    if "inputs" not in data:
        _check_fields(data, ("text", "culture", *options), "the request")
        text = _text(data.get("text"), "text", limits)
        return [(text, _culture(data.get("culture"), "culture", route, limits))], True
    _check_fields(data, ("inputs", "culture", *options), "the request")
    items = data["inputs"]
    if not isinstance(items, list) or not items:
        raise RequestError(422, "field 'inputs' must be a non-empty list of {\"text\", \"culture\"} objects", "inputs")
    if len(items) > max_items:
        raise RequestError(
            413, f"'inputs' has {len(items)} items; at most {max_items} per request", "inputs"
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
        rows.append((text, _culture(culture, name, route, limits)))
    return rows, False


def parse_request(body: bytes, route: Callable[[str], str], limits: Limits | None = None) -> Parsed:
    """Validate a ``/predict`` body; cultures are routed (served or on a fallback chain).

    Every refusal is a :class:`RequestError` naming the field; values are never echoed whole.
    """
    limits = limits or Limits()
    data = _json_object(body, limits)
    top_k = data.get("top_k", 1)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= limits.max_top_k:
        raise RequestError(
            422, f"field 'top_k' must be an integer from 1 to {limits.max_top_k}, got {_shown(top_k)}", "top_k"
        )
    rows, single = _rows(data, route, limits, options=("top_k",), max_items=limits.max_items)
    return Parsed(rows, single, top_k)


def parse_generate(body: bytes, route: Callable[[str], str], limits: Limits | None = None) -> ParsedGenerate:
    """Validate a ``/generate`` body (as :func:`parse_request`, with the generation options
    range-checked: ``max_new_tokens`` 1 to ``limits.max_new_tokens``, ``temperature`` above 0
    and at most 100, ``seed`` 0 to 2**63 - 1)."""
    limits = limits or Limits()
    data = _json_object(body, limits)
    new = data.get("max_new_tokens", min(32, limits.max_new_tokens))
    if isinstance(new, bool) or not isinstance(new, int) or not 1 <= new <= limits.max_new_tokens:
        raise RequestError(422, f"field 'max_new_tokens' must be an integer from 1 to "
                                f"{limits.max_new_tokens}, got {_shown(new)}", "max_new_tokens")
    sample = data.get("do_sample", False)
    if not isinstance(sample, bool):
        raise RequestError(422, f"field 'do_sample' must be true or false, got {_shown(sample)}", "do_sample")
    temperature = data.get("temperature", 1.0)
    if (isinstance(temperature, bool) or not isinstance(temperature, (int, float))
            or not 0 < temperature <= 100):
        raise RequestError(422, f"field 'temperature' must be a number above 0 and at most 100, got "
                                f"{_shown(temperature)}", "temperature")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise RequestError(422, f"field 'seed' must be an integer from 0 to 2**63 - 1, got {_shown(seed)}", "seed")
    rows, single = _rows(data, route, limits, options=_GENERATE_OPTIONS, max_items=limits.max_generate_items)
    options = {"max_new_tokens": new, "do_sample": sample, "temperature": float(temperature), "seed": seed}
    return ParsedGenerate(rows, single, options)


async def read_body(request: Any, limits: Limits) -> bytes:
    """The body of a Starlette ``request``, read chunk by chunk: a ``Content-Length`` over
    ``limits.max_body_bytes`` is refused before reading, and a body that passes it (chunked
    bodies too) as soon as it does; the rest is never read."""
    limit = limits.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise RequestError(400, "the Content-Length header must be a number of bytes")
        if len(declared) > 18 or int(declared) > limit:
            raise RequestError(413, f"request body has {declared[:19]} bytes; at most {limit}")
    body = bytearray()
    async with aclosing(request.stream()) as stream:
        async for chunk in stream:
            if len(body) + len(chunk) > limit:
                raise RequestError(413, f"request body has more than {limit} bytes; at most {limit}")
            body += chunk
    return bytes(body)


def _public_base(base: str | None) -> str | None:
    """The base model's id, or only its directory's name when it was loaded from a path."""
    drive = base is not None and base[1:2] == ":" and base[2:3] in ("/", "\\")  # C:\ or C:/
    if base is None or not (base.startswith(("/", "~", ".", "\\")) or drive):
        return base
    return re.split(r"[\\/]", base.rstrip("/\\"))[-1] or None


_PUBLIC_ADAPTER = ("culture", "adapter_culture", "task", "labels", "added_tokens", "rank",
                   "engine", "resident", "rows_served")


def public_description(info: dict[str, Any]) -> dict[str, Any]:
    """``MultiCultureServer.describe()`` without file paths: the base's directory name only and
    no adapter ``source``."""
    return {
        "base": _public_base(info["base"]),
        "engine": info["engine"],
        "calibration": info["calibration"],
        "slots": info["slots"],
        "resident": info["resident"],
        "cultures": [{k: c[k] for k in _PUBLIC_ADAPTER} for c in info["cultures"]],
        "shared_rows": info["shared_rows"],
    }


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
        self.unauthorized = 0
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
                "# HELP cultura_unauthorized_total Requests refused (401) for a missing or wrong API key.",
                "# TYPE cultura_unauthorized_total counter",
                f"cultura_unauthorized_total {self.unauthorized}",
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
                if "top" in r:  # seq-cls; token-cls rows have words and entities
                    r["top"] = r["top"][: job.top_k]
            if not job.future.done():
                job.future.set_result(mine)


class BearerAuth:
    """ASGI middleware: every HTTP request but ``GET /health`` must carry ``Authorization:
    Bearer KEY``; any other gets a 401 with ``WWW-Authenticate: Bearer`` before the app runs
    (its body is never read)."""

    def __init__(self, app: Any, key: bytes, metrics: Metrics) -> None:
        self.app = app
        self.key = key
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (scope["path"] == "/health" and scope["method"] in ("GET", "HEAD")):
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if bearer_matches(header, self.key):
            await self.app(scope, receive, send)
            return
        with self.metrics.lock:
            self.metrics.unauthorized += 1
        if header is None:
            challenge = b"Bearer"
            message = "this server needs an API key: send the header 'Authorization: Bearer <key>'"
        else:
            challenge = b'Bearer error="invalid_token"'
            message = ("the API key is wrong: send the header 'Authorization: Bearer <key>' with the "
                       "key cultura serve was started with")
        body = json.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", challenge), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def create_app(
    server: Any,
    *,
    max_batch_size: int = 64,
    max_wait_ms: float = 5.0,
    max_queue_rows: int = 4096,
    limits: Limits | None = None,
    api_key: str | None = None,
) -> Any:
    """The Starlette app serving ``server`` (a :class:`MultiCultureServer`).

    With ``api_key`` (see :func:`check_api_key`) every endpoint but ``GET /health`` needs
    ``Authorization: Bearer <api_key>``, and ``/health`` tells a client without it only the
    status.
    """
    require("starlette")
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    key = None if api_key is None else check_api_key(api_key)
    limits = limits or Limits()
    metrics = Metrics()

    def predict(texts: list[str], cultures: list[str], top_k: int) -> list[dict[str, Any]]:
        return server.predict(texts, cultures, top_k=top_k)

    batcher = DynamicBatcher(
        predict, metrics, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
        max_queue_rows=max_queue_rows,
    )

    def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
        with metrics.lock:
            metrics.requests[status] += 1
        return JSONResponse(body, status_code=status, headers=headers)

    def internal_error(exc: BaseException, where: str) -> dict[str, str]:
        """Log ``exc`` with a fresh request id; the body names the id, never the exception."""
        request_id = secrets.token_hex(8)
        logger.error("%s failed (request_id %s)", where, request_id, exc_info=exc)
        return {"error": "internal error; the server log has the details", "request_id": request_id}

    def wrong_head(endpoint: str) -> None:
        generates = server.head_type == "causal-lm"
        if (endpoint == "/generate") != generates and server.head_type is not None:
            other = "POST /generate" if generates else "POST /predict"
            raise RequestError(422, f"this server serves {server.head_type} adapters: use {other}")

    async def handle(request: Request, endpoint: str, answer: Callable[[bytes], Any]) -> Response:
        """Read, check and answer a POST to ``endpoint``; ``answer(body)`` gives the reply."""
        start = time.perf_counter()
        body: bytes | None = None
        try:
            kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
            if kind not in ("application/json", ""):
                raise RequestError(415, f"send JSON with Content-Type: application/json, not '{_echo(kind)}'")
            try:
                body = await asyncio.wait_for(read_body(request, limits), limits.body_timeout_s)
            except asyncio.TimeoutError:
                raise RequestError(408, f"the request body did not arrive within "
                                        f"{limits.body_timeout_s:g} s; send it at once") from None
            except ClientDisconnect:
                raise RequestError(400, "the client disconnected before sending the whole body") from None
            wrong_head(endpoint)
            result = await answer(body)
        except RequestError as exc:  # a body left unread or half read: close the connection
            return reply(exc.status, exc.body(), {"connection": "close"} if body is None else None)
        except NotServedError as exc:  # removed since the request was parsed
            return reply(422, {"error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - the model failed; say so, keep serving
            return reply(500, internal_error(exc, f"POST {endpoint}"))
        finally:
            with metrics.lock:
                metrics.request_seconds += time.perf_counter() - start
        return reply(200, result)

    async def predict_answer(body: bytes) -> Any:
        parsed = parse_request(body, server.route, limits)
        results = await batcher.submit(parsed.rows, parsed.top_k)
        return results[0] if parsed.single else {"predictions": results}

    async def generate_answer(body: bytes) -> Any:
        parsed = parse_generate(body, server.route, limits)
        texts = [t for t, _ in parsed.rows]
        cultures = [c for _, c in parsed.rows]
        with metrics.lock:  # queued with the /predict rows, under the same bound
            if metrics.queued_rows + len(texts) > batcher.max_queue_rows:
                raise RequestError(503, f"the server is busy ({metrics.queued_rows} rows queued); retry later")
            metrics.queued_rows += len(texts)
        start = time.perf_counter()
        try:  # on the batcher's worker thread: one model call at a time
            results = await asyncio.get_running_loop().run_in_executor(
                batcher._executor, lambda: server.generate(texts, cultures, **parsed.options))
        finally:
            with metrics.lock:
                metrics.queued_rows -= len(texts)
        with metrics.lock:  # a request is one batch
            metrics.batches += 1
            metrics.batch_rows += len(texts)
            metrics.batch_cultures += len(set(cultures))
            metrics.max_batch_rows = max(metrics.max_batch_rows, len(texts))
            metrics.predict_seconds += time.perf_counter() - start
            for c in cultures:
                metrics.rows[c] += 1
        return results[0] if parsed.single else {"generations": results}

    async def predict_endpoint(request: Request) -> Response:
        return await handle(request, "/predict", predict_answer)

    async def generate_endpoint(request: Request) -> Response:
        return await handle(request, "/generate", generate_answer)

    def guarded(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
        """``endpoint`` answering a failure with a 500 that names a logged request id."""

        async def run_guarded(request: Request) -> Response:
            try:
                return await endpoint(request)
            except Exception as exc:  # noqa: BLE001 - logged; the client gets no detail
                return JSONResponse(internal_error(exc, f"{request.method} {request.url.path}"), status_code=500)

        return run_guarded

    async def health(request: Request) -> Response:
        if key is not None and not bearer_matches(request.headers.get("authorization", "").encode("latin-1"), key):
            return JSONResponse({"status": "ok"})
        info = server.describe()
        return JSONResponse({
            "status": "ok",
            "base": _public_base(info["base"]),
            "engine": info["engine"],
            "head_type": info.get("head_type"),
            "slots": info["slots"],
            "cultures": [c["culture"] for c in info["cultures"]],
        })

    async def cultures(request: Request) -> Response:
        return JSONResponse(public_description(server.describe()))

    async def metrics_endpoint(request: Request) -> Response:
        return PlainTextResponse(metrics.render(server), media_type="text/plain; version=0.0.4")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        path = _echo(request.url.path, 80)
        message = {404: f"no such endpoint '{path}' (POST /predict, /generate, GET /health, "
                        "/cultures, /metrics)",
                   405: f"{request.method} is not allowed on {path}"}.get(exc.status_code, str(exc.detail))
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
            Route("/generate", generate_endpoint, methods=["POST"]),
            Route("/health", guarded(health), methods=["GET"]),
            Route("/cultures", guarded(cultures), methods=["GET"]),
            Route("/metrics", guarded(metrics_endpoint), methods=["GET"]),
        ],
        middleware=[] if key is None else [Middleware(BearerAuth, key=key, metrics=metrics)],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.batcher = batcher
    app.state.server = server
    app.state.requires_key = key is not None
    return app


def run(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "warning",
    insecure: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``app`` with uvicorn until interrupted; ``on_ready(url)`` once it listens (with the
    real port when ``port=0``). A non-loopback ``host`` needs an app made with an ``api_key``
    or ``insecure=True`` (see :func:`check_bind`)."""
    has_key = getattr(getattr(app, "state", None), "requires_key", False)
    host, _ = check_bind(host, has_key=has_key, insecure=insecure)
    uvicorn = require("uvicorn")
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                            server_header=False)
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
            return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    return f"http://{server.config.host}:{server.config.port}"
