"""The cultura-zh bias checks: coverage, alignment, minimal pairs, license, plugin wiring."""

from __future__ import annotations

import re

import pytest

from cultura.core.tags import Culture
from cultura.core.types import BiasCheck

zh_bias = pytest.importorskip("cultura_zh.bias")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def checks() -> list[BiasCheck]:
    return zh_bias.bias_checks(Culture.parse("zh"))


def test_served_at_the_zh_level_only() -> None:
    for tag in ("zh-Hant", "zh-Hant-TW", "und", "ja"):
        assert zh_bias.bias_checks(Culture.parse(tag)) == []


def test_every_category_has_classifier_and_language_model_checks(checks: list[BiasCheck]) -> None:
    by_category: dict[str, set[str]] = {}
    for check in checks:
        by_category.setdefault(check.category, set()).add(check.metric)
    assert set(by_category) == {"region", "gender", "ethnicity", "age"}
    for category, metrics in by_category.items():
        assert {"ctf_gap", "crows_pairs", "pair_ll"} <= metrics, category
    ids = [c.id for c in checks]
    assert len(ids) == len(set(ids))
    assert {"zh.region.province.ctf", "zh.region.hukou.ctf"} <= set(ids)


def test_license_and_chinese_descriptions(checks: list[BiasCheck]) -> None:
    assert zh_bias.LICENSE == "CC-BY-4.0"
    assert "CC BY 4.0" in (zh_bias.__doc__ or "")
    for check in checks:
        assert check.license == "CC-BY-4.0"
        assert CJK.search(check.description), check.id


def test_templates_and_terms_are_chinese_and_aligned(checks: list[BiasCheck]) -> None:
    for check in checks:
        if not check.term_groups:
            continue
        sizes = {len(terms) for terms in check.term_groups.values()}
        assert len(sizes) == 1 and sizes.pop() >= 4 or check.id.startswith("zh.region.hukou")
        for template in check.templates:
            assert template.count("{term}") == 1 and CJK.search(template.replace("{term}", ""))
        for terms in check.term_groups.values():
            assert all(CJK.search(t) for t in terms)
        # no term is shared between groups (a swap must change the text)
        flat = [t for terms in check.term_groups.values() for t in terms]
        assert len(flat) == len(set(flat)), check.id
    provinces = next(c for c in checks if c.id == "zh.region.province.ctf").term_groups
    assert len(provinces) >= 8 and "河南" in provinces and "上海" in provinces
    hukou = next(c for c in checks if c.id == "zh.region.hukou.ctf").term_groups
    assert any("农村户口" in t for terms in hukou.values() for t in terms)
    negative = [c for c in checks if c.target_label is not None]
    assert negative and all(c.target_label == "负面" for c in negative)


NEGATION = re.compile("[不没无非别未]")


def _core(a: str, b: str) -> tuple[str, str, int]:
    """The differing middles of ``a`` and ``b`` after their common prefix and suffix, and where
    they start."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return a[start : len(a) - end], b[start : len(b) - end], start


def test_minimal_pairs_differ_only_in_group_terms_of_equal_length(checks: list[BiasCheck]) -> None:
    pair_checks = [c for c in checks if c.pairs]
    assert {c.metric for c in pair_checks} == {"crows_pairs", "pair_ll"}
    for check in pair_checks:
        directions = {p.direction for p in check.pairs}
        assert directions == {"stereo", "antistereo"}, check.id
        assert len(check.pairs) >= 40, f"{check.id}: {len(check.pairs)} pairs"
        assert len({(p.more, p.less) for p in check.pairs}) == len(check.pairs), check.id
        terms = zh_bias.PAIR_TERMS[check.category]
        for pair in check.pairs:
            assert pair.bias_type == check.category
            # whole-sentence log-likelihood falls with length: the two sides must not differ in it
            assert len(pair.more) == len(pair.less), (pair.more, pair.less)
            more, less, at = _core(pair.more, pair.less)
            assert more and less and not NEGATION.search(more + less), (pair.more, pair.less)
            # the differing characters lie inside one group term on each side, at the same place
            assert any(
                pair.more[i : i + len(a)] == a and pair.less[i : i + len(b)] == b
                for a in terms for b in terms
                if a != b and len(a) == len(b)
                for i in range(max(0, at + len(more) - len(a)), at + 1)
            ), (pair.more, pair.less)


def test_aligned_terms_differ_only_in_the_group(checks: list[BiasCheck]) -> None:
    """Household registration and age terms: the i-th terms of two groups share everything but a
    core of at most two characters, which is no negation (有/没有本地户口) and brings in no
    occupation or stage of life (市民/农民工, 刚毕业的大学生/退休的老人)."""
    for key in ("zh.region.hukou.ctf", "zh.age.ctf", "zh.region.province.ctf",
                "zh.ethnicity.ctf"):
        groups = list(next(c for c in checks if c.id == key).term_groups.values())
        for aligned in zip(*groups, strict=True):
            for a in aligned:
                for b in aligned:
                    if a == b:
                        continue
                    core_a, core_b, _ = _core(a, b)
                    assert len(core_a) <= 4 and len(core_b) <= 4, (key, a, b)
                    assert not NEGATION.search(core_a + core_b), (key, a, b)
                    if key in ("zh.region.hukou.ctf", "zh.age.ctf"):
                        assert len(core_a) == len(core_b) <= 2, (key, a, b)


def test_pairs_are_the_same_for_both_language_model_metrics(checks: list[BiasCheck]) -> None:
    by_category: dict[str, dict[str, tuple[object, ...]]] = {}
    for check in (c for c in checks if c.pairs):
        by_category.setdefault(check.category, {})[check.metric] = check.pairs
    for category, metrics in by_category.items():
        assert metrics["crows_pairs"] == metrics["pair_ll"], category


def test_installed_plugin_serves_them_with_provenance() -> None:
    import cultura
    from cultura.core.plugins import PluginManager

    pm = PluginManager()
    if pm.record("zh").status != "active":
        pytest.skip("cultura-zh is not installed as an active plugin here")
    profile = cultura.culture("zh-TW", manager=pm)
    by_key = {c.key: c for c in profile.bias_checks}
    assert "zh.gender.ctf" in by_key, "cultura-zh does not serve its bias checks (hook not wired?)"
    contribution = by_key["zh.gender.ctf"]
    assert contribution.provenance.distribution == "cultura-zh"
    assert contribution.level == "zh"
