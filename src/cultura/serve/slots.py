"""Slots and hot swap: the adapters resident in the fused layers of the shared base.

``n`` adapters are resident at once; the fused layers (:mod:`cultura.serve.fused`) hold their
weights in pre-allocated buffers. Any number of adapters can be served: a batch that needs a
non-resident culture loads it into a free slot, or evicts the least recently used one not
needed by the batch (a copy of ~300 KB for a MiniLM LoRA; no module is injected). Fused layers
are injected once per module, when the first adapter that targets it is added.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cultura.serve.errors import ServeError
from cultura.serve.modules import set_submodule

if TYPE_CHECKING:
    from cultura.serve.adapters import ServedAdapter
    from cultura.serve.fused import MultiLoraLinear, RoutedModule

__all__ = ["SlotStore"]


class SlotStore:
    """The fused layers injected into ``model`` and the adapter resident in each of their
    ``n`` slots (see the module docstring).

    Attributes:
        router: tells the fused layers which slot each row of a batch uses.
        layers: module name -> the :class:`~cultura.serve.fused.MultiLoraLinear` put there.
        heads: module name -> the :class:`~cultura.serve.fused.RoutedModule` put there.
        held: the adapter in each slot (``None``: free).

    ``stats`` counts ``swaps`` and ``evictions``; ``version`` changes with every load or clear.
    """

    def __init__(self, model: Any, n: int, max_rank: int, stats: Counter[str]) -> None:
        from cultura.serve.fused import Router

        self.model = model
        self.n = n
        self.max_rank = max_rank
        self.stats = stats
        self.router = Router()
        self.layers: dict[str, MultiLoraLinear] = {}
        self.heads: dict[str, RoutedModule] = {}
        self.held: list[ServedAdapter | None] = [None] * n
        self._clock = 0
        #: bumped whenever what a slot holds changes (CUDA graphs replay the weights they saw)
        self.version = 0

    @property
    def resident(self) -> list[str | None]:
        """The culture in each slot (``None``: free)."""
        return [a.key if a is not None else None for a in self.held]

    def prepare(self, adapter: ServedAdapter) -> None:
        """Inject fused layers for modules no adapter targeted before (once per module). When
        a targeted module is not an ``nn.Linear`` the adapter is marked for the PEFT engine."""
        from torch import nn

        from cultura.serve.fused import MultiLoraLinear, RoutedModule
        from cultura.serve.quantize import quantized_linear_types

        linear = (nn.Linear, *quantized_linear_types())
        for name, factors in adapter.lora.items():
            layer = self.layers.get(name)
            rank = int(factors.a.shape[0])
            if layer is None:
                module = self.model.get_submodule(name)
                if not isinstance(module, linear):
                    adapter.fused = f"{name} is a {type(module).__name__} in the server's base"
                    return
                layer = MultiLoraLinear(module, self.n, max(rank, self.max_rank), self.router)
                set_submodule(self.model, name, layer)
                self.layers[name] = layer
            elif rank > layer.rank:
                layer.resize(self.n, rank)
        for name in adapter.heads:
            if name not in self.heads:
                routed = RoutedModule(self.model.get_submodule(name), self.n, self.router)
                set_submodule(self.model, name, routed)
                self.heads[name] = routed

    def load(self, adapter: ServedAdapter, slot: int) -> None:
        """Copy ``adapter``'s LoRA factors into ``slot`` and point the routed heads at its own."""
        for name, layer in self.layers.items():
            factors = adapter.lora.get(name)
            if factors is None:
                layer.set_slot(slot)
            else:
                layer.set_slot(slot, factors.a, factors.b, factors.scaling)
        for name, routed in self.heads.items():
            routed.set_slot(slot, adapter.heads.get(name))
        adapter.slot = slot
        self.held[slot] = adapter
        self.version += 1

    def load_if_free(self, adapter: ServedAdapter) -> None:
        """Load ``adapter`` into the first free slot, when there is one."""
        if None in self.held:
            self.load(adapter, self.held.index(None))

    def clear(self, slot: int) -> None:
        """Empty ``slot`` (its adapter is no longer resident)."""
        adapter = self.held[slot]
        if adapter is not None:
            adapter.slot = None
        for layer in self.layers.values():
            layer.set_slot(slot)
        for routed in self.heads.values():
            routed.set_slot(slot, None)
        self.held[slot] = None
        self.version += 1

    def swap_in(self, adapter: ServedAdapter, keep: Iterable[str] = ()) -> int:
        """Make ``adapter`` resident; returns its slot.

        A free slot is used first, else the least recently used adapter whose culture is not
        in ``keep`` is evicted. Loading copies the LoRA factors into the pre-allocated slot
        buffers and points the routed heads at the adapter's: nothing is injected or allocated.
        """
        if adapter.fused:
            raise ServeError(f"{adapter.key} runs on the PEFT engine ({adapter.fused}); it has no slot")
        self._clock += 1
        adapter.last_used = self._clock
        if adapter.slot is not None:
            return adapter.slot
        if None in self.held:
            slot = self.held.index(None)
        else:
            pinned = set(keep)
            victims = [a for a in self.held if a is not None and a.key not in pinned]
            if not victims:
                raise ServeError(f"all {self.n} slots hold adapters this batch needs; use more slots")
            victim = min(victims, key=lambda a: a.last_used)
            slot = victim.slot
            assert slot is not None
            self.clear(slot)
            self.stats["evictions"] += 1
        self.load(adapter, slot)
        self.stats["swaps"] += 1
        return slot
