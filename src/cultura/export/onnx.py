"""ONNX export of a culture adapter: :func:`export_onnx` (``cultura export --format onnx``).

The adapter is merged first: a copy of its PEFT model is folded with PEFT's
``merge_and_unload`` (LoRA and IA3 weights into the base layers, the trained head and the
added-token embedding rows kept), cast to float32, and traced with torch's TorchScript-based
exporter (``torch.onnx.export(..., dynamo=False)``: it needs neither onnxscript nor
torch.export) to one graph ``inputs -> logits`` with dynamic batch and sequence axes. The
tokenizer files and ``cultura_export.json`` (:mod:`cultura.export.manifest`) are written
beside it, so :class:`~cultura.export.runtime.OnnxModel` rebuilds the culture's text pipeline
(normalizers, knowledge, tokenizer) from the directory alone.

``quantize="int8"`` runs onnxruntime's dynamic quantization (``quantize_dynamic``: weights
stored as int8 with one scale per output channel, activations quantized per batch at run
time) on the float32 graph. Per-channel scales halved the probability error of per-tensor ones
on the test models.

Every export is checked before it is written: the graph's logits, run by onnxruntime on probe
texts (with the culture's added tokens and padding), must match the PyTorch adapter's within
:data:`PARITY_TOLERANCE` (float32); the difference measured (float32 or int8) is recorded in
the manifest as ``parity``.
"""

from __future__ import annotations

import copy
import inspect
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.export.errors import ExportError, require_onnx
from cultura.export.manifest import (
    DEFAULT_OPSET,
    EXPORT_MANIFEST,
    HEAD_TYPES,
    INPUT_NAMES,
    MAX_OPSET,
    MIN_OPSET,
    ONNX_FILE,
    QUANTIZATIONS,
    ExportManifest,
)

if TYPE_CHECKING:
    from cultura.adapt.model import CulturalModel

__all__ = ["PARITY_TOLERANCE", "PROBE_TEXTS", "export_onnx", "merged_model"]

#: largest |logit difference| between the float32 graph and the PyTorch adapter an export
#: accepts (on the probe texts); tests hold tiny models to 1e-4
PARITY_TOLERANCE = 1e-3
#: texts of several lengths and scripts the parity check runs (with the added tokens)
PROBE_TEXTS = (
    "the movie was great and i loved it",
    "terrible",
    "我们喜欢这个电影，服务太差了。",
    "天気がいいので散歩に行きました",
    "مرحبا بكم في المدينة",
    "Filamu hii ni nzuri sana, nitaiangalia tena kesho",
)


def merged_model(model: CulturalModel) -> Any:
    """A plain ``transformers`` model equal to ``model`` (a
    :class:`~cultura.adapt.model.CulturalModel`) in float32: a copy of its PEFT model merged
    with ``merge_and_unload`` (the model itself is unchanged). Prefix tuning, which adds
    virtual tokens instead of changing weights, cannot be merged and is refused."""
    method = model.spec.peft.method
    if method == "prefix":
        raise ExportError(
            f"{model.culture}/{model.spec.task}: a prefix-tuning adapter adds virtual tokens to "
            "every layer's attention, which cannot be merged into the base weights; export a "
            "LoRA or IA3 adapter (cultura train --peft lora), or run this one with "
            "CulturalModel.predict"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        merged = copy.deepcopy(model.model).merge_and_unload()
    return merged.cpu().float().eval().requires_grad_(False)


def _probe(model: CulturalModel) -> list[str]:
    added = list(model.added.tokens[:64])
    extra = [" ".join(added[i : i + 8]) for i in range(0, len(added), 8)]
    return list(PROBE_TEXTS) + extra


def _input_names(merged: Any, encoded: dict[str, Any]) -> list[str]:
    """The encoder's outputs the model's ``forward`` takes, in its signature's order."""
    params = list(inspect.signature(merged.forward).parameters)
    names = [n for n in params if n in encoded and n in INPUT_NAMES]
    if "input_ids" not in names:
        raise ExportError(f"{type(merged).__name__}.forward takes no input_ids; it cannot be "
                          "exported as a text model")
    return names


def _trace(merged: Any, names: list[str], encoded: dict[str, Any], head_type: str,
           path: Path, opset: int) -> None:
    import torch

    class Logits(torch.nn.Module):
        """``forward(*inputs) -> logits``: positional inputs named like the graph's."""

        def __init__(self) -> None:
            super().__init__()
            self.model = merged

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, tensors, strict=True))).logits

    axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch", 1: "sequence"} if head_type == "token-cls" else {0: "batch"}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice, tracer warnings
        torch.onnx.export(
            Logits(),
            tuple(encoded[n] for n in names),
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )


def _quantize_int8(src: Path, dst: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # its advice to pre-process is for static quantization
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        logging.disable(previous)


def _run(path: Path, names: Sequence[str], encoded: dict[str, Any]) -> Any:
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {n: np.ascontiguousarray(encoded[n].numpy(), dtype=np.int64) for n in names}
    return session.run(["logits"], feeds)[0]


def export_onnx(
    model: CulturalModel,
    out_dir: str | Path,
    *,
    quantize: str | None = None,
    opset: int = DEFAULT_OPSET,
    overwrite: bool = False,
    source: str | None = None,
) -> Path:
    """Export ``model`` (a ``seq-cls`` or ``token-cls``
    :class:`~cultura.adapt.model.CulturalModel`) merged to ONNX in ``out_dir``.

    Args:
        model: the adapter (``cultura.load``, ``cultura.load_pretrained`` or trained).
        out_dir: the directory to write (``model.onnx``, tokenizer files,
            ``cultura_export.json``); written atomically.
        quantize: ``None`` (float32 weights) or ``"int8"`` (onnxruntime dynamic quantization).
        opset: the ONNX opset (:data:`~cultura.export.manifest.MIN_OPSET` to
            :data:`~cultura.export.manifest.MAX_OPSET`), recorded in the manifest.
        overwrite: replace an existing ``out_dir``.
        source: how the adapter was named (recorded; default: its registry name or
            ``in-memory``).

    Returns ``out_dir``. Raises :class:`~cultura.export.errors.ExportError` for another head,
    a prefix-tuning adapter, bad options or a graph that does not reproduce the adapter, and
    :class:`~cultura.export.errors.MissingExtraError` without the ``export`` extra.
    """
    from cultura import __version__
    from cultura.adapt import artifact

    label = f"{model.culture}/{model.spec.task}"
    if model.head_type not in HEAD_TYPES:
        hint = (" (for a causal-lm LoRA adapter: cultura export --format vllm)"
                if model.head_type == "causal-lm" else "")
        raise ExportError(
            f"{label}: ONNX export covers {' and '.join(HEAD_TYPES)} heads (one forward pass "
            f"to logits); this adapter has a {model.head_type} head{hint}. Run it with "
            "CulturalModel.predict"
        )
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ExportError(f"quantize must be None or one of {', '.join(QUANTIZATIONS)}, "
                          f"got {quantize!r}")
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ExportError(f"opset must be an integer in {MIN_OPSET}..{MAX_OPSET}, got {opset!r}")
    require_onnx()
    import numpy as np
    import torch

    merged = merged_model(model)
    encoded = dict(model.encode(_probe(model)))
    names = _input_names(merged, encoded)
    with torch.no_grad():
        if next(model.model.parameters()).dtype == torch.float32:
            model.model.eval()
            reference = model._forward(encoded).logits.float().cpu().numpy()
        else:  # a bf16/fp16 adapter: the graph is float32, so is the merged model it traces
            reference = merged(**{n: encoded[n] for n in names}).logits.numpy()
    vocab_size = int(merged.get_input_embeddings().weight.shape[0])
    out_dir = Path(out_dir)
    with artifact.atomic_directory(out_dir, overwrite=overwrite) as tmp:
        fp32 = tmp / (ONNX_FILE if quantize is None else "model.fp32.onnx")
        _trace(merged, names, encoded, model.head_type, fp32, opset)
        del merged
        got = _run(fp32, names, encoded)
        diff = float(np.abs(got - reference).max())
        if not diff <= PARITY_TOLERANCE:
            raise ExportError(
                f"{label}: the exported graph's logits differ from the adapter's by {diff:.3g} "
                f"(more than {PARITY_TOLERANCE}) on the probe texts; the model does not trace "
                "faithfully with torch.onnx (try another --opset, or report it with the base "
                "model's name)"
            )
        if quantize == "int8":
            _quantize_int8(fp32, tmp / ONNX_FILE)
            fp32.unlink()
            diff = float(np.abs(_run(tmp / ONNX_FILE, names, encoded) - reference).max())
        model.tokenizer.save_pretrained(str(tmp))
        artifact.refuse_remote_code(tmp, str(out_dir))
        knowledge = model.knowledge
        recorded = model.source or {}
        manifest = ExportManifest(
            culture=model.culture,
            task=model.spec.task,
            head_type=model.head_type,
            labels=tuple(model.labels),
            opset=opset,
            quantization=quantize,
            inputs=tuple(names),
            vocab_size=vocab_size,
            max_length=model.max_length,
            normalizers=tuple(model.profile.normalizer_ids),
            knowledge={
                "enabled": knowledge is not None and knowledge.enabled,
                "top_k": knowledge.top_k if knowledge is not None else 0,
                "max_chars": knowledge.max_chars if knowledge is not None else 0,
                "min_score": knowledge.min_score if knowledge is not None else 0.0,
            },
            knowledge_sources=tuple(
                {"name": s["name"], "sha256": s["sha256"]}
                for s in (knowledge.describe() if knowledge is not None and knowledge.enabled else [])
            ),
            source={
                "adapter": source or str(recorded.get("name") or "in-memory"),
                "revision": recorded.get("revision"),
                "base_model": model.base.id,
                "base_fingerprint": model.base.fingerprint,
                "files": dict(model.manifest().files),
            },
            parity={"texts": len(reference), "max_abs_diff": diff},
            files={p.name: artifact.sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()},
            created_with=f"cultura {__version__} (torch {torch.__version__})",
        )
        text = manifest.to_json()
        ExportManifest.from_dict(json.loads(text), where=str(out_dir / EXPORT_MANIFEST))
        (tmp / EXPORT_MANIFEST).write_text(text, encoding="utf-8")
    return out_dir
