"""``cultura serve`` as a user runs it: a real process on 127.0.0.1, a missing extra, bad input."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="httpx is needed to talk to the server")
pytest.importorskip("starlette", reason="the 'serve' extra is not installed")


def cultura(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cultura.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, CULTURA_HOME=str(tmp_path / "home"), CULTURA_OFFLINE="1", **extra)
    env.pop("CULTURA_LOCK", None)
    return env


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

    cmd = [sys.executable, "-m", "cultura.cli", "serve", f"sw-KE={sw_adapter}", "--port", "0",
           "--max-wait-ms", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=child_env(tmp_path))
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen = []
    try:
        while True:
            try:
                line = lines.get(timeout=120)
            except queue.Empty:
                pytest.fail(f"cultura serve did not start: {seen}")
            seen.append(line)
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if match:
                url = match.group(1)
                break
            assert proc.poll() is None, "".join(seen)
        assert any(f"serving sw-KE from {sw_adapter}" in s for s in seen)
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
    finally:
        proc.terminate()
        proc.wait(timeout=30)


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
