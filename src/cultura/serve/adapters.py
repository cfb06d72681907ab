"""The served form of an adapter: :class:`ServedAdapter`, extracted from a CulturalModel.

:func:`extract_adapter` takes what serving needs out of a loaded
:class:`~cultura.adapt.model.CulturalModel`: the LoRA factors of every layer the fused engine can
run, the heads PEFT saves whole, the added-token embedding rows, the PEFT config and state (for
the PEFT engine and merging), and a model-less copy of the CulturalModel that encodes texts as
the culture does. The server then places the rows in its shared table
(:mod:`cultura.serve.table`) and the weights in a slot (:mod:`cultura.serve.slots`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cultura.serve.errors import UnsupportedAdapterError

if TYPE_CHECKING:
    from cultura.serve.reader import DirectoryAdapter

__all__ = [
    "LoraFactors",
    "ServedAdapter",
    "build_head",
    "extract_adapter",
    "is_cultural_model",
    "served_from_files",
]


@dataclass
class LoraFactors:
    """One LoRA layer of an adapter: ``A`` and ``B`` and the scaling."""

    a: Any  # [r, in]
    b: Any  # [out, r]
    scaling: float


@dataclass(eq=False)
class ServedAdapter:
    """One culture's adapter as the server holds it: in memory, ready to swap into a slot.

    Attributes:
        key: the culture tag rows are routed by.
        culture / task / labels: the adapter's own culture, task and label names.
        source: where it came from (name, directory or ``"in-memory"``).
        encoder: a model-less view of the :class:`~cultura.adapt.model.CulturalModel` whose
            ``encode`` applies the culture's normalizers, knowledge and tokenizer.
        lora: module name -> LoRA factors; heads: module name -> saved module (eval mode).
        rows / token_ids: the embedding rows of the culture's added tokens and their ids in
            the culture's own numbering.
        fused: ``""`` when the fused layers can run it, else why not (the PEFT engine does).
        head_type: the adapter's head (``seq-cls``, ``token-cls`` or ``causal-lm``).
        out_rows: an untied LM head's rows for the added tokens (``None`` otherwise).
    """

    key: str
    culture: str
    task: str
    labels: tuple[str, ...]
    source: str
    encoder: Any
    lora: dict[str, LoraFactors]
    heads: dict[str, Any]
    rows: Any
    token_ids: tuple[int, ...]
    fused: str
    peft_config: Any
    peft_state: dict[str, Any]
    rank: int
    head_type: str = "seq-cls"
    out_rows: Any = None
    row_start: int | None = None
    lut: Any = None
    slot: int | None = None
    last_used: int = 0
    rows_served: int = 0

    @property
    def nbytes(self) -> int:
        """Bytes of the weights this adapter swaps in (LoRA factors and heads)."""
        total = sum(f.a.numel() * f.a.element_size() + f.b.numel() * f.b.element_size()
                    for f in self.lora.values())
        for head in self.heads.values():
            total += sum(p.numel() * p.element_size() for p in head.parameters())
        return int(total)

    def encode(self, texts: list[str]) -> dict[str, Any]:
        """``texts`` encoded as this culture's rows of a batch: its normalizers, knowledge and
        tokenizer, then its token ids mapped into the shared embedding table."""
        return self.map_ids(self.encoder.encode(texts))

    def map_ids(self, enc: Any) -> dict[str, Any]:
        """The tensors of an encoding by this culture's tokenizer, its token ids mapped into
        the shared embedding table."""
        out = {k: v for k, v in enc.items() if hasattr(v, "shape")}
        if self.lut is not None:  # the culture's ids -> the shared table's
            out["input_ids"] = self.lut[out["input_ids"]]
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "culture": self.key,
            "adapter_culture": self.culture,
            "task": self.task,
            "head_type": self.head_type,
            "labels": list(self.labels),
            "source": self.source,
            "added_tokens": len(self.token_ids),
            "rank": self.rank,
            "engine": "fused" if not self.fused else "peft",
            "resident": self.slot is not None,
            "rows_served": self.rows_served,
        }


def is_cultural_model(obj: Any) -> bool:
    """Whether ``obj`` looks like a :class:`~cultura.adapt.model.CulturalModel` (duck-typed)."""
    return all(hasattr(obj, a) for a in ("model", "tokenizer", "spec", "profile", "encode"))


def extract_adapter(
    model: Any, key: str, label: str, *, device: Any, v0: int, dtype: Any = None
) -> ServedAdapter:
    """The served form of ``model`` (a :class:`~cultura.adapt.model.CulturalModel`), routed by
    ``key``: its LoRA factors and heads on ``device`` in ``dtype`` (default: as they are), its
    added-token rows, the PEFT config and state (for the PEFT engine and merging), and an
    encoder without the model.

    ``label`` names the adapter in errors; ``v0`` is the base vocabulary size (added token ids
    must lie above it). Raises :class:`UnsupportedAdapterError` for what cannot be served.
    """
    from peft import get_peft_model_state_dict
    from peft.tuners.lora import Linear as LoraLinear
    from peft.tuners.lora import LoraLayer
    from peft.utils.other import ModulesToSaveWrapper

    peft_model = model.model
    name = peft_model.active_adapter
    lora: dict[str, LoraFactors] = {}
    heads: dict[str, Any] = {}
    not_fused: list[str] = []
    for mod_name, module in peft_model.get_base_model().named_modules():
        if isinstance(module, ModulesToSaveWrapper):
            head = copy.deepcopy(module.modules_to_save[name]).to(device, dtype).eval()
            heads[mod_name] = head.requires_grad_(False)
        elif isinstance(module, LoraLayer):
            if name in getattr(module, "lora_embedding_A", {}):
                if model.added.tokens:
                    raise UnsupportedAdapterError(
                        f"{label}: LoRA on the embedding layer ({mod_name}) together with "
                        "added tokens cannot be served on a shared embedding table"
                    )
                not_fused.append(f"{mod_name} is an embedding LoRA")
                continue
            if name not in module.lora_A:
                continue
            if module.use_dora.get(name, False):
                raise UnsupportedAdapterError(
                    f"{label}: DoRA adapters cannot be mixed in a batch (PEFT neither); "
                    "serve it alone with CulturalModel.predict"
                )
            why = ""
            if type(module) is not LoraLinear:
                why = f"{mod_name} is a {type(module).__name__} LoRA layer"
            elif getattr(module, "fan_in_fan_out", False):
                why = f"{mod_name} is a transposed (Conv1D) layer"
            elif module.lora_bias.get(name, False):
                why = f"{mod_name} has a LoRA bias"
            elif name in getattr(module, "lora_variant", {}):
                why = f"{mod_name} uses a LoRA variant"
            if why:
                not_fused.append(why)
                continue
            lora[mod_name] = LoraFactors(
                module.lora_A[name].weight.detach().to(device, dtype).clone(),
                module.lora_B[name].weight.detach().to(device, dtype).clone(),
                float(module.scaling[name]),
            )
    rows, token_ids, out_rows = None, (), None
    if model.added.tokens:
        added = model.added_rows()
        rows = added["embedding"].to(device, dtype)
        if "lm_head" in added:
            out_rows = added["lm_head"].to(device, dtype)
        token_ids = tuple(int(i) for i in added["token_ids"].tolist())
    _check_token_ids(label, token_ids, len(model.tokenizer), v0)
    config = copy.deepcopy(peft_model.peft_config[name])
    config.trainable_token_indices = None
    config.inference_mode = True
    state = {
        k: v.detach().cpu().clone()
        for k, v in get_peft_model_state_dict(
            peft_model, adapter_name=name, save_embedding_layers=False
        ).items()
        if "token_adapter" not in k and "trainable_tokens" not in k
    }
    encoder = copy.copy(model)
    encoder.model = None  # encode() needs the tokenizer, normalizers and knowledge only
    return ServedAdapter(
        key=key,
        culture=model.culture,
        task=model.spec.task,
        labels=tuple(model.labels),
        source=label,
        encoder=encoder,
        lora=lora,
        heads=heads,
        rows=rows,
        token_ids=token_ids,
        fused="; ".join(not_fused),
        peft_config=config,
        peft_state=state,
        rank=_rank(lora, config),
        head_type=model.head_type,
        out_rows=out_rows,
    )


def _rank(lora: dict[str, LoraFactors], config: Any) -> int:
    return max((int(f.a.shape[0]) for f in lora.values()), default=int(getattr(config, "r", 0)))


def _check_token_ids(label: str, token_ids: tuple[int, ...], vocab: int, v0: int) -> None:
    """Added token ids must lie above the base vocabulary (``v0`` rows) and cover every token
    of the adapter's tokenizer (``vocab`` tokens) beyond it."""
    outside = [i for i in token_ids if i < v0]
    if outside:
        raise UnsupportedAdapterError(
            f"{label}: added token id {outside[0]} lies inside the base vocabulary "
            f"({v0} rows); the adapter does not fit this base"
        )
    extra = set(range(v0, vocab)) - set(token_ids)
    if extra:
        raise UnsupportedAdapterError(
            f"{label}: its tokenizer has {len(extra)} token(s) beyond the base vocabulary "
            f"without embedding rows (e.g. id {min(extra)}); re-save the adapter"
        )


def build_head(template: Any, params: dict[str, Any], *, device: Any, dtype: Any) -> Any:
    """A copy of ``template`` (the base's module at a head's name) holding ``params``
    (parameter path -> saved tensor) on ``device`` in ``dtype``, in eval mode; shapes may
    differ from the template's (another number of labels). ``None`` when ``params`` does
    not name exactly the template's parameters."""
    from torch import nn

    head = copy.deepcopy(template)
    if set(params) != {n for n, _ in head.named_parameters()}:
        return None
    for path, tensor in params.items():
        owner_name, _, attr = path.rpartition(".")
        owner = head.get_submodule(owner_name) if owner_name else head
        value = tensor.to(device, dtype)
        setattr(owner, attr, nn.Parameter(value, requires_grad=False))
        if isinstance(owner, nn.Linear) and attr == "weight":
            owner.out_features, owner.in_features = (int(n) for n in value.shape)
    return head.eval().requires_grad_(False)


def served_from_files(
    read: DirectoryAdapter, heads: dict[str, Any], key: str, label: str, *, device: Any,
    dtype: Any, v0: int,
) -> ServedAdapter:
    """The served form of an adapter read from its directory (:mod:`cultura.serve.reader`),
    with ``heads`` built by :func:`build_head`: as :func:`extract_adapter` gives it."""
    _check_token_ids(label, read.token_ids, len(read.tokenizer), v0)
    lora = {
        name: LoraFactors(f.a.to(device, dtype), f.b.to(device, dtype), f.scaling)
        for name, f in read.lora.items()
    }
    return ServedAdapter(
        key=key,
        culture=read.culture,
        task=read.spec.task,
        labels=tuple(read.labels),
        source=label,
        encoder=read.encoder,
        lora=lora,
        heads=heads,
        rows=None if read.rows is None else read.rows.to(device, dtype),
        token_ids=read.token_ids,
        fused="",
        peft_config=read.peft_config,
        peft_state=read.peft_state,
        rank=_rank(lora, read.peft_config),
        head_type=read.head_type,
    )
