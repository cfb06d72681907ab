"""``quantize="int8"``: dynamic int8 linear layers under the fused LoRA layers (CPU only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cultura.serve import MultiCultureServer, ServeError

from .conftest import mixed_rows

#: measured: max |p_int8 - p_fp32| = 0.036 on the mixed rows (the closest fp32 top-2 margin
#: is 0.09, so labels agree)
INT8_ATOL = 0.06


def _server(tiny_base: Path, artifacts: dict[str, Path], manager: Any, **kw: Any) -> Any:
    srv = MultiCultureServer(str(tiny_base), slots=3, manager=manager, device="cpu", **kw)
    for culture in ("fr", "de", "es"):
        srv.add(artifacts[culture])
    return srv


def test_int8_server_agrees_with_fp32(
    tiny_base: Path, artifacts: dict[str, Path], serve_env: Any
) -> None:
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as QuantizedLinear

    texts, cultures = mixed_rows()
    fp32 = _server(tiny_base, artifacts, serve_env)
    int8 = _server(tiny_base, artifacts, serve_env, quantize="int8")
    assert int8.describe()["quantize"] == "int8" and fp32.describe()["quantize"] is None
    # the LoRA-targeted linears are int8 under float LoRA buffers; heads stay float
    assert int8._slots.layers
    for layer in int8._slots.layers.values():
        assert isinstance(layer.base_layer, QuantizedLinear)
        assert layer.lora_A.dtype == torch.float32
    for routed in int8._slots.heads.values():
        assert all(p.dtype == torch.float32 for p in routed.parameters())
    for mixed in ("bmm", "segments"):
        int8.mixed = fp32.mixed = mixed
        p32, _ = fp32.predict_proba(texts, cultures)
        p8, _ = int8.predict_proba(texts, cultures)
        for a, b in zip(p32, p8, strict=True):
            np.testing.assert_allclose(b, a, atol=INT8_ATOL)
        assert [r["label"] for r in int8.predict(texts, cultures)] == [
            r["label"] for r in fp32.predict(texts, cultures)
        ]
    # merging uses the float base: the merged model equals the float server
    merged = int8.merge("fr").predict_proba(texts[:3])[0]
    np.testing.assert_allclose(merged, np.stack(fp32.predict_proba(texts[:3], "fr")[0]), atol=1e-5)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"device": "cuda"}, "runs on the CPU only .*--device cpu"),
        ({"device": "cpu", "dtype": "bfloat16"}, "dtype='bfloat16' cannot be combined"),
        ({"device": "cpu", "dtype": "fp16"}, "dtype='fp16' cannot be combined"),
        ({"device": "cpu", "engine": "peft"}, "runs on the fused engine"),
    ],
)
def test_int8_refuses_what_it_cannot_run(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ServeError, match=message):
        MultiCultureServer(quantize="int8", **kw)


def test_unknown_quantization_is_refused() -> None:
    with pytest.raises(ServeError, match="quantize must be one of int8"):
        MultiCultureServer(quantize="int4", device="cpu")


def test_cli_refuses_int8_with_bf16(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cultura.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["serve", str(tmp_path / "none"), "--device", "cpu", "--quantize", "int8",
              "--dtype", "bfloat16"])
    assert exit_info.value.code == 1
    assert "dtype='bfloat16' cannot be combined" in capsys.readouterr().err
