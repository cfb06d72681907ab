"""Fused mixed-batch LoRA: one base model, many adapters in pre-allocated slots.

Every LoRA-targeted ``nn.Linear`` of the shared base is replaced once by a
:class:`MultiLoraLinear` holding the LoRA weights of all slots stacked in two buffers,
``A: [slots, r_max, in]`` and ``B: [slots, out, r_max]`` (the LoRA scaling folded into ``B``;
lower ranks zero-padded). Every module an adapter saves whole (PEFT ``modules_to_save``: the
classifier, a pooler) is replaced by a :class:`RoutedModule` that holds one module per slot.
Loading an adapter into a slot ("hot swap") copies its weights into the buffers and points the
routed modules at its head: no module is injected or replaced after start-up.

The server tells these modules which slot each row of a batch uses through a shared
:class:`Router`. Rows are sorted by slot before the forward pass (the server groups them by
culture), so each slot's rows are one contiguous *segment*. Three ways to add the LoRA term:

* ``uniform`` — every row uses one slot: two plain matmuls, as a single-adapter model does;
* ``segments`` — per slot, two matmuls on the slot's contiguous rows (views, no gather) added in
  place; cost grows with the number of distinct slots (Punica's SGMV on the CPU);
* ``bmm`` — gather each row's ``A``/``B`` (``[batch, r, in]``) and run two batched matmuls
  (S-LoRA/Punica BGMV style); cost independent of the number of distinct slots.

Routed modules run per segment (their output widths may differ: a culture with 3 labels next
to one with 2; narrower outputs are zero-padded and the server slices each row back to its own
width). When every slot's head is a plain ``nn.Linear`` and the batch mixes slots in ``bmm``
mode, the heads' weights are stacked once (zero-padded to the widest) and each row's head is
one gathered batched matmul: a few kernels instead of a few per culture, which is what a GPU
batch of 32 cultures pays for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MultiLoraLinear", "Route", "RoutedModule", "Router", "MIXED_MODES"]

MIXED_MODES = ("bmm", "segments")


@dataclass(frozen=True)
class Route:
    """Which slot each row of the current batch uses.

    Attributes:
        slots: ``[batch]`` slot index per row (on the model's device).
        segments: ``(slot, start, end)`` per contiguous run of rows, in row order.
        mode: how :class:`MultiLoraLinear` mixes slots (``"bmm"`` or ``"segments"``).
        uniform: the slot every row uses, ``None`` when the batch mixes slots.
    """

    slots: torch.Tensor
    segments: tuple[tuple[int, int, int], ...]
    mode: str = "bmm"
    uniform: int | None = None  # the slot every row uses; None when the batch mixes slots

    @property
    def batch_size(self) -> int:
        return int(self.slots.shape[0])

    @staticmethod
    def from_sizes(
        slots: Sequence[int], sizes: Sequence[int], *, device: Any = None, mode: str = "bmm"
    ) -> Route:
        """A route for consecutive groups: group ``i`` has ``sizes[i]`` rows using ``slots[i]``."""
        if mode not in MIXED_MODES:
            raise ValueError(f"unknown mixed mode {mode!r}; use one of {MIXED_MODES}")
        segments, start = [], 0
        for slot, size in zip(slots, sizes, strict=True):
            if size:
                segments.append((int(slot), start, start + int(size)))
                start += int(size)
        per_row = torch.tensor(
            [s for s, a, b in segments for _ in range(b - a)], dtype=torch.long, device=device
        )
        distinct = {s for s, _, _ in segments}
        uniform = next(iter(distinct)) if len(distinct) == 1 else None
        return Route(per_row, tuple(segments), mode, uniform)


class Router:
    """Shared by every fused module of one model: the route of the batch being run."""

    def __init__(self) -> None:
        self.route: Route | None = None

    @contextmanager
    def routing(self, route: Route) -> Iterator[None]:
        """Run forward passes inside this block with ``route``."""
        previous, self.route = self.route, route
        try:
            yield
        finally:
            self.route = previous


def _check_batch(route: Route, x: torch.Tensor, where: str) -> None:
    if x.shape[0] != route.batch_size:
        raise RuntimeError(
            f"{where}: got an input with {x.shape[0]} rows for a routed batch of "
            f"{route.batch_size}; this model reshapes its batch inside, so the fused path "
            "cannot route it (use MultiCultureServer(..., engine='peft'))"
        )


class MultiLoraLinear(nn.Module):
    """An ``nn.Linear`` (or a dynamically quantized one, :mod:`cultura.serve.quantize`) plus
    the float LoRA terms of ``slots`` adapters (see the module docstring)."""

    def __init__(self, base_layer: nn.Module, slots: int, rank: int, router: Router) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.router = router
        weight = base_layer.weight
        if callable(weight):  # a dynamically quantized linear: int8 weights, float LoRA
            weight = weight()
        dtype = weight.dtype if weight.dtype.is_floating_point else torch.float32
        kw = {"dtype": dtype, "device": weight.device}
        self.register_buffer(
            "lora_A", torch.zeros(slots, rank, base_layer.in_features, **kw), persistent=False
        )
        self.register_buffer(
            "lora_B", torch.zeros(slots, base_layer.out_features, rank, **kw), persistent=False
        )
        self.ranks = [0] * slots

    # the attributes code around a Linear reads
    @property
    def weight(self) -> torch.Tensor:
        return self.base_layer.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return self.base_layer.bias

    @property
    def in_features(self) -> int:
        return self.base_layer.in_features

    @property
    def out_features(self) -> int:
        return self.base_layer.out_features

    @property
    def slots(self) -> int:
        return int(self.lora_A.shape[0])

    @property
    def rank(self) -> int:
        return int(self.lora_A.shape[1])

    def resize(self, slots: int, rank: int) -> None:
        """Grow (never shrink) the slot count and the maximum rank, keeping loaded weights."""
        slots, rank = max(slots, self.slots), max(rank, self.rank)
        if (slots, rank) == (self.slots, self.rank):
            return
        a = self.lora_A.new_zeros(slots, rank, self.in_features)
        b = self.lora_B.new_zeros(slots, self.out_features, rank)
        a[: self.slots, : self.rank] = self.lora_A
        b[: self.slots, :, : self.rank] = self.lora_B
        self.lora_A, self.lora_B = a, b
        self.ranks += [0] * (slots - len(self.ranks))

    @torch.no_grad()
    def set_slot(
        self, slot: int, a: torch.Tensor | None = None, b: torch.Tensor | None = None,
        scaling: float = 1.0,
    ) -> None:
        """Load LoRA ``a: [r, in]``, ``b: [out, r]`` (times ``scaling``) into ``slot``;
        ``a=None`` clears the slot (the adapter does not target this layer)."""
        if a is None or b is None:
            self.lora_A[slot].zero_()
            self.lora_B[slot].zero_()
            self.ranks[slot] = 0
            return
        r = int(a.shape[0])
        if r > self.rank:
            raise ValueError(f"rank {r} exceeds the slot rank {self.rank}; resize first")
        self.lora_A[slot, :r].copy_(a)
        self.lora_A[slot, r:].zero_()
        self.lora_B[slot, :, :r].copy_(b)
        if scaling != 1.0:
            self.lora_B[slot, :, :r].mul_(scaling)
        self.lora_B[slot, :, r:].zero_()
        self.ranks[slot] = r

    def delta_weight(self, slot: int) -> torch.Tensor:
        """The slot's ``scaling * B @ A`` (``[out, in]``), what merging adds to the weight."""
        r = self.ranks[slot]
        return self.lora_B[slot, :, :r] @ self.lora_A[slot, :r]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        route = self.router.route
        if route is None:
            return out
        _check_batch(route, x, "MultiLoraLinear")
        uniform = route.uniform
        if uniform is not None:
            r = self.ranks[uniform]
            if r == 0:
                return out
            return out + F.linear(F.linear(x, self.lora_A[uniform, :r]), self.lora_B[uniform, :, :r])
        if route.mode == "segments":
            for slot, start, end in route.segments:
                r = self.ranks[slot]
                if r:
                    a, b = self.lora_A[slot, :r], self.lora_B[slot, :, :r]
                    out[start:end] += F.linear(F.linear(x[start:end], a), b)
            return out
        r = max(self.ranks[s] for s, _, _ in route.segments)
        if r == 0:
            return out
        a = self.lora_A[:, :r].index_select(0, route.slots)  # [batch, r, in]
        b = self.lora_B[:, :, :r].index_select(0, route.slots)  # [batch, out, r]
        x3 = x.reshape(x.shape[0], -1, x.shape[-1])
        delta = torch.bmm(torch.bmm(x3, a.transpose(1, 2)), b.transpose(1, 2))
        return out + delta.reshape(out.shape)

    def extra_repr(self) -> str:
        return f"slots={self.slots}, rank={self.rank}"


def _slice_rows(value: Any, start: int, end: int, batch: int) -> Any:
    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == batch:
        return value[start:end]
    return value


class RoutedModule(nn.Module):
    """A module an adapter saves whole (a head), one per slot (see the module docstring)."""

    #: largest stacked head (slots x out x in elements) built for the gathered ``bmm`` path
    MAX_STACK = 1 << 26

    def __init__(self, original_module: nn.Module, slots: int, router: Router) -> None:
        super().__init__()
        self.original_module = original_module
        self.router = router
        self.slot_modules = nn.ModuleDict()
        self.n_slots = slots
        #: (weights [slots, out, in], biases [slots, out]) of linear heads; built when first
        #: needed, dropped when a slot changes; ``False``: the heads cannot be stacked
        self._stack: tuple[torch.Tensor, torch.Tensor] | bool | None = None

    def set_slot(self, slot: int, module: nn.Module | None) -> None:
        """Use ``module`` for ``slot`` (``None``: the base model's own module)."""
        key = str(slot)
        self._stack = None
        if module is None:
            if key in self.slot_modules:
                del self.slot_modules[key]
        else:
            self.slot_modules[key] = module

    def resize(self, slots: int) -> None:
        self.n_slots = max(self.n_slots, slots)
        self._stack = None

    @torch.no_grad()
    def _stacked(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Every slot's linear head stacked (zero-padded to the widest), or ``None`` when a
        head is not a plain ``nn.Linear`` or the stack would be too large."""
        if self._stack is None:
            heads = [self.module_for(s) for s in range(self.n_slots)]
            if not all(type(h) is nn.Linear for h in heads) or len(
                {h.in_features for h in heads}  # type: ignore[union-attr]
            ) != 1:
                self._stack = False
                return None
            width = max(int(h.out_features) for h in heads)  # type: ignore[union-attr]
            first = heads[0].weight  # type: ignore[union-attr]
            if self.n_slots * width * first.shape[1] > self.MAX_STACK:
                self._stack = False
                return None
            weights = first.new_zeros(self.n_slots, width, first.shape[1])
            biases = first.new_zeros(self.n_slots, width)
            for slot, head in enumerate(heads):
                rows = int(head.out_features)  # type: ignore[union-attr]
                weights[slot, :rows] = head.weight  # type: ignore[union-attr]
                if head.bias is not None:  # type: ignore[union-attr]
                    biases[slot, :rows] = head.bias  # type: ignore[union-attr]
            self._stack = (weights, biases)
        return self._stack or None  # type: ignore[return-value]

    def module_for(self, slot: int) -> nn.Module:
        return self.slot_modules[str(slot)] if str(slot) in self.slot_modules else self.original_module

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        route = self.router.route
        if route is None:
            return self.original_module(x, *args, **kwargs)
        _check_batch(route, x, "RoutedModule")
        uniform = route.uniform
        if uniform is not None:
            return self.module_for(uniform)(x, *args, **kwargs)
        stack = self._stacked() if route.mode == "bmm" and not args and not kwargs else None
        if stack is not None:
            weights, biases = stack
            w = weights.index_select(0, route.slots)  # [batch, out, in]
            b = biases.index_select(0, route.slots)  # [batch, out]
            x3 = x.reshape(x.shape[0], -1, x.shape[-1])  # [batch, tokens, in]
            out = torch.baddbmm(b.unsqueeze(1), x3, w.transpose(1, 2))
            return out.reshape(*x.shape[:-1], w.shape[1])
        batch = route.batch_size
        outs = []
        for slot, start, end in route.segments:
            sub_args = [_slice_rows(a, start, end, batch) for a in args]
            sub_kwargs = {k: _slice_rows(v, start, end, batch) for k, v in kwargs.items()}
            outs.append(self.module_for(slot)(x[start:end], *sub_args, **sub_kwargs))
        if not all(isinstance(o, torch.Tensor) for o in outs):
            raise RuntimeError(
                f"RoutedModule: {type(self.original_module).__name__} returns "
                f"{type(outs[0]).__name__}, not a tensor; the fused path routes tensor heads only "
                "(use MultiCultureServer(..., engine='peft'))"
            )
        width = max(o.shape[-1] for o in outs)
        if any(o.shape[-1] != width for o in outs):
            outs = [F.pad(o, (0, width - o.shape[-1])) for o in outs]
        return torch.cat(outs, dim=0)
