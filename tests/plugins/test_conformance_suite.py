"""The conformance suite itself: it passes good plugins and catches each kind of mistake."""

from __future__ import annotations

import importlib
import json
import re
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from cultura import hookimpl
from cultura.core.errors import DataError
from cultura.core.types import (
    AdapterHeadSpec,
    BiasCheck,
    CultureInfo,
    KnowledgeEntry,
    KnowledgeSource,
    MinimalPair,
    Normalizer,
    Perturbation,
    TokenizerTweaks,
    VocabularyExtension,
)
from cultura.testing import CHECKS, ConformanceError, check_plugin, load_plugin
from cultura.testing.conformance import (
    BUILTIN_PROBES,
    CheckSkipped,
    PluginUnderTest,
    read_probes,
)

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
    templates: dict[str, str] | None = None,
    probes: str = "# test probes\nŋŋwa\\u00a0ɓɗƙ\n\\#hash\n",
    api: str | None = "1.0",
    perturbation: Perturbation | None = None,
) -> PluginUnderTest:
    """A plugin module built in code, good by default; each argument swaps one part for a bad one."""
    module = types.ModuleType("cultura_xx_test")
    if api is not None:
        module.CULTURA_API_VERSION = api
    module.CULTURA_PROBES = tmp_path / "probes.txt"
    module.CULTURA_PROBES.write_text(probes, encoding="utf-8")
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
        return [
            KnowledgeSource("xx.kb", license="CC0-1.0", entries=lambda: entries or default, templates=templates or {})
        ]

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

    @hookimpl
    def cultura_perturbations(culture):  # type: ignore[no-untyped-def]
        return [perturbation or Perturbation("xx.upper", str.upper, "upper case", kind="casing")]

    for func in (cultura_cultures, cultura_tokenizer_tweaks, cultura_knowledge, cultura_adapter_heads, cultura_bias_checks,
                 cultura_perturbations):
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


@pytest.mark.parametrize(("perturbation", "check", "message"), [
    (Perturbation("xx.same", lambda text: text), "check_perturbations_change_text",
     "perturbation 'xx.same' (xx) changed none of"),
    (Perturbation("xx.bytes", str.encode), "check_perturbations_return_strings",
     "perturbation 'xx.bytes' returned bytes"),
    (Perturbation("xx.random", lambda text: text + str(__import__("random").random())),
     "check_perturbations_return_strings", "perturbation 'xx.random' (xx) is not deterministic"),
])
def test_perturbations_that_change_nothing_or_misbehave_fail(
    tmp_path: Path, perturbation: Perturbation, check: str, message: str
) -> None:
    report = check_plugin(make_plugin(tmp_path, perturbation=perturbation), raise_on_failure=False)
    assert message in failed(report)[check]


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


# ---- probes and the normalized-text rule
def delete_fillers(texts: list[str]) -> list[str]:
    """The third-party author's Korean normalizer: drops U+3164 HANGUL FILLER, leaving the
    spaces around it doubled."""
    return [t.replace("\u3164", "") for t in texts]


_SPACE_RUN = re.compile(" {2,}")


def delete_fillers_fixed(texts: list[str]) -> list[str]:
    """The fix: fold the white space the deletion leaves, as und.whitespace does."""
    return [_SPACE_RUN.sub(" ", t.replace("\u3164", "")).strip(" ") if "\u3164" in t else t for t in texts]


def test_a_normalizer_leaving_double_spaces_after_removing_a_filler_fails(tmp_path: Path) -> None:
    messages = failed(check_plugin(make_plugin(tmp_path, normalizer=delete_fillers), raise_on_failure=False))
    # the next pass of und.whitespace would fold the spaces, so the chain is not idempotent either
    assert set(messages) == {"check_profile_normalization_clean", "check_profile_normalization_idempotent"}
    message = messages["check_profile_normalization_clean"]
    # it names the plugin, the normalizer, the probe and the output (fillers escaped)
    assert "plugin 'xx', normalizer xx.norm" in message
    assert "probe 'a \\u3164 B' -> output 'a  B', which has two white-space characters in a row" in message
    assert "fold the white space" in message


def test_the_fixed_filler_normalizer_passes(tmp_path: Path) -> None:
    assert failed(check_plugin(make_plugin(tmp_path, normalizer=delete_fillers_fixed), raise_on_failure=False)) == {}


def test_a_normalizer_inserting_an_invisible_mark_is_caught(tmp_path: Path) -> None:
    def mark_exclamations(texts: list[str]) -> list[str]:
        return [re.sub("(?<!\u200f)!", "\u200f!", t) for t in texts]

    message = failed(check_plugin(make_plugin(tmp_path, normalizer=mark_exclamations), raise_on_failure=False))[
        "check_profile_normalization_clean"
    ]
    assert "normalizer xx.norm" in message and "adds U+200F RIGHT-TO-LEFT MARK" in message


def test_the_plugins_own_probes_reach_every_normalizer(tmp_path: Path) -> None:
    def grows_on_asterism(texts: list[str]) -> list[str]:
        return [t + "\u2042" if "\u2042" in t else t for t in texts]

    assert not any("\u2042" in t for t in BUILTIN_PROBES)
    assert failed(check_plugin(make_plugin(tmp_path, normalizer=grows_on_asterism), raise_on_failure=False)) == {}
    plugin = make_plugin(tmp_path, normalizer=grows_on_asterism, probes="x\\N{ASTERISM}y\n")
    message = failed(check_plugin(plugin, raise_on_failure=False))["check_normalizer_idempotent"]
    assert "'x\u2042y' -> 'x\u2042y\u2042'" in message


def test_a_malformed_probe_file_fails_check_probes_naming_the_line(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, probes="fine\nbad \\q escape\n")
    message = failed(check_plugin(plugin, raise_on_failure=False))["check_probes"]
    assert "probes.txt:2: unknown escape '\\\\q'" in message


def test_a_plugin_without_probe_file_skips_check_probes_saying_how_to_add_one(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path)
    del plugin.module.CULTURA_PROBES
    report = check_plugin(plugin, raise_on_failure=False)
    skipped = {o.check: o.message for o in report.skipped}
    assert "probes = 'probes.txt'" in skipped["check_probes"]


def test_probe_file_format(tmp_path: Path) -> None:
    path = tmp_path / "probes.txt"
    path.write_bytes(
        "\ufeff# a comment\r\n\r\n  spaced  \r\n한\\u3164글\n\\#tag\n\\N{HANGUL FILLER}\\t\\\\\n\\U0002a6d6\n".encode()
    )
    assert read_probes(path) == ("  spaced  ", "한\u3164글", "#tag", "\u3164\t\\", "\U0002a6d6")
    for line, error in [
        ("\\ud800", r"probes\.txt:1: .*not a character"),
        ("\\N{NO SUCH NAME}", r"probes\.txt:1: unknown character name"),
        ("trailing \\", r"probes\.txt:1: unknown escape 'a backslash at the end of the line'"),
    ]:
        path.write_text(line, encoding="utf-8")
        with pytest.raises(DataError, match=error):
            read_probes(path)


def test_builtin_probes_cover_the_unicode_classes_of_the_issue() -> None:
    joined = "".join(BUILTIN_PROBES)
    for char in "\u3000\u00a0\u202f\u200b\u200c\u200d\ufeff\u3164\u115f\u1160\u00ad\t\n\r\u0301\uff01\u200e\u200f\u0640\U00020000\U0001f44d":
        assert char in joined, f"U+{ord(char):04X}"
    assert "" in BUILTIN_PROBES and " " in BUILTIN_PROBES and "a \u3164 B" in BUILTIN_PROBES


# ---- templates are filled as the runtime fills them
@pytest.mark.parametrize(
    ("templates", "message"),
    [
        ({"seq-cls": "{knowledge} {text}"}, "the seq-cls template '{knowledge} {text}' uses {text}, but the runtime fills seq-cls templates with knowledge= only"),
        ({"token-cls": "{knowledge} {text}"}, "drop {text}"),
        ({"causal-lm": "{knowledge} {lang}: {text}"}, "uses {lang}"),
        ({"seq-cls": "{{knowledge}}"}, "never places {knowledge}"),
    ],
)
def test_templates_that_would_fail_at_prediction_are_caught(tmp_path: Path, templates: dict[str, str], message: str) -> None:
    messages = failed(check_plugin(make_plugin(tmp_path, templates=templates), raise_on_failure=False))
    assert set(messages) == {"check_knowledge_templates"}
    assert message in messages["check_knowledge_templates"]


def test_templates_filled_as_the_runtime_fills_them_pass(tmp_path: Path) -> None:
    templates = {"seq-cls": "Context: {knowledge}", "token-cls": "{knowledge}", "causal-lm": "{knowledge}\n{{text}}: {text}"}
    assert failed(check_plugin(make_plugin(tmp_path, templates=templates), raise_on_failure=False)) == {}


# ---- module:attr entry points
DECLARED_PLUGIN = """
from cultura.core.declarative import Plugin
from cultura.core.types import CultureInfo, Normalizer


def lower(texts):
    return [t.lower() for t in texts]


class Test(Plugin):
    CULTURA_API_VERSION = "1.0"
    cultures = CultureInfo("xx-Latn", english_name="Test", native_name="Test")
    probes = "probes.txt"
    normalizers = Normalizer("epx.lower", lower, "lowercase")


plugin = Test()  # the entry point names this instance: no export()
"""


@pytest.fixture
def entry_point_to_an_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An installed distribution whose entry point is ``epx = cultura_epx_test:plugin``."""
    site = tmp_path / "site"
    (site / "cultura_epx_test" / "data").mkdir(parents=True)
    (site / "cultura_epx_test" / "__init__.py").write_text(DECLARED_PLUGIN, encoding="utf-8")
    (site / "cultura_epx_test" / "data" / "probes.txt").write_text("ÀB\\u0301C\n", encoding="utf-8")
    info = site / "cultura_epx_test-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.4\nName: cultura-epx-test\nVersion: 0.1\nSummary: test\nLicense-Expression: MIT\n",
        encoding="utf-8",
    )
    (info / "entry_points.txt").write_text("[cultura]\nepx = cultura_epx_test:plugin\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.delitem(sys.modules, "cultura_epx_test", raising=False)
    importlib.invalidate_caches()
    yield "cultura_epx_test"
    sys.modules.pop("cultura_epx_test", None)


def test_an_entry_point_naming_a_plugin_instance_loads_and_passes(entry_point_to_an_instance: str) -> None:
    from cultura.core.declarative import Plugin

    by_ep, by_dist, by_module = (load_plugin(n) for n in ("epx", "cultura-epx-test", entry_point_to_an_instance))
    assert isinstance(by_ep.module, Plugin)
    assert by_ep.module is by_dist.module is by_module.module
    assert (by_ep.name, by_ep.distribution, by_ep.version, by_ep.module_name) == (
        "epx", "cultura-epx-test", "0.1", "cultura_epx_test"
    )
    assert "ÀB\u0301C" in by_ep.sample_texts  # its probes, found through the instance
    report = check_plugin(by_ep, raise_on_failure=False)
    assert failed(report) == {}
    assert {o.check for o in report.outcomes if o.status == "passed"} >= {
        "check_api_version", "check_import_is_light", "check_probes", "check_profile_normalization_clean",
        "check_distribution_metadata",
    }


def test_an_object_reference_loads_without_an_entry_point() -> None:
    plugin = load_plugin("cultura_sw:plugin")
    assert type(plugin.module).__name__ == "Swahili"
    assert (plugin.name, plugin.distribution, plugin.module_name) == ("sw", "cultura-sw", "cultura_sw")


def test_every_public_name_of_the_suite_exists() -> None:
    import cultura.testing.conformance as conformance

    missing = [name for name in conformance.__all__ if not hasattr(conformance, name)]
    assert missing == []
