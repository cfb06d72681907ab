"""CUDA graphs of the fused forward (``MultiCultureServer(cuda_graphs=True)``).

On CPU the option is refused and the graph cache's bookkeeping is checked; the replay tests
run where a CUDA device is present (the GPU benchmark machine), and are skipped elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from cultura.serve import MultiCultureServer, ServeError
from cultura.serve.fused import Route
from cultura.serve.graphs import CudaGraphs

from .conftest import mixed_rows

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_cuda_graphs_are_refused_on_cpu_with_the_reason(tiny_base: Path, serve_env: Any) -> None:
    with pytest.raises(ServeError, match=r"cuda_graphs=True needs a CUDA device.*cpu"):
        MultiCultureServer(str(tiny_base), device="cpu", cuda_graphs=True, manager=serve_env)


def test_a_layout_runs_eagerly_until_seen_more_than_after_times_and_a_new_version_forgets() -> None:
    graphs = CudaGraphs(after=3)
    calls: list[int] = []

    def forward(x: dict[str, torch.Tensor]) -> torch.Tensor:
        calls.append(1)
        return x["input_ids"] * 2

    inputs = {"input_ids": torch.arange(6).reshape(2, 3)}
    route = Route.from_sizes([0, 1], [1, 1])
    for _ in range(3):
        assert torch.equal(graphs.run(forward, inputs, route, version=1), inputs["input_ids"] * 2)
    assert len(calls) == 3 and len(graphs) == 0
    assert graphs._seen[CudaGraphs.key(inputs, route)] == 3
    graphs.run(forward, inputs, route, version=2)  # the slots changed: counting starts again
    assert graphs._seen[CudaGraphs.key(inputs, route)] == 1


def test_layouts_differ_by_shape_dtype_and_route() -> None:
    a = {"input_ids": torch.zeros(4, 8, dtype=torch.long)}
    b = {"input_ids": torch.zeros(4, 9, dtype=torch.long)}
    r1, r2 = Route.from_sizes([0, 1], [2, 2]), Route.from_sizes([0, 1], [3, 1])
    keys = {CudaGraphs.key(a, r1), CudaGraphs.key(b, r1), CudaGraphs.key(a, r2),
            CudaGraphs.key(a, None), CudaGraphs.key({"input_ids": a["input_ids"].int()}, r1)}
    assert len(keys) == 5


def _server(tiny_base: Path, artifacts: dict[str, Path], manager: Any, graphs: bool) -> Any:
    srv = MultiCultureServer(str(tiny_base), slots=2, manager=manager, device="cuda",
                             dtype="float32", cuda_graphs=graphs)
    for culture in ("fr", "de", "es"):
        srv.add(artifacts[culture])
    return srv


@cuda
def test_replayed_graphs_equal_eager_runs_and_follow_swapped_adapters(
    tiny_base: Path, artifacts: dict[str, Path], serve_env: Any
) -> None:
    texts, cultures = mixed_rows()
    eager = _server(tiny_base, artifacts, serve_env, graphs=False)
    graphed = _server(tiny_base, artifacts, serve_env, graphs=True)
    # two slots, three cultures: batches alternate which pair is resident, so slots are
    # swapped between replays and every graph must be dropped when they are
    pairs = [("fr", "de"), ("de", "es"), ("fr", "de"), ("es", "fr")] * 3
    for pair in pairs:
        rows = [(t, c) for t, c in zip(texts, cultures, strict=True) if c.split("-")[0] in pair]
        sub_texts, sub_cultures = [t for t, _ in rows], [c for _, c in rows]
        want, _ = eager.predict_proba(sub_texts, sub_cultures, batch_size=64)
        got, _ = graphed.predict_proba(sub_texts, sub_cultures, batch_size=64)
        for w, g in zip(want, got, strict=True):
            np.testing.assert_allclose(g, w, atol=1e-5)
    # the same layout (two resident cultures) four times in a row is captured and replayed
    two = [i for i, c in enumerate(cultures) if c in ("fr", "de")]
    sub_texts, sub_cultures = [texts[i] for i in two], [cultures[i] for i in two]
    for _ in range(4):
        want, _ = eager.predict_proba(sub_texts, sub_cultures)
        got, _ = graphed.predict_proba(sub_texts, sub_cultures)
        for w, g in zip(want, got, strict=True):
            np.testing.assert_allclose(g, w, atol=1e-5)
    assert graphed.stats["graph_captures"] >= 1 and graphed.stats["graph_replays"] >= 1
    assert graphed.stats["graph_failures"] == 0, graphed._graphs.last_failure
