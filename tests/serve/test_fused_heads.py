"""Linear heads of many cultures in one gathered batched matmul (``RoutedModule``, bmm mode)."""

from __future__ import annotations

import torch
from torch import nn

from cultura.serve.fused import Route, RoutedModule, Router


def _routed(widths: list[int], seed: int = 0) -> tuple[RoutedModule, Router]:
    torch.manual_seed(seed)
    router = Router()
    routed = RoutedModule(nn.Linear(8, 2), len(widths), router)
    for slot, width in enumerate(widths):
        routed.set_slot(slot, nn.Linear(8, width, bias=slot != 1))
    return routed, router


def _per_segment(routed: RoutedModule, router: Router, x: torch.Tensor, route: Route) -> torch.Tensor:
    routed._stack = False  # the per-segment loop
    with router.routing(route):
        out = routed(x)
    routed._stack = None
    return out


def test_stacked_heads_equal_the_per_segment_heads_for_pooled_and_token_inputs() -> None:
    routed, router = _routed([2, 3, 2, 5])
    route = Route.from_sizes([2, 0, 3, 1], [3, 1, 2, 4], mode="bmm")
    for x in (torch.randn(10, 8), torch.randn(10, 7, 8)):
        with router.routing(route):
            got = routed(x)
        assert isinstance(routed._stack, tuple)  # the gathered path ran
        want = _per_segment(routed, router, x, route)
        assert got.shape == want.shape == (*x.shape[:-1], 5)
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)


def test_a_changed_slot_rebuilds_the_stack() -> None:
    routed, router = _routed([2, 2])
    route = Route.from_sizes([0, 1], [2, 2], mode="bmm")
    x = torch.randn(4, 8)
    with router.routing(route):
        before = routed(x)
    routed.set_slot(1, nn.Linear(8, 4))
    with router.routing(route):
        after = routed(x)
    torch.testing.assert_close(after[:2, :2], before[:2])
    assert after.shape == (4, 4) and not torch.allclose(after[2:, :2], before[2:])
    torch.testing.assert_close(after, _per_segment(routed, router, x, route))


def test_non_linear_heads_fall_back_to_segments() -> None:
    router = Router()
    routed = RoutedModule(nn.Linear(8, 2), 2, router)
    routed.set_slot(0, nn.Sequential(nn.Linear(8, 2), nn.Tanh()))
    route = Route.from_sizes([0, 1], [2, 2], mode="bmm")
    with router.routing(route):
        out = routed(torch.randn(4, 8))
    assert routed._stack is False and out.shape == (4, 2)
