"""Plugin discovery through the entry points of really installed distributions."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import cultura
from cultura.core.errors import PluginError
from cultura.core.plugins import PluginManager, PluginWarning


def _quiet_manager(**kwargs: object) -> PluginManager:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        return PluginManager(**kwargs)  # type: ignore[arg-type]


def test_discovers_installed_plugins_with_versions(with_test_plugins: Path) -> None:
    pm = _quiet_manager()
    records = {r.name: r for r in pm.records()}
    assert records["und"].builtin and records["und"].status == "active"
    assert list(records)[0] == "und"  # built-in first, then by name
    eo = records["eo"]
    assert (eo.distribution, eo.version, eo.status) == ("cultura-testeo", "1.2.3", "active")
    assert eo.hooks == ("cultura_cultures", "cultura_tokenizer_tweaks", "cultura_adapter_heads")
    assert eo.cultures == ("eo",)
    zh = records["zh"]
    assert zh.distribution == "cultura-zh" and zh.status == "active"
    assert {"zh", "zh-Hant", "zh-Hant-TW", "zh-Hant-HK"} <= set(zh.cultures)


def test_order_is_deterministic(with_test_plugins: Path) -> None:
    names = [r.name for r in _quiet_manager().records()]
    assert names[0] == "und" and names[1:] == sorted(names[1:])


def test_broken_plugin_is_reported_and_others_work(with_test_plugins: Path) -> None:
    with pytest.warns(PluginWarning, match=r"plugin 'broken' \(cultura-testbroken 0.0.1\): failed to import"):
        pm = PluginManager(disabled={"conflict"})
    broken = pm.record("broken")
    assert broken.status == "error"
    assert "RuntimeError: boom at import (at " in (broken.error or "")
    assert "CULTURA_DISABLE_PLUGINS=cultura-testbroken" in (broken.error or "")
    assert cultura.culture("eo", manager=pm).normalize("cxu") == "ĉu"


def test_incompatible_api_and_misspelled_hooks_are_skipped(with_test_plugins: Path) -> None:
    pm = _quiet_manager()
    old = pm.record("oldapi")
    assert old.status == "incompatible" and "targets cultura plugin API 2.0" in (old.error or "")
    typo = pm.record("typo")
    assert typo.status == "error" and "cultura_cultres" in (typo.error or "")


def test_disable_by_env_and_by_api(with_test_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CULTURA_DISABLE_PLUGINS", "zh, cultura-testeo")
    pm = _quiet_manager()
    assert pm.record("zh").status == "disabled"
    assert pm.record("eo").status == "disabled"  # by distribution name
    assert "zh-Hant" not in pm.served_tags()
    monkeypatch.delenv("CULTURA_DISABLE_PLUGINS")
    pm = _quiet_manager(allowed={"eo"})
    assert "eo" in pm.served_tags()
    pm.disable("eo")
    assert pm.record("eo").status == "disabled" and "eo" not in pm.served_tags()
    with pytest.raises(PluginError, match="built-in"):
        pm.disable("und")
    with pytest.raises(PluginError, match="no such plugin"):
        pm.disable("nope")


def test_allow_list_and_no_plugins(with_test_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CULTURA_LOAD_PLUGINS", "eo")
    pm = _quiet_manager()
    active = {r.name for r in pm.records() if r.status == "active"}
    assert active == {"und", "eo"}
    monkeypatch.setenv("CULTURA_NO_PLUGINS", "1")
    pm = _quiet_manager()
    assert [r.name for r in pm.records()] == ["und"]


def test_strict_mode_raises(with_test_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CULTURA_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="broken"):
        PluginManager()


def test_hook_that_raises_is_named_and_others_still_contribute(with_test_plugins: Path) -> None:
    pm = _quiet_manager(disabled={"conflict"})
    with pytest.warns(PluginWarning) as caught:
        profile = cultura.culture("eo", manager=pm)
    [message] = [str(w.message) for w in caught]
    assert message.startswith(
        "plugin 'raises' (cultura-testraises 0.2.0) in hook cultura_knowledge(): raised "
        "ValueError: knowledge base unavailable (at "
    )
    assert "skipped from now on" in message
    assert "CULTURA_DISABLE_PLUGINS=cultura-testraises" in message
    assert profile.normalize("sxi") == "ŝi"  # eo's normalizer still applies
    assert {f.plugin for f in profile.failures} == {"raises"}
    raises = pm.record("raises")  # taken out: its bias hook is no longer called
    assert raises.status == "error"
    assert (raises.error or "").startswith("cultura_knowledge() raised ValueError")
    assert "eo" in pm.served_tags() and cultura.culture("eo", manager=pm).failures == ()


def test_wrong_return_type_marks_the_plugin_error(with_test_plugins: Path) -> None:
    pm = _quiet_manager(allowed={"raises"})
    with pytest.warns(PluginWarning, match=r"cultura_bias_checks\(\): returned str; expected a "
                      "list of BiasCheck"):
        results, failures = pm.call("cultura_bias_checks", "eo")
    assert results == [] and [f.hook for f in failures] == ["cultura_bias_checks"]
    assert pm.record("raises").status == "error"


def test_trace_prints_hook_calls(with_test_plugins: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CULTURA_TRACE_PLUGINS", "1")
    pm = _quiet_manager(allowed={"eo"})
    cultura.culture("eo", manager=pm)
    err = capsys.readouterr().err
    assert "cultura: eo.cultura_tokenizer_tweaks(culture=eo) -> 1 registration(s)" in err


def test_register_in_code_requires_api_version() -> None:
    class NoVersion:
        @cultura.hookimpl
        def cultura_cultures(self):  # type: ignore[no-untyped-def]
            return [cultura.CultureInfo("eo")]

    pm = PluginManager(entry_points=False)
    with pytest.warns(PluginWarning, match=f'add CULTURA_API_VERSION = "{cultura.API_VERSION}"'):
        record = pm.register(NoVersion(), name="nover")
    assert record.status == "incompatible"
