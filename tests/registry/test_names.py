"""The adapter-name grammar: examples, errors naming the faulty part, and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cultura.registry.names import (
    AdapterNameError,
    HubName,
    PathName,
    RegistryName,
    format_name,
    parse,
)


@pytest.mark.parametrize(
    ("text", "expected", "canonical"),
    [
        ("zh-Hant-TW/sentiment", RegistryName("zh-Hant-TW", "sentiment"), None),
        ("zh-TW/sentiment@v1.0", RegistryName("zh-Hant-TW", "sentiment", "v1.0"),
         "zh-Hant-TW/sentiment@v1.0"),
        ("ZH_hant_tw/ner", RegistryName("zh-Hant-TW", "ner"), "zh-Hant-TW/ner"),
        ("sw/topic-cls@refs/pr/1", RegistryName("sw", "topic-cls", "refs/pr/1"), None),
        ("hf:my-org/zh-sentiment", HubName("my-org/zh-sentiment"), None),
        ("hf:my-org/zh.sentiment_2@3f2a9c1", HubName("my-org/zh.sentiment_2", "3f2a9c1"), None),
        ("./adapters/zh", PathName("./adapters/zh"), None),
        ("/abs/path@x", PathName("/abs/path@x"), None),
        ("~/adapter", PathName("~/adapter"), None),
        ("file:zh/sentiment", PathName("zh/sentiment"), "file:zh/sentiment"),
    ],
)
def test_parse_examples(text: str, expected: object, canonical: str | None) -> None:
    name = parse(text)
    assert name == expected
    assert format_name(name) == (canonical or text)
    assert parse(format_name(name)) == name


@pytest.mark.parametrize(
    ("text", "part", "hint"),
    [
        ("zh/Sentiment", "task", "lowercase"),
        ("zh/", "task", "task name"),
        ("klingon!/sentiment", "culture", "BCP-47"),
        ("xx-yy-zz-qq/sentiment", "culture", "BCP-47"),
        ("zh/sentiment@", "revision", "empty"),
        ("zh/sentiment@a..b", "revision", "git revision"),
        ("zh/sentiment@bad rev", "revision", "characters"),
        ("hf:org/repo/extra", "repo", "<org>/<repo>"),
        ("hf:/repo", "org", "empty"),
        ("hf:org/re--po", "repo", "no '--'"),
        ("hf:org/repo@", "revision", "empty"),
        ("zh-sentiment", "name", "<culture>/<task>"),
        ("a/b/c", "name", "./"),
        ("https://huggingface.co/org/repo", "name", "unknown scheme"),
        (" zh/sentiment", "name", "whitespace"),
        ("", "name", "empty"),
    ],
)
def test_errors_name_the_part(text: str, part: str, hint: str) -> None:
    with pytest.raises(AdapterNameError) as info:
        parse(text)
    assert info.value.part == part
    assert hint in str(info.value)
    assert repr(text) in str(info.value)


def test_non_string_is_a_name_error() -> None:
    with pytest.raises(AdapterNameError, match="must be a string"):
        parse(42)  # type: ignore[arg-type]


_cultures = st.sampled_from(
    ["zh", "zh-TW", "zh-Hant", "zh-Hant-TW", "zh-HK", "ar-EG", "sw", "hi-IN", "ja", "en-US",
     "sr-Latn-RS", "pt-BR", "und"]
)
_tasks = st.from_regex(r"[a-z0-9][a-z0-9_.\-]{0,20}", fullmatch=True)
_repo_part = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_.]{0,10}[A-Za-z0-9_])?", fullmatch=True).filter(
    lambda s: ".." not in s
)
_revisions = st.one_of(
    st.none(),
    st.from_regex(r"[A-Za-z0-9_\-]{1,12}(/[A-Za-z0-9_\-]{1,8}){0,2}", fullmatch=True),
    st.from_regex(r"[0-9a-f]{40}", fullmatch=True),
)


@settings(max_examples=150, deadline=None)
@given(_cultures, _tasks, _revisions)
def test_registry_names_round_trip(culture: str, task: str, revision: str | None) -> None:
    text = f"{culture}/{task}" + (f"@{revision}" if revision else "")
    name = parse(text)
    assert isinstance(name, RegistryName)
    assert (name.task, name.revision) == (task, revision)
    assert parse(format_name(name)) == name
    assert format_name(parse(format_name(name))) == format_name(name)


@settings(max_examples=150, deadline=None)
@given(_repo_part, _repo_part, _revisions)
def test_hub_names_round_trip(org: str, repo: str, revision: str | None) -> None:
    name = HubName(f"{org}/{repo}", revision)
    assert parse(format_name(name)) == name


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=30).filter(
    lambda s: s == s.strip() and not any(ord(c) < 32 or ord(c) == 127 for c in s)
))
def test_paths_round_trip(path: str) -> None:
    name = PathName(path)
    assert parse(format_name(name)) == name


@settings(max_examples=600, deadline=None)
@given(st.one_of(
    st.text(max_size=40),
    st.text(alphabet="zhHantTW-_/@:.fhx0123 ~", max_size=30),
    st.builds(lambda a, b: f"{a}/{b}", st.text(max_size=12), st.text(max_size=12)),
    st.builds(lambda a, b: f"hf:{a}/{b}", st.text(max_size=12), st.text(max_size=12)),
))
def test_parse_never_crashes_with_anything_else(text: str) -> None:
    try:
        name = parse(text)
    except AdapterNameError as exc:
        assert exc.part in {"name", "culture", "task", "revision", "org", "repo", "path"}
        return
    assert parse(format_name(name)) == name
