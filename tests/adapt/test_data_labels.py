"""Labels in training data: explicit maps for integers, normalization, label sets from the
data, custom field names and a folder of one .txt file per label (no models loaded)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import cultura
from cultura.adapt.data import labels_from_data, load_examples, resolve_labels
from cultura.core.errors import CulturaError, DataError

LABELS = ("正面", "负面", "中性")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    return write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


@pytest.fixture
def normalize(manager):
    """The test culture's normalizers (a few Traditional -> Simplified characters)."""
    return cultura.culture("zh", manager=manager).normalize


def test_bad_label_deep_in_the_file_names_its_line(tmp_path: Path) -> None:
    rows = [{"text": f"t{i}", "label": "正面"} for i in range(899)] + [{"text": "t", "label": "x"}]
    path = jsonl(tmp_path / "train.jsonl", rows)
    with pytest.raises(DataError) as err:
        load_examples(path, "seq-cls", LABELS)
    assert str(err.value).startswith(
        f"{path}:900: field 'label': unknown label 'x'; labels: 正面, 负面, 中性."
    )
    assert "--label-map 'x=正面'" in str(err.value) and "label_map={'x': '正面'}" in str(err.value)


@pytest.mark.parametrize("value", [1, "1"])
def test_integer_labels_need_an_explicit_map(tmp_path: Path, value: object) -> None:
    path = jsonl(tmp_path / "train.jsonl", [{"text": "差", "label": value}])
    with pytest.raises(DataError) as err:
        load_examples(path, "seq-cls", LABELS)
    message = str(err.value)
    assert message.startswith(f"{path}:1: field 'label': integer label 1 needs an explicit mapping")
    assert "--label-map 0=正面,1=负面" in message and "label_map={0: '正面', 1: '负面'}" in message
    (example,) = load_examples(path, "seq-cls", LABELS, label_map={0: "负面", 1: "正面"})
    assert example.label == 0, "1 means 正面 because the map says so, not the head's order"
    with pytest.raises(DataError, match=r"'1' is not in the label_map \(it maps 0, 2\)"):
        load_examples(path, "seq-cls", LABELS, label_map={0: "负面", 2: "正面"})


def test_csv_digit_labels_and_string_maps(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", "text,label\n好,1\n差,0\n一般,neutral\n")
    examples = load_examples(path, "seq-cls", LABELS,
                             label_map={"0": "负面", 1: "正面", "neutral": "中性"})
    assert [e.label for e in examples] == [0, 1, 2]


def test_numbers_that_are_label_names_match_by_name(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "stars.jsonl", [{"text": "a", "label": 5}, {"text": "b", "label": "1"}])
    stars = ("1", "2", "3", "4", "5")
    assert [e.label for e in load_examples(path, "seq-cls", stars)] == [4, 0]


@pytest.mark.parametrize(
    ("value", "words"),
    [(True, "boolean label True is refused"), (1.0, "a label must be a label name (a string), got float")],
)
def test_bool_and_float_labels_are_refused(tmp_path: Path, value: object, words: str) -> None:
    path = jsonl(tmp_path / "train.jsonl", [{"text": "a", "label": value}])
    with pytest.raises(DataError, match=rf"train\.jsonl:1: field 'label': {re.escape(words)}"):
        load_examples(path, "seq-cls", LABELS, label_map={1: "正面"})


def test_label_map_errors() -> None:
    with pytest.raises(DataError, match=r"record 0: field 'label': label_map maps '1' to 'good'"):
        load_examples([("a", 1)], "seq-cls", LABELS, label_map={1: "good"})
    with pytest.raises(CulturaError, match=r"label_map: '1' is mapped twice"):
        load_examples([("a", 1)], "seq-cls", LABELS, label_map={1: "正面", "1": "负面"})
    with pytest.raises(CulturaError, match=r"label_map: key True must be an integer"):
        load_examples([("a", 1)], "seq-cls", LABELS, label_map={True: "正面"})


def test_labels_match_after_the_cultures_normalizers(normalize) -> None:
    labels = ("电影", "服务")
    records = [("好看", "電影"), ("很差", " 服務 "), ("一般", "电影")]
    assert [e.label for e in load_examples(records, "seq-cls", labels, normalize=normalize)] == [0, 1, 0]
    with pytest.raises(DataError, match="unknown label '電影'"):  # no normalizer: exact match
        load_examples(records, "seq-cls", labels)

    def lower(texts: list[str]) -> list[str]:
        return [t.lower() for t in texts]

    with pytest.raises(DataError, match=r"label 'pos' matches several labels .*\(Pos, POS\)"):
        load_examples([("a", "pos")], "seq-cls", ("Pos", "POS"), normalize=lower)
    assert load_examples([("a", "POS")], "seq-cls", ("Pos", "POS"), normalize=lower)[0].label == 1


def test_resolve_labels_keeps_the_heads_spelling(normalize) -> None:
    head = ("电影", "服务", "其他")
    assert resolve_labels(["服務", "電影"], head, normalize=normalize) == ("服务", "电影")
    assert resolve_labels(["好", "坏"], head, normalize=normalize) == ("好", "坏")
    with pytest.raises(CulturaError, match="'電影' and '电影' are one label"):
        resolve_labels(["電影", "电影"], head, normalize=normalize)
    with pytest.raises(CulturaError, match="needs at least two labels"):
        resolve_labels(["电影"], head)
    with pytest.raises(CulturaError, match=r"must be a list of label names.*labels_from_data"):
        resolve_labels("data", head)  # type: ignore[arg-type]


def test_labels_from_data_sorted_and_merged(tmp_path: Path, normalize) -> None:
    path = jsonl(tmp_path / "topics.jsonl", [
        {"text": "a", "topic": "服務"}, {"text": "b", "topic": "电影"},
        {"text": "c", "topic": "電影"}, {"text": "d", "topic": "服务"},
    ])
    found = labels_from_data(path, label_field="topic", normalize=normalize)
    assert found == tuple(sorted(["服務", "电影"])), "first-seen spellings, sorted by code point"
    with pytest.raises(DataError, match="holds 1 distinct label"):
        labels_from_data([("a", "x"), ("b", "x")])
    with pytest.raises(DataError, match=r"record 1: field 'label': integer label 0 needs"):
        labels_from_data([("a", "x"), ("b", 0)])
    assert labels_from_data([("a", 1), ("b", 0)], label_map={0: "负面", 1: "正面"}) == ("正面", "负面")
    ner = [{"tokens": ["a", "b"], "tags": ["B-LOC", "I-LOC"]}, {"tokens": ["c"], "tags": ["O"]}]
    assert labels_from_data(ner, "token-cls") == ("B-LOC", "I-LOC", "O")


def test_custom_field_names(tmp_path: Path) -> None:
    path = write(tmp_path / "reviews.csv", "review,stars\n好吃,5\n难吃,1\n")
    examples = load_examples(path, "seq-cls", LABELS, text_field="review", label_field="stars",
                             label_map={5: "正面", 1: "负面"})
    assert [(e.text, e.label) for e in examples] == [("好吃", 0), ("难吃", 1)]
    with pytest.raises(DataError, match=r"the record has fields review, stars \(name the field "
                                        r"with --text-field, text_field= in Python\)"):
        load_examples(path, "seq-cls", LABELS)
    ner = jsonl(tmp_path / "ner.jsonl", [{"words": ["住", "北", "京"], "ner": ["O", "B-LOC", "I-LOC"]}])
    (example,) = load_examples(ner, "token-cls", ("O", "B-LOC", "I-LOC"), text_field="words",
                               label_field="ner")
    assert example.tokens == ("住", "北", "京") and example.tags == (0, 1, 2)


def test_folder_of_one_file_per_label(tmp_path: Path, normalize) -> None:
    data = tmp_path / "reviews"
    write(data / "正面.txt", "\ufeff很好吃\n\n  \n服務很好\n")
    write(data / "负面.txt", "太难吃了\n")
    write(data / ".DS_Store", "ignored")
    examples = load_examples(data, "seq-cls", LABELS)
    assert [(e.text, e.label, e.where) for e in examples] == [
        ("很好吃", 0, f"{data / '正面.txt'}:1"),
        ("服務很好", 0, f"{data / '正面.txt'}:4"),
        ("太难吃了", 1, f"{data / '负面.txt'}:1"),
    ]
    assert labels_from_data(data) == ("正面", "负面")
    write(data / "中立.txt", "还行\n")
    with pytest.raises(DataError, match=rf"{data / '中立.txt'}:1: field 'label': unknown label '中立'"):
        load_examples(data, "seq-cls", LABELS)
    write(data / "notes.md", "# notes\n")
    with pytest.raises(DataError, match=r"holds only <label>\.txt files .*move notes\.md out of it"):
        load_examples(data, "seq-cls", LABELS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no <label>.txt files"):
        load_examples(tmp_path / "empty", "seq-cls", LABELS)
    with pytest.raises(DataError, match="token-cls data is a .jsonl/.csv file"):
        load_examples(data, "token-cls", ("O", "B-LOC"))
    (data / "broken.txt").write_bytes(b"\xff\xfe")
    (data / "notes.md").unlink()
    with pytest.raises(DataError, match=r"broken\.txt: not UTF-8 text"):
        load_examples(data, "seq-cls", LABELS)


def test_dataset_classlabel_is_the_map() -> None:
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({
        "tokens": datasets.Sequence(datasets.Value("string")),
        "tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-LOC", "I-LOC"])),
    })
    ds = datasets.Dataset.from_dict({"tokens": [["住", "北", "京"]], "tags": [[0, 1, 2]]},
                                    features=features)
    (example,) = load_examples(ds, "token-cls", ("B-LOC", "I-LOC", "O"))
    assert example.tags == (2, 0, 1), "ClassLabel names, matched to the head's order"
    assert labels_from_data(ds, "token-cls") == ("B-LOC", "I-LOC", "O")
