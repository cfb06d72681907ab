"""cultura-zh's word segmenter (jieba) and the whole-word counterfactual augmentation it gives."""

from __future__ import annotations

import pytest
from cultura_zh.words import WORD_RULES, segment

import cultura
from cultura.bias.cda import augment, counterfactuals
from cultura.core.plugins import PluginManager


@pytest.fixture(scope="module")
def pm() -> PluginManager:
    return PluginManager(allowed={"zh"})


@pytest.mark.parametrize(
    "text",
    ["", "他", "其他人都来了。", "中文 and English 混排\n第二行\t制表符", "表情😀符号", "a\x00b中文",
     "農民工的孩子在臺北讀書", "１２３全角ＡＢＣ，。"],
)
def test_words_join_back_to_the_text(text: str) -> None:
    (words,) = segment([text])
    assert "".join(words) == text
    assert WORD_RULES.split([text]) == [words]  # the checked call agrees


@pytest.mark.parametrize(
    ("text", "word"),
    [("其他人都来了", "其他人"), ("他会弹吉他", "吉他"), ("本市民营企业", "民营企业"),
     ("上海人民广场", "人民广场"), ("她们来了", "她们")],
)
def test_lookalikes_are_words_of_their_own(text: str, word: str) -> None:
    assert word in segment([text])[0]


def test_traditional_text_is_segmented_through_its_simplified_form() -> None:
    assert segment(["農民工的孩子"])[0][0] == "農民工"
    assert segment(["農民工的孩子", "农民工的孩子"]) == [["農民工", "的", "孩子"],
                                                   ["农民工", "的", "孩子"]]


def test_every_chinese_culture_gets_the_segmenter(pm: PluginManager) -> None:
    for tag in ("zh", "zh-Hant", "zh-TW", "zh-HK"):
        (rules,) = cultura.culture(tag, manager=pm).word_rules
        assert rules.key == "zh.words" and rules.level == "zh"
        assert rules.provenance.distribution == "cultura-zh"


def test_cda_swaps_whole_words_in_both_scripts(pm: PluginManager) -> None:
    zh = cultura.culture("zh", manager=pm)
    texts, labels = augment(["其他人说他会弹吉他", "本市民营企业很多", "城里人和农村人"], ["正面"] * 3,
                            zh.bias_checks, keep_original=False, profile=zh)
    assert texts == ["其他人说她会弹吉他", "农村人和城里人"]
    hk = cultura.culture("zh-HK", manager=pm)
    # the copy is in the culture's normalized form (s2hk writes 説)
    assert counterfactuals("其他人說他會彈吉他", hk.bias_checks, profile=hk) == [
        hk.normalize("其他人說她會彈吉他")]
