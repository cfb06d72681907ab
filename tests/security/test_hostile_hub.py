"""A hostile Hub: every answer is data from a stranger.

Each case serves a malicious repo on a :class:`~cultura.testing.hub.LocalHub` and checks that
the pull fails with one clear :class:`~cultura.core.errors.CulturaError`, installs nothing,
leaves no staging directory and changes no file outside the registry root (the sandbox holds
the registry, a sibling ``outside`` folder and the Hugging Face cache).
"""

from __future__ import annotations

import _thread
import json
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cultura.core.errors import CulturaError
from cultura.registry.errors import HubError, IntegrityError, PullTimeoutError
from cultura.registry.hub import fetch_manifest, pull, pull_repo
from cultura.registry.interop import safetensors_shapes
from cultura.testing.hub import LocalHub

from .conftest import Sandbox, requested

WEIGHTS = "adapter_model.safetensors"


def _refused(sandbox: Sandbox, call: Callable[[], Any], error: type[BaseException],
             match: str | None) -> BaseException:
    before = sandbox.snapshot()
    with pytest.raises(error, match=match) as info:
        call()
    assert "\n" not in str(info.value)
    sandbox.assert_untouched(before)
    return info.value


# ---------------------------------------------------------------- path-bearing fields
@pytest.mark.parametrize("task", [
    "../../../outside/pwned", "sentiment/../../../../outside/pwned", "/ABSOLUTE", "a/b", "",
])
def test_a_task_that_is_a_path_is_refused(
    sandbox: Sandbox, hostile: Callable[..., str], task: str
) -> None:
    if task == "/ABSOLUTE":
        task = str(sandbox.outside / "abs")

    def edit(manifest: dict[str, Any]) -> None:
        manifest["task"] = task

    repo = hostile("evil/task", edit)
    error = _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError, "task")
    assert "evil/task" in str(error) and "refused" in str(error)


@pytest.mark.parametrize("culture", ["../../../outside", "/tmp", "zh/../../x", "x" * 300])
def test_a_culture_that_is_not_a_tag_is_refused(
    sandbox: Sandbox, hostile: Callable[..., str], culture: str
) -> None:
    repo = hostile("evil/culture", lambda m: m.update(culture=culture))
    error = _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError, "culture")
    assert "hf:evil/culture@" in str(error)


@pytest.mark.parametrize("name", [
    "../../outside/pwned.json", "/abs/pwned.json", "sub/../../pwned.json", "a\\..\\b.json",
    ".cache/huggingface/x.json",
])
def test_a_listed_file_name_that_escapes_is_refused_before_any_download(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub, name: str
) -> None:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["files"][name] = "0" * 64

    repo = hostile("evil/files", edit)
    _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError, "refus")
    assert requested(local_hub, WEIGHTS) == []  # refused before the weights were fetched


@pytest.mark.parametrize("sha", [
    "../../..", "zzzz", "A" * 40, "0" * 39, "0" * 40 + "/../x", "",
])
def test_a_commit_id_that_is_not_40_hex_digits_is_refused(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub, sha: str
) -> None:
    repo = hostile("evil/sha")
    local_hub.override_sha(repo, sha)
    error = _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError,
                     "not 40 lowercase hex digits")
    assert "hf:evil/sha" in str(error)
    assert not [r for r in local_hub.log if "/resolve/" in r.path]  # nothing downloaded
    with pytest.raises(IntegrityError, match="commit id"):
        fetch_manifest(repo)


# ------------------------------------------------------------------- code and pickles
def test_auto_map_in_a_listed_tokenizer_config_is_refused(
    sandbox: Sandbox, hostile: Callable[..., str], artifact_store: Callable[..., Path]
) -> None:
    config = json.loads((artifact_store() / "tokenizer_config.json").read_text()) \
        if (artifact_store() / "tokenizer_config.json").exists() else {}
    config["auto_map"] = {"AutoTokenizer": ["evil.EvilTokenizer", None]}
    repo = hostile("evil/automap", files={"tokenizer_config.json": json.dumps(config).encode()})
    _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError, "auto_map")


@pytest.mark.parametrize("name", ["evil.py", "sub/evil.py", "run.sh", "weights.npz"])
def test_code_listed_and_hashed_is_never_downloaded(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub, name: str
) -> None:
    repo = hostile("evil/code", files={name: b"import os; os.system('echo pwned')\n"})
    _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError, "refuse")
    assert requested(local_hub, name.rsplit(".", 1)[1]) == []


@pytest.mark.parametrize("name", ["adapter_model.bin", "extra.pt", "state.pkl"])
def test_pickles_listed_and_hashed_are_never_downloaded(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub, name: str
) -> None:
    repo = hostile("evil/pickle", files={name: b"\x80\x04\x95pickle"})
    _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError, "may hold a pickle.*refused")
    assert requested(local_hub, name) == []


# ---------------------------------------------------------------- lying safetensors
def _lying_header(kind: str) -> bytes:
    if kind == "length":
        return struct.pack("<Q", 10**9) + b"{}"
    if kind == "offsets":
        header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16_000]}})
        return struct.pack("<Q", len(header)) + header.encode() + b"\0" * 16
    if kind == "span":
        header = json.dumps({"w": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 16]}})
        return struct.pack("<Q", len(header)) + header.encode() + b"\0" * 16
    return struct.pack("<Q", 5) + b"[1,2]"


@pytest.mark.parametrize("kind", ["length", "offsets", "span", "not-an-object"])
def test_a_lying_safetensors_header_is_refused_cleanly(
    sandbox: Sandbox, hostile: Callable[..., str], tmp_path: Path, kind: str
) -> None:
    data = _lying_header(kind)
    repo = hostile("evil/header", files={WEIGHTS: data})
    _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError, "not a valid safetensors")
    loose = tmp_path / "loose.safetensors"
    loose.write_bytes(data)
    with pytest.raises(IntegrityError, match="not a valid safetensors file"):
        safetensors_shapes(loose)


# ------------------------------------------------------------------------- sizes
def test_an_oversized_declared_file_is_refused_before_download(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub
) -> None:
    repo = hostile("evil/huge")
    local_hub.declare_size(repo, WEIGHTS, 9 << 30)
    _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError,
             f"{WEIGHTS} is declared as {9 << 30} bytes, over the limit.*CULTURA_MAX_FILE_BYTES")
    assert requested(local_hub, WEIGHTS) == []


def test_size_limits_follow_the_environment(
    sandbox: Sandbox, hostile: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = hostile("evil/sizes")
    monkeypatch.setenv("CULTURA_MAX_TEXT_BYTES", "100")
    _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError,
             "cultura.json is declared as .* over the limit of 100 .*CULTURA_MAX_TEXT_BYTES")
    monkeypatch.delenv("CULTURA_MAX_TEXT_BYTES")
    monkeypatch.setenv("CULTURA_MAX_PULL_BYTES", "5000")
    _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError, "CULTURA_MAX_PULL_BYTES")
    monkeypatch.setenv("CULTURA_MAX_PULL_BYTES", "lots")
    with pytest.raises(CulturaError, match="CULTURA_MAX_PULL_BYTES='lots' is not a positive"):
        pull(f"hf:{repo}")


def test_a_file_larger_than_declared_is_refused(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub
) -> None:
    repo = hostile("evil/liar")
    local_hub.declare_size(repo, WEIGHTS, 10)
    _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError,
             f"{WEIGHTS} arrived with \\d+ bytes but the server declared 10")


def test_a_stream_past_its_declared_size_is_stopped_while_it_downloads(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub
) -> None:
    # huggingface_hub hands a download on in 10 MB chunks: a 20 MB body is cut after the first
    repo = hostile("evil/stream", files={WEIGHTS: bytes(20_000_000)})
    local_hub.declare_size(repo, WEIGHTS, 10)
    local_hub.trickle("GET", f"/resolve/.*/{WEIGHTS}$", chunk=500_000, delay=0.05, times=None)
    _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError,
             "sent more bytes than it declared")
    # given up while the server was still sending: its GET is not complete (not logged) yet
    assert not [r for r in local_hub.log if r.method == "GET" and r.path.endswith(WEIGHTS)]


# ------------------------------------------------------------- deadline, drops, Ctrl-C
def test_a_trickling_download_hits_the_overall_deadline(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub
) -> None:
    repo = hostile("evil/slow")
    local_hub.trickle("GET", f"/resolve/.*/{WEIGHTS}$", chunk=1, delay=0.05, times=None)
    started = time.monotonic()
    error = _refused(sandbox, lambda: pull(f"hf:{repo}", timeout=1.0), PullTimeoutError,
                     "gave up after .*CULTURA_PULL_TIMEOUT")
    assert time.monotonic() - started < 8
    assert "hf:evil/slow" in str(error) and "nothing was installed" in str(error)


def test_a_trickling_api_answer_hits_the_deadline_too(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = hostile("evil/slowapi")
    local_hub.trickle("GET", f"^/api/models/{repo}", chunk=1, delay=0.05, times=None)
    monkeypatch.setenv("CULTURA_PULL_TIMEOUT", "0.5")
    started = time.monotonic()
    _refused(sandbox, lambda: pull_repo(repo), PullTimeoutError, "gave up after")
    assert time.monotonic() - started < 5
    local_hub.clear_faults()


def test_a_connection_that_keeps_dropping_installs_nothing(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub
) -> None:
    repo = hostile("evil/drops")
    local_hub.drop("GET", f"/resolve/.*/{WEIGHTS}$", fraction=0.3, times=None)
    _refused(sandbox, lambda: pull(f"hf:{repo}"), HubError, "cannot complete the transfer")


def test_ctrl_c_during_a_download_leaves_no_staging(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub
) -> None:
    repo = hostile("evil/interrupted")
    local_hub.trickle("GET", f"/resolve/.*/{WEIGHTS}$", chunk=1, delay=0.05, times=None)
    timer = threading.Timer(0.8, _thread.interrupt_main)
    timer.start()
    try:
        _refused(sandbox, lambda: pull(f"hf:{repo}"), KeyboardInterrupt, None)
    finally:
        timer.cancel()


# ------------------------------------------------------------ malformed manifests
@pytest.mark.parametrize(("edit", "match"), [
    ({"task": 5}, "cultura.json: field 'task' must be"),
    ({"files": []}, "cultura.json: field 'files' must be"),
    ({"labels": 5}, "cultura.json: field 'labels'"),
    ({"format_version": "1"}, "cultura.json: field 'format_version'"),
    ({"base_model": {"id": "x", "vocab_size": "many"}}, "cultura.json: field 'base_model"),
])
def test_a_malformed_manifest_is_an_integrity_error_not_a_network_fault(
    sandbox: Sandbox, hostile: Callable[..., str], edit: dict[str, Any], match: str
) -> None:
    repo = hostile("evil/types", lambda m: m.update(edit))
    error = _refused(sandbox, lambda: pull(f"hf:{repo}"), IntegrityError, match)
    assert not isinstance(error, HubError) and "network" not in str(error)
    assert str(error).startswith("hf:evil/types@")


# ------------------------------------------------------------------ plain PEFT repos
@pytest.mark.parametrize("base", ["OUTSIDE", "./outside", "~/outside", "../outside", "outside"])
def test_a_plain_peft_repo_naming_a_local_base_copies_nothing(
    sandbox: Sandbox, hf_api: Any, artifact_store: Callable[..., Path], base: str
) -> None:
    secret = sandbox.outside / "tokenizer.json"
    secret.write_text('{"secret": "local file"}')
    (sandbox.outside / "config.json").write_text('{"model_type": "bert"}')
    if base == "OUTSIDE":
        base = str(sandbox.outside)
    source = artifact_store()
    config = json.loads((source / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = base
    hf_api.create_repo("evil/plain")
    hf_api.upload_file(path_or_fileobj=json.dumps(config).encode(),
                       path_in_repo="adapter_config.json", repo_id="evil/plain")
    hf_api.upload_file(path_or_fileobj=str(source / WEIGHTS), path_in_repo=WEIGHTS,
                       repo_id="evil/plain")
    _refused(sandbox, lambda: pull("hf:evil/plain", culture="zh", task="sentiment"),
             IntegrityError, "base_model_name_or_path.*--base")


def test_a_plain_peft_task_that_is_a_path_is_refused(
    sandbox: Sandbox, hf_api: Any, artifact_store: Callable[..., Path], tiny_base: Path
) -> None:
    source = artifact_store()
    hf_api.create_repo("evil/plain-task")
    for rel in ("adapter_config.json", WEIGHTS):
        hf_api.upload_file(path_or_fileobj=str(source / rel), path_in_repo=rel,
                           repo_id="evil/plain-task")
    _refused(sandbox, lambda: pull("hf:evil/plain-task", culture="zh",
                                   task="../../../outside/x", base=str(tiny_base)),
             CulturaError, "task")


# ----------------------------------------------------------------- control: honest repos
def test_an_honest_repo_still_pulls_and_nothing_leaks(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub
) -> None:
    repo = hostile("honest/zh")
    before = sandbox.snapshot()
    entry = pull(f"hf:{repo}", timeout=120)
    assert entry.origin.commit == local_hub.commits(repo)[0]
    assert not [p for p in entry.path.rglob("*") if p.name.startswith(".")
                and p.name != ".cultura-entry.json"]  # no huggingface_hub metadata
    after = sandbox.snapshot()
    home = sandbox.home.relative_to(sandbox.root).as_posix() + "/"
    assert [p for p in set(after) ^ set(before) if not p.startswith(home)] == []
    assert list((sandbox.home / "tmp").iterdir()) == []
    manifest, commit = fetch_manifest(repo)
    assert manifest is not None and commit == entry.origin.commit


def test_a_bad_commit_id_answered_to_a_publish_is_refused(
    local_hub: LocalHub, artifact: Callable[..., Path], hf_api: Any
) -> None:
    from cultura.registry.hub import publish

    source = artifact()
    card = (source / "README.md").read_bytes()
    hf_api.create_repo("evil/publish")
    local_hub.override_sha("evil/publish", "../../../outside")
    with pytest.raises(IntegrityError, match="hf:evil/publish: the Hub answered the commit id "
                       "'../../../outside'"):
        publish(source, "evil/publish")
    assert (source / "README.md").read_bytes() == card  # nothing written back
