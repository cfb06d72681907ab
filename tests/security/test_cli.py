"""The hostile cases through the command line: exit code 1, one ``error:`` line, no
traceback, nothing written outside the registry root."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from cultura.testing.hub import LocalHub

from .conftest import Sandbox, assert_clean_failure, requested, run_cli

WEIGHTS = "adapter_model.safetensors"


def _task(manifest: dict[str, Any]) -> None:
    manifest["task"] = "../../../outside/pwned"


@pytest.mark.parametrize(("case", "needle"), [
    ("task", "field 'task'"),
    ("sha", "not 40 lowercase hex digits"),
    ("code", "evil.py"),
    ("huge", "CULTURA_MAX_FILE_BYTES"),
])
def test_cultura_pull_refuses_hostile_repos_cleanly(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub, case: str, needle: str
) -> None:
    if case == "task":
        repo = hostile("evil/cli", _task)
    elif case == "code":
        repo = hostile("evil/cli", files={"evil.py": b"import os\n"})
    else:
        repo = hostile("evil/cli")
    if case == "sha":
        local_hub.override_sha(repo, "../../..")
    if case == "huge":
        local_hub.declare_size(repo, WEIGHTS, 9 << 30)
    before = sandbox.snapshot()
    proc = run_cli("pull", f"hf:{repo}")
    assert_clean_failure(proc, needle)
    assert f"hf:{repo}" in proc.stderr
    sandbox.assert_untouched(before)
    assert requested(local_hub, ".py") == []


def test_cultura_pull_gives_up_at_the_deadline(
    sandbox: Sandbox, hostile: Callable[..., str], local_hub: LocalHub
) -> None:
    repo = hostile("evil/slow-cli")
    local_hub.trickle("GET", f"/resolve/.*/{WEIGHTS}$", chunk=1, delay=0.05, times=None)
    before = sandbox.snapshot()
    started = time.monotonic()
    proc = run_cli("pull", f"hf:{repo}", env={"CULTURA_PULL_TIMEOUT": "1"})
    assert time.monotonic() - started < 30
    assert_clean_failure(proc, "CULTURA_PULL_TIMEOUT")
    sandbox.assert_untouched(before)
    proc = run_cli("pull", f"hf:{repo}", "--timeout", "0.5")
    assert_clean_failure(proc, "gave up after")


def test_a_bad_limit_in_the_environment_is_a_clean_error(
    sandbox: Sandbox, hostile: Callable[..., str]
) -> None:
    repo = hostile("evil/env")
    proc = run_cli("pull", f"hf:{repo}", env={"CULTURA_PULL_TIMEOUT": "soon"})
    assert_clean_failure(proc, "CULTURA_PULL_TIMEOUT='soon' is not a positive number")
