"""The cultura-zh bias checks: coverage, alignment, minimal pairs, license, plugin wiring."""

from __future__ import annotations

import difflib
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


def test_minimal_pairs_differ_only_in_the_group_term(checks: list[BiasCheck]) -> None:
    for check in (c for c in checks if c.pairs):
        seen = set()
        directions = {p.direction for p in check.pairs}
        assert directions == {"stereo", "antistereo"}, check.id
        assert len(check.pairs) >= 10
        for pair in check.pairs:
            assert (pair.more, pair.less) not in seen
            seen.add((pair.more, pair.less))
            assert pair.bias_type == check.category
            matcher = difflib.SequenceMatcher(None, pair.more, pair.less)
            shared = sum(block.size for block in matcher.get_matching_blocks())
            changed = [op for op in matcher.get_opcodes() if op[0] != "equal"]
            # at most two short edits (她/他 ... 女/男), and most of the sentence is shared
            assert 1 <= len(changed) <= 2, (pair.more, pair.less)
            assert all(max(i2 - i1, j2 - j1) <= 6 for _, i1, i2, j1, j2 in changed), pair
            assert shared >= 0.5 * min(len(pair.more), len(pair.less)), (pair.more, pair.less)


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
