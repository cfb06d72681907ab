"""The HTTP server's trust boundary: API key, where it may listen, bounded body reading,
hostile inputs answered by a 4xx naming the field, no file path or exception text in answers."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the 'serve' extra is not installed")
pytest.importorskip("httpx", reason="httpx is needed to test the HTTP API")

from starlette.testclient import TestClient  # noqa: E402

from cultura.serve.errors import ServeError  # noqa: E402
from cultura.serve.http import Limits, check_api_key, check_bind, create_app  # noqa: E402

KEY = "k3y-for-the-tests-0123456789abcdef"
AUTH = {"authorization": f"Bearer {KEY}"}
LIMITS = Limits(max_items=4, max_text_chars=50, max_body_bytes=20_000)
SMALL = Limits(max_body_bytes=1000, body_timeout_s=0.5)


@pytest.fixture
def client(server: Any) -> Iterator[TestClient]:
    with TestClient(create_app(server, max_wait_ms=1, limits=LIMITS)) as c:
        yield c


@pytest.fixture
def keyed(server: Any) -> Iterator[TestClient]:
    with TestClient(create_app(server, max_wait_ms=1, limits=LIMITS, api_key=KEY)) as c:
        yield c


def assert_clean(text: str, *paths: Path) -> None:
    """No traceback, exception text or file path in a response body."""
    for bad in ("Traceback", 'File "', "Error:", "site-packages", *map(str, paths)):
        assert bad not in text, (bad, text[:500])


# --------------------------------------------------------------------------- where it listens
@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LocalHost"])
def test_loopback_needs_no_key(host: str) -> None:
    bound, warning = check_bind(host, has_key=False, insecure=False)
    assert bound == host.strip("[]") and warning is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]", "192.168.1.20", "fe80::1", "example.org",
                                  "::ffff:127.0.0.1"])
def test_other_addresses_need_a_key_or_insecure(host: str) -> None:
    with pytest.raises(ServeError) as err:
        check_bind(host, has_key=False, insecure=False)
    message = str(err.value)
    assert "\n" not in message and "without an API key" in message
    for fix in ("--api-key-file", "--api-key", "CULTURA_API_KEY", "--insecure", "--host 127.0.0.1"):
        assert fix in message
    assert check_bind(host, has_key=True, insecure=False) == (host.strip("[]"), None)
    bound, warning = check_bind(host, has_key=False, insecure=True)
    assert bound == host.strip("[]") and warning and "without an API key (--insecure)" in warning


@pytest.mark.parametrize("host", ["", " ", "a b", "http://example.org", "300.1.2.3", "127.1",
                                  "-x.org", "x" * 300, "[::1", "::1]", "host:8000", "ex_ample.org"])
def test_garbage_host_is_refused(host: str) -> None:
    with pytest.raises(ServeError, match="is not an IP address or host name; give 127.0.0.1"):
        check_bind(host, has_key=True, insecure=True)


@pytest.mark.parametrize("key", ["", "short", "SeCrEt" + "q" * 9, "sixteen chars ok", "é" * 20,
                                 "SeCrEt" * 171])
def test_weak_or_unsendable_keys_are_refused_without_echo(key: str) -> None:
    with pytest.raises(ServeError) as err:
        check_api_key(key, "CULTURA_API_KEY")
    assert "CULTURA_API_KEY" in str(err.value) and "secrets.token_urlsafe" in str(err.value)
    assert not key or key not in str(err.value)


# --------------------------------------------------------------------------- API key
def test_every_endpoint_but_health_needs_the_key(keyed: TestClient) -> None:
    body = {"text": "bonjour", "culture": "fr"}
    for headers, kind in (({}, "needs an API key"), ({"authorization": "Bearer wrong-key-0123456789"},
                          "is wrong"), ({"authorization": f"Basic {KEY}"}, "is wrong"),
                          ({"authorization": f"Bearer {KEY}x"}, "is wrong"),
                          ({"authorization": KEY}, "is wrong")):
        for method, path in (("POST", "/predict"), ("GET", "/cultures"), ("GET", "/metrics"),
                             ("GET", "/nope"), ("POST", "/health")):
            r = keyed.request(method, path, json=body, headers=headers)
            assert r.status_code == 401, (path, headers, r.text)
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert kind in r.json()["error"] and "Authorization: Bearer <key>" in r.json()["error"]
            assert KEY not in r.text and "wrong-key" not in r.text
    r = keyed.post("/predict", json=body, headers=AUTH)
    assert r.status_code == 200 and r.json()["culture"] == "fr"
    assert keyed.get("/cultures", headers=AUTH).status_code == 200
    r = keyed.get("/health")  # a liveness probe needs no key and learns nothing else
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert keyed.get("/health", headers=AUTH).json()["cultures"] == ["fr", "de", "es"]
    metrics = keyed.get("/metrics", headers={"Authorization": f"bearer {KEY}"}).text
    assert "cultura_unauthorized_total 25" in metrics.splitlines()


def test_create_app_refuses_a_weak_key(server: Any) -> None:
    with pytest.raises(ServeError, match="from api_key must have 16"):
        create_app(server, api_key="secret")


# --------------------------------------------------------------------------- body reading
async def call(app: Any, headers: list[tuple[bytes, bytes]], chunks: Any) -> tuple[int, dict[str, Any]]:
    """Send one ``POST /predict`` straight to the ASGI ``app``; ``chunks`` feeds ``receive``."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/predict", "raw_path": b"/predict", "query_string": b"",
             "root_path": "", "headers": [(b"content-type", b"application/json"), *headers],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return await chunks.__anext__()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = sent[0]["status"]
    response_headers = dict(sent[0]["headers"])
    assert response_headers[b"connection"] == b"close"  # the rest of the body is never read
    return status, json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


def test_body_over_the_limit_stops_reading(server: Any) -> None:
    app = create_app(server, limits=SMALL)
    consumed = 0

    async def endless() -> Any:  # 100 bytes a chunk, as long as anyone reads
        nonlocal consumed
        while True:
            consumed += 1
            yield {"type": "http.request", "body": b" " * 100, "more_body": True}

    status, body = asyncio.run(call(app, [(b"transfer-encoding", b"chunked")], endless()))
    assert status == 413 and "more than 1000 bytes; at most 1000" in body["error"]
    assert consumed == 11  # 1000 bytes accepted, the 11th chunk passes the limit: no more read

    consumed = 0
    status, body = asyncio.run(call(app, [(b"content-length", b"209715200")], endless()))
    assert status == 413 and "209715200 bytes; at most 1000" in body["error"]
    assert consumed == 0  # refused on the header alone
    status, body = asyncio.run(call(app, [(b"content-length", b"9" * 5000)], endless()))
    assert status == 413 and consumed == 0
    status, body = asyncio.run(call(app, [(b"content-length", b"12ab")], endless()))
    assert status == 400 and "Content-Length" in body["error"] and consumed == 0


def test_a_request_without_the_key_is_refused_before_its_body_is_read(server: Any) -> None:
    app = create_app(server, limits=SMALL, api_key=KEY)
    consumed = 0

    async def endless() -> Any:
        nonlocal consumed
        while True:
            consumed += 1
            yield {"type": "http.request", "body": b" " * 100, "more_body": True}

    status, body = asyncio.run(call(app, [(b"content-length", b"1000")], endless()))
    assert status == 401 and consumed == 0
    status, _ = asyncio.run(call(app, [(b"authorization", b"Bearer wrong-key-0123456789"),
                                       (b"transfer-encoding", b"chunked")], endless()))
    assert status == 401 and consumed == 0


def test_slow_body_times_out(server: Any) -> None:
    app = create_app(server, limits=SMALL)

    async def trickle() -> Any:
        yield {"type": "http.request", "body": b'{"text": ', "more_body": True}
        await asyncio.sleep(30)
        yield {"type": "http.request", "body": b"", "more_body": False}

    status, body = asyncio.run(call(app, [], trickle()))
    assert status == 408 and "did not arrive within 0.5 s" in body["error"]


# --------------------------------------------------------------------------- hostile inputs
BIG = "x" * 100_000


@pytest.mark.parametrize(
    ("body", "status", "field", "says"),
    [
        (b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 413, None, "request body"),
        (b'{"text": "a", "culture": "fr", "x": ' + b"[" * 200 + b"]" * 200 + b"}", 422, "x", "unknown field"),
        (b'{"text": "a", "culture": "fr", "top_k": ' + b"7" * 5000 + b"}", 422, "top_k", "an integer of 5000 digits"),
        (b'{"text": "a", "culture": "fr", "top_k": -' + b"7" * 5000 + b"}", 422, "top_k", "an integer of 5001 digits"),
        (b'{"text": "a", "culture": "fr", "top_k": 1e999}', 422, "top_k", "got Infinity"),
        (b'{"text": "a", "culture": "fr", "top_k": NaN}', 422, "top_k", "got NaN"),
        (b'{"text": "a", "culture": "fr", "top_k": true}', 422, "top_k", "got true"),
        (b'{"text": "a", "culture": "fr", "top_k": "2"}', 422, "top_k", "got str"),
        (b'{"text": "a", "culture": "fr", "top_k": 2.0}', 422, "top_k", "got 2.0"),
        (b'{"text": "a", "culture": "fr", "top_k": 101}', 422, "top_k", "from 1 to 100, got 101"),
        (b'{"text": "a", "culture": "fr", "top_k": null}', 422, "top_k", "got null"),
        (b'{"text": "a", "culture": "' + b"f" * 100 + b'"}', 422, "culture", "at most 64 characters), got 100 characters"),
        (b'{"text": "a", "culture": "fr\\ud800"}', 422, "culture", "got 'fr\\ud800'"),
        (b'{"text": "a", "culture": "fr\\u0000"}', 422, "culture", "BCP-47 tag such as"),
        (b'{"text": "a", "culture": ["fr"]}', 422, "culture", "must be a string, got list"),
        (b'{"text": "a", "culture": "zh-TW-x-private"}', 422, "culture", "private-use"),
        (b'{"text": "\\ud800", "culture": "fr"}', 400, "text", "lone surrogate at character 0"),
        (b'{"text": "ok \\udc00\\ud800", "culture": "fr"}', 400, "text", "lone surrogate at character 3"),
        (b'{"inputs": [{"text": "a", "culture": "fr"}, {"text": "b\\udfff", "culture": "fr"}]}', 400,
         "inputs[1].text", "lone surrogate"),
        (b'{"text": {"a": 1}, "culture": "fr"}', 422, "text", "must be a string, got dict"),
        (b'{"text": "' + b"y" * 60 + b'", "culture": "fr"}', 413, "text", "at most 50 are accepted"),
        (b'{"text": "a", "culture": "fr", "\\ud800": 1}', 422, "\\ud800", "unknown field '\\ud800'"),
        (b'{"inputs": [{"text": "a", "culture": "fr", "' + b"k" * 500 + b'": 1}]}', 422,
         "inputs[0]." + "k" * 40 + "...", "unknown field 'kkkk"),
        (b'{"inputs": {"text": "a"}}', 422, "inputs", "non-empty list"),
        (b'{"inputs": []}', 422, "inputs", "non-empty list"),
        (b'{"inputs": [' + b'{"text": "a", "culture": "fr"}, ' * 4 + b'{"text": "a"}]}', 413, "inputs", "at most 4"),
        (b'{"inputs": [null], "culture": "fr"}', 422, "inputs[0]", "must be an object"),
        (b'{"inputs": [{"text": "a"}], "culture": 7}', 422, "culture", "must be a string, got 7"),
        (b'\xff\xfe{"text": "a"}', 400, None, "not valid JSON"),
        (b"", 400, None, "not valid JSON (line 1, column 1)"),
    ],
)
def test_hostile_input_gets_a_4xx_naming_the_field(
    client: TestClient, body: bytes, status: int, field: str | None, says: str, tmp_path_factory: Any
) -> None:
    r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text[:300]
    data = r.json()
    assert says in data["error"]
    assert data.get("field") == field
    assert len(r.content) < 600  # nothing the client sent is echoed whole
    assert_clean(r.text, tmp_path_factory.getbasetemp())


def test_deep_nesting_within_the_body_limit_is_a_400(server: Any) -> None:
    with TestClient(create_app(server, limits=Limits(max_body_bytes=1 << 20))) as c:
        r = c.post("/predict", content=b'{"text": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and "nests arrays or objects too deeply" in r.json()["error"]
    assert_clean(r.text)


def test_wrong_content_type_and_path_echo_are_bounded(client: TestClient) -> None:
    r = client.post("/predict", content=b"{}", headers={"content-type": "text/" + BIG[:5000]})
    assert r.status_code == 415 and len(r.content) < 300
    r = client.get("/" + BIG[:5000])
    assert r.status_code == 404 and len(r.content) < 300


# --------------------------------------------------------------------------- no paths, no detail
def test_no_file_paths_in_any_answer(client: TestClient, tmp_path_factory: Any,
                                     tiny_base: Path, artifacts: dict[str, Path]) -> None:
    root = tmp_path_factory.getbasetemp()
    cultures = client.get("/cultures")
    assert cultures.status_code == 200
    info = cultures.json()
    assert [c["culture"] for c in info["cultures"]] == ["fr", "de", "es"]
    assert all("source" not in c and c["task"] == "sentiment" and c["labels"] for c in info["cultures"])
    assert info["base"] == tiny_base.name
    for path in ("/cultures", "/health", "/metrics"):
        text = client.get(path).text
        assert_clean(text, root, tiny_base, *artifacts.values())
        assert "/tmp" not in text and str(Path.home()) not in text


def test_failures_are_logged_with_an_id_and_answered_without_detail(
    client: TestClient, server: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"weights missing under {tmp_path}")

    monkeypatch.setattr(server, "predict", broken)
    monkeypatch.setattr(server, "describe", broken)
    with caplog.at_level(logging.ERROR, logger="cultura.serve"):
        answers = [client.post("/predict", json={"text": "a", "culture": "fr"}),
                   client.get("/cultures"), client.get("/health")]
    for r in answers:
        assert r.status_code == 500
        body = r.json()
        assert body["error"] == "internal error; the server log has the details"
        assert set(body) == {"error", "request_id"} and len(body["request_id"]) == 16
        assert_clean(r.text, tmp_path)
        assert "RuntimeError" not in r.text and "weights missing" not in r.text
        logged = [rec for rec in caplog.records if body["request_id"] in rec.getMessage()]
        assert logged and "weights missing" in str(logged[0].exc_info[1])


@pytest.mark.parametrize("base", ["/srv/models/minilm", "~/models/minilm", "./minilm",
                                  "C:\\models\\minilm", "C:/models/minilm", "\\\\host\\minilm"])
def test_a_base_path_is_shown_by_its_folder_name_only(base: str) -> None:
    from cultura.serve.http import _public_base

    assert _public_base(base) == "minilm"
    assert _public_base("sentence-transformers/all-MiniLM-L6-v2") == (
        "sentence-transformers/all-MiniLM-L6-v2")  # a Hub id is no path
