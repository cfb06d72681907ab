"""Registrations validate and normalize at construction, naming the class and field."""

from __future__ import annotations

import pytest

from cultura.core.errors import RegistrationError
from cultura.core.types import (
    AdapterHeadSpec,
    BiasCheck,
    CultureInfo,
    KnowledgeEntry,
    KnowledgeSource,
    MinimalPair,
    Normalizer,
    PeftSpec,
    PublishedAdapter,
    TokenizerTweaks,
    VocabularyExtension,
)


def test_culture_info_canonicalizes_and_fills_defaults() -> None:
    info = CultureInfo("zh-TW")
    assert info.tag == "zh-Hant-TW"
    assert info.parent == "zh-Hant"
    assert info.script == "Hant"
    assert info.english_name.startswith("Chinese")
    assert CultureInfo("ar", direction="rtl").direction == "rtl"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: CultureInfo("not a tag!"), "tag"),
        (lambda: CultureInfo("und"), "tag"),
        (lambda: CultureInfo("ar", direction="up"), "direction"),
        (lambda: CultureInfo("zh-TW", parent="ar"), "parent"),
        (lambda: Normalizer("Bad Id", lambda t: t), "id"),
        (lambda: Normalizer("xx.ok", "not callable"), "fn"),  # type: ignore[arg-type]
        (lambda: Normalizer("xx.ok", lambda t: t, variant="s2t.tw"), "variant"),
        (lambda: Normalizer("xx.ok", lambda t: t, variant="S2T"), "variant"),
        (lambda: VocabularyExtension("xx.v", ("a", "")), "tokens"),
        (lambda: VocabularyExtension("xx.v", ("a",), init="zeros"), "init"),  # type: ignore[arg-type]
        (lambda: TokenizerTweaks(normalizers=["x"]), "normalizers"),  # type: ignore[list-item]
        (lambda: TokenizerTweaks(split_patterns=["("]), "split_patterns"),
        (lambda: KnowledgeEntry("", "text"), "id"),
        (lambda: KnowledgeSource("xx.k", license=""), "license"),
        (lambda: KnowledgeSource("xx.k", "MIT", templates={"seq-cls": "no slot"}), "templates"),
        (lambda: KnowledgeSource("xx.k", "MIT", templates={"lm": "{knowledge}"}), "templates"),
        (lambda: PeftSpec(method="full"), "method"),  # type: ignore[arg-type]
        (lambda: PeftSpec(r=0), "r"),
        (lambda: PeftSpec(dropout=1.5), "dropout"),
        (lambda: PublishedAdapter("noslash", "main"), "repo_id"),
        (lambda: AdapterHeadSpec("t", "regression", labels=("a", "b")), "head_type"),  # type: ignore[arg-type]
        (lambda: AdapterHeadSpec("t", "seq-cls", labels=("a",)), "labels"),
        (lambda: AdapterHeadSpec("t", "seq-cls", labels=("a", "a")), "labels"),
        (lambda: MinimalPair("same", "same"), "less"),
        (lambda: BiasCheck("xx.b", "gender", "ctf_gap", 0.1, license="MIT"), "term_groups"),
        (lambda: BiasCheck("xx.b", "gender", "crows_pairs", 5, license="MIT"), "pairs"),
        (lambda: BiasCheck("xx.b", "g", "accuracy", 0.1, license="MIT"), "metric"),
        (
            lambda: BiasCheck("xx.b", "g", "ctf_gap", 0.1, license="MIT",
                              term_groups={"a": ("x", "y"), "b": ("z",)}, templates=("{term}",)),
            "term_groups",
        ),
        (
            lambda: BiasCheck("xx.b", "g", "ctf_gap", 0.1, license="MIT",
                              term_groups={"a": ("x",), "b": ("z",)}, templates=("no slot",)),
            "templates",
        ),
    ],
)
def test_bad_fields_name_class_and_field(build, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RegistrationError) as info:
        build()
    assert info.value.field == field
    assert f".{field}:" in str(info.value)


def test_registrations_are_frozen_and_normalized() -> None:
    tweaks = TokenizerTweaks(normalizers=[Normalizer("xx.n", lambda t: t)], split_patterns=["x+"])
    assert isinstance(tweaks.normalizers, tuple) and isinstance(tweaks.split_patterns, tuple)
    with pytest.raises(AttributeError):
        tweaks.normalizers = ()  # type: ignore[misc]
    head = AdapterHeadSpec("sentiment", "seq-cls", labels=["好", "坏"])
    assert head.labels == ("好", "坏") and head.label2id == {"好": 0, "坏": 1}


def test_vocabulary_factory_is_lazy_and_deduplicated() -> None:
    calls = []

    def factory() -> list[str]:
        calls.append(1)
        return ["甲", "乙", "甲"]

    vocab = VocabularyExtension("xx.v", factory)
    assert calls == []
    assert vocab.resolve() == ("甲", "乙")


def test_knowledge_resolve_rejects_duplicate_ids() -> None:
    entry = KnowledgeEntry("a", "text")
    source = KnowledgeSource("xx.k", "MIT", entries=lambda: [entry, entry])
    with pytest.raises(RegistrationError, match="duplicate entry id 'a'"):
        source.resolve()


def test_normalizer_full_id_names_the_variant() -> None:
    assert Normalizer("zh.script", lambda t: t, variant="s2twp").full_id == "zh.script.s2twp"
    assert Normalizer("zh.width", lambda t: t).full_id == "zh.width"


def test_normalizer_checks_its_output_length() -> None:
    normalizer = Normalizer("xx.drop", lambda texts: texts[:1])
    with pytest.raises(RegistrationError, match=r"normalizer 'xx.drop' returned a list of length 1; "
                       r"it must return a list holding one string per input \(2 here\)"):
        normalizer(["a", "b"])


def test_culture_names_are_computed_only_when_read() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom cultura import CultureInfo\n"
        "info = CultureInfo('zh-TW')\n"
        "print('name data loaded:', 'language_data.name_data' in sys.modules)\n"
        "print(info.english_name)\n"
        "print('name data loaded:', 'language_data.name_data' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "name data loaded: False", "Chinese (Traditional, Taiwan)", "name data loaded: True"
    ]
    given = CultureInfo("ar", english_name="Arabic (MSA)")
    assert given.english_name == "Arabic (MSA)" and given == CultureInfo("ar", english_name="Arabic (MSA)")
    with pytest.raises(RegistrationError, match="english_name: must be a string"):
        CultureInfo("ar", english_name=3)  # type: ignore[arg-type]
