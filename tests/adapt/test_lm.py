"""Culture language adapters (the built-in ``lm`` task) and task adapters stacked on them with
``start_from``: masked-LM training on tiny models, the rows that train, save/load round trips,
the merged stack, refusals, hostile manifest values and the command line."""

from __future__ import annotations

import json
import shutil
import types
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

import cultura
from cultura.adapt import artifact, lm
from cultura.adapt.artifact import ArtifactError, Manifest
from cultura.adapt.data import Example
from cultura.adapt.model import adapt, load_pretrained
from cultura.cli import cli
from cultura.core.errors import CulturaError, DataError
from cultura.core.plugins import PluginManager
from cultura.core.types import AdapterHeadSpec
from cultura.testing.environment import active_plugin_manager, isolate_environment

from .conftest import SENTIMENT, VOCAB, CallLog, make_plugin, toy_sentiment

TEXTS = ["我们 喜欢 这个 电影", "今天 天气 很 好", "春节 快乐 月饼 中秋", "the movie was great and i loved it",
         "we celebrate the spring festival with family", "电影 好看 , 我们 喜欢"]


@pytest.fixture(scope="module")
def lm_manager() -> PluginManager:
    """The test culture without a plugin ``lm`` head: ``lm`` is the built-in one."""
    plugin = make_plugin(CallLog())

    @cultura.hookimpl
    def cultura_adapter_heads(culture: Any) -> list[AdapterHeadSpec]:
        return [AdapterHeadSpec("sentiment", "seq-cls", labels=SENTIMENT)]

    plugin.cultura_adapter_heads = cultura_adapter_heads
    manager = PluginManager(entry_points=False)
    assert manager.register(plugin, name="lmculture").status == "active"
    return manager


@pytest.fixture(scope="module")
def language(tiny: dict[str, Path], lm_manager: PluginManager, tmp_path_factory: pytest.TempPathFactory):
    """A tiny BERT language adapter, trained on a few texts and saved."""
    model = adapt(str(tiny["bert"]), culture="zh", task="lm", manager=lm_manager)
    history = model.train(TEXTS * 4, epochs=3, lr=2e-2, batch_size=8, progress=False)
    directory = tmp_path_factory.mktemp("lm") / "zh-lm"
    model.save_pretrained(directory)
    return types.SimpleNamespace(model=model, history=history, directory=directory)


def _embedding(model: Any) -> torch.Tensor:
    """The base embedding matrix under PEFT's trainable-tokens wrapper."""
    emb = model.model.get_base_model().get_input_embeddings()
    return (emb.token_adapter.base_layer if hasattr(emb, "token_adapter") else emb).weight


# ---------------------------------------------------------------------------- building
def test_lm_is_built_in_and_follows_the_base(tiny, lm_manager) -> None:
    profile = cultura.culture("zh", manager=lm_manager)
    assert lm.is_builtin(profile, "lm") and not lm.is_builtin(profile, "sentiment")
    assert lm.lm_head_type_of(str(tiny["bert"])) == "masked-lm"
    assert lm.lm_head_type_of(str(tiny["gpt2"])) == "causal-lm"
    causal = adapt(str(tiny["gpt2"]), culture="zh", task="lm", manager=lm_manager)
    assert (causal.spec.task, causal.head_type) == ("lm", "causal-lm")
    with pytest.raises(CulturaError, match="labels= is for seq-cls and token-cls heads; task 'lm' "
                                           "is a masked-lm head"):
        adapt(str(tiny["bert"]), culture="zh", task="lm", manager=lm_manager, labels=["a", "b"])


def test_a_plugin_lm_head_replaces_the_built_in_one(tiny, manager) -> None:
    # the shared test plugin declares lm as a causal-lm head: more specific than the built-in
    assert not lm.is_builtin(cultura.culture("zh", manager=manager), "lm")
    with pytest.raises(CulturaError, match="cannot take a causal-lm head"):
        adapt(str(tiny["bert"]), culture="zh", task="lm", manager=manager)


def test_masked_lm_loss_goes_down_and_only_added_rows_move(tiny, lm_manager) -> None:
    model = adapt(str(tiny["bert"]), culture="zh", task="lm", manager=lm_manager)
    assert model.head_type == "masked-lm" and model.added.tokens == VOCAB and model.added.tied
    before = _embedding(model).detach().clone()
    rows_before = model.added_rows()["embedding"]
    history = model.train(TEXTS * 4, epochs=4, lr=2e-2, batch_size=8, progress=False, seed=1)
    assert history.train_losses[-1] < history.train_losses[0]
    assert torch.equal(_embedding(model), before), "the base matrix never changes"
    rows_after = model.added_rows()["embedding"]
    assert not torch.equal(rows_after, rows_before), "the added rows trained"
    # the tied decoder scores the added tokens with the trained rows
    decoder = model.model.get_base_model().get_output_embeddings()
    effective = decoder.token_adapter.get_merged_weights(decoder.token_adapter.active_adapters)
    assert torch.equal(effective[list(model.added.token_ids)], rows_after)
    assert model.training_summary["epochs"] == 4


def test_masking_is_seeded_whole_word_and_80_10_10(tiny, lm_manager) -> None:
    model = adapt(str(tiny["bert"]), culture="zh", task="lm", manager=lm_manager)
    tok = model.tokenizer
    enc = model.encode(["the festivals celebrated xylophone family , 我们 喜欢 这个 电影 春节"] * 400)
    ids, mask = enc["input_ids"], enc["attention_mask"]

    def masked(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        return lm.mask_tokens(ids, mask, tok, torch.Generator().manual_seed(seed))

    new, labels = masked(0)
    again, labels_again = masked(0)
    assert torch.equal(new, again) and torch.equal(labels, labels_again)
    assert not torch.equal(masked(1)[1], labels)
    chosen = labels != -100
    real = (mask == 1) & ~torch.isin(ids, torch.tensor(tok.all_special_ids))
    assert not (chosen & ~real).any(), "special tokens and padding are never chosen"
    share = chosen.sum() / real.sum()
    assert 0.12 <= share <= 0.18
    assert torch.equal(labels[chosen], ids[chosen])
    n = chosen.sum().item()
    to_mask = (new[chosen] == tok.mask_token_id).sum().item() / n
    kept = (new[chosen] == ids[chosen]).sum().item() / n
    assert 0.75 < to_mask < 0.85 and 0.07 < kept < 0.15
    # whole words: a ## piece is chosen exactly when the piece before it is
    tokens = tok.convert_ids_to_tokens(ids[0].tolist())
    pieces = [i for i, t in enumerate(tokens) if t.startswith("##")]
    assert pieces, tokens
    for i in pieces:
        assert torch.equal(chosen[:, i], chosen[:, i - 1])
    # every Han character (and added CJK token) is a word of its own
    cjk = [i for i, t in enumerate(tokens) if lm._CJK.search(t)]
    assert not all(torch.equal(chosen[:, a], chosen[:, b]) for a, b in zip(cjk, cjk[1:], strict=False))


def test_lm_data_shapes(tmp_path) -> None:
    from cultura.adapt.data import lm_examples

    text = tmp_path / "texts.txt"
    text.write_text("\ufeff第一 行\n\n second line \n", encoding="utf-8")
    got = lm_examples(text)
    assert [e.text for e in got] == ["第一 行", " second line "]
    assert got[1].where == f"{text}:3"
    labeled = tmp_path / "train.jsonl"
    labeled.write_text('{"text": "很 好", "label": "nonsense"}\n', encoding="utf-8")
    assert [e.text for e in lm_examples(labeled)] == ["很 好"]  # labels ignored
    ner = [{"tokens": ["住", "在", "北", "京", "with", "friends"], "tags": ["O"] * 6}]
    assert [e.text for e in lm_examples(ner)] == ["住在北京 with friends"]
    assert [e.text for e in lm_examples(["a", {"text": "b"}])] == ["a", "b"]
    with pytest.raises(DataError, match=r"record 0: field 'text' must be a non-empty string.*"
                                        r"fields body"):
        lm_examples([{"body": "x"}])
    (tmp_path / "empty.txt").write_text("\n \n", encoding="utf-8")
    with pytest.raises(DataError, match="no texts found"):
        lm_examples(tmp_path / "empty.txt")
    with pytest.raises(CulturaError, match="masked-lm head has no labels"):
        from cultura.adapt.data import labels_from_data

        labels_from_data(labeled, "masked-lm")


# ---------------------------------------------------------------------------- saving
def test_save_load_round_trip_and_fill_mask(language, lm_manager) -> None:
    model, directory = language.model, language.directory
    manifest = artifact.read_manifest(directory)
    assert (manifest.task, manifest.head_type, manifest.start_from) == ("lm", "masked-lm", None)
    assert "start_from" not in json.loads((directory / artifact.MANIFEST).read_text(encoding="utf-8"))
    loaded = load_pretrained(directory, manager=lm_manager)
    assert loaded.head_type == "masked-lm"
    assert torch.equal(model.logits(TEXTS), loaded.logits(TEXTS))
    first, second = loaded.evaluate(TEXTS), loaded.evaluate(TEXTS)
    assert first["loss"] == second["loss"] and first["perplexity"] > 1, "eval masks are fixed"
    (result,) = loaded.predict(["我们 [MASK] 这个 电影"], top_k=3)
    assert len(result["masks"]) == 1 and len(result["masks"][0]["top"]) == 3
    assert "[MASK]" not in result["filled"] and result["filled"].startswith("我们 ")
    special = set(loaded.tokenizer.all_special_ids)  # never proposed: [MASK], [CLS], [UNK]...
    assert not special & {t["token_id"] for t in result["masks"][0]["top"]}
    with pytest.raises(CulturaError, match=r"has no \[MASK\]"):
        loaded.predict(["no mask here"])


def test_a_checkpoint_without_mlm_head_trains_and_saves_the_new_head(tiny, lm_manager, tmp_path,
                                                                      caplog) -> None:
    from transformers import AutoModel, AutoTokenizer

    bare = tmp_path / "bare-bert"  # a BertModel, like sentence-transformers/all-MiniLM-L6-v2
    AutoModel.from_pretrained(str(tiny["bert"])).save_pretrained(bare)
    AutoTokenizer.from_pretrained(str(tiny["bert"])).save_pretrained(bare)
    with caplog.at_level("INFO", logger="cultura.adapt.lm"):
        model = adapt(str(bare), culture="zh", task="lm", manager=lm_manager, seed=3)
    assert "no masked-LM head weights for cls.predictions.transform" in caplog.text
    config = model.model.peft_config["default"]
    assert sorted(config.modules_to_save) == ["cls.predictions.transform.LayerNorm",
                                              "cls.predictions.transform.dense"]
    bias = model.model.get_base_model().cls.predictions.bias
    assert bias.shape[0] == model.added.vocab_size_after and not bias.any()
    model.train(TEXTS * 2, epochs=1, lr=1e-2, batch_size=4, progress=False)
    model.save_pretrained(tmp_path / "lm")
    loaded = load_pretrained(tmp_path / "lm", manager=lm_manager)  # seed 0: the head is loaded
    assert torch.equal(model.logits(TEXTS), loaded.logits(TEXTS))


# ---------------------------------------------------------------------------- start_from
@pytest.mark.parametrize("source", ["directory", "model"])
def test_start_from_merges_the_language_adapter(language, tiny, lm_manager, tmp_path, source) -> None:
    start_from = str(language.directory) if source == "directory" else language.model
    task = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=lm_manager,
                 start_from=start_from)
    record = task.manifest().start_from
    assert record is not None and record["task"] == "lm" and record["head_type"] == "masked-lm"
    assert record["name"] == (str(language.directory) if source == "directory" else "")
    assert record["added_tokens"] == len(VOCAB) and record["modules"] == 4
    # the factors read from the files are the ones of the live model
    assert record["lora_sha256"] == lm.lora_digest(lm.lora_factors(language.model, "live"))
    expected = language.model.manifest().files.get(artifact.PEFT_WEIGHTS)
    assert record["adapter_sha256"] == expected  # None for a model never saved or loaded
    # the task adapter starts from the language adapter's rows ...
    assert torch.equal(task.added_rows()["embedding"], language.model.added_rows()["embedding"])
    assert task.added.init_counts == {"start_from": len(VOCAB)}
    # ... and from the base with its LoRA merged
    from transformers import AutoModelForSequenceClassification

    plain = AutoModelForSequenceClassification.from_pretrained(str(tiny["bert"]), num_labels=3)
    name = "encoder.layer.0.attention.self.query"
    merged = task.model.get_base_model().bert.get_submodule(name).base_layer.weight
    delta = task.start_from.factors[name].delta()
    assert delta.abs().sum() > 0
    torch.testing.assert_close(merged, plain.bert.get_submodule(name).weight + delta)
    task.train(toy_sentiment(2), epochs=2, lr=1e-2, batch_size=8, progress=False)
    task.save_pretrained(tmp_path / "sentiment")
    assert (tmp_path / "sentiment" / artifact.LANGUAGE_LORA).is_file()
    card = (tmp_path / "sentiment" / artifact.CARD).read_text(encoding="utf-8")
    assert "language adapter:" in card
    loaded = load_pretrained(tmp_path / "sentiment", manager=lm_manager)
    assert loaded.manifest().start_from == record
    assert torch.equal(task.logits(TEXTS), loaded.logits(TEXTS))
    # a loaded stacked adapter saves the same stack again
    loaded.save_pretrained(tmp_path / "again")
    assert torch.equal(load_pretrained(tmp_path / "again", manager=lm_manager).logits(TEXTS),
                       loaded.logits(TEXTS))


def test_start_from_refuses_what_does_not_stack(language, tiny, lm_manager, tmp_path, trained) -> None:
    from cultura.testing.models import build_tiny_model

    other = build_tiny_model("bert", tmp_path / "other-bert", seed=7)  # same shape, other weights
    with pytest.raises(CulturaError, match=r"start_from=.*trained on base .* this adapter's base is "
                                           r".*embedding digest .*stacks only on the base"):
        adapt(str(other), culture="zh", task="sentiment", manager=lm_manager,
              start_from=str(language.directory))
    with pytest.raises(CulturaError, match=r"the language adapter added 8 tokens, this sentiment "
                                           r"adapter adds 0.*'喜欢' in the language adapter, "
                                           r"nothing here"):
        adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=lm_manager,
              extend_vocab=False, start_from=language.model)
    with pytest.raises(CulturaError, match=r"a seq-cls adapter for task 'sentiment', not a "
                                           r"language adapter"):
        adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=lm_manager,
              start_from=trained.directory)
    with pytest.raises(CulturaError, match="is not an adapter directory"):
        adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=lm_manager,
              start_from=tmp_path / "missing")
    with pytest.raises(CulturaError, match="start_from must be an adapter directory or a loaded"):
        adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=lm_manager, start_from=42)


# ---------------------------------------------------------------------------- untrusted
@pytest.fixture(scope="module")
def stacked(language, tiny, lm_manager, tmp_path_factory) -> Path:
    task = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=lm_manager,
                 start_from=str(language.directory))
    directory = tmp_path_factory.mktemp("stacked") / "sentiment"
    task.save_pretrained(directory)
    return directory


@pytest.mark.parametrize(("field", "value", "message"), [
    ("file", "../evil.safetensors", "start_from.file' must be one of 'language_adapter"),
    ("file", "adapter_model.safetensors", "start_from.file' must be one of"),
    ("modules", 10**9, "start_from.modules' must be an integer in 1..4096"),
    ("modules", "4", "start_from.modules' must be an integer"),
    ("added_tokens", -1, "start_from.added_tokens' must be an integer in 0..1000000"),
    ("lora_sha256", "abc", "start_from.lora_sha256' must be 64 lowercase hex digits"),
    ("lora_sha256", None, "start_from.lora_sha256' must be 64 lowercase hex digits"),
    ("adapter_sha256", "Z" * 64, "start_from.adapter_sha256' must be 64 lowercase hex digits or null"),
    ("head_type", "seq-cls", "start_from.head_type' must be one of 'masked-lm', 'causal-lm'"),
    ("task", "../lm", "start_from.task' must be a task name"),
    ("culture", "not a tag!", "field 'start_from.culture'"),
    ("revision", "../../main", "start_from.revision' must be a branch, tag or commit"),
    ("name", "zh/lm\n## injected", "start_from.name' must be a string of at most 4096 characters "
                                   "without control characters or backticks"),
    ("name", "`rm -rf`", "without control characters or backticks"),
    ("name", "x" * 5000, "start_from.name'"),
    ("extra", 1, "start_from.extra' must be absent"),
])
def test_hostile_start_from_fields_are_refused(stacked, field, value, message) -> None:
    data = json.loads((stacked / artifact.MANIFEST).read_text(encoding="utf-8"))
    assert Manifest.from_dict(data).start_from is not None
    data["start_from"][field] = value
    with pytest.raises(ArtifactError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Manifest.from_dict(data)


def test_hostile_start_from_shapes_are_refused(stacked) -> None:
    data = json.loads((stacked / artifact.MANIFEST).read_text(encoding="utf-8"))
    for bad in ([], "x", 3):
        with pytest.raises(ArtifactError, match="field 'start_from' must be an object"):
            Manifest.from_dict({**data, "start_from": bad})
    files = {k: v for k, v in data["files"].items() if k != artifact.LANGUAGE_LORA}
    with pytest.raises(ArtifactError, match="'files' does not list it"):
        Manifest.from_dict({**data, "files": files})


def _rewrite_language_file(directory: Path, *, modules: Any = None, scale: float = 1.0,
                           rename: tuple[str, str] | None = None) -> None:
    """Rewrite ``language_adapter.safetensors``: other module settings, scaled tensors, or one
    module (``rename``: old, new) moved to another name, settings and tensors alike."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = directory / artifact.LANGUAGE_LORA
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) * scale for k in fh.keys()}  # noqa: SIM118
    if modules is not None:
        meta["modules"] = json.dumps(modules)
    if rename is not None:
        old, new = rename
        settings = json.loads(meta["modules"])
        settings[new] = settings.pop(old)
        meta["modules"] = json.dumps(settings)
        tensors = {(new + k[len(old):] if k.startswith(f"{old}.lora_") else k): v
                   for k, v in tensors.items()}
    save_file(tensors, str(path), metadata=meta)


def test_a_tampered_language_file_is_refused(stacked, lm_manager, tmp_path) -> None:
    d = tmp_path / "copy"
    shutil.copytree(stacked, d)
    _rewrite_language_file(d, scale=2.0)
    with pytest.raises(ArtifactError, match=r"language_adapter.safetensors changed"):
        load_pretrained(d, manager=lm_manager)
    with pytest.raises(ArtifactError, match=r"do not have the sha256 cultura.json records"):
        load_pretrained(d, manager=lm_manager, verify=False)
    modules = json.loads(_metadata(stacked)["modules"])
    first = next(iter(modules))
    for bad, message in (
        ({**modules, "__class__": modules[first]}, "must map the 4 module names"),
        ({("__class__" if k == first else k): v for k, v in modules.items()},
         "module name '__class__' is not a dotted module path"),
        ({**modules, first: {"scaling": float("inf"), "fan_in_fan_out": False}},
         "scaling must be a finite number"),
        ({**modules, first: {"scaling": 1.0, "fan_in_fan_out": "yes"}}, "fan_in_fan_out must be"),
        ({**modules, first: {"scaling": 1.0}}, "settings must be"),
    ):
        shutil.rmtree(d)
        shutil.copytree(stacked, d)
        _rewrite_language_file(d, modules=bad)
        with pytest.raises(ArtifactError, match=message):
            load_pretrained(d, manager=lm_manager, verify=False)
    for target, error, message in (
        ("encoder.layer.0.intermediate.dense", ArtifactError, r"gives a \[32, 32\] update, the "
         r"base's weight is \[64, 32\]; the file does not belong to this base"),
        ("encoder.layer.9.attention.self.query", CulturaError, r"its LoRA targets bert.encoder.layer."
         r"9.attention.self.query, which BertForSequenceClassification has no linear layer for"),
    ):
        shutil.rmtree(d)
        shutil.copytree(stacked, d)
        _rewrite_language_file(d, rename=(first, target))
        with pytest.raises(error, match=message):
            load_pretrained(d, manager=lm_manager, verify=False)


def _metadata(directory: Path) -> dict[str, str]:
    return artifact.read_safetensors_header(directory / artifact.LANGUAGE_LORA)[1]


def test_a_stacked_adapter_is_not_served_on_a_shared_base(stacked, lm_manager) -> None:
    from cultura.serve.errors import UnsupportedAdapterError
    from cultura.serve.server import MultiCultureServer

    model = load_pretrained(stacked, manager=lm_manager)
    with pytest.raises(UnsupportedAdapterError, match="stacks on the language adapter"):
        MultiCultureServer(manager=lm_manager).add(model)


# ---------------------------------------------------------------------------- command line
@pytest.fixture
def lm_culture(lm_manager):
    with active_plugin_manager(lm_manager):
        yield lm_manager


def run(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_language_adapter_then_task_adapter(lm_culture, tiny, tmp_path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS * 3) + "\n", encoding="utf-8")
    base = ["--base", str(tiny["bert"]), "--batch-size", "8", "--lr", "0.02"]
    out = json.loads(run(["train", str(texts), "-c", "zh", "--task", "lm", "--out",
                          str(tmp_path / "zh-lm"), "--epochs", "2", "--json", *base]))
    assert len(out["history"]["records"]) == 2
    manifest = artifact.read_manifest(tmp_path / "zh-lm")
    assert (manifest.task, manifest.head_type) == ("lm", "masked-lm")
    shown = run(["predict", str(tmp_path / "zh-lm"), "我们 [MASK] 这个 电影", "--json"])
    assert json.loads(shown)[0]["masks"][0]["top"]
    line = run(["predict", str(tmp_path / "zh-lm"), "我们 [MASK] 这个 电影"])
    assert line.startswith("我们 ") and "[MASK]" not in line and line.rstrip().endswith(")")
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in toy_sentiment(1)),
                    encoding="utf-8")
    run(["train", str(data), "-c", "zh", "-t", "sentiment", "-o", str(tmp_path / "sentiment"),
         "--epochs", "1", "--start-from", str(tmp_path / "zh-lm"), *base])
    stacked = artifact.read_manifest(tmp_path / "sentiment")
    assert stacked.start_from is not None and stacked.start_from["name"] == str(tmp_path / "zh-lm")
    metrics = json.loads(run(["evaluate", str(tmp_path / "zh-lm"), str(texts), "--json"]))
    assert metrics["n"] == len(TEXTS) * 3 and metrics["perplexity"] > 1


def test_show_says_every_culture_has_lm() -> None:
    data = json.loads(run(["show", "zh", "--json"]))
    assert data["builtin_tasks"] == ["lm"]
    assert "built-in task: lm" in run(["show", "zh"])


def test_collate_masks_training_batches_from_the_seeded_generator(tiny, lm_manager) -> None:
    model = adapt(str(tiny["bert"]), culture="zh", task="lm", manager=lm_manager)
    examples = [Example(text=t) for t in TEXTS]
    model.model.train()
    lm.seed_masking(model, 5)
    first = model.collate(examples)["labels"]
    lm.seed_masking(model, 5)
    assert torch.equal(model.collate(examples)["labels"], first)
    assert not torch.equal(model.collate(examples)["labels"], first), "each batch draws anew"
    model.model.eval()
    assert torch.equal(model.collate(examples)["labels"], model.collate(examples)["labels"])


def test_start_from_a_registry_name(language, lm_culture, tiny, tmp_path, monkeypatch) -> None:
    from cultura.registry.store import LocalRegistry

    isolate_environment(tmp_path / "home", monkeypatch, clear=("CULTURA_LOCK",))
    LocalRegistry().install(language.directory)
    with pytest.raises(CulturaError, match=r"start_from='zh/lm' is not an adapter directory.*"
                                           r"cultura.load\('zh/lm'\)"):
        adapt(str(tiny["bert"]), culture="zh", task="sentiment", start_from="zh/lm")
    source = cultura.load("zh/lm", base=str(tiny["bert"]))
    assert source.source == {"name": "zh/lm", "revision": None}
    task = adapt(str(tiny["bert"]), culture="zh", task="sentiment", start_from=source)
    record = task.manifest().start_from
    assert record is not None and record["name"] == "zh/lm"
    assert record["adapter_sha256"] == language.model.manifest().files[artifact.PEFT_WEIGHTS]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in toy_sentiment(1)),
                    encoding="utf-8")
    run(["train", str(data), "-c", "zh", "-t", "sentiment", "-o", str(tmp_path / "sentiment"),
         "--epochs", "1", "--start-from", "zh/lm", "--base", str(tiny["bert"])])
    stacked = artifact.read_manifest(tmp_path / "sentiment").start_from
    assert stacked is not None and stacked["name"] == "zh/lm"
    assert stacked["lora_sha256"] == record["lora_sha256"]
