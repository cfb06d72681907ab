"""synthesize_manifest: the PEFT method of a plain PEFT repo maps to cultura's method names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from cultura.adapt.artifact import read_manifest
from cultura.core.errors import CulturaError
from cultura.registry.interop import synthesize_manifest


def _plain_peft(tmp_path: Path, peft_type: str) -> Path:
    directory = tmp_path / peft_type.lower()
    directory.mkdir()
    (directory / "adapter_config.json").write_text(json.dumps({
        "peft_type": peft_type, "task_type": "CAUSAL_LM", "base_model_name_or_path": "org/base",
    }))
    save_file({"prompt_embeddings": torch.zeros(4, 8)}, str(directory / "adapter_model.safetensors"))
    return directory


@pytest.mark.parametrize(("peft_type", "method"),
                         [("LORA", "lora"), ("PREFIX_TUNING", "prefix"), ("IA3", "ia3")])
def test_peft_types_map_to_the_manifests_method_names(
    tmp_path: Path, peft_type: str, method: str
) -> None:
    directory = _plain_peft(tmp_path, peft_type)
    manifest = synthesize_manifest(directory, culture="zh", task="lm")
    assert manifest.peft_method == method
    assert read_manifest(directory).peft_method == method  # the written manifest reads back


def test_an_unknown_peft_type_is_refused_by_name(tmp_path: Path) -> None:
    directory = _plain_peft(tmp_path, "LOHA")
    with pytest.raises(CulturaError, match=r"peft_type 'LOHA' is not one cultura loads"):
        synthesize_manifest(directory, culture="zh", task="lm")
