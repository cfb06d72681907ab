"""Entity-level precision/recall/F1 for BIO tags, against values computed by hand."""

from __future__ import annotations

import pytest

from cultura.adapt.metrics import bio_entities, entity_metrics, is_bio

GOLD = [
    ["B-PER", "I-PER", "O", "B-LOC"],  # PER 0-2, LOC 3-4
    ["O", "I-LOC", "I-LOC", "O"],  # I- without B- starts an entity: LOC 1-3
    ["B-PER", "I-LOC", "O"],  # the type changes mid-span: PER 0-1, LOC 1-2
    ["B-LOC", "B-LOC"],  # two adjacent entities: LOC 0-1, LOC 1-2
]
PRED = [
    ["B-PER", "I-PER", "O", "B-ORG"],  # PER right, ORG wrong type
    ["O", "B-LOC", "I-LOC", "O"],  # right
    ["B-PER", "I-PER", "O"],  # PER 0-2: wrong end
    ["B-LOC", "I-LOC"],  # LOC 0-2: neither gold entity
]


@pytest.mark.parametrize(
    ("tags", "entities"),
    [
        (GOLD[0], [("PER", 0, 2), ("LOC", 3, 4)]),
        (GOLD[1], [("LOC", 1, 3)]),
        (GOLD[2], [("PER", 0, 1), ("LOC", 1, 2)]),
        (GOLD[3], [("LOC", 0, 1), ("LOC", 1, 2)]),
        (["I-PER", "B-PER", "I-PER", "I-PER"], [("PER", 0, 1), ("PER", 1, 4)]),
        (["O", "O"], []),
        ([], []),
    ],
)
def test_bio_entities(tags: list[str], entities: list[tuple[str, int, int]]) -> None:
    assert bio_entities(tags) == entities


def test_entity_metrics_by_hand() -> None:
    # gold: PER 2, LOC 5 (7); predicted: PER 2, LOC 2, ORG 1 (5); right: PER 1, LOC 1
    metrics = entity_metrics(GOLD, PRED)
    assert metrics["entity_precision"] == pytest.approx(2 / 5)
    assert metrics["entity_recall"] == pytest.approx(2 / 7)
    assert metrics["entity_f1"] == pytest.approx(1 / 3)  # 2*2 / (5 + 7)
    assert metrics["entity_support"] == 7
    per_type = metrics["per_entity_type"]
    assert list(per_type) == ["LOC", "ORG", "PER"]
    assert per_type["PER"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert per_type["LOC"] == pytest.approx({"precision": 0.5, "recall": 0.2, "f1": 2 / 7, "support": 5})
    assert per_type["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_perfect_and_empty() -> None:
    assert entity_metrics(GOLD, GOLD)["entity_f1"] == 1.0
    empty = entity_metrics([["O"]], [["O"]])
    assert empty["entity_f1"] == 0.0 and empty["per_entity_type"] == {}
    with pytest.raises(ValueError, match="sequence 0: 2 gold tags but 1 predicted"):
        entity_metrics([["O", "O"]], [["O"]])


def test_is_bio() -> None:
    assert is_bio(["O", "B-LOC", "I-LOC"])
    assert not is_bio(["O", "I-LOC"]), "needs a B- tag"
    assert not is_bio(["NOUN", "VERB"]), "POS tags have no entities"
    assert not is_bio(["O", "B-"])
