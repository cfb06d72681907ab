"""The vLLM multi-LoRA export: the files have the layout vLLM's LoRA loader reads (config
fields, tensor names, shapes, dtype, nothing else), plain PEFT loads them back to the cultura
adapter's logits, the manifest and README say what to run, and every adapter vLLM cannot serve
is refused with the reason and the alternative."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open

import cultura
from cultura.adapt import artifact
from cultura.adapt.artifact import ArtifactError
from cultura.adapt.model import adapt, load_pretrained
from cultura.core.plugins import PluginManager
from cultura.core.types import (
    AdapterHeadSpec,
    CultureInfo,
    Normalizer,
    PeftSpec,
    TokenizerTweaks,
    VocabularyExtension,
)
from cultura.export.vllm import VLLM_MANIFEST, VllmExportError, export_vllm

#: what vLLM's PEFT helper requires in adapter_config.json
VLLM_REQUIRED = ("r", "lora_alpha", "target_modules")
#: a few Traditional -> Simplified characters: the test culture's normalizer
T2S = str.maketrans({"電": "电", "歡": "欢", "們": "们"})
#: words the tiny byte-level BPE vocabulary lacks: extending the vocabulary adds them
VOCAB = ("喜欢", "电影", "春节")
TEXTS = ["我们 喜欢 这个 电影", "今天 天气 很 好", "the movie was great and i loved it",
         "we celebrate the spring festival with family"]


def _t2s(texts: list[str]) -> list[str]:
    return [t.translate(T2S) for t in texts]


def make_plugin() -> Any:
    """A culture plugin object built in code (not installed): a causal-lm task ``chat`` and a
    seq-cls task ``sentiment`` for ``zh``."""
    plugin = types.SimpleNamespace(CULTURA_API_VERSION="1.0", __name__="cultura_vllmculture")

    @cultura.hookimpl
    def cultura_cultures() -> list[CultureInfo]:
        return [CultureInfo("zh", description="vLLM export test culture")]

    @cultura.hookimpl
    def cultura_tokenizer_tweaks(culture: Any) -> TokenizerTweaks:
        return TokenizerTweaks(
            normalizers=(Normalizer("test.t2s", _t2s, "a few Traditional characters"),),
            vocabulary=(VocabularyExtension("test.vocab", VOCAB, init="fvt"),),
        )

    @cultura.hookimpl
    def cultura_adapter_heads(culture: Any) -> list[AdapterHeadSpec]:
        return [
            AdapterHeadSpec("chat", "causal-lm"),
            AdapterHeadSpec("sentiment", "seq-cls", labels=("正面", "负面")),
        ]

    for hook in (cultura_cultures, cultura_tokenizer_tweaks, cultura_adapter_heads):
        setattr(plugin, hook.__name__, hook)
    return plugin


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    pm = PluginManager(entry_points=False)
    record = pm.register(make_plugin(), name="vllmculture")
    assert record.status == "active", record.error
    return pm


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny LLaMA-style causal LM with a byte-level BPE tokenizer trained here."""
    from cultura.testing.models import build_tiny_model

    return {"llama": build_tiny_model("llama", tmp_path_factory.mktemp("tiny-llama") / "llama")}


def _train(model: Any) -> Any:
    """A few steps of training, so the LoRA's B factors are not zero."""
    model.train([{"text": t} for t in TEXTS * 3], epochs=2, lr=2e-2, batch_size=4, progress=False)
    return model


@pytest.fixture(scope="module")
def chat(tiny, manager, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A causal-lm LoRA without added vocabulary, trained, saved, loaded back and exported."""
    model = _train(adapt(str(tiny["llama"]), culture="zh", task="chat", manager=manager,
                         extend_vocab=False))
    root = tmp_path_factory.mktemp("vllm")
    model.save_pretrained(root / "adapter")
    loaded = load_pretrained(root / "adapter", manager=manager)
    out = export_vllm(loaded, root / "export")
    return types.SimpleNamespace(model=loaded, adapter=root / "adapter", out=out)


def _config(out: Path) -> dict[str, Any]:
    return json.loads((out / artifact.PEFT_CONFIG).read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------- layout
def test_the_files_are_the_peft_lora_layout_vllm_reads(chat, tiny) -> None:
    assert {p.name for p in chat.out.iterdir()} == {
        artifact.PEFT_CONFIG, artifact.PEFT_WEIGHTS, VLLM_MANIFEST, artifact.CARD
    }
    config = _config(chat.out)
    assert all(config[k] for k in VLLM_REQUIRED)
    assert config["peft_type"] == "LORA" and config["task_type"] == "CAUSAL_LM"
    assert (config["r"], config["lora_alpha"]) == (8, 16)
    assert config["target_modules"] == ["q_proj", "v_proj"]
    assert config["base_model_name_or_path"] == str(tiny["llama"])
    assert config["inference_mode"] is True
    # what vLLM refuses is absent or off
    assert "modules_to_save" not in config and "trainable_token_indices" not in config
    assert config["use_dora"] is False and config["bias"] == "none"
    assert not config["rank_pattern"] and not config["alpha_pattern"]


def test_tensors_are_named_and_shaped_as_vllm_parses_them(chat, tiny) -> None:
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny["llama"])
    r = _config(chat.out)["r"]
    with safe_open(str(chat.out / artifact.PEFT_WEIGHTS), framework="pt") as f:
        assert f.metadata() == {"format": "pt"}
        keys = set(f.keys())
        tensors = {k: f.get_tensor(k) for k in keys}
    expected = {
        f"base_model.model.model.layers.{i}.self_attn.{p}_proj.lora_{ab}.weight"
        for i in range(base.config.num_hidden_layers) for p in ("q", "v") for ab in ("A", "B")
    }
    assert keys == expected, "an A and a B per targeted module, nothing else"
    for key, tensor in tensors.items():
        # vLLM: strip base_model.model., the module name ends with a target module
        match = re.fullmatch(r"base_model\.model\.(.+)\.lora_([AB])\.weight", key)
        assert match is not None
        module, part = match.groups()
        assert module.rsplit(".", 1)[-1] in {"q_proj", "v_proj"}
        linear = base.get_submodule(module)
        assert isinstance(linear, torch.nn.Linear)
        out_features, in_features = linear.weight.shape
        assert tuple(tensor.shape) == ((r, in_features) if part == "A" else (out_features, r))
        assert tensor.dtype == torch.float32
    # the exported factors are the adapter's own, and trained (B is no longer zero)
    peft_state = chat.model.model.state_dict()
    for key, tensor in tensors.items():
        own = key.replace(".lora_A.weight", ".lora_A.default.weight").replace(
            ".lora_B.weight", ".lora_B.default.weight")
        assert torch.equal(peft_state[own], tensor)
    assert any(t.abs().sum() > 0 for k, t in tensors.items() if ".lora_B." in k)


def test_plain_peft_loads_it_to_the_same_logits(chat, tiny) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    enc = chat.model.encode(TEXTS)
    chat.model.model.eval()
    with torch.no_grad():
        ours = chat.model.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    base = AutoModelForCausalLM.from_pretrained(tiny["llama"])
    plain = PeftModel.from_pretrained(base, str(chat.out)).eval()
    with torch.no_grad():
        theirs = plain(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
        with plain.disable_adapter():
            bare = plain(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=0)
    assert not torch.allclose(bare, theirs, atol=1e-3), "the adapter changes the logits"


def test_manifest_and_readme_say_what_it_is_and_how_to_serve_it(chat, tiny) -> None:
    manifest = json.loads((chat.out / VLLM_MANIFEST).read_text(encoding="utf-8"))
    source = json.loads((chat.adapter / artifact.MANIFEST).read_text(encoding="utf-8"))
    assert (manifest["culture"], manifest["task"], manifest["head_type"]) == ("zh", "chat", "causal-lm")
    assert manifest["base_model"]["id"] == str(tiny["llama"])
    assert manifest["source"]["adapter_sha256"] == source["files"][artifact.PEFT_WEIGHTS]
    assert manifest["files"] == {
        name: artifact.sha256_file(chat.out / name) for name in (artifact.PEFT_CONFIG, artifact.PEFT_WEIGHTS)
    }
    assert manifest["lora"]["modules"] == 4 and manifest["lora"]["max_lora_rank"] == 8
    assert manifest["client_side"]["normalizers"][-1] == "test.t2s"
    readme = (chat.out / artifact.CARD).read_text(encoding="utf-8")
    assert f"vllm serve {tiny['llama']} --enable-lora --max-lora-rank 8" in readme
    assert f"--lora-modules zh-chat={chat.out.resolve()}" in readme
    assert "cultura.culture('zh').normalize(prompts)" in readme


def test_name_and_overwrite(chat, tmp_path) -> None:
    out = export_vllm(chat.model, tmp_path / "named", name="zh_chat.v2")
    assert json.loads((out / VLLM_MANIFEST).read_text())["name"] == "zh_chat.v2"
    with pytest.raises(ArtifactError, match="exists and is not empty"):
        export_vllm(chat.model, out)
    export_vllm(chat.model, out, overwrite=True)
    with pytest.raises(VllmExportError, match=r"'zh=chat' is not usable in `--lora-modules"):
        export_vllm(chat.model, tmp_path / "bad", name="zh=chat")
    assert not (tmp_path / "bad").exists()


# ---------------------------------------------------------------------------- refusals
def _refused(model: Any, tmp_path: Path, *patterns: str) -> None:
    with pytest.raises(VllmExportError) as info:
        export_vllm(model, tmp_path / "refused")
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))
    assert not (tmp_path / "refused").exists(), "nothing is written"


def test_refuses_added_vocabulary(tiny, manager, tmp_path) -> None:
    model = adapt(str(tiny["llama"]), culture="zh", task="chat", manager=manager)
    assert model.added.tokens
    _refused(model, tmp_path, r"adds 3 tokens to the base vocabulary",
             r"cannot add vocabulary rows", r"--no-extend-vocab", r"cultura serve")


def test_refuses_other_heads(tiny, manager, tmp_path) -> None:
    model = adapt(str(tiny["llama"]), culture="zh", task="sentiment", manager=manager,
                  extend_vocab=False)
    _refused(model, tmp_path, r"zh/sentiment has a seq-cls head", r"only causal-lm adapters",
             r"cultura serve")


@pytest.mark.parametrize("method", ["ia3", "prefix"])
def test_refuses_other_peft_methods(tiny, manager, tmp_path, method: str) -> None:
    model = adapt(str(tiny["llama"]), culture="zh", task="chat", manager=manager,
                  extend_vocab=False, peft=PeftSpec(method=method))
    _refused(model, tmp_path, rf"is a {method} adapter; vLLM loads LoRA adapters only",
             r"PeftSpec\(method='lora'\)")


def test_refuses_a_stack_on_a_language_adapter(tiny, manager, tmp_path) -> None:
    language = _train(adapt(str(tiny["llama"]), culture="zh", task="lm", manager=manager,
                            extend_vocab=False))
    model = adapt(str(tiny["llama"]), culture="zh", task="chat", manager=manager,
                  extend_vocab=False, start_from=language)
    _refused(model, tmp_path, r"stacks on the language adapter 'lm'", r"merged into the base",
             r"without --start-from")


@pytest.mark.parametrize(
    ("peft", "patterns"),
    [
        (PeftSpec(options={"modules_to_save": ["lm_head"]}),
         (r"modules_to_save: lm_head", r"vLLM refuses modules_to_save")),
        (PeftSpec(options={"trainable_token_indices": [1, 2]}),
         (r"trains embedding rows \(PEFT trainable_token_indices\)",)),
        (PeftSpec(options={"use_dora": True}), (r"DoRA \(use_dora=True\)",)),
        (PeftSpec(options={"rank_pattern": {"q_proj": 4}}), (r"per-module ranks",)),
        (PeftSpec(options={"bias": "lora_only"}), (r"trains biases \(bias='lora_only'\)",)),
        (PeftSpec(r=1024), (r"rank r=1024; vLLM serves LoRA ranks up to 512",)),
        (PeftSpec(target_modules=("q_proj", "lm_head")),
         (r"LoRA on the embedding module 'lm_head'", r"linear layers only")),
        (PeftSpec(target_modules=("q_proj", "embed_tokens")),
         (r"tensor 'base_model\.model\.model\.embed_tokens\.lora_embedding_A'",
          r"not a LoRA factor of a linear layer")),
    ],
    ids=["modules_to_save", "trainable_tokens", "dora", "rank_pattern", "bias", "rank",
         "lm_head", "embedding"],
)
def test_refuses_what_vllm_does_not_load(tiny, manager, tmp_path, peft: PeftSpec,
                                         patterns: tuple[str, ...]) -> None:
    model = adapt(str(tiny["llama"]), culture="zh", task="chat", manager=manager,
                  extend_vocab=False, peft=peft)
    _refused(model, tmp_path, *patterns)


def test_refuses_what_is_not_a_cultural_model(tmp_path) -> None:
    _refused(object(), tmp_path, r"takes a CulturalModel .* got object")
