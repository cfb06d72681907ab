"""The gloss view and the wide-and-deep classifier: glosses from the culture's gloss sources
through its segmenter, TF-IDF and logistic regression equal to scikit-learn's, a fitted
classifier that learns, saves and loads, and saved files treated as untrusted data."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from typing import Any

import pytest
import torch

import cultura
from cultura.adapt.glossview import gloss_view
from cultura.adapt.wide import (
    C_GRID,
    DEEP_WEIGHTS,
    Ngrams,
    WideDeepClassifier,
    _fit_logreg,
    fit_wide_deep,
)
from cultura.core.errors import CulturaError, PluginError
from cultura.core.plugins import PluginManager
from cultura.core.profile import build_profile
from cultura.core.types import (
    AdapterHeadSpec,
    CultureInfo,
    EmbeddingSource,
    TokenizerTweaks,
    VocabularyExtension,
    WordRules,
)

GLOSSES = {
    "喜欢": ("like; be fond of",), "电影": "movie", "好": "good", "坏": "bad", "讨厌": "hate",
    "服务": "service", "态度": "attitude", "差": "poor", "很": "very",
}
#: the test segmenter's words: a known compound, a run of Latin letters, else one character
COMPOUNDS = ("喜欢", "电影", "讨厌", "服务态度")


def _segment(texts: list[str]) -> list[list[str]]:
    out = []
    for text in texts:
        words, i = [], 0
        while i < len(text):
            latin = re.match(r"[A-Za-z]+", text[i:])
            match = next((w for w in COMPOUNDS if text.startswith(w, i)), latin[0] if latin else text[i])
            words.append(match)
            i += len(match)
        out.append(words)
    return out


def _manager(lookup: Any = None, *, segmenter: bool = True, gloss: bool = True) -> PluginManager:
    plugin = types.SimpleNamespace(CULTURA_API_VERSION="1.1", __name__="cultura_widetest")
    source = EmbeddingSource(
        "test-dict", "gloss",
        lookup or (lambda tokens: {t: GLOSSES[t] for t in tokens if t in GLOSSES}),
    )

    @cultura.hookimpl
    def cultura_cultures() -> list[CultureInfo]:
        return [CultureInfo("zh", description="wide test culture")]

    @cultura.hookimpl
    def cultura_tokenizer_tweaks(culture: Any) -> TokenizerTweaks:
        return TokenizerTweaks(vocabulary=(
            VocabularyExtension("w.vocab", ("喜欢",), init_from=(source,) if gloss else ()),))

    @cultura.hookimpl
    def cultura_word_rules(culture: Any) -> list[WordRules]:
        return [WordRules("w.words", _segment)] if segmenter else []

    @cultura.hookimpl
    def cultura_adapter_heads(culture: Any) -> list[AdapterHeadSpec]:
        return [AdapterHeadSpec("sentiment", "seq-cls", labels=("正面", "负面"))]

    for hook in (cultura_cultures, cultura_tokenizer_tweaks, cultura_word_rules, cultura_adapter_heads):
        setattr(plugin, hook.__name__, hook)
    pm = PluginManager(entry_points=False)
    record = pm.register(plugin, name="widetest")
    assert record.status == "active", record.error
    return pm


# ------------------------------------------------------------------------- gloss view
def test_gloss_view_reads_words_through_glosses() -> None:
    view = gloss_view(build_profile("zh", manager=_manager()))
    assert view is not None and view.labels == ("gloss:test-dict",)
    # 喜欢 is a word with a gloss (first sense only); 服务态度 is a word without one, read
    # as its longest known pieces; a character without a gloss (这) is left out of a word but
    # kept alone; Latin words and punctuation are kept; whitespace is dropped
    assert view(["我喜欢这电影", "服务态度很差 ok!", "这"]) == [
        "我 like 这 movie", "service attitude very poor ok !", "这",
    ]


def test_gloss_view_default_split_without_a_segmenter() -> None:
    view = gloss_view(build_profile("zh", manager=_manager(segmenter=False)))
    assert view is not None and view.rules is None
    # without a segmenter, a run of letters is one word: 好电影 has no gloss, so its longest
    # known pieces are read (好 + 电影)
    assert view(["好电影 great"]) == ["good movie great"]


def test_no_gloss_source_means_no_view() -> None:
    assert gloss_view(build_profile("zh", manager=_manager(gloss=False))) is None


def test_a_failing_gloss_source_is_named() -> None:
    def broken(tokens: tuple[str, ...]) -> dict[str, str]:
        raise RuntimeError("dictionary file missing")

    view = gloss_view(build_profile("zh", manager=_manager(broken)))
    with pytest.raises(PluginError, match="widetest") as info:
        view(["好"])
    assert "gloss:test-dict" in str(info.value) and "dictionary file missing" in str(info.value)


# ------------------------------------------------------------------------- the linear model
@pytest.mark.parametrize(("analyzer", "options"), [
    ("char", {}),
    ("word", {"token_pattern": r"\S+"}),
])
def test_ngrams_equal_scikit_learn_tfidf(analyzer: str, options: dict[str, Any]) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    train = ["服务态度很差", "我喜欢这电影  真的", "Good MOVIE, 好!", "好好好 电影", "good movie very good"]
    test = ["电影很好", "bad 服务", "unseen 字", "very good movie"]
    ours = Ngrams.fit(train, analyzer=analyzer)
    ref = TfidfVectorizer(analyzer=analyzer, ngram_range=(1, 2), sublinear_tf=True, **options).fit(train)
    assert sorted(ours.vocabulary) == sorted(ref.vocabulary_)
    order = [ours.vocabulary[g] for g in sorted(ref.vocabulary_, key=ref.vocabulary_.__getitem__)]
    got = ours.transform(test).to_dense()[:, order].numpy()
    assert got == pytest.approx(ref.transform(test).toarray(), abs=1e-12)


def test_logistic_regression_equals_scikit_learn() -> None:
    """Multinomial with C is scikit-learn's binary model with 2C (the penalty on the two
    classes' weights halves when they are opposite); three classes: the multinomial model."""
    from sklearn.linear_model import LogisticRegression

    gen = torch.Generator().manual_seed(0)
    dense = torch.randn(60, 5, generator=gen, dtype=torch.float64)
    sparse = torch.zeros(60, 0, dtype=torch.float64).to_sparse()
    for labels in (2, 3):
        y = (dense[:, 0] * 2 + dense[:, 1] + 0.5 * torch.randn(60, generator=gen, dtype=torch.float64))
        y = torch.bucketize(y, torch.quantile(y, torch.linspace(0, 1, labels + 1)[1:-1].double()))
        model = _fit_logreg(sparse, dense, y, labels, c=1.5)
        ours = torch.softmax(model.logits(sparse, dense), -1).numpy()
        ref = LogisticRegression(C=3.0 if labels == 2 else 1.5, tol=1e-10, max_iter=10_000)
        ref.fit(dense.numpy(), y.numpy())
        assert ours == pytest.approx(ref.predict_proba(dense.numpy()), abs=1e-4)


# ------------------------------------------------------------------------- the classifier
POSITIVE = ["我喜欢这电影", "好电影", "服务态度很好", "很好 很好", "喜欢 好", "电影 很 好"]
NEGATIVE = ["我讨厌这电影", "坏电影", "服务态度很差", "很差 很差", "讨厌 坏", "电影 很 差"]


def _rows(repeat: int = 2) -> list[dict[str, str]]:
    return ([{"text": t, "label": "正面"} for t in POSITIVE]
            + [{"text": t, "label": "负面"} for t in NEGATIVE]) * repeat


@pytest.fixture(scope="module")
def fitted(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    manager = _manager()
    clf = fit_wide_deep(_rows(), "zh", base=str(tiny["bert"]), manager=manager, progress=True)
    directory = clf.save(tmp_path_factory.mktemp("wide") / "clf")
    return types.SimpleNamespace(clf=clf, manager=manager, directory=directory)


def test_fit_learns_and_records_the_cross_validation(fitted: Any) -> None:
    clf = fitted.clf
    assert clf.labels == ("正面", "负面")  # sorted labels of the data
    assert len(clf.cv) == len(C_GRID) * len(DEEP_WEIGHTS)
    best = max(row["macro_f1"] for row in clf.cv)
    assert {"C": clf.C, "deep_weight": clf.deep_weight} in [
        {"C": r["C"], "deep_weight": r["deep_weight"]} for r in clf.cv if r["macro_f1"] == best]
    metrics = clf.evaluate([{"text": "我喜欢好电影", "label": "正面"},
                            {"text": "我讨厌坏电影", "label": "负面"}])
    assert metrics["accuracy"] == 1.0
    out = clf.predict("服务态度很好", top_k=2)
    assert out[0]["label"] == "正面" and [t["label"] for t in out[0]["top"]] == ["正面", "负面"]
    assert out[0]["score"] == pytest.approx(sum(t["score"] for t in out[0]["top"][:1]))


def test_no_texts_no_predictions(fitted: Any) -> None:
    probs, labels = fitted.clf.predict_proba([])
    assert probs.shape == (0, 2) and labels == ["正面", "负面"]
    assert fitted.clf.predict([]) == []
    with pytest.raises(CulturaError, match="texts\\[1\\] is a int"):
        fitted.clf.predict(["好", 3])


def test_features_read_the_text_and_its_gloss_view(fitted: Any) -> None:
    """Sparse: the text's character n-grams, then the view's word n-grams; deep: the frozen
    base's embedding of the view, then of the text."""
    from cultura.adapt.prompting import mean_pooled

    clf = fitted.clf
    sparse, deep = clf.features(["我喜欢这电影"])
    view = "我 like 这 movie"
    expected = torch.cat([mean_pooled(clf.encoder, [view]), mean_pooled(clf.encoder, ["我喜欢这电影"])], 1)
    assert torch.allclose(deep, expected.double())
    chars, words = len(clf.ngrams.vocabulary), len(clf.view_ngrams.vocabulary)
    assert sparse.shape == (1, chars + words)
    dense = sparse.to_dense()[0]
    assert torch.allclose(dense[:chars], clf.ngrams.transform(["我喜欢这电影"]).to_dense()[0])
    assert torch.allclose(dense[chars:], clf.view_ngrams.transform([view]).to_dense()[0])
    assert {"like", "这 movie"} <= set(clf.view_ngrams.vocabulary)


def test_save_and_load_give_the_same_predictions(fitted: Any) -> None:
    loaded = WideDeepClassifier.load(fitted.directory, manager=fitted.manager)
    texts = ["我喜欢这电影", "服务态度很差", "unseen"]
    assert loaded.predict_proba(texts)[0] == pytest.approx(fitted.clf.predict_proba(texts)[0], abs=1e-9)
    assert (loaded.C, loaded.deep_weight, loaded.labels) == (fitted.clf.C, fitted.clf.deep_weight,
                                                             fitted.clf.labels)


def test_too_little_data_for_the_folds(tiny: dict[str, Path]) -> None:
    rows = [{"text": "好", "label": "正面"}, {"text": "坏", "label": "负面"}] * 2
    with pytest.raises(CulturaError, match="at least 3 examples of each"):
        fit_wide_deep(rows, "zh", base=str(tiny["bert"]), manager=_manager())


def test_a_culture_without_glosses_is_refused(tiny: dict[str, Path]) -> None:
    with pytest.raises(CulturaError, match="gloss source"):
        fit_wide_deep(_rows(), "zh", base=str(tiny["bert"]), manager=_manager(gloss=False))


# ------------------------------------------------------------------------- untrusted files
def _copy(fitted: Any, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(fitted.directory, tmp_path / "copy"))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("format", "pickle", "not a cultura wide-and-deep"),
    ("format_version", 99, "format_version"),
    ("labels", ["a"], "labels"),
    ("labels", ["a", "a"], "labels"),
    ("ngram_range", [1, 10_000], "ngram_range"),
    ("ngrams", ["abc"], "ngrams"),
    ("view_ngrams", ["a b c"], "view_ngrams"),
    ("view_ngrams", [" a"], "view_ngrams"),
    ("view_ngram_range", [0, 2], "view_ngram_range"),
    ("C", -1, "'C'"),
    ("deep_weight", "1", "deep_weight"),
    ("weights_sha256", "../../x", "weights_sha256"),
    ("gloss_sources", ["gloss:other"], "gloss sources"),
])
def test_hostile_metadata_is_refused(fitted: Any, tmp_path: Path, field: str, value: Any,
                                     message: str) -> None:
    directory = _copy(fitted, tmp_path)
    meta = json.loads((directory / "wide.json").read_text(encoding="utf-8"))
    meta[field] = value
    (directory / "wide.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(CulturaError, match=message):
        WideDeepClassifier.load(directory, manager=fitted.manager)


def test_changed_weights_are_refused(fitted: Any, tmp_path: Path) -> None:
    directory = _copy(fitted, tmp_path)
    blob = bytearray((directory / "wide.safetensors").read_bytes())
    blob[-1] ^= 1
    (directory / "wide.safetensors").write_bytes(bytes(blob))
    with pytest.raises(CulturaError, match="sha256 differs"):
        WideDeepClassifier.load(directory, manager=fitted.manager)


def _rehashed(directory: Path, change: Any) -> None:
    """Change the weights with ``change(tensors)`` and record their new sha256, as an attacker
    who rewrites both files would."""
    import hashlib

    from safetensors.torch import load, save

    tensors = load((directory / "wide.safetensors").read_bytes())
    change(tensors)
    blob = save(tensors)
    (directory / "wide.safetensors").write_bytes(blob)
    meta = json.loads((directory / "wide.json").read_text(encoding="utf-8"))
    meta["weights_sha256"] = hashlib.sha256(blob).hexdigest()
    (directory / "wide.json").write_text(json.dumps(meta), encoding="utf-8")


def test_weights_of_the_wrong_shape_are_refused(fitted: Any, tmp_path: Path) -> None:
    directory = _copy(fitted, tmp_path)
    _rehashed(directory, lambda t: t.update(sparse=t["sparse"][:-1].contiguous()))
    with pytest.raises(CulturaError, match="'sparse' must have shape"):
        WideDeepClassifier.load(directory, manager=fitted.manager)


def test_weights_that_are_not_finite_are_refused(fitted: Any, tmp_path: Path) -> None:
    directory = _copy(fitted, tmp_path)
    _rehashed(directory, lambda t: t["bias"].fill_(float("inf")))
    with pytest.raises(CulturaError, match="tensor 'bias' holds NaN or infinite values"):
        WideDeepClassifier.load(directory, manager=fitted.manager)


def test_a_linked_file_is_refused(fitted: Any, tmp_path: Path) -> None:
    directory = _copy(fitted, tmp_path)
    (directory / "wide.json").rename(tmp_path / "elsewhere.json")
    (directory / "wide.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(CulturaError, match="missing \\(or a link\\)"):
        WideDeepClassifier.load(directory, manager=fitted.manager)


# ------------------------------------------------------------------------- as an adapter
def test_a_classifier_saved_as_an_adapter_loads_like_one(fitted: Any, tiny: dict[str, Path],
                                                         tmp_path: Path) -> None:
    from cultura.adapt.artifact import verify_artifact
    from cultura.adapt.loading import load_pretrained
    from cultura.bias.engine import resolve_target

    directory = fitted.clf.save_pretrained(tmp_path / "adapter", task="sentiment")
    manifest = verify_artifact(directory)
    assert (manifest.kind, manifest.head_type, manifest.task) == ("wide", "seq-cls", "sentiment")
    # the base as the encoder records it: the registry tells which bases it fits
    assert manifest.base_model.id == fitted.clf.base and manifest.base_model.fingerprint
    assert set(manifest.files) == {"wide.json", "wide.safetensors"}
    card = (directory / "README.md").read_text(encoding="utf-8")
    assert "A wide classifier for culture `zh`" in card and f"base_model: {fitted.clf.base}" in card
    loaded = load_pretrained(directory, manager=fitted.manager)
    assert isinstance(loaded, WideDeepClassifier) and loaded.task == "sentiment"
    texts = ["我喜欢好电影", "我讨厌坏电影"]
    assert loaded.predict_proba(texts)[0] == pytest.approx(fitted.clf.predict_proba(texts)[0], abs=1e-6)
    again = load_pretrained(directory, manager=fitted.manager, base=str(tiny["bert"]))
    assert [p["label"] for p in again.predict(texts)] == ["正面", "负面"]
    # the bias engine checks it as any classifier, through its class probabilities
    target = resolve_target(loaded)
    assert target.kind == "classifier" and target.predict_proba is not None
    assert target.name == "zh/sentiment"


# ------------------------------------------------------------------------- command line
def test_cli_fit_predict_evaluate(tiny: dict[str, Path], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cultura.cli import cli
    from cultura.core.plugins import reset_plugin_manager

    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _rows()), encoding="utf-8")
    reset_plugin_manager(_manager())
    try:
        def run(args: list[str]) -> Any:
            result = CliRunner().invoke(cli, ["wide", *args], catch_exceptions=False)
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout)

        out = tmp_path / "clf"
        summary = run(["fit", str(data), "--culture", "zh", "--out", str(out), "--base",
                       str(tiny["bert"]), "--json"])
        assert summary["labels"] == ["正面", "负面"] and summary["gloss_sources"] == ["gloss:test-dict"]
        expected = fit_wide_deep(data, "zh", base=str(tiny["bert"]))  # the API, same defaults
        assert (summary["C"], summary["deep_weight"]) == (expected.C, expected.deep_weight)
        predicted = run(["predict", str(out), "我喜欢好电影", "我讨厌坏电影", "--top-k", "2", "--json"])
        assert [p["label"] for p in predicted] == ["正面", "负面"] and len(predicted[0]["top"]) == 2
        metrics = run(["evaluate", str(out), str(data), "--json"])
        assert metrics["n"] == len(_rows()) and metrics["accuracy"] == 1.0
        again = CliRunner().invoke(cli, ["wide", "fit", str(data), "--culture", "zh", "--out", str(out)])
        assert isinstance(again.exception, CulturaError) and "exists" in str(again.exception)
    finally:
        reset_plugin_manager(None)
