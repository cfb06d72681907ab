"""cultura-zh perturbations: each changes ordinary Chinese text, keeps its meaning (a script
conversion round-trips), is deterministic for a seed, and suits the requested culture."""

from __future__ import annotations

import pytest
from cultura_zh.normalize import opencc_convert
from cultura_zh.perturb import _homophones, _readings, perturbations

import cultura
from cultura.core.tags import Culture

HANS = ["这部电影太精彩了，我看了两遍。", "等了一个小时菜还没上，太失望了。",
        "我们在公司开会的时候讨论了软件的问题。", "今天天气很好，我们一起去公园散步吧。",
        "我在家里看着电视，因为外面在下雨。"]
HANT = opencc_convert("s2twp")(HANS)
HK = opencc_convert("s2hk")(HANS)


def _by_id(tag: str) -> dict[str, cultura.Perturbation]:
    return {p.id: p for p in perturbations(Culture.parse(tag))}


def test_each_culture_gets_the_other_scripts_and_regions() -> None:
    assert list(_by_id("zh")) == ["zh.variant.hant", "zh.variant.tw", "zh.variant.hk",
                                  "zh.homophone", "zh.initials", "zh.width"]
    assert [k for k in _by_id("zh-TW") if k.startswith("zh.variant")] == [
        "zh.variant.hans", "zh.variant.hk"]
    assert [k for k in _by_id("zh-HK") if k.startswith("zh.variant")] == [
        "zh.variant.hans", "zh.variant.tw"]
    # what the plugin gives through the profile, once, from the zh level
    profile = cultura.culture("zh-TW")
    variants = [c for c in profile.perturbations if c.key.startswith("zh.variant")]
    assert [(c.key, c.level) for c in variants] == [("zh.variant.hans", "zh"),
                                                   ("zh.variant.hk", "zh")]


@pytest.mark.parametrize(("tag", "texts"), [("zh", HANS), ("zh-TW", HANT), ("zh-HK", HK)])
def test_every_perturbation_changes_ordinary_text_and_is_deterministic(tag: str,
                                                                       texts: list[str]) -> None:
    for pid, p in _by_id(tag).items():
        out = p.apply(texts, seed=1)
        assert any(a != b for a, b in zip(texts, out, strict=True)), f"{pid} changed nothing"
        assert out == p.apply(texts, seed=1), pid
        assert all(isinstance(t, str) and t for t in out)


def test_script_conversions_keep_the_meaning() -> None:
    zh = _by_id("zh")
    traditional = zh["zh.variant.hant"].apply(HANS)
    assert traditional[0] == "這部電影太精彩了，我看了兩遍。"
    assert opencc_convert("t2s")(traditional) == HANS  # round trip
    assert zh["zh.variant.tw"].apply(["软件"]) == ["軟體"]  # Taiwan phrasing
    assert _by_id("zh-TW")["zh.variant.hans"].apply(["軟體很好用"]) == ["软件很好用"]


def test_homophones_are_same_syllable_frequent_characters() -> None:
    readings = _readings()
    table = _homophones(False)
    assert table["的"][0] == "得" and "再" in table["在"] and "作" in table["做"]
    for char, others in list(table.items())[:300]:
        assert all(readings[o] == readings[char] for o in others)
    assert "們" in _homophones(True)["門"]  # Traditional text gets Traditional characters
    p = _by_id("zh")["zh.homophone"]
    text = HANS[2]
    out = p.apply([text], seed=0)[0]
    assert len(out) == len(text)
    changed = [(a, b) for a, b in zip(text, out, strict=True) if a != b]
    assert changed and all(readings[a] == readings[b] for a, b in changed)
    assert any(p.apply([text], seed=s)[0] != out for s in range(1, 5))  # the seed matters


def test_initials_and_width() -> None:
    p = _by_id("zh")["zh.initials"]
    outs = {p.apply(["我不知道你在说什么"], seed=s)[0] for s in range(40)}
    assert "我不zd你在说什么" in outs or "我不知道你在说sm" in outs
    width = _by_id("zh")["zh.width"]
    assert width.apply(["价格100元，很好！"]) == ["价格１００元,很好!"]
