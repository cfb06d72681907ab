"""One test per hook: each is called with the right arguments and its results are used."""

from __future__ import annotations

import cultura
from cultura.core.plugins import PluginManager
from cultura.core.types import (
    AdapterHeadSpec,
    BiasCheck,
    CultureInfo,
    KnowledgeEntry,
    KnowledgeSource,
    Normalizer,
    TokenizerTweaks,
)


class Recorder:
    CULTURA_API_VERSION = "1.0"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    @cultura.hookimpl
    def cultura_cultures(self):  # type: ignore[no-untyped-def]
        return [CultureInfo("sw"), CultureInfo("sw-KE", description="Kenya")]

    @cultura.hookimpl
    def cultura_tokenizer_tweaks(self, culture, requested):  # type: ignore[no-untyped-def]
        self.calls.append(("tweaks", culture.tag, requested.tag))
        return TokenizerTweaks(normalizers=[Normalizer("sw.lower", lambda t: [x.lower() for x in t])])

    @cultura.hookimpl
    def cultura_knowledge(self, culture):  # type: ignore[no-untyped-def]
        self.calls.append(("knowledge", culture.tag, ""))
        return [KnowledgeSource("sw.k", "CC0-1.0", entries=(KnowledgeEntry("a", "Eid"),))]

    @cultura.hookimpl
    def cultura_adapter_heads(self, culture):  # type: ignore[no-untyped-def]
        return [AdapterHeadSpec("hisia", "seq-cls", labels=("chanya", "hasi"))]

    @cultura.hookimpl
    def cultura_bias_checks(self, culture):  # type: ignore[no-untyped-def]
        return [BiasCheck("sw.gender", "gender", "ctf_gap", 0.1, license="CC0-1.0",
                          term_groups={"f": ("yeye (mwanamke)",), "m": ("yeye (mwanamume)",)},
                          templates=("{term} ni hodari.",))]


def _profile(tag: str) -> tuple[Recorder, cultura.CultureProfile]:
    recorder = Recorder()
    pm = PluginManager(entry_points=False)
    pm.register(recorder, name="sw", distribution="cultura-sw-test", version="1.0")
    return recorder, cultura.culture(tag, manager=pm)


def test_hook_cultures() -> None:
    pm = PluginManager(entry_points=False)
    pm.register(Recorder(), name="sw", version="1.0")
    served = pm.cultures()
    assert set(served) == {"sw", "sw-KE"}
    assert served["sw-KE"][0][0].parent == "sw"


def test_hook_tokenizer_tweaks() -> None:
    recorder, profile = _profile("sw-KE")
    assert ("tweaks", "sw", "sw-KE") in recorder.calls and ("tweaks", "sw-KE", "sw-KE") in recorder.calls
    assert profile.normalize("Habari  ZA Asubuhi") == "habari za asubuhi"


def test_hook_knowledge() -> None:
    _, profile = _profile("sw")
    assert [c.key for c in profile.knowledge] == ["sw.k"]
    assert profile.knowledge[0].value.resolve()[0].text == "Eid"


def test_hook_adapter_heads() -> None:
    _, profile = _profile("sw")
    assert profile.head("hisia").id2label == {0: "chanya", 1: "hasi"}


def test_hook_bias_checks() -> None:
    _, profile = _profile("sw")
    check = profile.bias_checks[0]
    assert check.key == "sw.gender" and check.provenance.distribution == "cultura-sw-test"
