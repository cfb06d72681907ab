"""The wide tagger: features from the culture's segmenter and gloss sources, a CRF that learns
what they carry (an unseen place name read through its capitalized gloss), decoding equal to
CRFsuite's, entity predictions, saving and loading, and saved files treated as untrusted data."""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cultura
from cultura.adapt.tagger import TaggerFeatures, WideTagger, fit_wide_tagger, tagger_features
from cultura.cli import cli
from cultura.core.errors import CulturaError, PluginError
from cultura.core.plugins import PluginManager
from cultura.core.profile import build_profile
from cultura.core.types import (
    CultureInfo,
    EmbeddingSource,
    TokenizerTweaks,
    VocabularyExtension,
    WordRules,
)

#: the test dictionary: place names have capitalized glosses, as in CC-CEDICT
DICTIONARY = {
    "北京": ("Beijing",), "上海": ("Shanghai",), "东京": ("Tokyo",), "伦敦": ("London",),
    "巴黎": ("Paris",), "纽约": ("New York",),
    "公司": ("company; firm",), "家里": ("home",), "学校": ("school",), "工厂": ("factory",),
    "工作": ("to work; job",), "学习": ("to study",), "朋友": ("friend",), "住": ("to live",),
    "我": ("I; me",), "在": ("at; in",), "他": ("he",), "去": ("to go",),
}
TRAIN_PLACES = ("北京", "上海", "东京", "伦敦")
TEST_PLACES = ("巴黎", "纽约")
NOUNS = ("公司", "家里", "学校", "工厂")
FRAMES = ("我在{}工作", "他去{}学习", "朋友住在{}", "{}很好")


def _segment(texts: list[str]) -> list[list[str]]:
    """Longest match over the dictionary's words, else one character."""
    out = []
    for text in texts:
        words, i = [], 0
        while i < len(text):
            word = next((w for w in sorted(DICTIONARY, key=len, reverse=True) if text.startswith(w, i)), text[i])
            words.append(word)
            i += len(word)
        out.append(words)
    return out


def _manager(*, segment: Any = _segment, gloss: bool = True, lookup: Any = None) -> PluginManager:
    plugin = types.SimpleNamespace(CULTURA_API_VERSION="1.1", __name__="cultura_tagtest")
    source = EmbeddingSource("tag-dict", "gloss", lookup or (
        lambda tokens: {t: DICTIONARY[t] for t in tokens if t in DICTIONARY}))

    @cultura.hookimpl
    def cultura_cultures() -> list[CultureInfo]:
        return [CultureInfo("zh", description="tagger test culture")]

    @cultura.hookimpl
    def cultura_tokenizer_tweaks(culture: Any) -> TokenizerTweaks:
        return TokenizerTweaks(vocabulary=(
            VocabularyExtension("t.vocab", ("北京",), init_from=(source,) if gloss else ()),))

    @cultura.hookimpl
    def cultura_word_rules(culture: Any) -> list[WordRules]:
        return [WordRules("t.words", segment)] if segment is not None else []

    for hook in (cultura_cultures, cultura_tokenizer_tweaks, cultura_word_rules):
        setattr(plugin, hook.__name__, hook)
    pm = PluginManager(entry_points=False)
    record = pm.register(plugin, name="tagtest")
    assert record.status == "active", record.error
    return pm


def _sentence(frame: str, word: str, kind: str | None) -> dict[str, Any]:
    text = frame.format(word)
    at = text.index(word)
    tags = ["O"] * len(text)
    if kind:
        tags[at] = f"B-{kind}"
        for i in range(at + 1, at + len(word)):
            tags[i] = f"I-{kind}"
    return {"tokens": list(text), "tags": tags}


def _data(places: tuple[str, ...]) -> list[dict[str, Any]]:
    return [_sentence(f, w, "LOC") for f in FRAMES for w in places] + [
        _sentence(f, w, None) for f in FRAMES for w in NOUNS]


@pytest.fixture(scope="module")
def fitted() -> WideTagger:
    return fit_wide_tagger(_data(TRAIN_PLACES), "zh", manager=_manager(), progress=False)


# ------------------------------------------------------------------------- features
def test_features_carry_the_words_and_their_glosses() -> None:
    features = tagger_features(build_profile("zh", manager=_manager()))
    assert features.sources == {"word_rules": "t.words", "gloss_sources": ["gloss:tag-dict"]}
    rows = features([list("我在巴黎工作")])[0]
    assert len(rows) == 6
    # 巴黎 is one word: B then E, its gloss capitalized (a proper noun), its neighbours' glosses
    assert {"seg=B", "w=巴黎", "g=paris", "g_cap", "g_cap0", "pg=at", "ng=to", "ng=work"} <= set(rows[2])
    assert {"seg=E", "w|seg=巴黎|E", "nw=工作", "pw=在"} <= set(rows[3])
    # a one-character word is S; "to work; job" gives its words up to the first ";"
    assert "seg=S" in rows[1] and {"g=to", "g=work"} <= set(rows[4])
    assert "g_cap" not in rows[4] and "t-1|t=黎|工" in rows[4]


def test_tokens_that_are_not_the_segmenters_words() -> None:
    """Two-character tokens across word boundaries: each takes the word of its first character."""
    features = TaggerFeatures(build_profile("zh", manager=_manager()).word_rules[0].value)
    # words 我 / 在 / 巴黎 / 工作: 我在 starts and ends a word (S), 巴 begins 巴黎 (B), 黎工 and
    # 作 end a word (E)
    assert features.words([["我在", "巴", "黎工", "作"]]) == [[(0, 3), (2, 0), (2, 2), (3, 2)]]


def test_without_a_segmenter_or_glosses_each_token_is_a_word() -> None:
    features = tagger_features(build_profile("zh", manager=_manager(segment=None, gloss=False)))
    assert features.sources == {"word_rules": None, "gloss_sources": []}
    rows = features([list("我在巴黎")])[0]
    assert all("seg=S" in r and not any(k.startswith(("g", "pg", "ng")) for k in r) for r in rows)


def test_a_failing_segmenter_is_named() -> None:
    def broken(texts: list[str]) -> list[list[str]]:
        raise RuntimeError("dictionary missing")

    with pytest.raises(PluginError, match="tagtest") as info:
        fit_wide_tagger(_data(TRAIN_PLACES), "zh", manager=_manager(segment=broken), progress=False)
    assert "dictionary missing" in str(info.value)


def test_a_segmenter_that_lies_is_named() -> None:
    with pytest.raises(PluginError, match="tagtest"):
        fit_wide_tagger(_data(TRAIN_PLACES), "zh", progress=False,
                        manager=_manager(segment=lambda texts: [["x"] for _ in texts]))


# ------------------------------------------------------------------------- the tagger
def test_glosses_find_place_names_never_seen_in_training(fitted: WideTagger) -> None:
    test = [_sentence(f, w, "LOC") for f in FRAMES for w in TEST_PLACES] + [
        _sentence(f, w, None) for f in FRAMES for w in NOUNS]
    with_glosses = fitted.evaluate(test)["entity_f1"]
    plain = fit_wide_tagger(_data(TRAIN_PLACES), "zh", manager=_manager(gloss=False), progress=False)
    without = plain.evaluate(test)["entity_f1"]
    assert with_glosses == pytest.approx(1.0)
    assert without < 0.5


def test_decoding_equals_crfsuite(fitted: WideTagger, tmp_path: Path) -> None:
    """Viterbi and the marginals computed here from the read-out weights equal CRFsuite's own
    tagger's on a model trained with the same features and settings."""
    import pycrfsuite

    data = _data(TRAIN_PLACES)
    rows = fitted.features([d["tokens"] for d in data])
    trainer = pycrfsuite.Trainer(verbose=False)
    trainer.set_params({"c1": fitted.settings["c1"], "c2": fitted.settings["c2"],
                        "max_iterations": fitted.settings["max_iterations"],
                        "feature.possible_transitions": True})
    for row, d in zip(rows, data, strict=True):
        trainer.append(pycrfsuite.ItemSequence(row), d["tags"])
    sentences = [list("我在巴黎工作"), list("朋友住在纽约"), list("北京很好"), list("他去学校学习")]
    ours = fitted.tag(sentences)
    trainer.train(str(tmp_path / "model"))
    reference = pycrfsuite.Tagger()
    reference.open(str(tmp_path / "model"))
    for row, got in zip(fitted.features(sentences), ours, strict=True):
        reference.set(pycrfsuite.ItemSequence(row))
        assert [t for t, _ in got] == reference.tag()
        for i, (tag, score) in enumerate(got):
            assert score == pytest.approx(reference.marginal(tag, i), abs=1e-4)


def test_predict_gives_entity_spans(fitted: WideTagger) -> None:
    text, words = fitted.predict(["我在巴黎工作", list("朋友住在纽约")])
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in text["entities"]] == [("LOC", "巴黎", 2, 4)]
    assert text["words"][2] == {"word": "巴", "label": "B-LOC", "score": pytest.approx(text["words"][2]["score"]),
                                "start": 2, "end": 3}
    assert 0.5 < text["entities"][0]["score"] <= 1.0
    # a list of words is taken as given and shown joined by spaces
    assert words["text"] == "朋 友 住 在 纽 约" and [e["text"] for e in words["entities"]] == ["纽 约"]
    assert fitted.predict("北京很好")[0]["entities"][0]["text"] == "北京"
    with pytest.raises(CulturaError, match="item 1"):
        fitted.predict(["好", 3])  # type: ignore[list-item]


def test_evaluate_reports_tokens_and_entities(fitted: WideTagger) -> None:
    metrics = fitted.evaluate(_data(TRAIN_PLACES))
    assert metrics["n"] == 32 and metrics["accuracy"] == pytest.approx(1.0)
    assert metrics["entity_f1"] == pytest.approx(1.0) and metrics["entity_support"] == 16
    assert set(metrics["per_entity_type"]) == {"LOC"}


def test_fit_refuses_bad_settings_and_data() -> None:
    manager = _manager()
    with pytest.raises(CulturaError, match="c1 must be"):
        fit_wide_tagger(_data(TRAIN_PLACES), "zh", c1=-1, manager=manager)
    with pytest.raises(CulturaError, match="max_iterations"):
        fit_wide_tagger(_data(TRAIN_PLACES), "zh", max_iterations=0, manager=manager)
    only_o = [{"tokens": ["我", "在"], "tags": ["O", "O"]}] * 3
    with pytest.raises(CulturaError, match="two"):
        fit_wide_tagger(only_o, "zh", labels=["O", "B-LOC"], manager=manager)
    with pytest.raises(CulturaError, match="tags for"):
        fit_wide_tagger([{"tokens": ["我", "在"], "tags": ["O"]}], "zh", labels=["O", "B-LOC"], manager=manager)


# ------------------------------------------------------------------------- saving
def test_save_and_load_give_the_same_predictions(fitted: WideTagger, tmp_path: Path) -> None:
    fitted.save(tmp_path / "t")
    meta = json.loads((tmp_path / "t" / "tagger.json").read_text(encoding="utf-8"))
    assert meta["format"] == "cultura-wide-tagger" and meta["labels"] == list(fitted.labels)
    assert meta["word_rules"] == "t.words" and meta["gloss_sources"] == ["gloss:tag-dict"]
    loaded = WideTagger.load(tmp_path / "t", manager=_manager())
    sentences = [list("我在巴黎工作"), list("朋友住在纽约")]
    for got, want in zip(loaded.tag(sentences), fitted.tag(sentences), strict=True):
        assert [t for t, _ in got] == [t for t, _ in want]
        assert [p for _, p in got] == pytest.approx([p for _, p in want], abs=1e-9)


def test_load_refuses_other_plugins(fitted: WideTagger, tmp_path: Path) -> None:
    fitted.save(tmp_path / "t")
    with pytest.raises(CulturaError, match="install the plugin versions"):
        WideTagger.load(tmp_path / "t", manager=_manager(gloss=False))


def _edit_meta(key: str, value: Any) -> Any:
    def edit(directory: Path) -> None:
        path = directory / "tagger.json"
        meta = json.loads(path.read_text(encoding="utf-8"))
        meta[key] = value
        path.write_text(json.dumps(meta), encoding="utf-8")
    return edit


def _edit_weights(tensors: dict[str, Any]) -> Any:
    def edit(directory: Path) -> None:
        import hashlib

        from safetensors.torch import save

        blob = save(tensors)
        (directory / "tagger.safetensors").write_bytes(blob)
        _edit_meta("weights_sha256", hashlib.sha256(blob).hexdigest())(directory)
    return edit


def _nan_state(directory: Path) -> None:
    from safetensors.torch import load

    tensors = load((directory / "tagger.safetensors").read_bytes())
    tensors["state"][0, 0] = float("nan")
    _edit_weights(tensors)(directory)


def _link(directory: Path) -> None:
    target = directory.parent / "elsewhere.json"
    (directory / "tagger.json").rename(target)
    (directory / "tagger.json").symlink_to(target)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: (d / "tagger.safetensors").unlink(), "missing"),
    (_link, "link"),
    (lambda d: (d / "tagger.json").write_text("{", encoding="utf-8"), "not valid UTF-8 JSON"),
    (lambda d: (d / "tagger.json").write_bytes(b"\xff\xfe"), "not valid UTF-8 JSON"),
    (_edit_meta("format", "cultura-wide-deep"), "not a cultura wide tagger"),
    (_edit_meta("format_version", 99), "format_version"),
    (_edit_meta("labels", ["O", "O"]), "labels"),
    (_edit_meta("labels", ["O"]), "labels"),
    (_edit_meta("features", ["a", "a"]), "features"),
    (_edit_meta("features", ["x" * 2000]), "features"),
    (_edit_meta("features", [1, 2]), "features"),
    (_edit_meta("settings", {"c1": -1, "c2": 0.1, "max_iterations": 100}), "settings"),
    (_edit_meta("settings", "fast"), "settings"),
    (_edit_meta("word_rules", 3), "word_rules"),
    (_edit_meta("gloss_sources", "gloss:x"), "gloss_sources"),
    (_edit_meta("culture", ""), "culture"),
    (_edit_meta("weights_sha256", "0" * 64), "sha256 differs"),
    (_edit_meta("weights_sha256", "../../etc"), "weights_sha256"),
    (lambda d: (d / "tagger.safetensors").write_bytes(b"junk"), "sha256 differs"),
    (_edit_weights({}), "tensor 'state'"),
    (_nan_state, "NaN"),
])
def test_load_refuses_damaged_files(fitted: WideTagger, tmp_path: Path, damage: Any, message: str) -> None:
    directory = fitted.save(tmp_path / "t")
    damage(directory)
    with pytest.raises(CulturaError, match=message):
        WideTagger.load(directory, manager=_manager())


def test_the_transition_shape_is_checked(fitted: WideTagger, tmp_path: Path) -> None:
    import torch

    directory = fitted.save(tmp_path / "t")
    n, k = len(fitted.crf.features), len(fitted.labels)
    _edit_weights({"state": torch.zeros(n, k, dtype=torch.float64),
                   "transition": torch.zeros(k + 1, k, dtype=torch.float64)})(directory)
    with pytest.raises(CulturaError, match="tensor 'transition'"):
        WideTagger.load(directory, manager=_manager())


# ------------------------------------------------------------------------- the command line
@pytest.fixture
def cli_data(tmp_path: Path) -> Iterator[Path]:
    """The training rows as a .jsonl file, with the test plugin as the process-wide manager."""
    from cultura.testing.environment import active_plugin_manager

    data = tmp_path / "ner.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _data(TRAIN_PLACES)),
                    encoding="utf-8")
    with active_plugin_manager(_manager()):
        yield data


def test_cli_fits_predicts_and_evaluates_a_tagger(fitted: WideTagger, cli_data: Path, tmp_path: Path) -> None:
    data = cli_data
    out = tmp_path / "tagger"

    def run(args: list[str]) -> str:
        result = CliRunner().invoke(cli, ["wide", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    summary = json.loads(run(["fit-tagger", str(data), "--culture", "zh", "--out", str(out), "--json"]))
    # the same defaults as the API
    assert {k: summary[k] for k in ("c1", "c2", "max_iterations")} == fitted.settings
    assert summary["features"] == len(fitted.crf.features) and summary["word_rules"] == "t.words"
    assert run(["predict", str(out), "我在巴黎工作", "他去学校学习"]).splitlines() == [
        "我在巴黎工作\t巴黎/LOC", "他去学校学习\t(no entities)"]
    predicted = json.loads(run(["predict", str(out), "朋友住在纽约", "--json"]))
    assert [e["text"] for e in predicted[0]["entities"]] == ["纽约"]
    text = run(["evaluate", str(out), str(data)])
    assert "F1 1.0000" in text and "support 16" in text
    assert json.loads(run(["evaluate", str(out), str(data), "--json"]))["entity_f1"] == 1.0
    again = CliRunner().invoke(cli, ["wide", "fit-tagger", str(data), "--culture", "zh", "--out", str(out)])
    assert isinstance(again.exception, CulturaError) and "exists" in str(again.exception)


# ------------------------------------------------------------------------- as an adapter
def _saved(fitted: WideTagger, tmp_path: Path) -> Path:
    return fitted.save_pretrained(tmp_path / "adapter", task="place", training={"n_train": 32})


def test_a_tagger_saved_as_an_adapter_loads_like_one(fitted: WideTagger, tmp_path: Path) -> None:
    from cultura.adapt.artifact import verify_artifact
    from cultura.adapt.loading import load_pretrained

    directory = _saved(fitted, tmp_path)
    manifest = verify_artifact(directory)
    assert (manifest.kind, manifest.head_type, manifest.task) == ("wide", "token-cls", "place")
    assert manifest.base_model.id == "" and manifest.labels == fitted.labels
    assert set(manifest.files) == {"tagger.json", "tagger.safetensors"}
    assert manifest.training["word_rules"] == "t.words" and manifest.training["n_train"] == 32
    card = (directory / "README.md").read_text(encoding="utf-8")
    assert "A wide tagger for culture `zh`" in card and "base_model" not in card
    assert "- gloss sources: gloss:tag-dict" in card and "library_name: cultura" in card
    loaded = load_pretrained(directory, manager=_manager())
    assert isinstance(loaded, WideTagger) and loaded.task == "place"
    sentences = [list("我在巴黎工作"), list("朋友住在纽约")]
    assert [[t for t, _ in r] for r in loaded.tag(sentences)] == [[t for t, _ in r] for r in fitted.tag(sentences)]
    # a wide manifest names its kind (a PEFT one is written without it, as before)
    assert json.loads((directory / "cultura.json").read_text(encoding="utf-8"))["kind"] == "wide"
    # the bias engine takes the directory: a token classifier without a network, which the
    # checks that need one skip
    from cultura.bias.engine import resolve_target

    target = resolve_target(str(directory), manager=_manager())
    assert (target.kind, target.model, target.predict_proba) == ("token-classifier", None, None)
    assert target.name == str(directory)


def _rewrite(directory: Path, **fields: Any) -> None:
    path = directory / "cultura.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for key, value in fields.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(json.dumps(data), encoding="utf-8")


def _relabel(directory: Path) -> None:
    """tagger.json with other labels, its hash in the manifest updated to match."""
    import hashlib

    meta_path = directory / "tagger.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["labels"] = [f"X{i}" for i in range(len(meta["labels"]))]
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    manifest = json.loads((directory / "cultura.json").read_text(encoding="utf-8"))
    manifest["files"]["tagger.json"] = hashlib.sha256(meta_path.read_bytes()).hexdigest()
    (directory / "cultura.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: _rewrite(d, kind="pickle"), "kind"),
    (lambda d: _rewrite(d, head_type="causal-lm"), "head_type"),
    (lambda d: _rewrite(d, kind=None), "base_model.id"),  # a PEFT adapter names its base
    (lambda d: _rewrite(d, kind=None, base_model={"id": "x"}), "does not list adapter_config.json"),
    (lambda d: (d / "tagger.safetensors").unlink(), "missing tagger.safetensors"),
    (lambda d: (d / "extra.json").write_text("{}", encoding="utf-8"), "unexpected file extra.json"),
    (lambda d: (d / "tagger.json").write_text("{}", encoding="utf-8"), "tagger.json changed"),
    (_relabel, "field 'labels'"),
])
def test_a_damaged_tagger_adapter_is_refused_before_loading(
        fitted: WideTagger, tmp_path: Path, damage: Any, message: str) -> None:
    from cultura.adapt.artifact import ArtifactError, verify_artifact
    from cultura.adapt.loading import load_pretrained

    directory = _saved(fitted, tmp_path)
    damage(directory)
    with pytest.raises(ArtifactError, match=message):
        verify_artifact(directory)
    with pytest.raises(ArtifactError, match=message):
        load_pretrained(directory, manager=_manager())


def test_the_tagger_metadata_is_checked_even_without_hashes(fitted: WideTagger, tmp_path: Path) -> None:
    from cultura.adapt.artifact import ArtifactError
    from cultura.adapt.loading import load_pretrained

    directory = _saved(fitted, tmp_path)
    _relabel(directory)
    with pytest.raises(ArtifactError, match="field 'labels'"):
        load_pretrained(directory, verify=False, manager=_manager())


def test_train_fits_a_wide_tagger_by_default(cli_data: Path, tmp_path: Path) -> None:
    from cultura.adapt.loading import load_pretrained
    from cultura.adapt.methods import fit_wide

    data = cli_data
    out = tmp_path / "adapter"

    def run(args: list[str]) -> Any:
        return CliRunner().invoke(cli, args, catch_exceptions=False)

    trained = run(["train", str(data), "-c", "zh", "-t", "place", "--head", "token-cls",
                   "--labels-from-data", "-o", str(out), "--eval", str(data), "--json"])
    assert trained.exit_code == 0, trained.output
    # what the benchmark's cultura-wide system fits (methods.fit_wide), with the same defaults
    same, saved = fit_wide(data, "zh", "token-cls"), load_pretrained(out)
    assert saved.crf.features == same.crf.features and saved.settings == same.settings
    assert saved.crf.state.tolist() == same.crf.state.tolist()
    assert "method: wide" in trained.stderr
    summary = json.loads(trained.stdout)
    assert summary["method"] == "wide" and summary["training"]["eval"]["entity_f1"] == 1.0
    predicted = run(["predict", str(out), "我在巴黎工作"])
    assert predicted.exit_code == 0 and predicted.stdout.split() == ["我在巴黎工作", "巴黎/LOC"]
    evaluated = run(["evaluate", str(out), str(data), "--json"])
    assert json.loads(evaluated.stdout)["entity_f1"] == 1.0
    for refused in (["export", str(out), "--format", "onnx", "-o", str(tmp_path / "x")],
                    ["explain", str(out), "我在巴黎工作"],
                    ["robustness", str(out), str(data)]):
        result = CliRunner().invoke(cli, refused)
        assert result.exit_code != 0
        assert "needs a PEFT adapter" in str(result.exception) + result.output, refused
    both = CliRunner().invoke(cli, ["train", str(data), "-c", "zh", "-t", "place", "--head",
                                    "token-cls", "--labels-from-data", "-o", str(tmp_path / "y"),
                                    "--method", "wide", "--epochs", "3"])
    assert both.exit_code != 0 and "--epochs" in str(both.exception) + both.output


def test_choose_method() -> None:
    from cultura.adapt.methods import choose_method

    glossed = build_profile("zh", manager=_manager())
    plain = build_profile("zh", manager=_manager(gloss=False))
    assert choose_method("auto", glossed, "token-cls")[0] == "wide"
    assert choose_method("auto", glossed, "seq-cls")[0] == "wide"
    assert choose_method("auto", glossed, "causal-lm") == ("peft", "a causal-lm head")
    assert choose_method("auto", plain, "seq-cls")[0] == "peft"
    assert choose_method("auto", plain, "token-cls")[0] == "wide"  # the CRF beat PEFT on NER
    assert choose_method("auto", glossed, "seq-cls", ["--epochs"]) == ("peft", "--epochs given")
    assert choose_method("peft", glossed, "seq-cls")[0] == "peft"
    assert choose_method("wide", plain, "token-cls")[0] == "wide"  # a tagger needs no glosses
    for args, message in (((plain, "seq-cls"), "glosses"), ((glossed, "masked-lm"), "masked-lm")):
        with pytest.raises(CulturaError, match=message):
            choose_method("wide", *args)
    with pytest.raises(CulturaError, match="--lr"):
        choose_method("wide", glossed, "seq-cls", ["--lr"])
