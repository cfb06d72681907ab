"""The conformance suite itself: it passes good plugins and catches each kind of mistake."""

from __future__ import annotations

import json
import sys
import textwrap
import types
from pathlib import Path

import pytest

from cultura import hookimpl
from cultura.core.types import (
    AdapterHeadSpec,
    BiasCheck,
    CultureInfo,
    KnowledgeEntry,
    KnowledgeSource,
    MinimalPair,
    Normalizer,
    TokenizerTweaks,
    VocabularyExtension,
)
from cultura.testing import CHECKS, ConformanceError, check_plugin, load_plugin
from cultura.testing.conformance import CheckSkipped, PluginUnderTest

pytestmark = pytest.mark.filterwarnings("ignore::cultura.testing.conformance.ConformanceSkipWarning")


def make_plugin(
    tmp_path: Path,
    *,
    normalizer=None,  # type: ignore[no-untyped-def]
    tokens: tuple[str, ...] | None = None,
    entries: tuple[KnowledgeEntry, ...] | None = None,
    rows: list[dict] | None = None,  # type: ignore[type-arg]
    term_groups: dict[str, tuple[str, ...]] | None = None,
    pairs: tuple[MinimalPair, ...] | None = None,
    api: str | None = "1.0",
) -> PluginUnderTest:
    """A plugin module built in code, good by default; each argument swaps one part for a bad one."""
    module = types.ModuleType("cultura_xx_test")
    if api is not None:
        module.CULTURA_API_VERSION = api
    data = tmp_path / "sentiment.jsonl"
    good_rows = [{"text": f"text {i} {label}", "label": label} for i in range(6) for label in ("good", "bad")]
    data.write_text("".join(json.dumps(r) + "\n" for r in (rows or good_rows)), encoding="utf-8")

    def upper(texts: list[str]) -> list[str]:
        return [t.upper() for t in texts]

    @hookimpl
    def cultura_cultures():  # type: ignore[no-untyped-def]
        return [CultureInfo("xx-Latn", english_name="Test", native_name="Test")]

    @hookimpl
    def cultura_tokenizer_tweaks(culture):  # type: ignore[no-untyped-def]
        return TokenizerTweaks(
            normalizers=(Normalizer("xx.norm", normalizer or upper),),
            vocabulary=(VocabularyExtension("xx.vocab", tokens or ("ɓɗƙ", "ŋŋwa")),),
        )

    @hookimpl
    def cultura_knowledge(culture):  # type: ignore[no-untyped-def]
        default = (KnowledgeEntry("a", "first fact", source="us"), KnowledgeEntry("b", "second", source="us"))
        return [KnowledgeSource("xx.kb", license="CC0-1.0", entries=lambda: entries or default)]

    @hookimpl
    def cultura_adapter_heads(culture):  # type: ignore[no-untyped-def]
        return [AdapterHeadSpec("sentiment", "seq-cls", labels=("good", "bad"), sample_data=lambda: data)]

    @hookimpl
    def cultura_bias_checks(culture):  # type: ignore[no-untyped-def]
        return [
            BiasCheck(
                "xx.gender", "gender", "ctf_gap", 0.1,
                term_groups=term_groups or {"f": ("she", "her", "mum"), "m": ("he", "him", "dad")},
                templates=("{term} works.", "{term} cooks.", "{term} leads."),
                license="CC0-1.0",
            ),
            BiasCheck(
                "xx.pairs", "gender", "crows_pairs", 10.0,
                pairs=pairs or (MinimalPair("Women can't drive.", "Men can't drive."),),
                license="CC0-1.0",
            ),
        ]

    for func in (cultura_cultures, cultura_tokenizer_tweaks, cultura_knowledge, cultura_adapter_heads, cultura_bias_checks):
        setattr(module, func.__name__, func)
    sys.modules[module.__name__] = module  # the import check re-imports it by name
    return PluginUnderTest(module, "xx", "cultura-xx", "0.1")


def failed(report) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {o.check: o.message for o in report.outcomes if o.status == "failed"}


@pytest.fixture(autouse=True)
def importable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """check_import_is_light imports the plugin by name in a fresh interpreter: give it a
    light module of that name."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "cultura_xx_test.py").write_text("CULTURA_API_VERSION = '1.0'\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(pkg))


@pytest.fixture
def good(tmp_path: Path) -> PluginUnderTest:
    return make_plugin(tmp_path)


def test_a_good_plugin_passes_every_check(good: PluginUnderTest) -> None:
    report = check_plugin(good, raise_on_failure=False)
    assert failed(report) == {}
    assert {o.check for o in report.outcomes} == set(CHECKS)
    # only the distribution check is skipped: this plugin is not installed
    assert [o.check for o in report.skipped] == ["check_distribution_metadata"]


def test_non_idempotent_normalizer_is_caught(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, normalizer=lambda texts: [t + "!" for t in texts])
    messages = failed(check_plugin(plugin, raise_on_failure=False))
    assert "check_normalizer_idempotent" in messages
    assert "xx.norm" in messages["check_normalizer_idempotent"]


def test_batch_dependent_normalizer_is_caught(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, normalizer=lambda texts: [t if len(texts) == 1 else t.strip() for t in texts])
    assert "check_normalizer_batched_equals_single" in failed(check_plugin(plugin, raise_on_failure=False))


def test_normalizer_that_empties_text_is_caught(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, normalizer=lambda texts: ["" for _ in texts])
    assert "check_normalizer_keeps_text" in failed(check_plugin(plugin, raise_on_failure=False))


def test_normalizer_that_mutates_its_input_is_caught(tmp_path: Path) -> None:
    def mutating(texts: list[str]) -> list[str]:
        texts[:] = [t.lower() for t in texts]
        return list(texts)

    plugin = make_plugin(tmp_path, normalizer=mutating)
    assert "check_normalizer_pure" in failed(check_plugin(plugin, raise_on_failure=False))


def test_tokens_already_in_the_base_vocabulary_are_caught(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, tokens=("the", "ŋŋwa"))
    messages = failed(check_plugin(plugin, raise_on_failure=False))
    assert "'the'" in messages["check_vocabulary_not_in_base"]


def test_tokens_colliding_after_base_normalization_are_caught(tmp_path: Path) -> None:
    # BERT uncased lowercases and strips accents: both become "ŋŋwa"-like duplicates
    plugin = make_plugin(tmp_path, tokens=("Ŋŋwa", "ŋŋwa"))
    messages = failed(check_plugin(plugin, raise_on_failure=False))
    assert "check_vocabulary_initializes" in messages


def test_knowledge_without_source_is_a_quality_failure(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, entries=(KnowledgeEntry("a", "fact"),))
    report = check_plugin(plugin, raise_on_failure=False)
    assert set(failed(report)) == {"check_knowledge_provenance"}
    assert check_plugin(plugin, kinds=("api",)).ok  # api checks alone pass


def test_duplicate_knowledge_ids_are_caught(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, entries=(KnowledgeEntry("a", "x", source="s"), KnowledgeEntry("a", "y", source="s")))
    messages = failed(check_plugin(plugin, raise_on_failure=False))
    assert "duplicate entry id 'a'" in messages["check_knowledge_entries"]


def test_sample_data_with_unknown_label_names_file_and_line(tmp_path: Path) -> None:
    rows = [{"text": "fine", "label": "good"}, {"text": "meh", "label": "mediocre"}]
    plugin = make_plugin(tmp_path, rows=rows)
    message = failed(check_plugin(plugin, raise_on_failure=False))["check_adapter_heads"]
    assert "sentiment.jsonl:2" in message and "'mediocre'" in message


def test_unbalanced_sample_data_is_a_quality_failure(tmp_path: Path) -> None:
    rows = [{"text": f"t{i}", "label": "good"} for i in range(12)] + [{"text": f"u{i}", "label": "bad"} for i in range(5)]
    plugin = make_plugin(tmp_path, rows=rows)
    messages = failed(check_plugin(plugin, raise_on_failure=False))
    assert set(messages) == {"check_sample_data_balanced"}


def test_term_in_two_groups_is_caught(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, term_groups={"f": ("she", "they", "mum"), "m": ("he", "they", "dad")})
    assert "'they'" in failed(check_plugin(plugin, raise_on_failure=False))["check_bias_checks"]


def test_non_minimal_pairs_are_caught(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, pairs=(MinimalPair("Women can't drive.", "The weather is lovely in spring today."),))
    assert "check_bias_pairs_minimal" in failed(check_plugin(plugin, raise_on_failure=False))


def test_missing_api_version_is_caught(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, api=None)
    messages = failed(check_plugin(plugin, raise_on_failure=False))
    assert "CULTURA_API_VERSION" in messages["check_api_version"]
    assert "check_registers" in messages


def test_heavy_import_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "heavy"
    pkg.mkdir()
    (pkg / "cultura_heavy_test.py").write_text(
        textwrap.dedent(
            """
            import torch  # a plugin must not do this at module level
            CULTURA_API_VERSION = "1.0"
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("PYTHONPATH", str(pkg))
    module = types.ModuleType("cultura_heavy_test")
    module.CULTURA_API_VERSION = "1.0"
    with pytest.raises(AssertionError, match="imports torch"):
        CHECKS["check_import_is_light"].func(PluginUnderTest(module, "heavy", "cultura-heavy"))


def test_raise_on_failure_lists_every_failure(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, normalizer=lambda texts: ["" for _ in texts])
    with pytest.raises(ConformanceError) as info:
        check_plugin(plugin)
    assert "cultura-xx::check_normalizer_keeps_text" in str(info.value)


def test_expected_failures_become_xfailed_and_unexpected_passes_are_errors(tmp_path: Path) -> None:
    bad = make_plugin(tmp_path, normalizer=lambda texts: ["" for _ in texts])
    report = check_plugin(bad, expected_failed_checks={"check_normalizer_keeps_text": "known"}, raise_on_failure=False)
    assert {o.check for o in report.outcomes if o.status == "xfailed"} == {"check_normalizer_keeps_text"}
    good = make_plugin(tmp_path)
    report = check_plugin(good, expected_failed_checks={"check_normalizer_keeps_text": "stale"}, raise_on_failure=False)
    assert [o.check for o in report.failed] == ["check_normalizer_keeps_text"]
    assert report.failed[0].status == "xpassed"


def test_unknown_expected_check_name_is_an_error(good: PluginUnderTest) -> None:
    with pytest.raises(Exception, match="unknown checks"):
        check_plugin(good, expected_failed_checks={"check_typo": "?"})


def test_skips_name_the_reason(tmp_path: Path) -> None:
    module = types.ModuleType("cultura_min_test")
    module.CULTURA_API_VERSION = "1.0"

    @hookimpl
    def cultura_cultures():  # type: ignore[no-untyped-def]
        return [CultureInfo("xx-Latn", english_name="Test", native_name="Test")]

    @hookimpl
    def cultura_knowledge(culture):  # type: ignore[no-untyped-def]
        return [KnowledgeSource("xx.kb", license="CC0-1.0", entries=(KnowledgeEntry("a", "t", source="s"),))]

    module.cultura_cultures, module.cultura_knowledge = cultura_cultures, cultura_knowledge
    plugin = PluginUnderTest(module, "min", "cultura-min")
    with pytest.warns(UserWarning, match=r"cultura-min::check_bias_checks skipped: the plugin does not implement cultura_bias_checks"):
        report = check_plugin(plugin, kinds=("api",), raise_on_failure=False)
    assert "check_normalizer_idempotent" in {o.check for o in report.skipped}
    with pytest.raises(pytest.skip.Exception, match="does not implement cultura_bias_checks"):
        CHECKS["check_bias_checks"](plugin)


def test_load_plugin_by_every_name() -> None:
    by_dist, by_ep, by_module = load_plugin("cultura-sw"), load_plugin("sw"), load_plugin("cultura_sw")
    assert by_dist.module is by_ep.module is by_module.module
    assert (by_dist.name, by_dist.distribution) == ("sw", "cultura-sw")
    with pytest.raises(Exception, match="installed plugins: .*sw"):
        load_plugin("cultura-nope")


def test_isolated_manager_holds_only_the_plugin_under_test() -> None:
    plugin = load_plugin("cultura-sw")
    names = [r.name for r in plugin.manager().records()]
    assert names == ["und", "sw"]


def test_checks_are_registered_with_kinds() -> None:
    kinds = {c.kind for c in CHECKS.values()}
    assert kinds == {"api", "quality"}
    assert CHECKS["check_normalizer_idempotent"].kind == "api"
    assert CHECKS["check_vocabulary_not_in_base"].kind == "quality"
    with pytest.raises(CheckSkipped):
        CHECKS["check_distribution_metadata"].func(PluginUnderTest(types.ModuleType("m"), "m", "not-installed-dist"))
