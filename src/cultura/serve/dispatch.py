"""Engine dispatch: which engine runs a batch, how the fused layers mix cultures, and the batch.

Engines
    ``fused`` (the default for LoRA adapters on linear layers) or ``peft``: PEFT's own mixed
    batches (``adapter_names``) on a second view of the same base weights
    (:mod:`cultura.serve.peft_engine`), used for LoRA variants the fused layers do not
    implement (GPT-2's Conv1D, LoRA on embeddings, LoRA biases) and when ``engine="peft"`` or
    :meth:`~cultura.serve.server.MultiCultureServer.calibrate` measured it faster. Both give the
    same outputs as running each culture's own model, within float32 rounding (``atol=1e-5`` on
    probabilities in the tests).

Mixing
    The fused layers add each row's LoRA term per segment of rows (``segments``) or with
    batched matmuls over gathered factors (``bmm``); see :mod:`cultura.serve.fused`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cultura.serve.errors import ServeError

if TYPE_CHECKING:
    from cultura.serve.adapters import ServedAdapter

__all__ = ["ENGINES", "MIXED", "SEGMENTS_UP_TO", "choose_engine", "choose_mixed", "collate"]

ENGINES = ("auto", "fused", "peft")
MIXED = ("auto", "bmm", "segments")
#: with ``mixed="auto"`` and no calibration: segments up to this many cultures in a batch
SEGMENTS_UP_TO = 2


def choose_engine(
    engine: str, adapters: Sequence[ServedAdapter], calibration: Mapping[str, Any] | None
) -> str:
    """The engine that runs a batch of ``adapters``' rows under the ``engine`` setting: PEFT
    when one of them cannot run fused (an error with ``engine="fused"``), else the setting or,
    for ``"auto"``, the calibrated choice (default ``"fused"``)."""
    unfused = [a for a in adapters if a.fused]
    if engine == "fused" and unfused:
        raise ServeError(f"engine='fused' cannot run {unfused[0].key}: {unfused[0].fused}")
    if engine == "peft" or unfused:
        return "peft"
    if engine == "auto" and calibration is not None:
        return str(calibration["engine"])
    return "fused"


def choose_mixed(mixed: str, n_cultures: int, calibration: Mapping[str, Any] | None) -> str:
    """How the fused layers mix ``n_cultures`` in one batch under the ``mixed`` setting."""
    if mixed != "auto":
        return mixed
    if calibration is not None and calibration.get("mixed"):
        return str(calibration["mixed"])
    return "segments" if n_cultures <= SEGMENTS_UP_TO else "bmm"


def collate(
    parts: Sequence[tuple[ServedAdapter, dict[str, Any]]], pad_id: int, device: Any
) -> dict[str, Any]:
    """One batch on ``device`` from each culture's encoded rows (in order): every tensor
    padded to the longest row (on the side the culture's tokenizer pads, input ids with
    ``pad_id``), a tensor one culture lacks filled with zeros."""
    import torch

    keys: list[str] = []
    for _, enc in parts:
        keys += [k for k in enc if k not in keys]
    length = max(int(enc["input_ids"].shape[1]) for _, enc in parts)
    fill = {"input_ids": pad_id}
    batch: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    for adapter, enc in parts:
        n, width = enc["input_ids"].shape
        left = getattr(adapter.encoder.tokenizer, "padding_side", "right") == "left"
        for k in keys:
            value = enc.get(k)
            if value is None:
                value = torch.zeros(n, width, dtype=torch.long)
            if width < length:
                pad = torch.full((n, length - width), fill.get(k, 0), dtype=value.dtype)
                value = torch.cat([pad, value] if left else [value, pad], dim=1)
            batch[k].append(value)
    return {k: torch.cat(v, dim=0).to(device) for k, v in batch.items()}
