"""Interop with a Hub-compatible server the project did not write: olah (pip install olah).

olah is a self-hosted Hugging Face mirror (a caching proxy: model info, tree listing,
paths-info, resolve with ETag/X-Repo-Commit). It does not implement uploads or model search,
so the adapter is published and searched on the local Hub, then pulled, verified, loaded by
name and run *through olah* (olah fetches from the local Hub as its upstream).

Opt-in: skipped unless ``olah-cli`` is found (``CULTURA_OLAH_CLI``, next to this Python, or on
PATH).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import cultura
from cultura.adapt.artifact import verify_artifact
from cultura.registry.hub import publish, search
from cultura.testing.hub import LocalHub

from .conftest import TEXTS


def _olah_cli() -> str | None:
    candidates = [os.environ.get("CULTURA_OLAH_CLI"),
                  str(Path(sys.executable).with_name("olah-cli")), shutil.which("olah-cli")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def olah(local_hub: LocalHub, tmp_path: Path) -> Iterator[str]:
    cli = _olah_cli()
    if cli is None:
        pytest.skip("olah is not installed (pip install olah, or set CULTURA_OLAH_CLI): the "
                    "third-party Hub mirror for this interop test")
    port = _free_port()
    upstream = local_hub.url.split("://", 1)[1]
    log = open(tmp_path / "olah.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [cli, "--host", "127.0.0.1", "--port", str(port), "--hf-scheme", "http",
         "--hf-netloc", upstream, "--hf-lfs-netloc", upstream, "--mirror-scheme", "http",
         "--mirror-netloc", f"127.0.0.1:{port}", "--mirror-lfs-netloc", f"127.0.0.1:{port}",
         "--repos-path", str(tmp_path / "olah-repos")],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    pytest.fail(f"olah did not start:\n{(tmp_path / 'olah.log').read_text()}")
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_round_trip_through_olah(
    local_hub: LocalHub, olah: str, artifact: Callable[..., Path], tiny_base: Path,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from cultura.adapt.model import load_pretrained

    source = artifact("zh-Hant", seed=6)
    expected = load_pretrained(source).predict_proba(TEXTS)[0]
    result = publish(source, "org/zh-hant-olah")
    [found] = search(culture="zh-Hant", task="sentiment")
    assert found.repo_id == "org/zh-hant-olah"

    monkeypatch.setenv("HF_ENDPOINT", olah)  # from here on, every request goes to olah
    before = len(local_hub.log)
    entry = cultura.pull(f"hf:{found.repo_id}")
    assert entry.origin.endpoint == olah and entry.origin.commit == result.commit
    verify_artifact(entry.path)
    model = cultura.load("zh-Hant-TW/sentiment", base=str(tiny_base))
    np.testing.assert_allclose(model.predict_proba(TEXTS)[0], expected, atol=1e-6)
    # olah really sat in between: the local Hub saw olah's upstream requests
    assert len(local_hub.log) > before
    served = (tmp_path / "olah.log").read_text()
    assert "adapter_model.safetensors" in served and local_hub.token not in served
