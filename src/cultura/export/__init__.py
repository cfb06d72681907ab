"""Exports of culture adapters to formats other engines load.

* :mod:`cultura.export.onnx`: ``seq-cls`` and ``token-cls`` adapters merged into one ONNX
  graph, float32 or int8 (:func:`~cultura.export.onnx.export_onnx`), run on CPU by
  onnxruntime with the culture's own text pipeline (:class:`~cultura.export.runtime.OnnxModel`);
  needs the ``export`` extra (``pip install 'cultura[export]'``).
* :mod:`cultura.export.vllm`: causal-LM LoRA adapters (no added vocabulary) as the PEFT
  LoRA layout vLLM's multi-LoRA serving loads (:func:`~cultura.export.vllm.export_vllm`).

Names are imported lazily: importing this package imports neither torch nor onnx.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: public name -> "module:attribute"
_EXPORTS = {
    "export_onnx": "cultura.export.onnx:export_onnx",
    "OnnxModel": "cultura.export.runtime:OnnxModel",
    "ExportManifest": "cultura.export.manifest:ExportManifest",
    "ExportError": "cultura.export.errors:ExportError",
    "MissingExtraError": "cultura.export.errors:MissingExtraError",
    "export_vllm": "cultura.export.vllm:export_vllm",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'cultura.export' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(import_module(module_name), attr)
    globals()[name] = value
    return value
