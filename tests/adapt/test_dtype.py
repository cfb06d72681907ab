"""One ``dtype`` argument for adapt, train, load_pretrained and the commands: bfloat16 mixed
precision training on CPU, bfloat16 inference within the documented tolerance of float32,
adapters saved in float32 whatever the precision, float16 training refused on CPU."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from safetensors import safe_open

from cultura.adapt import precision
from cultura.adapt.model import adapt, load_pretrained
from cultura.cli import cli, main
from cultura.core.errors import CulturaError
from cultura.core.plugins import reset_plugin_manager
from cultura.core.types import PeftSpec

#: bfloat16 vs float32 class probabilities, as docs/adapters.md ("Precision") states it
TOLERANCE = 0.02
TEXTS = [
    "i loved the food , excellent",
    "great , we loved it",
    "我们 喜欢 这个 电影 , great",
    "terrible and slow",
    "a waste of money , never again",
    "服务 太 差 , terrible",
]


def float_dtypes(model: Any) -> set[torch.dtype]:
    return {p.dtype for p in model.parameters() if p.is_floating_point()}


def file_dtypes(path: Path) -> set[str]:
    with safe_open(str(path), framework="pt") as f:
        return {str(f.get_tensor(k).dtype) for k in f.keys()}  # noqa: SIM118


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def bf16(tiny, manager, toy, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A tiny BERT sentiment adapter (added rows, LoRA, head) trained in bfloat16 on CPU, with
    what its forward passes saw during training, saved."""
    model = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager,
                  dtype="bf16")
    seen: dict[str, set[Any]] = {"trainable": set(), "frozen": set(), "autocast": set()}

    def hook(module: Any, _args: Any) -> None:
        for p in module.parameters():
            seen["trainable" if p.requires_grad else "frozen"].add(p.dtype)
        kind = next(module.parameters()).device.type  # cuda when a GPU is there
        enabled = torch.is_autocast_enabled(kind)
        seen["autocast"].add(torch.get_autocast_dtype(kind) if enabled else None)

    # on the base model: its forward runs inside the one Accelerate wraps in autocast
    handle = model.model.get_base_model().register_forward_pre_hook(hook)
    history = model.train(toy.train, epochs=6, lr=1e-2, embedding_lr=1e-2, batch_size=8,
                          progress=False)
    handle.remove()
    directory = tmp_path_factory.mktemp("bf16") / "sentiment"
    model.save_pretrained(directory)
    return types.SimpleNamespace(model=model, history=history, seen=seen, directory=directory,
                                 train=toy.train)


def test_dtype_names_are_checked_before_anything_loads(tmp_path: Path) -> None:
    assert precision.canonical_dtype("BF16") == "bfloat16"
    assert precision.canonical_dtype(torch.float16) == "float16"
    with pytest.raises(CulturaError, match=r"'int8' is not supported; use one of auto, bfloat16"):
        adapt(str(tmp_path / "no-such-base"), culture="zh", task="sentiment", dtype="int8")
    with pytest.raises(CulturaError, match="'fp8' is not supported"):
        load_pretrained(tmp_path / "no-such-adapter", dtype="fp8")
    import cultura

    with pytest.raises(CulturaError, match="'double' is not supported"):
        cultura.load("zh/no-such-task", dtype="double", offline=True)


def test_bf16_training_on_cpu_is_mixed_precision_with_float32_master_weights(bf16) -> None:
    losses = bf16.history.train_losses
    assert losses[-1] < 0.5 * losses[0], losses
    # inside training: autocast to bfloat16, trainable weights float32, the frozen base bf16
    assert bf16.seen == {"trainable": {torch.float32}, "frozen": {torch.bfloat16},
                         "autocast": {torch.bfloat16}}
    # after it: the whole model in its dtype again, the precision recorded
    assert bf16.model.dtype == torch.bfloat16
    assert float_dtypes(bf16.model.model) == {torch.bfloat16}
    assert bf16.model.training_summary["dtype"] == "bfloat16"
    assert json.loads((bf16.directory / "cultura.json").read_text())["training"]["dtype"] == "bfloat16"
    assert bf16.model.evaluate(bf16.train)["accuracy"] == 1.0  # it learnt the toy task


def test_bf16_inference_matches_float32_within_tolerance(trained, manager) -> None:
    full = load_pretrained(trained.directory, manager=manager, dtype="float32")
    half = load_pretrained(trained.directory, manager=manager, dtype="bfloat16")
    assert full.dtype == torch.float32 and float_dtypes(full.model) == {torch.float32}
    assert half.dtype == torch.bfloat16 and float_dtypes(half.model) == {torch.bfloat16}
    p32, _ = full.predict_proba(TEXTS)
    p16, _ = half.predict_proba(TEXTS)
    print(f"bfloat16 vs float32: max |p32 - p16| = {abs(p32 - p16).max():.5f}")
    assert abs(p32 - p16).max() <= TOLERANCE
    assert (p32.argmax(1) == p16.argmax(1)).all()
    assert abs(p32 - p16).max() > 0, "bfloat16 really ran"


def test_adapters_are_saved_in_float32_and_load_in_any_precision(bf16, manager) -> None:
    assert file_dtypes(bf16.directory / "adapter_model.safetensors") == {"torch.float32"}
    assert file_dtypes(bf16.directory / "added_tokens.safetensors") == {
        "torch.float32", "torch.int64"}
    # saved exactly: reloaded in bfloat16 it computes what the trained model computes
    again = load_pretrained(bf16.directory, manager=manager, dtype="bfloat16")
    assert torch.equal(again.logits(TEXTS), bf16.model.logits(TEXTS))
    # and it loads into float32, within the tolerance
    full = load_pretrained(bf16.directory, manager=manager, dtype="float32")
    assert float_dtypes(full.model) == {torch.float32}
    p32, _ = full.predict_proba(TEXTS)
    p16, _ = bf16.model.predict_proba(TEXTS)
    assert abs(p32 - p16).max() <= TOLERANCE and (p32.argmax(1) == p16.argmax(1)).all()


def test_to_dtype_casts_everything(trained, manager) -> None:
    model = load_pretrained(trained.directory, manager=manager, dtype="fp32")
    assert model.dtype == torch.float32
    assert model.to_dtype("bf16") is model
    assert model.dtype == torch.bfloat16 and float_dtypes(model.model) == {torch.bfloat16}


def test_masked_rows_train_in_bf16(tiny, manager, toy) -> None:
    """IA3 trains added rows as a masked float32 embedding matrix: its lookups are cast to
    the model's dtype for the bfloat16 layers after it."""
    model = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager,
                  peft=PeftSpec(method="ia3"), dtype="bfloat16")
    history = model.train(toy.train[:16], epochs=2, batch_size=8, progress=False)
    assert len(history) == 2 and all(loss == loss for loss in history.train_losses)
    assert float_dtypes(model.model) == {torch.bfloat16}


@pytest.mark.skipif(torch.cuda.is_available(), reason="float16 training works on a GPU")
def test_float16_training_on_cpu_is_refused(tiny, manager, toy) -> None:
    model = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager,
                  dtype="float16")
    before = {n: p.clone() for n, p in model.model.named_parameters() if p.requires_grad}
    with pytest.raises(CulturaError, match=r"float16 training needs a GPU.*'bfloat16'.*'float32'"):
        model.train(toy.train, epochs=1, progress=False)
    after = dict(model.model.named_parameters())
    assert all(torch.equal(after[n], p) and after[n].dtype == torch.float16
               for n, p in before.items())


@cuda
def test_auto_is_bf16_on_a_gpu_that_supports_it() -> None:
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    assert precision.resolve_dtype("auto") == expected
    assert precision.resolve_dtype("auto", "cpu") == torch.float32
    assert precision.mixed_precision("auto") == ("bf16" if expected == torch.bfloat16 else "no")


@cuda
def test_float16_training_on_a_gpu(tiny, manager, toy) -> None:
    """float16 on a GPU: autocast to float16 with a gradient scaler, float32 master weights
    (the scaler refuses float16 gradients), the frozen base in float16."""
    model = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager,
                  dtype="float16")
    seen: dict[str, set[Any]] = {"trainable": set(), "frozen": set(), "autocast": set()}

    def hook(module: Any, _args: Any) -> None:
        for p in module.parameters():
            seen["trainable" if p.requires_grad else "frozen"].add(p.dtype)
        seen["autocast"].add(torch.get_autocast_dtype("cuda")
                             if torch.is_autocast_enabled("cuda") else None)

    handle = model.model.get_base_model().register_forward_pre_hook(hook)
    history = model.train(toy.train, epochs=6, lr=1e-2, embedding_lr=1e-2, batch_size=8,
                          progress=False)
    handle.remove()
    assert seen == {"trainable": {torch.float32}, "frozen": {torch.float16},
                    "autocast": {torch.float16}}
    assert history.train_losses[-1] < 0.5 * history.train_losses[0], history.train_losses
    assert model.device.type == "cuda" and float_dtypes(model.model) == {torch.float16}
    assert model.evaluate(toy.train)["accuracy"] == 1.0


# ---------------------------------------------------------------------- the commands
@pytest.fixture
def with_test_plugin(manager):
    reset_plugin_manager(manager)
    yield manager
    reset_plugin_manager(None)


def run(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_dtype_option_on_train_predict_evaluate() -> None:
    for command in ("train", "predict", "evaluate"):
        text = " ".join(run([command, "--help"]).split())
        assert "--dtype [auto|bfloat16|float16|float32]" in text
        assert " ".join(precision.DTYPE_HELP.split()) in text and "[default: auto]" in text
    result = CliRunner().invoke(cli, ["predict", "./x", "t", "--dtype", "int8"])
    assert result.exit_code == 2 and "'int8' is not supported" in result.output


def test_cli_passes_dtype_through(trained, with_test_plugin, toy, monkeypatch,
                                  tmp_path: Path) -> None:
    import cultura.adapt.model as model_module

    loaded: list[torch.dtype] = []
    real = model_module.load_pretrained

    def spy(*args: Any, **kwargs: Any) -> Any:
        model = real(*args, **kwargs)
        loaded.append(model.dtype)
        return model

    monkeypatch.setattr(model_module, "load_pretrained", spy)
    texts = TEXTS[:1] + TEXTS[-1:]
    half = json.loads(run(["predict", str(trained.directory), *texts, "--dtype", "bf16", "--json"]))
    full = json.loads(run(["predict", str(trained.directory), *texts, "--json"]))
    assert loaded == [torch.bfloat16, precision.resolve_dtype("auto")]  # float32 on CPU
    assert [p["label"] for p in half] == [p["label"] for p in full]
    assert all(abs(h["score"] - f["score"]) <= TOLERANCE for h, f in zip(half, full, strict=True))
    dev = tmp_path / "dev.jsonl"
    dev.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in toy.eval), encoding="utf-8")
    metrics = json.loads(run(["evaluate", str(trained.directory), str(dev), "--dtype",
                              "bfloat16", "--json"]))
    assert loaded[-1] == torch.bfloat16
    assert metrics["accuracy"] == trained.model.evaluate(toy.eval)["accuracy"]


def test_cli_train_in_bf16(tiny, with_test_plugin, toy, tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in toy.train[:16]),
                    encoding="utf-8")
    out = tmp_path / "adapter"
    trained = json.loads(run(["train", str(data), "-c", "zh", "-t", "sentiment", "-b",
                              str(tiny["bert"]), "-o", str(out), "--epochs", "1",
                              "--dtype", "bfloat16", "--json"]))
    assert len(trained["history"]["records"]) == 1
    assert json.loads((out / "cultura.json").read_text())["training"]["dtype"] == "bfloat16"
    assert file_dtypes(out / "adapter_model.safetensors") == {"torch.float32"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="float16 training works on a GPU")
def test_cli_refuses_float16_training_on_cpu_before_loading(tiny, with_test_plugin, toy,
                                                           tmp_path: Path, capsys) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(toy.train[0], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(data), "-c", "zh", "-t", "sentiment", "-b", str(tmp_path / "no-base"),
              "-o", str(tmp_path / "out"), "--dtype", "fp16"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: float16 training needs a GPU") and "bfloat16" in err
    assert not (tmp_path / "out").exists()
