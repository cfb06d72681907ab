"""The ``cultura_perturbations`` hook: called per fallback level, merged by specificity, stamped
with provenance, offered by declarative plugins, listed by ``cultura plugins``/``show``; a
plugin whose hook raises, hangs or returns the wrong type is named and skipped."""

from __future__ import annotations

import time
import warnings

import pytest

import cultura
from cultura.core.declarative import Plugin
from cultura.core.errors import PluginError, RegistrationError
from cultura.core.plugins import PluginManager, PluginWarning
from cultura.core.types import CultureInfo, Perturbation


def _lower(text: str) -> str:
    return text.lower()


def _drop_h(text: str) -> str:
    return text.replace("h", "")


class Levels:
    CULTURA_API_VERSION = "1.2"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @cultura.hookimpl
    def cultura_cultures(self):  # type: ignore[no-untyped-def]
        return [CultureInfo("sw"), CultureInfo("sw-KE")]

    @cultura.hookimpl
    def cultura_perturbations(self, culture, requested):  # type: ignore[no-untyped-def]
        self.calls.append((culture.tag, requested.tag))
        if culture.tag == "sw":
            return [Perturbation("sw.case", _lower, "lower case", kind="casing"),
                    Perturbation("sw.h", _drop_h, "h dropped", kind="typo")]
        return Perturbation("sw.case", str.upper, "upper case (Kenya)", kind="casing")


def test_hook_perturbations() -> None:
    plugin = Levels()
    pm = PluginManager(entry_points=False)
    pm.register(plugin, name="sw", distribution="cultura-sw-noise", version="2.0")
    assert "cultura_perturbations" in pm.record("sw").hooks
    profile = cultura.culture("sw-KE", manager=pm)
    assert plugin.calls == [("sw", "sw-KE"), ("sw-KE", "sw-KE")]
    by_key = {c.key: c for c in profile.perturbations}
    assert list(by_key) == ["sw.case", "sw.h"]
    case = by_key["sw.case"]  # the more specific level replaced it, keeping its place
    assert case.level == "sw-KE" and case.value.fn is str.upper
    assert [lvl for _, lvl in case.replaced] == ["sw"]
    assert case.value.provenance == case.provenance
    assert str(case.provenance) == "cultura-sw-noise 2.0"
    assert case.value.apply(["Habari"]) == ["HABARI"]
    shown = profile.as_dict()["perturbations"]
    assert [(p["key"], p["kind"], p["seeded"]) for p in shown] == [
        ("sw.case", "casing", False), ("sw.h", "typo", False)]
    assert cultura.culture("sw", manager=pm).perturbations[0].value.fn is _lower


def test_declarative_plugins_offer_their_perturbations() -> None:
    class Noisy(Plugin):
        CULTURA_API_VERSION = "1.2"
        package = "cultura"
        cultures = (CultureInfo("yo"), CultureInfo("yo-NG"))
        perturbations = {"yo": Perturbation("yo.case", _lower)}

    class Quiet(Plugin):
        CULTURA_API_VERSION = "1.2"
        package = "cultura"
        cultures = CultureInfo("yo")

    namespace: dict[str, object] = {"__name__": "cultura_yo"}
    Noisy().export(namespace)
    assert callable(namespace["cultura_perturbations"])
    pm = PluginManager(entry_points=False)
    pm.register(Noisy(), name="yo")
    (p,) = cultura.culture("yo-NG", manager=pm).perturbations
    assert p.key == "yo.case" and p.level == "yo"
    bare: dict[str, object] = {"__name__": "cultura_yo2"}
    Quiet().export(bare)
    assert "cultura_perturbations" not in bare


class Broken:
    CULTURA_API_VERSION = "1.2"

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour

    @cultura.hookimpl
    def cultura_cultures(self):  # type: ignore[no-untyped-def]
        return [CultureInfo("qaa")]

    @cultura.hookimpl
    def cultura_perturbations(self, culture):  # type: ignore[no-untyped-def]
        if self.behaviour == "raises":
            raise RuntimeError("perturbations unavailable")
        if self.behaviour == "hangs":
            time.sleep(3)
        if self.behaviour == "wrong type":
            return ["sw.case"]
        if self.behaviour == "not a list":
            return _lower
        return [Perturbation("qaa.case", _lower)]


@pytest.mark.parametrize(("behaviour", "status", "message"), [
    ("raises", "error", "cultura_perturbations() raised RuntimeError: perturbations unavailable"),
    ("hangs", "hung", "cultura_perturbations() did not return within 0.3 s"),
    ("wrong type", "error", "cultura_perturbations() returned a list holding str; expected a "
                            "list of Perturbation or None"),
    ("not a list", "error", "cultura_perturbations() returned function"),
])
def test_a_broken_perturbations_hook_is_named_and_skipped(
    behaviour: str, status: str, message: str
) -> None:
    pm = PluginManager(entry_points=False, timeout=0.3)
    pm.register(Broken(behaviour), name="broken", distribution="cultura-broken", version="1.0")
    pm.register(Levels(), name="sw", distribution="cultura-sw-noise", version="2.0")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        profile = cultura.culture("qaa", manager=pm)
    assert profile.perturbations == ()
    record = pm.record("broken")
    assert record.status == status and (record.error or "").startswith(message)
    assert "CULTURA_DISABLE_PLUGINS=cultura-broken" in (record.error or "")
    assert any("plugin 'broken' (cultura-broken 1.0)" in str(w.message) for w in caught)
    # the other plugin still gives its perturbations
    assert [c.key for c in cultura.culture("sw", manager=pm).perturbations] == ["sw.case", "sw.h"]


def test_perturbation_registrations_are_validated() -> None:
    with pytest.raises(RegistrationError, match="Perturbation.kind.*'slang' is not a perturbation"):
        Perturbation("xx.slang", _lower, kind="slang")
    with pytest.raises(RegistrationError, match="Perturbation.rate.*set seeded=True"):
        Perturbation("xx.r", _lower, rate=0.1)
    with pytest.raises(RegistrationError, match=r"Perturbation.rate.*share in \(0, 1\]"):
        Perturbation("xx.r", lambda t, rng: t, seeded=True, rate=1.5)
    with pytest.raises(RegistrationError, match="Perturbation.fn.*must be callable"):
        Perturbation("xx.f", "lower")  # type: ignore[arg-type]
    with pytest.raises(RegistrationError, match="Perturbation.id"):
        Perturbation("XX Bad", _lower)


def test_a_failing_perturbation_names_its_plugin() -> None:
    pm = PluginManager(entry_points=False)

    class Bad:
        CULTURA_API_VERSION = "1.2"

        @cultura.hookimpl
        def cultura_cultures(self):  # type: ignore[no-untyped-def]
            return [CultureInfo("qaa")]

        @cultura.hookimpl
        def cultura_perturbations(self):  # type: ignore[no-untyped-def]
            return [Perturbation("qaa.bytes", lambda text: text.encode()),
                    Perturbation("qaa.exit", lambda text: exit(4))]

    pm.register(Bad(), name="bad", distribution="cultura-bad", version="0.3")
    encode, leave = (c.value for c in cultura.culture("qaa", manager=pm).perturbations)
    with pytest.raises(PluginError, match=r"plugin 'bad' \(cultura-bad 0.3\).*perturbation "
                       r"'qaa.bytes' returned bytes b'hi' for 'hi'; it must return"):
        encode.apply(["hi"])
    with pytest.raises(PluginError, match=r"perturbation 'qaa.exit' raised SystemExit: 4"):
        leave.apply(["hi"])


def test_plugins_and_show_list_perturbations(run_cli) -> None:  # type: ignore[no-untyped-def]
    listed = run_cli("plugins", "--hook", "perturbations", env={"CULTURA_LOAD_PLUGINS": "zh"})
    assert listed.returncode == 0, listed.stderr
    assert "perturbations" in listed.stdout and "cultura-zh" in listed.stdout
    shown = run_cli("show", "zh-TW", "--json", env={"CULTURA_LOAD_PLUGINS": "zh"})
    import json

    keys = [p["key"] for p in json.loads(shown.stdout)["perturbations"]]
    assert keys[:2] == ["zh.variant.hans", "zh.variant.hk"] and "zh.homophone" in keys
