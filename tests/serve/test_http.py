"""The HTTP API: request forms, 4xx messages, health/metrics, and a bounded load test on
127.0.0.1 (real uvicorn, concurrent clients) with no lost or mixed-up responses."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the 'serve' extra is not installed")
pytest.importorskip("uvicorn", reason="the 'serve' extra is not installed")
httpx = pytest.importorskip("httpx", reason="httpx is needed to test the HTTP API")

from starlette.testclient import TestClient  # noqa: E402

from cultura.serve.http import Limits, bound_url, create_app  # noqa: E402

from .conftest import LABELS, TEXTS  # noqa: E402

ATOL = 1e-5


@pytest.fixture
def client(server: Any) -> Iterator[TestClient]:
    app = create_app(server, max_batch_size=16, max_wait_ms=2,
                     limits=Limits(max_items=4, max_text_chars=50))
    with TestClient(app) as c:  # runs the lifespan (the batching task)
        yield c


def probs_by_label(row: dict[str, Any]) -> dict[str, float]:
    return {t["label"]: t["score"] for t in row["top"]}


def test_single_and_batch_forms(client: TestClient, server: Any) -> None:
    r = client.post("/predict", json={"text": "bonjour the movie", "culture": "fr-CA", "top_k": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    want = server.predict(["bonjour the movie"], "fr", top_k=2)[0]
    assert body["culture"] == "fr" and body["text"] == "bonjour the movie"
    assert body["label"] == want["label"] and body["score"] == pytest.approx(want["score"], abs=ATOL)
    assert [t["label"] for t in body["top"]] == [t["label"] for t in want["top"]]

    r = client.post("/predict", json={"culture": "de", "inputs": [
        {"text": "danke"}, {"text": "the spring festival", "culture": "es"}, {"text": "hallo"}]})
    assert r.status_code == 200, r.text
    rows = r.json()["predictions"]
    assert [p["culture"] for p in rows] == ["de", "es", "de"]
    assert [p["text"] for p in rows] == ["danke", "the spring festival", "hallo"]
    assert all(p["label"] in LABELS[p["culture"]] and len(p["top"]) == 1 for p in rows)


@pytest.mark.parametrize(
    ("body", "status", "message", "field"),
    [
        (b'{"text": "a", "culture": "fr"', 400, "not valid JSON (line 1, column", None),
        (b'["a"]', 422, "must be a JSON object", None),
        (b'{"culture": "fr"}', 422, "field 'text' is required", "text"),
        (b'{"text": 5, "culture": "fr"}', 422, "field 'text' must be a string, got 5", "text"),
        (b'{"text": "a"}', 422, "field 'culture' is required", "culture"),
        (b'{"text": "a", "culture": "ja"}', 422, "culture: culture 'ja' is not served (served: fr, de, es)", "culture"),
        (b'{"text": "a", "culture": "not a tag!"}', 422, "culture:", "culture"),
        (b'{"text": "a", "cultre": "fr"}', 422, "unknown field 'cultre' in the request", "cultre"),
        (b'{"text": "a", "culture": "fr", "top_k": 0}', 422, "'top_k' must be an integer", "top_k"),
        (b'{"inputs": []}', 422, "non-empty list", "inputs"),
        (b'{"inputs": [{"text": "a", "culture": "fr"}, "b"]}', 422, "inputs[1] must be an object", "inputs[1]"),
        (b'{"inputs": [{"text": "a"}]}', 422, "'inputs[0].culture' is required", "inputs[0].culture"),
        (b'{"inputs": [{"text": "a", "culture": "fr", "lang": "x"}]}', 422, "unknown field 'lang' in inputs[0]", "inputs[0].lang"),
        (json.dumps({"inputs": [{"text": "a", "culture": "fr"}] * 5}).encode(), 413, "at most 4 per request", "inputs"),
        (json.dumps({"text": "x" * 51, "culture": "fr"}).encode(), 413, "at most 50 are accepted", "text"),
    ],
)
def test_bad_requests_get_4xx_with_what_and_where(
    client: TestClient, body: bytes, status: int, message: str, field: str | None
) -> None:
    r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    data = r.json()
    assert message in data["error"]
    assert data.get("field") == field


def test_wrong_method_path_and_content_type(client: TestClient) -> None:
    r = client.get("/predict")
    assert r.status_code == 405 and "GET is not allowed on /predict" in r.json()["error"]
    r = client.get("/predikt")
    assert r.status_code == 404 and "no such endpoint '/predikt'" in r.json()["error"]
    r = client.post("/predict", content=b"text=a", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "Content-Type: application/json" in r.json()["error"]


def test_health_cultures_and_metrics(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["cultures"] == ["fr", "de", "es"]
    cultures = {c["culture"]: c for c in client.get("/cultures").json()["cultures"]}
    assert cultures["de"]["labels"] == list(LABELS["de"]) and cultures["fr"]["added_tokens"] == 2
    client.post("/predict", json={"text": "a", "culture": "fr"})
    client.post("/predict", json={"inputs": [{"text": "b", "culture": "de"}, {"text": "c", "culture": "fr"}]})
    client.post("/predict", json={"text": "a", "culture": "xx"})
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    lines = set(r.text.splitlines())
    assert 'cultura_requests_total{status="200"} 2' in lines
    assert 'cultura_requests_total{status="422"} 1' in lines
    assert 'cultura_rows_total{culture="fr"} 2' in lines
    assert 'cultura_rows_total{culture="de"} 1' in lines
    assert "cultura_batch_rows_total 3" in lines


# --------------------------------------------------------------------------- load test
@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1 (a free port) with uvicorn in a thread; yields its URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield bound_url(server)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


WORDS = sorted({w for texts in TEXTS.values() for t in texts for w in t.split()})


def distinct_text(i: int) -> str:
    """A text no other request sends (i written in base len(WORDS) with words as digits)."""
    digits = []
    while True:
        i, d = divmod(i, len(WORDS))
        digits.append(WORDS[d])
        if i == 0:
            return " ".join(digits + ["bonjour", "danke"])


def test_load_test_no_lost_or_mixed_up_responses(server: Any) -> None:
    n_requests, concurrency, time_limit = 200, 16, 120.0
    rng = random.Random(0)
    asked = ["fr", "de", "es", "fr-CA", "de-AT"]
    requests, counter = [], 0
    for _ in range(n_requests):
        size = rng.choice([1, 1, 2, 3])  # single-form requests and small batches
        rows = []
        for _ in range(size):
            rows.append((distinct_text(counter), rng.choice(asked)))
            counter += 1
        requests.append(rows)
    flat = [r for rows in requests for r in rows]
    expected = {
        (t, c): probs_by_label(p)
        for (t, c), p in zip(flat, server.predict([t for t, _ in flat], [c for _, c in flat], top_k=3), strict=True)
    }
    server.stats.clear()
    app = create_app(server, max_batch_size=32, max_wait_ms=10)

    async def one(client: Any, rows: list[tuple[str, str]], gate: asyncio.Semaphore) -> tuple[Any, Any]:
        if len(rows) == 1:
            body: dict[str, Any] = {"text": rows[0][0], "culture": rows[0][1], "top_k": 3}
        else:
            body = {"inputs": [{"text": t, "culture": c} for t, c in rows], "top_k": 3}
        async with gate:
            r = await client.post("/predict", json=body)
        return rows, r

    async def main(url: str) -> list[tuple[Any, Any]]:
        gate = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            jobs = [one(client, rows, gate) for rows in requests]
            return await asyncio.wait_for(asyncio.gather(*jobs), time_limit)

    with serving(app) as url:
        assert url.startswith("http://127.0.0.1:")
        results = asyncio.run(main(url))
        metrics = httpx.get(f"{url}/metrics").text.splitlines()
    assert len(results) == n_requests  # nothing lost
    for rows, response in results:
        assert response.status_code == 200, response.text
        body = response.json()
        got = [body] if len(rows) == 1 else body["predictions"]
        assert len(got) == len(rows)
        for (text, culture), row in zip(rows, got, strict=True):
            assert row["text"] == text  # not another request's row
            assert row["culture"] == server.route(culture)
            scores = probs_by_label(row)
            want = expected[(text, culture)]
            assert scores.keys() == want.keys()
            for label, score in want.items():
                assert scores[label] == pytest.approx(score, abs=ATOL)
    values = dict(line.rsplit(" ", 1) for line in metrics if not line.startswith("#"))
    assert int(values['cultura_requests_total{status="200"}']) == n_requests
    assert int(values["cultura_batch_rows_total"]) == len(flat)
    batches = int(values["cultura_batches_total"])
    assert batches < n_requests  # concurrent requests were batched together ...
    assert int(values["cultura_batch_cultures_total"]) > batches  # ... across cultures
    assert int(values["cultura_queued_rows"]) == 0
