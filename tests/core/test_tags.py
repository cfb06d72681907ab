"""Culture tags: canonical form, fallback chains, matching, errors, and property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cultura.core.errors import TagError, UnknownCultureError
from cultura.core.tags import Culture, canonical, fallback_chain, match

CHAINS = [
    ("zh-Hant-TW", ("zh-Hant-TW", "zh-Hant", "zh", "und")),
    ("zh-TW", ("zh-Hant-TW", "zh-Hant", "zh", "und")),  # the region implies Hant
    ("zh-HK", ("zh-Hant-HK", "zh-Hant", "zh", "und")),
    ("zh-Hant", ("zh-Hant", "zh", "und")),
    ("zh-Hans", ("zh", "und")),  # Hans is zh's default script
    ("zh-Hans-CN", ("zh-CN", "zh", "und")),
    ("zh-Hans-TW", ("zh-Hans-TW", "zh", "und")),  # Hans is not what TW implies: kept
    ("zh_hant_tw", ("zh-Hant-TW", "zh-Hant", "zh", "und")),
    ("sr-Latn", ("sr-Latn", "sr", "und")),
    ("sr-ME", ("sr-Latn-ME", "sr-Latn", "sr", "und")),
    ("sr-Cyrl-RS", ("sr-RS", "sr", "und")),
    ("en-Latn-US", ("en-US", "en", "und")),
    ("ar-EG", ("ar-EG", "ar", "und")),
    ("de-CH-1996", ("de-CH-1996", "de-CH", "de", "und")),
    ("iw", ("he", "und")),  # deprecated code replaced
    ("und", ("und",)),
]


@pytest.mark.parametrize(("tag", "chain"), CHAINS)
def test_fallback_chain_table(tag: str, chain: tuple[str, ...]) -> None:
    assert fallback_chain(tag) == chain
    assert Culture.parse(tag).tag == chain[0]


@pytest.mark.parametrize(
    "bad", ["", "   ", "zh_TW!!", "123", "x-private", "en-u-ca-gregory", "und-Latn", "a", "zh-x-foo"]
)
def test_malformed_tags_raise_clear_errors(bad: str) -> None:
    with pytest.raises(TagError) as info:
        Culture.parse(bad)
    message = str(info.value)
    assert "e.g." in message or "such as" in message  # says how to fix it
    if bad.strip():
        assert repr(bad) in message  # names the bad input


def test_non_string_tag() -> None:
    with pytest.raises(TagError, match="must be a string"):
        Culture.parse(42)  # type: ignore[arg-type]


def test_match_walks_the_chain() -> None:
    assert match("zh-TW", ["zh", "ar"]) == "zh"
    assert match("zh-TW", ["zh", "zh-Hant"]) == "zh-Hant"
    assert match("zh-Hant-TW", ["zh-TW"]) == "zh-Hant-TW"  # spellings compare canonically
    with pytest.raises(UnknownCultureError) as info:
        match("fr-CA", ["zh", "fr-BE"])
    assert "fr-CA" in str(info.value) and "fr-BE" in str(info.value)


def test_parent_and_str() -> None:
    culture = Culture.parse("zh-TW")
    assert culture.parent == "zh-Hant"
    assert str(culture) == "zh-Hant-TW"
    assert Culture.parse("und").parent is None


LANGS = ["zh", "ar", "hi", "ja", "sw", "sr", "en", "pt", "de", "yue", "fil"]
SCRIPTS = [None, "Hans", "Hant", "Latn", "Cyrl", "Arab", "Deva", "Jpan"]
REGIONS = [None, "TW", "HK", "CN", "EG", "IN", "JP", "KE", "RS", "ME", "BR", "419"]


@st.composite
def tags(draw: st.DrawFn) -> str:
    parts = [draw(st.sampled_from(LANGS)), draw(st.sampled_from(SCRIPTS)),
             draw(st.sampled_from(REGIONS))]
    text = "-".join(p for p in parts if p)
    case = draw(st.sampled_from([str.lower, str.upper, lambda s: s]))
    sep = draw(st.sampled_from(["-", "_"]))
    return case(text).replace("-", sep)


@settings(max_examples=200, deadline=None)
@given(tags())
def test_canonical_is_idempotent_and_chain_is_consistent(tag: str) -> None:
    culture = Culture.parse(tag)
    assert canonical(culture.tag) == culture.tag  # round trip
    chain = culture.chain()
    assert chain[0] == culture.tag and chain[-1] == "und"
    assert len(set(chain)) == len(chain)
    for level in chain:  # every level is itself canonical, with the same chain tail
        assert canonical(level) == level
        assert fallback_chain(level) == chain[chain.index(level):]
    assert chain[-2] == culture.language


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_arbitrary_text_never_crashes_with_anything_but_tagerror(text: str) -> None:
    try:
        culture = Culture.parse(text)
    except TagError:
        return
    assert canonical(culture.tag) == culture.tag
