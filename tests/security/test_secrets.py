"""Secrets never show: tokens of any length, ``hf_...`` shapes and credentials in
``HF_ENDPOINT``, in messages, ``--explain``, ``--json`` and installed entries."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cultura.registry.errors import HubError, ResolutionError
from cultura.registry.hub import pull
from cultura.registry.resolve import resolve
from cultura.registry.settings import redact
from cultura.testing.hub import LocalHub

from .conftest import assert_clean_failure, run_cli


@pytest.mark.parametrize("token", ["x9z", "ab", "hf_" + "A" * 34])
def test_a_token_is_redacted_whatever_its_length(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = f"the Hub refused {token} at https://u:{token}@hub.example/api"
    assert token not in redact(text, token)
    monkeypatch.setenv("HF_TOKEN", token)
    assert token not in redact(text)
    assert "https://***@hub.example/api" in redact(text)


def test_token_shapes_and_url_credentials_are_redacted() -> None:
    assert redact("leaked hf_abcdefghijklmnopqrstuvwxyz0123 here") == "leaked *** here"
    assert redact("see hf_hub_download and hf:org/repo@v1") == \
        "see hf_hub_download and hf:org/repo@v1"
    assert redact("https://user:p@ss@hub.example:8443/x") == "https://***@hub.example:8443/x"
    assert redact("http://127.0.0.1:8000/org/zh@v1") == "http://127.0.0.1:8000/org/zh@v1"


def test_endpoint_credentials_never_show(
    local_hub: LocalHub, artifact: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cultura.registry.hub import publish

    publish(artifact(), "org/zh")
    host = local_hub.url.split("://", 1)[1]
    secret_endpoint = f"http://someone:s3cr3t-pw@{host}"
    monkeypatch.setenv("HF_ENDPOINT", secret_endpoint)
    with pytest.raises(HubError) as info:  # basic auth replaces the token: 401
        pull("hf:org/zh")
    assert "s3cr3t" not in str(info.value) and f"***@{host}" in str(info.value)
    with pytest.raises(ResolutionError) as failed:
        resolve("zh/sentiment", offline=True, lock=False, install=False)
    assert "s3cr3t" not in str(failed.value) and f"http://***@{host}" in str(failed.value)
    for args in (["pull", "hf:org/zh"], ["pull", "hf:org/zh", "--json"]):
        proc = run_cli(*args, env={"HF_ENDPOINT": secret_endpoint})
        assert_clean_failure(proc, f"***@{host}")
        assert "s3cr3t" not in proc.stdout + proc.stderr
    for args in (["resolve", "zh/sentiment", "--offline", "--explain"],
                 ["resolve", "zh/sentiment", "--offline", "--json"]):
        proc = run_cli(*args, env={"HF_ENDPOINT": secret_endpoint})
        assert "s3cr3t" not in proc.stdout + proc.stderr, args
        assert f"***@{host}" in proc.stdout + proc.stderr, (args, proc.stdout, proc.stderr)


def test_installed_entries_keep_no_endpoint_credentials(
    local_hub: LocalHub, artifact: Callable[..., Path], registry_env: Path
) -> None:
    from cultura.registry.hub import publish, pull_repo
    from cultura.registry.store import LocalRegistry, Origin

    publish(artifact(), "org/zh")

    entry = LocalRegistry().install(artifact(), origin=Origin(
        "hub", repo_id="org/zh", commit="0" * 40, endpoint="https://me:pw123@hub.example"))
    assert entry.origin.endpoint == "https://***@hub.example"
    data = json.loads((entry.path / ".cultura-entry.json").read_text())
    assert "pw123" not in json.dumps(data) and "pw123" not in json.dumps(entry.as_dict())
    assert pull_repo("org/zh", progress=False).origin.endpoint == local_hub.url
