"""CulturalModel end to end on tiny models: training, save/load (identical logits), plain PEFT
loading after the documented resize, added-token rows, heads, and the bad-input errors."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import load_file

from cultura.adapt import artifact
from cultura.adapt.artifact import ArtifactError
from cultura.adapt.model import adapt, load_pretrained
from cultura.core.errors import CulturaError, UnknownCultureError
from cultura.core.types import PeftSpec

pytestmark = pytest.mark.slow

TEXTS = ["我們 喜歡 電影", "the food was terrible", "we celebrate the spring festival", "春节 月饼"]
SENTIMENT = ("正面", "负面", "中性")


def test_training_lowers_loss_and_beats_chance(trained, toy) -> None:
    history = trained.history
    losses = history.train_losses
    assert losses[-1] < 0.5 * losses[0]
    best = history.records[history.best_epoch - 1].eval
    assert best["accuracy"] > 0.5 + 1e-9, "two balanced classes: chance is 0.5"
    assert best["macro_f1"] >= 0.8
    again = trained.model.evaluate(toy.eval)
    assert again["accuracy"] == best["accuracy"], "the best epoch's weights were kept"
    assert set(again) >= {"accuracy", "macro_f1", "loss", "n", "per_label_f1"}


def test_predict_localized_labels_and_probabilities(trained) -> None:
    probs, labels = trained.model.predict_proba(TEXTS)
    assert labels == list(SENTIMENT) and probs.shape == (len(TEXTS), 3)
    assert abs(probs.sum(axis=1) - 1).max() < 1e-5
    results = trained.model.predict(TEXTS, top_k=2)
    assert [r["label"] for r in results] == [labels[i] for i in probs.argmax(axis=1)]
    for r in results:
        assert [t["label"] for t in r["top"]][0] == r["label"] and len(r["top"]) == 2
        assert r["top"][0]["score"] >= r["top"][1]["score"]
    assert trained.model.predict("the food was terrible")[0]["label"] == "负面"


def test_save_then_load_gives_identical_logits(trained, manager) -> None:
    loaded = load_pretrained(trained.directory, manager=manager)
    assert torch.equal(trained.model.logits(TEXTS), loaded.logits(TEXTS))
    assert torch.equal(
        trained.model.logits(TEXTS, knowledge=False), loaded.logits(TEXTS, knowledge=False)
    )
    assert loaded.labels == SENTIMENT and loaded.knowledge is not None
    assert loaded.predict(TEXTS) == trained.model.predict(TEXTS)


def test_artifact_files_manifest_and_card(trained) -> None:
    d = trained.directory
    names = {p.name for p in d.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "added_tokens.safetensors",
            "cultura.json", "README.md", "tokenizer.json"} <= names
    assert not any(n.startswith(".") for n in os.listdir(d.parent)), "no temp dirs left"
    manifest = artifact.verify_artifact(d)
    model = trained.model
    assert manifest.culture == "zh" and manifest.task == "sentiment"
    assert manifest.labels == SENTIMENT and manifest.head_type == "seq-cls"
    assert manifest.tokenizer["added_tokens"] == len(model.added.tokens) > 0
    assert manifest.tokenizer["vocab_size_after"] == manifest.tokenizer["vocab_size_before"] + len(model.added.tokens)
    assert [n["id"] for n in manifest.tokenizer["normalizers"]] == list(model.profile.normalizer_ids)
    assert manifest.knowledge[0]["name"] == "test.culture" and manifest.knowledge[0]["sha256"]
    assert manifest.settings["knowledge"]["enabled"] is True
    assert manifest.training["best_epoch"] == trained.history.best_epoch
    assert manifest.files == artifact.compute_hashes(d)
    peft_config = json.loads((d / "adapter_config.json").read_text())
    assert peft_config["base_model_name_or_path"] == manifest.base_model.id
    card = (d / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: peft" in card and "culture:zh" in card


def test_added_token_rows_trained_saved_and_restored(trained, tiny, manager) -> None:
    model = trained.model
    saved = load_file(str(trained.directory / "added_tokens.safetensors"))
    current = model.added_rows()
    assert torch.equal(saved["token_ids"], torch.tensor(model.added.token_ids))
    assert torch.equal(saved["embedding"], current["embedding"])
    fresh = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager)
    initial = fresh.added_rows()["embedding"]
    index = model.added.tokens.index("喜欢")  # occurs in the training data
    assert not torch.equal(current["embedding"][index], initial[index]), "rows train"
    loaded = load_pretrained(trained.directory, manager=manager)
    assert loaded.added.tokens == model.added.tokens
    assert torch.equal(loaded.added_rows()["embedding"], current["embedding"])
    base_rows = loaded.model.get_base_model().get_input_embeddings()
    assert base_rows.weight.shape[0] == model.added.vocab_size_after


def test_plain_peft_loads_after_the_documented_resize(trained, tiny) -> None:
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    d = trained.directory
    manifest = json.loads((d / "cultura.json").read_text())
    inputs = trained.model.encode(TEXTS)  # normalized + knowledge, as cultura feeds the model

    def base():
        return AutoModelForSequenceClassification.from_pretrained(
            tiny["bert"], num_labels=len(manifest["labels"])
        )

    with pytest.raises(IndexError, match="out of bounds"):
        PeftModel.from_pretrained(base(), d)  # without the resize: added token ids overflow
    model = base()
    model.resize_token_embeddings(manifest["tokenizer"]["vocab_size_after"])
    plain = PeftModel.from_pretrained(model, d).eval()
    with torch.no_grad():
        logits = plain(**inputs).logits
    assert torch.equal(logits, trained.model.logits(TEXTS))


def test_corrupted_or_missing_files_are_refused(fresh_copy, manager) -> None:
    d = fresh_copy()
    weights = d / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"corrupt!")
    with pytest.raises(ArtifactError, match="adapter_model.safetensors changed"):
        load_pretrained(d, manager=manager)
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(ArtifactError, match="adapter_model.safetensors: not a valid safetensors"):
        load_pretrained(d, manager=manager, verify=False)
    from safetensors.torch import save_file

    name = "base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight"
    save_file({name: torch.zeros(8, 5)}, str(weights))  # a valid file of the wrong shapes
    with pytest.raises(ArtifactError, match="PEFT could not load"):
        load_pretrained(d, manager=manager, verify=False)
    # a pickled adapter_model.bin next to no safetensors file is never handed to PEFT
    weights.rename(d / "adapter_model.bin")
    with pytest.raises(ArtifactError, match="safetensors weights only"):
        load_pretrained(d, manager=manager, verify=False)

    d2 = fresh_copy("second")
    (d2 / "added_tokens.safetensors").unlink()
    with pytest.raises(ArtifactError, match="missing added_tokens.safetensors"):
        load_pretrained(d2, manager=manager)
    with pytest.raises(ArtifactError, match="added_tokens.safetensors is missing"):
        load_pretrained(d2, manager=manager, verify=False)
    (d2 / "added_tokens.safetensors").write_bytes(b"\x00" * 12)
    with pytest.raises(ArtifactError, match="added_tokens.safetensors: not a valid safetensors"):
        load_pretrained(d2, manager=manager, verify=False)
    (d2 / "cultura.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_pretrained(d2, manager=manager)
    (d2 / "cultura.json").unlink()
    with pytest.raises(ArtifactError, match="not a cultura adapter directory"):
        load_pretrained(d2, manager=manager)


def test_base_model_mismatch_on_load(trained, tiny, manager, tmp_path) -> None:
    from cultura.testing.models import build_tiny_model

    with pytest.raises(CulturaError, match="base model mismatch.*fingerprint"):
        load_pretrained(trained.directory, base=tiny["gpt2"], manager=manager)
    other = build_tiny_model("bert", tmp_path / "bert-small", texts=["a b c", "d e f"])
    with pytest.raises(CulturaError, match="base model mismatch.*vocabulary size"):
        load_pretrained(trained.directory, base=other, manager=manager)
    # same config and tokenizer, different weights (another seed): caught by the digest
    import shutil

    reseeded = build_tiny_model("bert", tmp_path / "bert-reseeded", seed=1)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny["bert"] / name, reseeded / name)
    assert trained.model.manifest().base_model.weights
    with pytest.raises(CulturaError, match="base model mismatch.*different weights"):
        load_pretrained(trained.directory, base=reseeded, manager=manager)


def test_save_is_atomic(trained, tmp_path, monkeypatch) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ArtifactError, match="exists and is not empty"):
        trained.model.save_pretrained(target)
    assert os.listdir(target) == ["keep.txt"]

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(trained.model.tokenizer, "save_pretrained", boom)
    with pytest.raises(OSError, match="disk full"):
        trained.model.save_pretrained(tmp_path / "new")
    assert sorted(os.listdir(tmp_path)) == ["out"], "nothing half-written"


def test_bad_requests_fail_clearly(tiny, manager) -> None:
    with pytest.raises(CulturaError, match="encoder.*cannot take a causal-lm head"):
        adapt(str(tiny["bert"]), culture="zh", task="lm", manager=manager)
    with pytest.raises(UnknownCultureError):
        adapt(str(tiny["bert"]), culture="sw", task="sentiment", manager=manager)
    with pytest.raises(CulturaError, match="offers no task 'nope'.*sentiment, ner, lm"):
        adapt(str(tiny["bert"]), culture="zh", task="nope", manager=manager)
    with pytest.raises(CulturaError, match="prefix tuning of a seq-cls head needs .*past_key_values"):
        adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager,
              peft=PeftSpec(method="prefix"))
    model = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager)
    with pytest.raises(CulturaError, match="needs counterfactual bias checks"):
        model.train([{"text": "a", "label": "正面"}], epochs=1, progress=False,
                    counterfactual_augmentation=True)
    with pytest.raises(CulturaError, match="unknown label 'great'"):
        model.train([{"text": "a", "label": "great"}], epochs=1, progress=False)


def test_token_classification_alignment_and_roundtrip(tiny, manager, tmp_path) -> None:
    model = adapt(str(tiny["bert"]), culture="zh", task="ner", manager=manager, knowledge=False)
    tokens = ["we", "celebrate", "festivals", "in", "北京"]
    tags = [0, 0, 1, 0, 1]
    from cultura.adapt.data import Example

    batch = model.collate([Example(tokens=tuple(tokens), tags=tuple(tags))])
    enc = model.tokenizer(tokens, is_split_into_words=True)
    expected, previous = [], None
    for word in enc.word_ids():
        expected.append(-100 if word is None or word == previous else tags[word])
        previous = word
    assert batch["labels"][0].tolist() == expected
    assert expected.count(-100) > 2, "continuation pieces and specials are ignored"
    data = [{"tokens": tokens, "tags": ["O", "O", "B-LOC", "O", "B-LOC"]}] * 8
    model.train(data, epochs=2, lr=1e-2, batch_size=4, progress=False)
    model.save_pretrained(tmp_path / "ner")
    loaded = load_pretrained(tmp_path / "ner", manager=manager)
    texts = ["we celebrate festivals in 北京"]
    assert torch.equal(model.logits(texts), loaded.logits(texts))
    (result,) = loaded.predict(texts)
    assert [w["word"] for w in result["words"]] == ["we", "celebrate", "festivals", "in", "北", "京"]
    assert {w["label"] for w in result["words"]} <= {"O", "B-LOC", "I-LOC"}
    assert all(e["type"] == "LOC" for e in result["entities"])


@pytest.mark.parametrize(("kind", "method"), [("gpt2", "lora"), ("llama", "lora"), ("llama", "ia3"), ("llama", "prefix")])
def test_causal_lm_train_save_load(tiny, manager, tmp_path, kind: str, method: str) -> None:
    model = adapt(str(tiny[kind]), culture="zh", task="lm", manager=manager,
                  peft=PeftSpec(method=method))
    assert model.added.tied is (kind == "gpt2")
    prompt = model.inject(["春节 快乐"]).texts[0]
    assert prompt.startswith("春节 是 农历") and prompt.endswith("\n春节 快乐")
    emb = model.model.get_base_model().get_input_embeddings()
    old_rows = (emb.token_adapter.base_layer if hasattr(emb, "token_adapter") else emb).weight.detach().clone()
    texts = ["我们 喜欢 这个 电影", "今天 天气 很 好", "春节 快乐"] * 4
    history = model.train([{"text": t} for t in texts], epochs=3, lr=2e-2, batch_size=4,
                          progress=False)
    assert history.train_losses[-1] < history.train_losses[0]
    rows = model.added_rows()
    if method != "lora":  # rows train through a gradient mask; the other rows stay frozen
        weight = model.model.get_base_model().get_input_embeddings().weight
        n_old = model.added.vocab_size_before
        assert torch.equal(weight[:n_old], old_rows[:n_old])
        assert not torch.equal(rows["embedding"], old_rows[list(model.added.token_ids)])
    if kind == "llama":
        assert "lm_head" in rows
    model.save_pretrained(tmp_path / "lm")
    loaded = load_pretrained(tmp_path / "lm", manager=manager)
    assert torch.equal(model.logits(texts[:3]), loaded.logits(texts[:3]))
    (result,) = loaded.predict(["今天"], max_new_tokens=4)
    assert isinstance(result["generated"], str) and result["score"] <= 0


def test_ia3_encoder_rows_roundtrip(tiny, manager, tmp_path, toy) -> None:
    model = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager,
                  peft=PeftSpec(method="ia3"))
    assert model.row_training == "gradient_mask"
    model.train(toy.train[:12], epochs=1, lr=1e-2, batch_size=4, progress=False)
    model.save_pretrained(tmp_path / "ia3")
    loaded = load_pretrained(tmp_path / "ia3", manager=manager)
    assert torch.equal(model.logits(TEXTS), loaded.logits(TEXTS))
