"""Faults: a 500 in the middle of a publish, dropped connections during a pull, a tampered
file on the server, a bad token (which must never appear in any output or log)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import cultura
from cultura.adapt.artifact import read_manifest, verify_artifact
from cultura.registry.errors import HubError, IntegrityError
from cultura.registry.hub import publish, pull, search
from cultura.registry.store import LocalRegistry
from cultura.testing.hub import LocalHub

WEIGHTS = r"/resolve/[0-9a-f]{40}/adapter_model\.safetensors$"


def _leftovers(home: Path) -> list[Path]:
    tmp = home / "tmp"
    return sorted(tmp.iterdir()) if tmp.exists() else []


def test_server_error_in_the_middle_of_a_publish_leaves_no_partial_commit(
    local_hub: LocalHub, artifact: Callable[..., Path]
) -> None:
    source = artifact()
    card_before = (source / "README.md").read_bytes()
    local_hub.fail("POST", r"^/api/models/org/zh/commit/")
    with pytest.raises(HubError, match=r"server error \(500\)") as info:
        publish(source, "org/zh")
    assert info.value.status == 500
    # the repo was created and the upload negotiated, but the commit did not happen: the repo
    # holds only its initial commit, no file of the adapter
    assert len(local_hub.commits("org/zh")) == 1
    assert set(local_hub.files("org/zh")) == {".gitattributes"}
    commits = [r.status for r in local_hub.log if r.method == "POST" and "/commit/" in r.path]
    assert commits == [500]  # sent once, as one commit
    assert (source / "README.md").read_bytes() == card_before  # nothing written back
    assert search() == []
    result = publish(source, "org/zh")  # a retry succeeds, again in one commit
    assert local_hub.commits("org/zh") == [result.commit, local_hub.commits("org/zh")[1]]
    assert "adapter_model.safetensors" in local_hub.files("org/zh")


def test_a_dropped_connection_is_retried_transparently(
    local_hub: LocalHub, artifact: Callable[..., Path]
) -> None:
    source = artifact()
    publish(source, "org/zh")
    local_hub.drop("GET", WEIGHTS, fraction=0.5, times=1)
    entry = pull("hf:org/zh")
    statuses = [r.status for r in local_hub.log if r.method == "GET"
                and r.path.endswith("adapter_model.safetensors")]
    # cut after half the body, then fetched again (a Range request when the client had
    # already written the first part, the whole file otherwise)
    assert statuses[0] == -1 and statuses[1:] in ([200], [206])
    verify_artifact(entry.path)
    assert (entry.path / "adapter_model.safetensors").read_bytes() == (
        source / "adapter_model.safetensors"
    ).read_bytes()


def test_a_connection_that_keeps_dropping_fails_cleanly_and_a_retry_succeeds(
    local_hub: LocalHub, artifact: Callable[..., Path], registry_env: Path
) -> None:
    source = artifact()
    publish(source, "org/zh")
    local_hub.drop("GET", WEIGHTS, fraction=0.5, times=None)
    with pytest.raises(HubError, match="cannot complete the transfer.*try again"):
        pull("hf:org/zh")
    assert LocalRegistry().entries() == []  # nothing installed
    assert _leftovers(registry_env) == []  # no partial download left behind
    local_hub.clear_faults()
    entry = pull("hf:org/zh")
    verify_artifact(entry.path)
    LocalRegistry().verify(entry)
    for rel in read_manifest(source).files:
        assert (entry.path / rel).read_bytes() == (source / rel).read_bytes()


def test_a_tampered_file_is_detected_and_nothing_is_installed(
    local_hub: LocalHub, artifact: Callable[..., Path], registry_env: Path
) -> None:
    source = artifact()
    publish(source, "org/zh")
    served = local_hub.tamper("org/zh", "adapter_model.safetensors")
    assert served != (source / "adapter_model.safetensors").read_bytes()
    with pytest.raises(IntegrityError, match="adapter_model.safetensors changed.*nothing was "
                       "installed"):
        pull("hf:org/zh")
    assert LocalRegistry().entries() == [] and _leftovers(registry_env) == []
    with pytest.raises(IntegrityError):  # the same through load by name (Hub step)
        cultura.load("zh/sentiment")
    assert LocalRegistry().entries() == []


SECRET = "hf_SECRETdoNotLeak0123456789abcdef"


def test_a_bad_token_gives_a_clear_error_and_never_leaks(
    local_hub: LocalHub, artifact: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    from huggingface_hub.utils import logging as hf_logging

    source = artifact()
    publish(source, "org/zh")  # with the good token
    monkeypatch.setenv("HF_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG)
    hf_logging.set_verbosity_debug()
    try:
        errors = []
        for call in (lambda: publish(source, "org/zh2"), lambda: pull("hf:org/zh"),
                     lambda: search(culture="zh")):
            with pytest.raises(HubError) as info:
                call()
            errors.append(info.value)
    finally:
        hf_logging.set_verbosity_warning()
    for error in errors:
        text = str(error)
        assert error.status == 401
        assert "rejected the token (401 Unauthorized)" in text and "HF_TOKEN" in text
        assert SECRET not in text and SECRET not in repr(error.__cause__)
    out, err = capfd.readouterr()
    assert SECRET not in out + err
    assert SECRET not in caplog.text
    assert all(SECRET not in repr(r) for r in local_hub.log)
    assert "org/zh2" not in local_hub.repo_ids()

    cli = Path(sys.executable).with_name("cultura")
    env = {**os.environ, "HF_TOKEN": SECRET, "HF_DEBUG": "1", "HF_ENDPOINT": local_hub.url}
    for args in (["publish", str(source), "--repo", "org/zh3"], ["pull", "hf:org/zh"],
                 ["search", "--culture", "zh"]):
        proc = subprocess.run([str(cli), *args], capture_output=True, text=True, env=env,
                              timeout=120)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert "rejected the token" in proc.stderr
        assert SECRET not in proc.stdout + proc.stderr, args
