"""``cultura serve`` as a user runs it: a real process on 127.0.0.1, a missing extra, bad input,
the API key and the refusal to listen elsewhere without one."""

from __future__ import annotations

import os
import queue
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

httpx = pytest.importorskip("httpx", reason="httpx is needed to talk to the server")
pytest.importorskip("starlette", reason="the 'serve' extra is not installed")


def cultura(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cultura.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, CULTURA_HOME=str(tmp_path / "home"), CULTURA_OFFLINE="1", **extra)
    env.pop("CULTURA_LOCK", None)
    if "CULTURA_API_KEY" not in extra:
        env.pop("CULTURA_API_KEY", None)
    return env


@contextmanager
def serving(args: list[str], env: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """Run ``cultura serve ARGS --port 0`` until it listens on 127.0.0.1; yields its URL and
    the lines it printed so far; terminates it afterwards."""
    cmd = [sys.executable, "-m", "cultura.cli", "serve", *args, "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen: list[str] = []
    try:
        while True:
            try:
                line = lines.get(timeout=120)
            except queue.Empty:
                pytest.fail(f"cultura serve did not start: {seen}")
            seen.append(line)
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if match:
                break
            assert proc.poll() is None, "".join(seen)
        yield match.group(1), seen
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def sw_adapter(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> Path:
    """An adapter for sw (served by the installed cultura-sw plugin, so a child process that
    discovers plugins through entry points can load it)."""
    from cultura.adapt.model import adapt
    from cultura.core.plugins import PluginManager

    from .conftest import randomize

    model = adapt(str(tiny_base), "sw", "sentiment", manager=PluginManager(), knowledge=False,
                  extend_vocab=False)
    randomize(model, 3)
    return model.save_pretrained(tmp_path_factory.mktemp("cli") / "sw")


def test_help_lists_the_options() -> None:
    out = cultura("serve", "--help")
    assert out.returncode == 0, out.stderr
    for text in ("[CULTURE=]ADAPTER", "--slots", "--max-batch-size", "--engine", "/metrics"):
        assert text in out.stdout


def test_serve_a_real_process_on_loopback(sw_adapter: Path, tmp_path: Path) -> None:
    from cultura.adapt.model import load_pretrained
    from cultura.core.plugins import PluginManager

    with serving([f"sw-KE={sw_adapter}", "--max-wait-ms", "1"], child_env(tmp_path)) as (url, seen):
        assert any(f"serving sw-KE from {sw_adapter}" in s for s in seen)
        assert any("no API key" in s for s in seen)
        health = httpx.get(f"{url}/health", timeout=30).json()
        assert health["cultures"] == ["sw-KE"]
        text = "Chakula kilikuwa kizuri sana"
        r = httpx.post(f"{url}/predict", json={"text": text, "culture": "sw-KE"}, timeout=30)
        assert r.status_code == 200, r.text
        want = load_pretrained(sw_adapter, manager=PluginManager()).predict([text])[0]
        assert r.json()["label"] == want["label"]
        assert r.json()["score"] == pytest.approx(want["score"], abs=1e-5)
        r = httpx.post(f"{url}/predict", json={"text": text, "culture": "sw"}, timeout=30)
        assert r.status_code == 422 and "'sw' is not served (served: sw-KE)" in r.json()["error"]


def test_missing_serve_extra_is_named(tmp_path: Path, sw_adapter: Path) -> None:
    blocker = tmp_path / "blocked"
    blocker.mkdir()
    (blocker / "starlette.py").write_text("raise ImportError('blocked for the test')\n")
    env = child_env(tmp_path, PYTHONPATH=str(blocker))
    out = cultura("serve", str(sw_adapter), env=env)
    assert out.returncode == 1
    assert "needs 'starlette' from the 'serve' extra: pip install 'cultura[serve]'" in out.stderr


def test_unknown_adapter_is_an_error(tmp_path: Path) -> None:
    out = cultura("serve", "./does-not-exist", env=child_env(tmp_path))
    assert out.returncode == 1
    assert "error:" in out.stderr and "does-not-exist" in out.stderr


# --------------------------------------------------------------------------- trust boundary
KEY = "cli-test-key-0123456789abcdefXYZ"


def blocked_heavy_imports(tmp_path: Path) -> str:
    """A PYTHONPATH entry on which torch, transformers, starlette and uvicorn fail to import."""
    blocker = tmp_path / "no-heavy-imports"
    blocker.mkdir(exist_ok=True)
    for name in ("torch", "transformers", "starlette", "uvicorn"):
        (blocker / f"{name}.py").write_text(f"raise ImportError('{name} must not be imported')\n")
    return str(blocker)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "example.org"])
def test_non_loopback_without_a_key_refuses_before_loading_anything(tmp_path: Path, host: str) -> None:
    env = child_env(tmp_path, PYTHONPATH=blocked_heavy_imports(tmp_path))
    start = time.monotonic()
    out = cultura("serve", "./does-not-exist", "--host", host, env=env)
    assert time.monotonic() - start < 30
    assert out.returncode == 1
    message = out.stderr.strip()
    assert "\n" not in message and message.startswith(f"error: refusing to serve on {host} without an API key")
    for fix in ("--api-key-file PATH", "--api-key KEY", "CULTURA_API_KEY", "--insecure", "--host 127.0.0.1"):
        assert fix in message
    assert "does-not-exist" not in message and "must not be imported" not in out.stderr


@pytest.mark.parametrize(("args", "env_key", "says"), [
    (["--host", "not a host!"], None, "--host 'not a host!' is not an IP address or host name"),
    (["--host", "0.0.0.0"], "weak", "the API key from CULTURA_API_KEY must have 16 to 1024"),
    (["--api-key", "weak key with spaces"], None, "the API key from --api-key must have 16"),
    (["--api-key-file", "missing-key.txt"], None, "cannot read --api-key-file missing-key.txt: No such file"),
])
def test_bad_host_or_key_is_refused_before_loading(
    tmp_path: Path, args: list[str], env_key: str | None, says: str
) -> None:
    extra = {"CULTURA_API_KEY": env_key} if env_key else {}
    env = child_env(tmp_path, PYTHONPATH=blocked_heavy_imports(tmp_path), **extra)
    out = cultura("serve", "./does-not-exist", *args, env=env)
    assert out.returncode == 1 and says in out.stderr, out.stderr
    assert "weak" not in out.stderr and "must not be imported" not in out.stderr


def test_api_key_and_key_file_together_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_text(KEY)
    out = cultura("serve", "x", "--api-key", KEY, "--api-key-file", str(tmp_path / "key.txt"),
                  env=child_env(tmp_path, PYTHONPATH=blocked_heavy_imports(tmp_path)))
    assert out.returncode == 2 and "give --api-key or --api-key-file, not both" in out.stderr


def test_insecure_warns_and_goes_on(tmp_path: Path) -> None:
    out = cultura("serve", "./does-not-exist", "--host", "0.0.0.0", "--insecure", env=child_env(tmp_path))
    assert "warning: serving on 0.0.0.0 without an API key (--insecure)" in out.stderr
    assert out.returncode == 1 and "does-not-exist" in out.stderr  # loading failed: never bound


def raw_post(url: str, headers: dict[str, str], chunks: Iterable[bytes] = ()) -> tuple[int, int]:
    """``POST /predict`` over a plain socket, sending ``chunks`` (chunked encoding) only until
    the server answers; returns the status and how many body bytes were sent."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        head = ["POST /predict HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json",
                *(f"{k}: {v}" for k, v in headers.items())]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sent = 0
        for chunk in chunks:
            if select.select([sock], [], [], 0.02)[0]:
                break  # the server answered: stop sending
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:  # it closed the connection
                break
            sent += len(chunk)
        answer = sock.recv(4096)
    return int(answer.split(b" ", 2)[1]), sent


def test_keyed_server_on_loopback(sw_adapter: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    env = child_env(tmp_path, CULTURA_API_KEY="the-environment-key-loses-to-the-flag")
    args = [f"sw-KE={sw_adapter}", "--api-key-file", str(key_file), "--max-body-bytes", "65536"]
    with serving(args, env) as (url, seen):
        assert any("API key required" in s for s in seen)
        assert not any("warning" in s for s in seen)
        body = {"text": "Chakula kilikuwa kizuri", "culture": "sw-KE"}
        auth = {"Authorization": f"Bearer {KEY}"}
        for headers in ({}, {"Authorization": "Bearer the-environment-key-loses-to-the-flag"}):
            r = httpx.post(f"{url}/predict", json=body, headers=headers, timeout=30)
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
            assert KEY not in r.text and "environment-key" not in r.text
            assert httpx.get(f"{url}/cultures", headers=headers, timeout=30).status_code == 401
        assert httpx.get(f"{url}/health", timeout=30).json() == {"status": "ok"}
        r = httpx.post(f"{url}/predict", json=body, headers=auth, timeout=30)
        assert r.status_code == 200 and r.json()["culture"] == "sw-KE"
        cultures = httpx.get(f"{url}/cultures", headers=auth, timeout=30)
        assert cultures.status_code == 200 and str(sw_adapter) not in cultures.text
        assert str(tmp_path) not in cultures.text and "server" not in cultures.headers

        # 200 MB announced: refused on the header, no body byte sent
        assert raw_post(url, {**auth, "Content-Length": str(200 << 20)})[0] == 413  # on the header
        # 200 MB streamed in 16 KiB chunks: refused once past 64 KiB, the rest never sent
        chunks = (b" " * (16 << 10) for _ in range(200 << 6))
        status, sent = raw_post(url, {**auth, "Transfer-Encoding": "chunked"}, chunks)
        assert status == 413 and 65536 < sent < (4 << 20)
        # without the key the body is not read at all
        assert raw_post(url, {"Content-Length": str(200 << 20)})[0] == 401
        r = httpx.post(f"{url}/predict", json=body, headers=auth, timeout=30)
        assert r.status_code == 200  # still serving
