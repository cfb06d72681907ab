"""ONNX export: the merged graph reproduces the PyTorch adapter (float32 logits within 1e-4 on
tiny models), int8 keeps its labels, predictions come back in CulturalModel's format, and
unsupported heads and adapters are refused by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the 'export' extra is not installed")

from .conftest import FR_LABELS, TEXTS

#: float32 ONNX vs PyTorch: the largest logit difference accepted (measured: 3e-6 for the
#: seq-cls adapters, 1.4e-5 for token-cls)
FP32_TOLERANCE = 1e-4
#: int8 vs float32 ONNX: the largest class-probability difference accepted on TEXTS (measured
#: 0.08 with per-channel weights on these random-weight adapters; labels all agree)
INT8_PROB_TOLERANCE = 0.15


@pytest.fixture
def reference(artifacts: dict[str, Path], export_env: Any) -> Any:
    from cultura.adapt.model import load_pretrained

    return lambda key: load_pretrained(artifacts[key], manager=export_env)


@pytest.mark.parametrize("key", ["fr", "es", "fr-ner"])
def test_float32_logits_match_pytorch(key: str, exports: dict[str, Path], reference: Any) -> None:
    """Added-token rows, LoRA, the head, the normalizer (œ), knowledge (es) and padding all
    reach the graph: the logits equal the PyTorch adapter's."""
    from cultura.export import OnnxModel

    onnx_model = OnnxModel.load(exports[key])
    torch_model = reference(key)
    got = onnx_model.logits(TEXTS)
    want = torch_model.logits(TEXTS).numpy()
    assert got.shape == want.shape
    assert np.abs(got - want).max() < FP32_TOLERANCE
    assert onnx_model.manifest.parity["max_abs_diff"] < FP32_TOLERANCE


def test_predictions_have_culturalmodel_format(exports: dict[str, Path], reference: Any) -> None:
    from cultura.export import OnnxModel

    for key in ("fr", "fr-ner"):
        got = OnnxModel.load(exports[key]).predict(TEXTS, top_k=2)
        want = reference(key).predict(TEXTS, top_k=2)
        assert len(got) == len(want) == len(TEXTS)
        for g, w in zip(got, want, strict=True):
            assert g.keys() == w.keys()
            if key == "fr":
                assert g["text"] == w["text"] and g["label"] == w["label"]
                assert [t["label"] for t in g["top"]] == [t["label"] for t in w["top"]]
                assert g["score"] == pytest.approx(w["score"], abs=1e-5)
            else:
                assert [(x["word"], x["label"], x["start"]) for x in g["words"]] == [
                    (x["word"], x["label"], x["start"]) for x in w["words"]]
                assert [e["type"] for e in g["entities"]] == [e["type"] for e in w["entities"]]
    model = OnnxModel.load(exports["fr"])  # the culture's normalizer runs before tokenizing
    assert model.tokenizer.normalize("cœur") == "coeur"
    assert np.array_equal(model.logits(["le cœur"]), model.logits(["le coeur"]))


def test_int8_keeps_labels(exports: dict[str, Path]) -> None:
    from cultura.export import OnnxModel

    fp32 = OnnxModel.load(exports["fr"])
    int8 = OnnxModel.load(exports["fr-int8"], threads=1)
    assert int8.quantization == "int8" and fp32.quantization is None
    p32, labels = fp32.predict_proba(TEXTS)
    p8, labels8 = int8.predict_proba(TEXTS)
    assert labels == labels8 == list(FR_LABELS)
    assert (p8.argmax(1) == p32.argmax(1)).all()
    assert np.abs(p8 - p32).max() < INT8_PROB_TOLERANCE
    assert not np.array_equal(p8, p32)  # it is another graph
    import onnx

    ops = {n.op_type for n in onnx.load(str(exports["fr-int8"] / "model.onnx")).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops  # int8 weights, dynamic activations


def test_manifest_describes_the_export(exports: dict[str, Path], artifacts: dict[str, Path]) -> None:
    from cultura.adapt.artifact import read_manifest, sha256_file

    data = json.loads((exports["fr"] / "cultura_export.json").read_text(encoding="utf-8"))
    assert data["format"] == "cultura-onnx/1" and data["opset"] == 17
    assert data["culture"] == "fr" and data["task"] == "sentiment"
    assert data["head_type"] == "seq-cls" and data["labels"] == list(FR_LABELS)
    assert data["quantization"] is None and data["inputs"][0] == "input_ids"
    assert data["normalizers"] and data["normalizers"][-1].startswith("fr-oe")
    assert data["source"]["adapter"] == str(artifacts["fr"])
    assert data["source"]["files"] == dict(read_manifest(artifacts["fr"]).files)
    assert set(data["files"]) == {p.name for p in exports["fr"].iterdir()} - {"cultura_export.json"}
    assert all(sha256_file(exports["fr"] / n) == h for n, h in data["files"].items())
    int8 = json.loads((exports["fr-int8"] / "cultura_export.json").read_text(encoding="utf-8"))
    assert int8["quantization"] == "int8" and int8["source"]["adapter"] == "in-memory"
    ner = json.loads((exports["fr-ner"] / "cultura_export.json").read_text(encoding="utf-8"))
    assert ner["head_type"] == "token-cls"


def test_opset_is_chosen_and_recorded(artifacts: dict[str, Path], tmp_path: Path) -> None:
    import onnx

    from cultura.adapt.model import load_pretrained
    from cultura.export import ExportError, OnnxModel, export_onnx

    model = load_pretrained(artifacts["fr"])
    out = export_onnx(model, tmp_path / "o18", opset=18)
    proto = onnx.load(str(out / "model.onnx"), load_external_data=False)
    assert {o.domain: o.version for o in proto.opset_import}[""] == 18
    assert OnnxModel.load(out).opset == 18
    for bad in (13, 21, True, "17"):
        with pytest.raises(ExportError, match="opset must be an integer in 14..20"):
            export_onnx(model, tmp_path / "bad", opset=bad)
    with pytest.raises(ExportError, match="quantize must be None or one of int8"):
        export_onnx(model, tmp_path / "bad", quantize="int4")
    assert not (tmp_path / "bad").exists()


def test_unsupported_heads_and_adapters_are_refused(tiny_base: Path, tiny_gpt2: Path,
                                                    tmp_path: Path) -> None:
    from cultura.adapt.model import adapt
    from cultura.core.types import AdapterHeadSpec, PeftSpec
    from cultura.export import ExportError, export_onnx
    from cultura.export.onnx import merged_model

    mlm = adapt(str(tiny_base), "fr", "lm", seed=0)
    with pytest.raises(ExportError, match=r"covers seq-cls and token-cls heads .*; this adapter has "
                       r"a masked-lm head"):
        export_onnx(mlm, tmp_path / "mlm")
    prefix = adapt(str(tiny_gpt2), "fr", head=AdapterHeadSpec(
        "chat", "causal-lm", peft=PeftSpec(method="prefix", num_virtual_tokens=4)))
    with pytest.raises(ExportError, match=r"a causal-lm head \(for a causal-lm LoRA adapter: "
                       r"cultura export --format vllm\)"):
        export_onnx(prefix, tmp_path / "prefix")
    with pytest.raises(ExportError, match="prefix-tuning adapter .* cannot be merged"):
        merged_model(prefix)
    assert not (tmp_path / "mlm").exists() and not (tmp_path / "prefix").exists()


def test_decoder_seq_cls_matches_pytorch(tiny_gpt2: Path, tmp_path: Path) -> None:
    """A decoder classifies from its last non-pad token: the traced graph finds it too (rows
    of different lengths, added tokens)."""
    from cultura.adapt.model import adapt
    from cultura.export import OnnxModel, export_onnx

    from .conftest import randomize

    model = adapt(str(tiny_gpt2), "fr", "sentiment", seed=0)
    randomize(model, 11, scale=0.3)
    out = export_onnx(model, tmp_path / "gpt2")
    got = OnnxModel.load(out).logits(TEXTS)
    assert np.abs(got - model.logits(TEXTS).numpy()).max() < FP32_TOLERANCE


def test_ia3_adapter_merges(tiny_base: Path, tmp_path: Path) -> None:
    """IA3 scales merge into the base weights like LoRA does."""
    from cultura.adapt.model import adapt
    from cultura.core.types import AdapterHeadSpec, PeftSpec
    from cultura.export import OnnxModel, export_onnx

    from .conftest import randomize

    model = adapt(str(tiny_base), "fr", head=AdapterHeadSpec(
        "topic", "seq-cls", labels=("a", "b"), peft=PeftSpec(method="ia3")))
    randomize(model, 7, scale=0.3)
    out = export_onnx(model, tmp_path / "ia3")
    got = OnnxModel.load(out).logits(TEXTS)
    assert np.abs(got - model.logits(TEXTS).numpy()).max() < FP32_TOLERANCE


def test_missing_extra_names_it(artifacts: dict[str, Path], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from cultura.adapt.model import load_pretrained
    from cultura.export import MissingExtraError, OnnxModel, export_onnx

    model = load_pretrained(artifacts["fr"])
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'cultura\[export\]'"):
        export_onnx(model, tmp_path / "x")
    with pytest.raises(MissingExtraError, match=r"pip install 'cultura\[export\]'"):
        OnnxModel.load(tmp_path / "x")
