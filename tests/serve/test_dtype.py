"""Serving in bfloat16: the shared base, slots, heads and added rows in the server's dtype."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cultura.serve import MultiCultureServer, ServeError

from .conftest import mixed_rows

#: measured: max |p_bf16 - p_fp32| = 0.030 on the mixed rows (randomized adapters, large logits;
#: the closest fp32 top-2 margin is 0.09, so labels agree); bfloat16 keeps 8 mantissa bits
BF16_ATOL = 0.05


def _server(tiny_base: Path, artifacts: dict[str, Path], manager: Any, dtype: str) -> Any:
    srv = MultiCultureServer(str(tiny_base), slots=3, manager=manager, device="cpu", dtype=dtype)
    for culture in ("fr", "de", "es"):
        srv.add(artifacts[culture])
    return srv


def test_bf16_server_matches_fp32_within_tolerance(
    tiny_base: Path, artifacts: dict[str, Path], serve_env: Any
) -> None:
    import torch

    texts, cultures = mixed_rows()
    fp32 = _server(tiny_base, artifacts, serve_env, "float32")
    bf16 = _server(tiny_base, artifacts, serve_env, "bfloat16")
    assert bf16.describe()["dtype"] == "bfloat16" and fp32.describe()["dtype"] == "float32"
    # everything the forward pass reads follows the base dtype
    assert {p.dtype for p in bf16.model.parameters()} == {torch.bfloat16}
    for layer in bf16._slots.layers.values():
        assert layer.lora_A.dtype == layer.lora_B.dtype == torch.bfloat16
    for routed in bf16._slots.heads.values():
        assert all(p.dtype == torch.bfloat16 for p in routed.parameters())
    assert bf16._table.embedding.weight.dtype == torch.bfloat16
    assert bf16.adapter("fr").rows.dtype == torch.bfloat16
    for mixed in ("bmm", "segments"):
        bf16.mixed = fp32.mixed = mixed
        p32, _ = fp32.predict_proba(texts, cultures)
        p16, _ = bf16.predict_proba(texts, cultures)
        assert all(p.dtype == np.float32 for p in p16)  # logits back in float32
        for a, b in zip(p32, p16, strict=True):
            np.testing.assert_allclose(b, a, atol=BF16_ATOL)
        labels32 = [r["label"] for r in fp32.predict(texts, cultures)]
        assert [r["label"] for r in bf16.predict(texts, cultures)] == labels32


def test_bf16_server_takes_float32_in_memory_models(
    tiny_base: Path, reference: Any, serve_env: Any
) -> None:
    srv = MultiCultureServer(str(tiny_base), slots=2, manager=serve_env, device="cpu",
                             dtype="bf16")
    srv.add(reference("fr"))  # its float32 base is checked against the bfloat16 one
    texts = ["bonjour the movie was great", "merci"]
    want = reference("fr").predict_proba(texts)[0]
    got = np.stack(srv.predict_proba(texts, "fr")[0])
    np.testing.assert_allclose(got, want, atol=BF16_ATOL)


def test_bad_dtype_is_refused() -> None:
    with pytest.raises(ServeError, match="dtype 'int4' is not supported"):
        MultiCultureServer(dtype="int4", device="cpu")
