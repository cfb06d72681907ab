"""Data loading: JSONL/CSV/records/Dataset, and errors that name file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cultura.adapt.data import load_examples, read_texts
from cultura.core.errors import DataError

LABELS = ("正面", "负面", "中性")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_labels_by_name_and_mapped_id(tmp_path: Path) -> None:
    path = write(
        tmp_path / "train.jsonl",
        '{"text": "好", "label": "正面"}\n\n{"text": "差", "label": 1}\n{"text": "平", "label": "2"}\n',
    )
    examples = load_examples(path, "seq-cls", LABELS, label_map={1: "负面", "2": "中性"})
    assert [(e.text, e.label) for e in examples] == [("好", 0), ("差", 1), ("平", 2)]
    assert examples[1].where == f"{path}:3"


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        ('{"text": "x", "label": "positive"}', "label", "unknown label 'positive'"),
        ('{"text": "x"}', "label", "missing"),
        ('{"text": "", "label": "正面"}', "text", "non-empty string"),
        ('{"txt": "x", "label": "正面"}', "text", "the record has fields txt, label"),
        ('{"text": "x", "label": 7}', "label", "integer label 7 needs an explicit mapping"),
    ],
)
def test_bad_jsonl_row_names_file_line_and_field(
    tmp_path: Path, line: str, field: str, words: str
) -> None:
    path = write(tmp_path / "bad.jsonl", '{"text": "ok", "label": "正面"}\n' + line + "\n")
    with pytest.raises(DataError) as err:
        load_examples(path, "seq-cls", LABELS)
    message = str(err.value)
    assert f"{path}:2" in message
    assert f"'{field}'" in message
    assert words in message


def test_invalid_json_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", '{"text": "a", "label": "正面"}\n{"text": "b", \n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2: invalid JSON"):
        load_examples(path, "seq-cls", LABELS)


def test_csv_line_numbers_count_multiline_cells(tmp_path: Path) -> None:
    path = write(
        tmp_path / "data.csv",
        'text,label\n"two\nlines",正面\nfine,负面\nbad,unknown\n',
    )
    with pytest.raises(DataError) as err:
        load_examples(path, "seq-cls", LABELS)
    assert f"{path}:5" in str(err.value)
    good = load_examples(write(tmp_path / "ok.csv", 'text,label\n"a\nb",正面\nc,中性\n'), "seq-cls", LABELS)
    assert [(e.text, e.label, e.where.rsplit(":", 1)[1]) for e in good] == [
        ("a\nb", 0, "2"), ("c", 2, "4"),
    ]


def test_token_classification_rows(tmp_path: Path) -> None:
    tags = ("O", "B-LOC", "I-LOC")
    path = write(
        tmp_path / "ner.jsonl",
        json.dumps({"tokens": ["住", "北", "京"], "tags": ["O", "B-LOC", "I-LOC"]}, ensure_ascii=False)
        + "\n"
        + json.dumps({"tokens": ["a", "b"], "tags": ["O"]})
        + "\n",
    )
    with pytest.raises(DataError, match=r"ner\.jsonl:2: field 'tags' has 1 tags for 2 tokens"):
        load_examples(path, "token-cls", tags)
    csv = write(tmp_path / "ner.csv", 'tokens,tags\n住 北 京,O B-LOC I-LOC\n')
    (example,) = load_examples(csv, "token-cls", tags)
    assert example.tokens == ("住", "北", "京") and example.tags == (0, 1, 2)


def test_records_and_unlabelled() -> None:
    examples = load_examples([("好", "正面"), {"text": "差", "label": "负面"}], "seq-cls", LABELS)
    assert [e.label for e in examples] == [0, 1]
    (unlabelled,) = load_examples(["随便"], "seq-cls", LABELS, require_labels=False)
    assert unlabelled.label is None
    with pytest.raises(DataError, match="record 0: field 'label' is missing"):
        load_examples(["随便"], "seq-cls", LABELS)


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown data format '.parquet'"):
        load_examples(write(tmp_path / "x.parquet", ""), "seq-cls", LABELS)
    with pytest.raises(DataError, match="no such file"):
        load_examples(tmp_path / "missing.jsonl", "seq-cls", LABELS)
    with pytest.raises(DataError, match="no examples"):
        load_examples(write(tmp_path / "empty.jsonl", "\n"), "seq-cls", LABELS)


def test_read_texts_plain_file(tmp_path: Path) -> None:
    path = write(tmp_path / "texts.txt", "一\n\n二\n")
    assert read_texts(path) == ["一", "二"]


def test_datasets_dataset() -> None:
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["负面", "正面"])}
    )
    ds = datasets.Dataset.from_dict({"text": ["好", "差"], "label": [1, 0]}, features=features)
    assert [e.label for e in load_examples(ds, "seq-cls", LABELS)] == [0, 1], "ClassLabel names"
    bad = datasets.Dataset.from_dict({"text": ["好"], "label": [5]})
    with pytest.raises(DataError, match="dataset record 0: field 'label': integer label 5"):
        load_examples(bad, "seq-cls", LABELS)
