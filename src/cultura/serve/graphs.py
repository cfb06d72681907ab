"""CUDA graphs for the fused forward pass: small batches without per-kernel launch overhead.

At batch 64 a BERT-base forward on a modern GPU takes about a millisecond in bfloat16, and the
~200 kernel launches of the base model plus the fused layers' gathers and batched matmuls cost
a good part of that on the CPU side. A CUDA graph records the whole forward pass once and
replays it with one launch.

:class:`CudaGraphs` keeps one graph per *batch layout*: the input tensors' shapes and the
route (which slot each segment of rows uses, and how they are mixed). A layout is run eagerly
the first ``after`` times it is seen and captured the next time, so one-off layouts cost no
capture; at most ``max_graphs`` are kept (least recently used dropped). Graphs replay the
weights they were captured with, so every change of what the slots hold or of the shared
embedding table (``version``) drops them all. A forward pass that cannot be captured (an
operation that waits for the GPU inside the model, say) is run eagerly from then on for that
layout, and counted in ``stats["graph_failures"]``.

Used by :class:`~cultura.serve.MultiCultureServer` with ``cuda_graphs=True`` (CUDA only).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from cultura.serve.fused import Route

__all__ = ["CudaGraphs"]


@dataclass
class _Graph:
    graph: torch.cuda.CUDAGraph
    inputs: dict[str, torch.Tensor]
    output: torch.Tensor
    route: Route | None  # keeps the route's per-row slot tensor alive for replays


class CudaGraphs:
    """Captured forward passes of one model, keyed by batch layout (see the module docstring).

    Args:
        after: eager runs of a layout before it is captured (``0``: capture at first sight).
        max_graphs: graphs kept at once (least recently used dropped).
        stats: counter updated with ``graph_captures``, ``graph_replays``, ``graph_failures``.
    """

    def __init__(self, *, after: int = 2, max_graphs: int = 32, stats: Counter[str] | None = None) -> None:
        if after < 0 or max_graphs < 1:
            raise ValueError(f"after must be >= 0 and max_graphs >= 1, got {after}, {max_graphs}")
        self.after = after
        self.max_graphs = max_graphs
        self.stats: Counter[str] = stats if stats is not None else Counter()
        self._graphs: OrderedDict[tuple[Any, ...], _Graph] = OrderedDict()
        self._seen: Counter[tuple[Any, ...]] = Counter()
        self._eager: set[tuple[Any, ...]] = set()
        self._version: Any = None
        self._pool: Any = None
        self.last_failure = ""

    def __len__(self) -> int:
        return len(self._graphs)

    def clear(self) -> None:
        """Drop every graph (their memory goes back to the caching allocator)."""
        self._graphs.clear()
        self._seen.clear()
        self._eager.clear()

    @staticmethod
    def key(inputs: Mapping[str, torch.Tensor], route: Route | None) -> tuple[Any, ...]:
        """The layout a graph is valid for: input names, shapes and dtypes, and the route
        (``None``: a model without fused layers)."""
        shapes = tuple(sorted((k, tuple(v.shape), str(v.dtype)) for k, v in inputs.items()))
        if route is None:
            return (shapes,)
        return (shapes, route.segments, route.mode, route.uniform)

    def run(
        self,
        forward: Callable[[dict[str, torch.Tensor]], torch.Tensor],
        inputs: dict[str, torch.Tensor],
        route: Route | None,
        version: Any = None,
    ) -> torch.Tensor:
        """``forward(inputs)`` (the logits), replayed from a graph when this layout has one.

        ``forward`` must run the model under ``route`` (the caller's routing block) and return
        a tensor; ``version`` identifies the weights in the slots (a change drops all graphs).
        """
        if version != self._version:
            self.clear()
            self._version = version
        key = self.key(inputs, route)
        entry = self._graphs.get(key)
        if entry is not None:
            self._graphs.move_to_end(key)
            for name, value in inputs.items():
                entry.inputs[name].copy_(value, non_blocking=True)
            entry.graph.replay()
            self.stats["graph_replays"] += 1
            return entry.output.clone()
        self._seen[key] += 1
        if key in self._eager or self._seen[key] <= self.after:
            return forward(inputs)
        captured = self._capture(forward, inputs, route, key)
        if captured is None:
            return forward(inputs)
        return captured.output.clone()

    def _capture(
        self,
        forward: Callable[[dict[str, torch.Tensor]], torch.Tensor],
        inputs: dict[str, torch.Tensor],
        route: Route | None,
        key: tuple[Any, ...],
    ) -> _Graph | None:
        static = {name: value.clone() for name, value in inputs.items()}
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm-up on a side stream, as capture requires
                forward(static)
            torch.cuda.current_stream().wait_stream(side)
            with torch.cuda.graph(graph, pool=self._pool):
                output = forward(static)
        except Exception as exc:  # an op that syncs with the host cannot be captured
            self._eager.add(key)
            self.stats["graph_failures"] += 1
            self.last_failure = f"{type(exc).__name__}: {exc}"
            torch.cuda.synchronize()
            return None
        graph.replay()
        entry = _Graph(graph, static, output, route)
        self._graphs[key] = entry
        self.stats["graph_captures"] += 1
        while len(self._graphs) > self.max_graphs:
            self._graphs.popitem(last=False)
        return entry
