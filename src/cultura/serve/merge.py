"""Single-culture deployment: one adapter merged into a copy of the base model.

:func:`merge_adapter` (used by :meth:`MultiCultureServer.merge
<cultura.serve.server.MultiCultureServer.merge>`) copies the base, puts the culture's
added-token rows back at the culture's own token ids, loads the adapter with PEFT and calls
``merge_and_unload``: the result is a plain ``transformers`` model of the base's architecture
(no LoRA layers left), so it runs at the base model's speed.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.serve.errors import ServeError
from cultura.serve.modules import set_submodule

if TYPE_CHECKING:
    import numpy as np
    import torch

    from cultura.serve.adapters import ServedAdapter

__all__ = ["MERGED_MANIFEST", "MergedModel", "format_prediction", "merge_adapter"]

MERGED_MANIFEST = "cultura_merged.json"


def format_prediction(text: str, probs: Any, labels: Sequence[str], top_k: int = 1) -> dict[str, Any]:
    """``{"text", "label", "score", "top": [{"label", "score", "label_id"}]}`` for one row
    (the format of :meth:`CulturalModel.predict <cultura.adapt.model.CulturalModel.predict>`)."""
    order = sorted(range(len(labels)), key=lambda i: (-float(probs[i]), i))[: max(1, top_k)]
    top = [{"label": labels[i], "score": float(probs[i]), "label_id": i} for i in order]
    return {"text": text, "label": top[0]["label"], "score": top[0]["score"], "top": top}


class MergedModel:
    """One culture's adapter merged into the base (see the module docstring).

    Attributes:
        model: the merged ``transformers`` sequence classifier.
        encoder: encodes texts as the culture's adapter does (normalizers, knowledge, tokens).
        labels / culture / task: the culture's label names, tag and task.
    """

    def __init__(
        self, model: Any, encoder: Any, labels: Sequence[str], culture: str, task: str, source: str
    ) -> None:
        self.model = model
        self.encoder = encoder
        self.labels = tuple(labels)
        self.culture = culture
        self.task = task
        self.source = source

    @property
    def tokenizer(self) -> Any:
        return self.encoder.tokenizer

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def __repr__(self) -> str:
        return f"MergedModel(culture={self.culture!r}, task={self.task!r}, from={self.source!r})"

    def encode(self, texts: Sequence[str]) -> dict[str, Any]:
        return {k: v.to(self.device) for k, v in self.encoder.encode(list(texts)).items()}

    def logits(self, texts: Sequence[str], *, batch_size: int = 64) -> torch.Tensor:
        """Raw logits ``[n, num_labels]`` (CPU)."""
        import torch

        texts = [texts] if isinstance(texts, str) else list(texts)
        rows = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                rows.append(self.model(**self.encode(texts[start : start + batch_size])).logits.float().cpu())
        return torch.cat(rows) if rows else torch.zeros(0, len(self.labels))

    def predict_proba(self, texts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        import torch

        return torch.softmax(self.logits(texts), dim=-1).numpy(), list(self.labels)

    def predict(self, texts: Sequence[str] | str, top_k: int = 1) -> list[dict[str, Any]]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        probs, labels = self.predict_proba(texts)
        return [{"culture": self.culture, **format_prediction(t, p, labels, top_k)}
                for t, p in zip(texts, probs, strict=True)]

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the merged model (safetensors) and the culture's tokenizer files, loadable by
        ``AutoModelForSequenceClassification`` / ``AutoTokenizer``, plus ``cultura_merged.json``
        naming the culture, task, labels and the normalizers to apply before tokenizing (a
        plain ``AutoTokenizer`` does not run them: normalize with
        ``cultura.culture(tag).normalize`` first)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(str(directory), safe_serialization=True)
        self.encoder.tokenizer.save_pretrained(str(directory))
        knowledge = self.encoder.knowledge
        info = {
            "format": "cultura-merged/1",
            "culture": self.culture,
            "task": self.task,
            "labels": list(self.labels),
            "merged_from": self.source,
            "normalizers": list(getattr(self.encoder.tokenizer, "culture_normalizer_ids", ())),
            "knowledge": knowledge.describe() if knowledge is not None and knowledge.enabled else [],
            "max_length": self.encoder.max_length,
        }
        (directory / MERGED_MANIFEST).write_text(
            json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        return directory


def merge_adapter(pristine: Any, adapter: ServedAdapter, base_rows: Any, device: Any) -> MergedModel:
    """Merge ``adapter`` into a copy of ``pristine`` (the server's plain base structure)."""
    from peft import get_peft_model, set_peft_model_state_dict
    from torch import nn

    model = copy.deepcopy(pristine)
    emb = model.get_input_embeddings()
    v0 = int(base_rows.shape[0])
    size = max(adapter.token_ids) + 1 if adapter.token_ids else v0
    weight = base_rows.new_zeros(size, base_rows.shape[1])
    weight[:v0] = base_rows
    if adapter.rows is not None:
        weight[list(adapter.token_ids)] = adapter.rows.to(weight.dtype)
    emb.weight = nn.Parameter(weight, requires_grad=False)
    emb.num_embeddings = size
    model.config.vocab_size = size
    for name, head in adapter.heads.items():  # the adapter's head shapes (e.g. 3 labels)
        set_submodule(model, name, copy.deepcopy(head))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        peft_model = get_peft_model(model, copy.deepcopy(adapter.peft_config))
        result = set_peft_model_state_dict(peft_model, adapter.peft_state)
        if getattr(result, "unexpected_keys", None):
            raise ServeError(
                f"{adapter.source}: PEFT did not use {len(result.unexpected_keys)} saved weights "
                f"(e.g. {result.unexpected_keys[0]}) when merging"
            )
        merged = peft_model.merge_and_unload()
    labels = adapter.labels
    merged.config.num_labels = len(labels)
    merged.config.id2label = dict(enumerate(labels))
    merged.config.label2id = {label: i for i, label in enumerate(labels)}
    merged.to(device).eval().requires_grad_(False)
    return MergedModel(merged, adapter.encoder, labels, adapter.key, adapter.task, adapter.source)
