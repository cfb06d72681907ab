"""Counterfactual data augmentation: swaps within aligned groups, and it reduces the CTF gap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cultura.bias import metrics as M
from cultura.bias.cda import augment, counterfactuals
from cultura.bias.engine import check_bias
from cultura.core.errors import CulturaError
from cultura.core.tags import Culture
from cultura.core.types import BiasCheck


def _check(groups: dict[str, tuple[str, ...]]) -> BiasCheck:
    return BiasCheck("t.cda", "test", "ctf_gap", 0.1, term_groups=groups,
                     templates=("{term}",), license="CC0-1.0")


GENDER = _check({"f": ("她", "女士", "she"), "m": ("他", "先生", "he")})


def test_two_groups_swap_both_ways_at_once() -> None:
    texts, labels = augment(["他和她是同事", "这位女士很好", "没有人"], [0, 1, 2], [GENDER])
    assert texts == ["他和她是同事", "这位女士很好", "没有人", "她和他是同事", "这位先生很好"]
    assert labels == [0, 1, 2, 0, 1]


def test_latin_terms_match_whole_words_only() -> None:
    assert counterfactuals("she said he was there", [GENDER]) == ["he said she was there"]
    assert counterfactuals("the shelf is theirs", [GENDER]) == []


def test_longest_term_wins_and_aligned_index_is_kept() -> None:
    check = _check({"a": ("有本地户口的人", "本地人"), "b": ("没有本地户口的人", "外地人")})
    assert counterfactuals("没有本地户口的人和本地人", [check]) == ["有本地户口的人和外地人"]


def test_three_groups_rotate_each_mention_to_every_other_group() -> None:
    age = _check({"y": ("年轻人",), "m": ("中年人",), "o": ("老年人",)})
    assert counterfactuals("年轻人在学习", [age]) == ["中年人在学习", "老年人在学习"]
    # mixed mentions rotate together, so both copies keep two different groups
    assert counterfactuals("年轻人帮助老年人", [age]) == ["中年人帮助年轻人", "老年人帮助中年人"]


def test_ambiguous_terms_are_not_swapped_and_existing_pairs_not_duplicated() -> None:
    check = _check({"a": ("x同事", "朋友"), "b": ("y同事", "朋友")})
    assert counterfactuals("朋友来了", [check]) == []
    texts, labels = augment(["x同事来了", "y同事来了"], ["正面", "正面"], [check])
    assert texts == ["x同事来了", "y同事来了"]  # each copy already present with that label
    texts, labels = augment(["x同事来了", "y同事来了"], ["正面", "负面"], [check])
    assert texts == ["x同事来了", "y同事来了", "y同事来了", "x同事来了"]
    assert labels == ["正面", "负面", "正面", "负面"]


def test_augment_takes_profile_contributions_and_validates() -> None:
    from cultura_zh.bias import bias_checks

    checks = bias_checks(Culture.parse("zh"))
    texts, _ = augment(["河南人开了一家饭馆"], ["中性"], checks, keep_original=False)
    assert "上海人开了一家饭馆" in texts and len(texts) == 8  # the eight other provinces
    with pytest.raises(CulturaError, match="one label per text"):
        augment(["a", "b"], [1], [GENDER])
    with pytest.raises(CulturaError, match="BiasCheck"):
        augment(["a"], [1], ["not a check"])


def test_cda_reduces_the_ctf_gap_on_a_biased_dataset(
    zh_bert_dir: Path, gender_data: tuple[list[str], list[str]], trainer: Any
) -> None:
    from cultura_zh.bias import bias_checks

    gender = [c for c in bias_checks(Culture.parse("zh")) if c.id == "zh.gender.ctf"]
    texts, labels = gender_data
    plain = check_bias(trainer(zh_bert_dir, texts, labels), checks=gender, progress=False)
    aug_texts, aug_labels = augment(texts, labels, gender)
    assert len(aug_texts) == 2 * len(texts)
    mitigated = check_bias(trainer(zh_bert_dir, aug_texts, aug_labels), checks=gender,
                           progress=False)
    before = plain.result("zh.gender.ctf").score
    after = mitigated.result("zh.gender.ctf").score
    assert before is not None and after is not None
    assert not plain.passed and before > 0.3
    assert mitigated.passed and after < before / 4
    # the score is the real CTF gap of the model's probabilities
    assert before == pytest.approx(plain.result("zh.gender.ctf").details["ctf_gap"])
    assert M.ctf_gap([[[1.0, 0.0], [0.0, 1.0]]]) == 1.0
