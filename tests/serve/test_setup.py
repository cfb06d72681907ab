"""Adding adapters never loads or copies a second base (see cultura.serve.reader/basecheck)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cultura.serve import MultiCultureServer, UnsupportedAdapterError

from .conftest import mixed_rows


def test_directories_are_added_without_loading_a_base(
    tiny_base: Path, artifacts: dict[str, Path], reference: Any, serve_env: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cultura.adapt.heads
    import cultura.adapt.loading

    srv = MultiCultureServer(str(tiny_base), slots=3, manager=serve_env, device="cpu")
    texts, cultures = mixed_rows()
    want = [reference(c).predict_proba([t]) for t, c in zip(texts, cultures, strict=True)]

    def no_base(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("adding an adapter directory loaded a base model")

    monkeypatch.setattr(cultura.adapt.heads, "load_base_model", no_base)
    monkeypatch.setattr(cultura.adapt.loading, "load_pretrained", no_base)
    for culture in ("fr", "de", "es"):  # added tokens, 3 labels, knowledge
        srv.add(artifacts[culture])
    probs, labels = srv.predict_proba(texts, cultures)
    for (ref, ref_labels), p, lab in zip(want, probs, labels, strict=True):
        assert tuple(ref_labels) == lab
        np.testing.assert_allclose(p, ref[0], atol=1e-5)


def test_directory_on_another_base_is_refused_by_its_weight_digest(
    tmp_path: Path, artifacts: dict[str, Path], serve_env: Any
) -> None:
    from cultura.testing.models import build_tiny_model

    other = build_tiny_model("bert", tmp_path / "other-seed", seed=7)
    srv = MultiCultureServer(str(other), manager=serve_env, device="cpu")
    with pytest.raises(UnsupportedAdapterError, match="base model mismatch.*different weights"):
        srv.add(artifacts["fr"])
    assert srv.cultures == []


def test_in_memory_model_with_one_changed_base_layer_is_refused(
    tiny_base: Path, reference: Any, serve_env: Any
) -> None:
    import torch

    model = reference("de")
    srv = MultiCultureServer(str(tiny_base), manager=serve_env, device="cpu")
    base = model.model.get_base_model()
    weight = base.bert.encoder.layer[1].intermediate.dense.weight
    saved = weight.detach().clone()
    with torch.no_grad():
        weight.add_(1e-3)  # a fine-tuned base: every value of one layer moved
    try:
        with pytest.raises(UnsupportedAdapterError,
                           match=r"other base weights .*layer\.1\.intermediate\.dense\.weight"):
            srv.add(model)
    finally:
        with torch.no_grad():
            weight.copy_(saved)
    assert srv.add(model) == "de"


@pytest.mark.parametrize("method", ["ia3", "prefix"])
def test_non_lora_refusal_names_the_alternatives(
    method: str, tmp_path: Path, tiny_base: Path, serve_env: Any
) -> None:
    from cultura.adapt.model import adapt
    from cultura.core.types import AdapterHeadSpec, PeftSpec
    from cultura.testing.models import build_tiny_model

    from .conftest import build_artifact, make_manager

    if method == "ia3":
        path = build_artifact(tiny_base, tmp_path / method, "es", 3, knowledge=False,
                              peft=PeftSpec(method=method))
    else:  # PEFT prefix-tunes decoders only
        decoder = build_tiny_model("llama", tmp_path / "tiny-llama")
        head = AdapterHeadSpec("chat", "causal-lm", peft=PeftSpec(method="prefix"))
        model = adapt(str(decoder), "es", head=head, knowledge=False, seed=0)
        path = model.save_pretrained(tmp_path / method)
    srv = MultiCultureServer(manager=make_manager(), device="cpu")
    with pytest.raises(UnsupportedAdapterError) as info:
        srv.add(path)
    message = str(info.value)
    assert f"serves LoRA adapters; this one uses {method}" in message
    assert "load_pretrained(...).predict(...)" in message
    assert "PeftSpec(method='lora')" in message
    assert ("cultura export ADAPTER --format onnx" in message) == (method == "ia3")
    assert srv.cultures == []
