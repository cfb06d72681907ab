"""publish runs the culture's bias checks as a gate."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from cultura.adapt.artifact import read_manifest
from cultura.bias.gate import BiasGateError
from cultura.core.plugins import reset_plugin_manager
from cultura.registry.hub import publish, search
from cultura.testing.hub import LocalHub

from .conftest import make_manager


def _meta(card: bytes) -> dict:
    return yaml.safe_load(card.decode().split("---\n")[1])


def test_a_failing_check_refuses_the_publish(
    local_hub: LocalHub, artifact: Callable[..., Path]
) -> None:
    reset_plugin_manager(make_manager(bias_threshold=0.0))  # any gap fails
    source = artifact("zh")
    with pytest.raises(BiasGateError, match=r"(?s)refusing to publish.*regtest.gender.*"
                       r"--allow-bias-failures"):
        publish(source, "org/zh")
    assert not [r for r in local_hub.log if "/commit/" in r.path or "/repos/create" in r.path]
    assert read_manifest(source).bias is None


def test_allowed_failures_go_into_the_manifest_and_card(
    local_hub: LocalHub, artifact: Callable[..., Path]
) -> None:
    reset_plugin_manager(make_manager(bias_threshold=0.0))
    source = artifact("zh")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = publish(source, "org/zh", allow_bias_failures=True)
    assert result.bias is not None and result.bias["passed"] is False
    assert [c["id"] for c in result.bias["checks"]] == ["regtest.gender"]
    remote = local_hub.files("org/zh")
    assert read_manifest(source).bias == result.bias  # cultura.json carries the summary
    meta = _meta(remote["README.md"])
    assert meta["cultura_bias"]["passed"] is False and "bias-failing" in meta["tags"]
    assert "regtest.gender" in remote["README.md"].decode()  # the report table is in the card
    [found] = search(culture="zh")
    assert found.bias is not None and found.bias_summary().startswith("FAILED")


def test_passing_checks_are_recorded(local_hub: LocalHub, artifact: Callable[..., Path]) -> None:
    reset_plugin_manager(make_manager(bias_threshold=1e6))
    result = publish(artifact("zh"), "org/zh")
    assert result.bias is not None and result.bias["passed"] is True
    meta = _meta(local_hub.files("org/zh")["README.md"])
    assert meta["cultura_bias"]["passed"] is True and "bias-checked" in meta["tags"]
    assert search(culture="zh")[0].bias_summary().startswith("passed")
