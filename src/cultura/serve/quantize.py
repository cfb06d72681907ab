"""Precision of a served base: ``dtype`` and int8 dynamic quantization (CPU).

``MultiCultureServer(dtype=...)`` / ``cultura serve --dtype`` load the shared base in that
precision (:mod:`cultura.adapt.precision`); the slots' LoRA buffers, the routed heads and the
shared table's added rows follow it, and logits go back to float32 for the softmax.

``quantize="int8"`` (``cultura serve --quantize int8``) replaces every ``nn.Linear`` of the
served base by torch's dynamically quantized linear (int8 weights, activations quantized per
batch; :func:`torch.ao.quantization.quantize_dynamic`). The fused LoRA layers wrap the
quantized layers: the LoRA terms and the heads stay float32, and so do the embeddings and the
layer norms. It runs on the CPU only (torch has no CUDA kernels for it) and in float32 (the
quantized kernels take float32 activations), so it is refused with a GPU device or a
bfloat16/float16 ``dtype``. torch 2.13 still ships ``torch.ao.quantization`` and announces
its move to ``torchao``; the warnings it emits are silenced here.
"""

from __future__ import annotations

from typing import Any

from cultura.serve.errors import ServeError

__all__ = ["QUANTIZE_CHOICES", "check_precision", "quantize_linears", "quantized_linear_types"]

#: the values ``quantize`` / ``--quantize`` take
QUANTIZE_CHOICES = ("int8",)


def check_precision(dtype: Any, quantize: str | None, device: Any) -> tuple[Any, str | None]:
    """The ``torch.dtype`` a server on ``device`` runs in and its quantization (``None`` or
    ``"int8"``); raises :class:`ServeError` for a combination that cannot run."""
    import torch

    from cultura.adapt.precision import canonical_dtype, resolve_dtype
    from cultura.core.errors import CulturaError

    try:
        resolved = resolve_dtype(dtype, device)
    except CulturaError as exc:
        raise ServeError(str(exc)) from None
    if quantize is None:
        return resolved, None
    if quantize not in QUANTIZE_CHOICES:
        raise ServeError(
            f"quantize must be one of {', '.join(QUANTIZE_CHOICES)} (or None), got {quantize!r}"
        )
    if torch.device(device).type != "cpu":
        raise ServeError(
            f"quantize='int8' runs on the CPU only (torch has no {torch.device(device).type} "
            "kernels for dynamically quantized layers); pass device='cpu' (--device cpu), or "
            "serve on the GPU without --quantize and with dtype='bfloat16'"
        )
    if canonical_dtype(dtype) not in ("auto", "float32"):
        raise ServeError(
            f"quantize='int8' runs the rest of the model in float32; dtype={dtype!r} cannot be "
            "combined with it: drop --dtype (or pass float32), or drop --quantize"
        )
    return torch.float32, quantize


def quantized_linear_types() -> tuple[type, ...]:
    """The module types :func:`quantize_linears` puts in place of ``nn.Linear``."""
    from torch.ao.nn.quantized.dynamic import Linear

    return (Linear,)


def quantize_linears(model: Any) -> Any:
    """``model`` (float32, CPU) with every ``nn.Linear`` dynamically quantized to int8, in
    place; the other modules and their weights are left as they are."""
    import warnings

    import torch
    from torch import nn
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch announces a move of this API to torchao
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
