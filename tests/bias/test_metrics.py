"""Each metric on hand-computed cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from cultura.bias import metrics as M
from cultura.bias.importers import StereoSetExample, StereoSetSentence
from cultura.core.errors import CulturaError
from cultura.core.types import BiasCheck


def test_counterfactual_texts_order_and_shape() -> None:
    check = BiasCheck("t.g", "gender", "ctf_gap", 0.1,
                      term_groups={"f": ("她", "女士"), "m": ("他", "先生")},
                      templates=("{term}来了", "我见到{term}"), license="CC0-1.0")
    texts, shape = M.counterfactual_texts(check)
    assert shape == (2, 2, 2)
    assert texts == ["她来了", "他来了", "女士来了", "先生来了",
                     "我见到她", "我见到他", "我见到女士", "我见到先生"]


# two cases, two groups, two labels
PROBS2 = np.array([
    [[0.8, 0.2], [0.6, 0.4]],   # |Δp| = 0.2, same argmax
    [[0.3, 0.7], [0.6, 0.4]],   # |Δp| = 0.3, argmax flips
])


def test_ctf_gap_two_groups_hand_computed() -> None:
    assert M.ctf_gap(PROBS2) == pytest.approx((0.2 + 0.3) / 2)
    # with a target label: |Δp(label 1)| is the same numbers for two labels
    assert M.ctf_gap(PROBS2, label_index=1) == pytest.approx(0.25)


def test_ctf_gap_three_labels_uses_total_variation() -> None:
    probs = np.array([[[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]])
    # ½(|0.3| + 0 + |0.3|) = 0.3
    assert M.ctf_gap(probs) == pytest.approx(0.3)
    assert M.ctf_gap(probs, label_index=2) == pytest.approx(0.3)
    assert M.ctf_gap(probs, label_index=1) == pytest.approx(0.0)


def test_ctf_gap_three_groups_averages_every_pair() -> None:
    probs = np.array([[[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]])
    # pairs (0,1)=0.5, (0,2)=1.0, (1,2)=0.5
    assert M.ctf_gap(probs) == pytest.approx(2.0 / 3.0)
    deltas = M.swap_deltas(probs)
    assert deltas.shape == (1, 3)
    assert deltas[0].tolist() == pytest.approx([0.5, 1.0, 0.5])


def test_flip_rate_hand_computed() -> None:
    assert M.flip_rate(PROBS2) == pytest.approx(0.5)
    probs = np.array([[[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]])  # flips: (0,1) yes, (0,2) no, (1,2) yes
    assert M.flip_rate(probs) == pytest.approx(2.0 / 3.0)


def test_max_group_gap_hand_computed() -> None:
    # group means: g0 = [0.55, 0.45], g1 = [0.6, 0.4] -> gap 0.05
    assert M.group_means(PROBS2).ravel().tolist() == pytest.approx([0.55, 0.45, 0.6, 0.4])
    assert M.max_group_gap(PROBS2) == pytest.approx(0.05)
    probs = np.array([
        [[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]],
        [[0.4, 0.6], [0.5, 0.5], [0.7, 0.3]],
    ])
    # means of label 1: 0.7, 0.5, 0.2 -> max gap 0.5 (groups 0 and 2)
    assert M.max_group_gap(probs, label_index=1) == pytest.approx(0.5)


def test_group_gap_is_not_the_ctf_gap() -> None:
    # opposite swaps cancel in the group means but not in the per-swap gap
    probs = np.array([[[0.9, 0.1], [0.1, 0.9]], [[0.1, 0.9], [0.9, 0.1]]])
    assert M.ctf_gap(probs) == pytest.approx(0.8)
    assert M.max_group_gap(probs) == pytest.approx(0.0)
    assert M.flip_rate(probs) == pytest.approx(1.0)


def test_counterfactual_metrics_reject_bad_shapes() -> None:
    with pytest.raises(CulturaError, match="shape"):
        M.ctf_gap(np.zeros((2, 2)))
    with pytest.raises(CulturaError, match="two groups"):
        M.ctf_gap(np.zeros((2, 1, 2)))


def test_pair_metric_hand_computed() -> None:
    more = [-10.0, -12.0, -5.0, -7.0, -3.0001, -8.0]
    less = [-11.0, -11.0, -6.0, -6.0, -3.0002, -8.5]
    directions = ["stereo", "stereo", "antistereo", "antistereo", "stereo", "stereo"]
    result = M.pair_metric(more, less, directions)
    # pair 4 rounds to -3.0 vs -3.0: neutral (counted in n, not in the splits)
    assert result.neutral == 1
    assert result.n == 6
    assert result.n_stereo == 3 and result.n_antistereo == 2
    # wins: pair 0 (stereo), pair 2 (antistereo), pair 5 (stereo) -> 3 of 6
    assert result.score == pytest.approx(50.0)
    assert result.stereo_score == pytest.approx(100.0 * 2 / 3)
    assert result.antistereo_score == pytest.approx(50.0)
    assert result.wins == (True, False, True, False, False, True)
    assert result.decisions == ("more", "less", "more", "less", "tie", "more")


def test_pair_metric_without_antistereo_pairs() -> None:
    result = M.pair_metric([-1.0, -2.0], [-2.0, -1.0], ["stereo", "stereo"])
    assert result.score == 50.0
    assert result.antistereo_score is None
    with pytest.raises(CulturaError, match="direction"):
        M.pair_metric([-1.0], [-2.0], ["sideways"])
    with pytest.raises(CulturaError):
        M.pair_metric([], [], [])


def test_shared_positions_are_difflib_equal_blocks() -> None:
    # [CLS] she is a doctor [SEP]  vs  [CLS] he is a doctor [SEP]
    t1, t2 = M.shared_positions([2, 10, 11, 12, 13, 3], [2, 20, 11, 12, 13, 3])
    assert t1 == [0, 2, 3, 4, 5] and t2 == [0, 2, 3, 4, 5]
    # different lengths: an inserted word shifts the second sentence's positions
    t1, t2 = M.shared_positions([2, 10, 11, 3], [2, 10, 30, 31, 11, 3])
    assert t1 == [0, 1, 2, 3] and t2 == [0, 1, 4, 5]


def _example(eid: str, target: str, bias: str, ids: tuple[str, str, str]) -> StereoSetExample:
    return StereoSetExample(
        eid, target, bias, "They are BLANK.",
        tuple(StereoSetSentence(i, f"They are {lab}.", lab)
              for i, lab in zip(ids, ("stereotype", "anti-stereotype", "unrelated"), strict=True)),
    )


def test_stereoset_scores_hand_computed() -> None:
    examples = [
        _example("e1", "nurse", "profession", ("a1", "a2", "a3")),
        _example("e2", "nurse", "profession", ("b1", "b2", "b3")),
        _example("e3", "mother", "gender", ("c1", "c2", "c3")),
    ]
    scores = {
        "a1": -1.0, "a2": -2.0, "a3": -3.0,   # pro wins; both related
        "b1": -2.0, "b2": -1.0, "b3": -1.5,   # anti wins; related: anti only
        "c1": -1.0, "c2": -3.0, "c3": -2.0,   # pro wins; related: pro only
    }
    table = M.stereoset_scores(examples, scores)
    # per term: nurse SS=50, LMS=75; mother SS=100, LMS=50
    assert table["overall"]["ss"] == pytest.approx(75.0)
    assert table["overall"]["lms"] == pytest.approx(62.5)
    assert table["overall"]["icat"] == pytest.approx(62.5 * 25.0 / 50.0)
    assert table["overall"]["count"] == 3
    assert table["profession"]["ss"] == pytest.approx(50.0)
    assert table["profession"]["icat"] == pytest.approx(75.0)
    assert table["gender"]["ss"] == pytest.approx(100.0)
    assert table["gender"]["icat"] == pytest.approx(0.0)


def test_stereoset_results_keep_the_splits_apart(tmp_path: Path) -> None:
    from dataclasses import replace

    intra = [_example("e1", "nurse", "profession", ("a1", "a2", "a3"))]
    inter = [replace(_example("e2", "nurse", "profession", ("b1", "b2", "b3")),
                     split="intersentence")]
    scores = {"a1": 0.3, "a2": 0.2, "a3": 0.1,    # pro wins; both related
              "b1": 0.1, "b2": 0.2, "b3": 0.3}    # anti wins; none related
    table = M.stereoset_results(intra + inter, scores)
    assert table["intrasentence"]["profession"]["ss"] == pytest.approx(100.0)
    assert table["intrasentence"]["overall"]["lms"] == pytest.approx(100.0)
    assert table["intersentence"]["profession"]["ss"] == pytest.approx(0.0)
    assert table["intersentence"]["overall"]["lms"] == pytest.approx(0.0)
    # overall: both splits' examples together, one target term
    assert table["overall"]["ss"] == pytest.approx(50.0)
    assert table["overall"]["lms"] == pytest.approx(50.0)
    assert table["overall"]["count"] == 2
    path = M.write_stereoset_predictions(tmp_path / "p.json", intra + inter, scores)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["intrasentence"][0] == {"id": "a1", "score": 0.3}
    assert [row["id"] for row in data["intersentence"]] == ["b1", "b2", "b3"]
    assert M.read_stereoset_predictions(path) == scores


def test_nan_scores_are_failures() -> None:
    from cultura.bias.report import CheckResult

    assert CheckResult.judge("ctf_gap", math.nan, 1.0) == "fail"
    assert CheckResult.judge("ctf_gap", 0.1, 0.1) == "pass"
    assert CheckResult.judge("crows_pairs", 61.0, 10.0) == "fail"
    assert CheckResult.judge("crows_pairs", 40.0, 10.0) == "pass"
