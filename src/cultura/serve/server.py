"""``MultiCultureServer``: one shared base model, many culture adapters, mixed batches.

>>> from cultura.serve import MultiCultureServer
>>> server = MultiCultureServer("all-MiniLM-L6-v2", slots=8)              # doctest: +SKIP
>>> server.add("zh-Hant-TW/sentiment")                                       # doctest: +SKIP
>>> server.add("./adapters/sw-sentiment", culture="sw-KE")                   # doctest: +SKIP
>>> server.predict(["這部電影很好看", "Filamu hii ni nzuri"], cultures=["zh-TW", "sw-KE"])  # doctest: +SKIP

How a batch runs
    Rows are grouped by culture. Each group is encoded by its own adapter's tokenizer (the
    culture's normalizers once, its knowledge injected, its added tokens), its token ids are
    remapped into the shared embedding table, the groups are padded to one length and
    concatenated, and one forward pass of the shared base runs with every row routed to its
    culture's LoRA weights and head (:mod:`cultura.serve.fused`). Outputs go back in input
    order; each row keeps its own label set.

Added vocabulary
    Two cultures that extended the vocabulary both number their new tokens from the base
    vocabulary size up (``V0, V0+1, ...``), with different rows. The server keeps one
    embedding table: the base rows, then a block of rows per culture (placed when the adapter is
    added, released when it is removed); each culture gets a lookup table mapping its token
    ids to the shared ids, applied to its input ids before the forward pass.

Slots and hot swap
    ``slots`` adapters are resident at once; the fused layers hold their weights in
    pre-allocated buffers. Any number of adapters can be added: a batch that needs a
    non-resident culture loads it into a free slot, or evicts the least recently used one not
    needed by the batch (a copy of ~300 KB for a MiniLM LoRA; no module is injected). A batch
    with more cultures than slots runs as several forward passes.

Engines
    ``fused`` (the default for LoRA adapters on linear layers) or ``peft``: PEFT's own mixed
    batches (``adapter_names``) on a second view of the same base weights, used for LoRA
    variants the fused layers do not implement (GPT-2's Conv1D, LoRA on embeddings, LoRA
    biases) and when ``engine="peft"`` or :meth:`MultiCultureServer.calibrate` measured it
    faster. Both give the same outputs as running each culture's own model, within float32
    rounding (``atol=1e-5`` on probabilities in the tests).

Only ``seq-cls`` heads are served; IA3 and prefix-tuning adapters are refused with a message
(serve them alone with ``CulturalModel.predict``).
"""

from __future__ import annotations

import copy
import statistics
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.core.errors import CulturaError
from cultura.core.tags import Culture
from cultura.serve.errors import NotServedError, ServeError, UnsupportedAdapterError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from cultura.core.plugins import PluginManager
    from cultura.serve.merge import MergedModel

__all__ = ["ENGINES", "MIXED", "MultiCultureServer", "RowAllocator", "ServedAdapter"]

ENGINES = ("auto", "fused", "peft")
MIXED = ("auto", "bmm", "segments")
#: distinct request tags whose route is remembered; more are routed (cheaply) every time
ROUTE_CACHE_SIZE = 4096
#: with ``mixed="auto"`` and no calibration: segments up to this many cultures in a batch
SEGMENTS_UP_TO = 2


class RowAllocator:
    """First-fit allocation of contiguous row ranges in ``[start, start + capacity)``."""

    def __init__(self, start: int, capacity: int = 0) -> None:
        self.start = start
        self.capacity = 0
        self.free: list[tuple[int, int]] = []  # (first row, length), sorted, merged
        self.grow(capacity)

    @property
    def end(self) -> int:
        return self.start + self.capacity

    @property
    def used(self) -> int:
        return self.capacity - sum(n for _, n in self.free)

    def allocate(self, n: int) -> int | None:
        """The first row of a free block of ``n`` rows (``None`` when none is large enough)."""
        if n <= 0:
            raise ValueError(f"cannot allocate {n} rows")
        for i, (first, length) in enumerate(self.free):
            if length >= n:
                if length == n:
                    del self.free[i]
                else:
                    self.free[i] = (first + n, length - n)
                return first
        return None

    def release(self, first: int, n: int) -> None:
        """Give back ``n`` rows starting at ``first`` (merged with free neighbours)."""
        if first < self.start or first + n > self.end:
            raise ValueError(f"rows {first}..{first + n} are outside {self.start}..{self.end}")
        self.free.append((first, n))
        self.free.sort()
        merged: list[tuple[int, int]] = []
        for block in self.free:
            if merged and merged[-1][0] + merged[-1][1] > block[0]:
                raise ValueError(f"rows {block[0]}..{block[0] + block[1]} were released twice")
            if merged and merged[-1][0] + merged[-1][1] == block[0]:
                merged[-1] = (merged[-1][0], merged[-1][1] + block[1])
            else:
                merged.append(block)
        self.free = merged

    def grow(self, capacity: int) -> None:
        """Extend the region to ``capacity`` rows (new rows are free)."""
        if capacity <= self.capacity:
            return
        old_end, self.capacity = self.end, capacity
        self.release(old_end, self.end - old_end)


@dataclass
class _Lora:
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
    """

    key: str
    culture: str
    task: str
    labels: tuple[str, ...]
    source: str
    encoder: Any
    lora: dict[str, _Lora]
    heads: dict[str, Any]
    rows: Any
    token_ids: tuple[int, ...]
    fused: str
    peft_config: Any
    peft_state: dict[str, Any]
    rank: int
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

    def describe(self) -> dict[str, Any]:
        return {
            "culture": self.key,
            "adapter_culture": self.culture,
            "task": self.task,
            "labels": list(self.labels),
            "source": self.source,
            "added_tokens": len(self.token_ids),
            "rank": self.rank,
            "engine": "fused" if not self.fused else "peft",
            "resident": self.slot is not None,
            "rows_served": self.rows_served,
        }


def _is_cultural_model(obj: Any) -> bool:
    return all(hasattr(obj, a) for a in ("model", "tokenizer", "spec", "profile", "encode"))


def _set_submodule(model: Any, name: str, module: Any) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def _share_copy(model: Any, *extra_shared: Any) -> Any:
    """A copy of ``model``'s module tree that shares every parameter and buffer (and the
    modules in ``extra_shared``) with it: new module objects, no new weights."""
    memo: dict[int, Any] = {}
    for tensor in list(model.parameters()) + list(model.buffers()):
        memo[id(tensor)] = tensor
    for module in extra_shared:
        memo[id(module)] = module
    return copy.deepcopy(model, memo)


class MultiCultureServer:
    """Serve many culture adapters on one shared base model (see the module docstring).

    Args:
        base: the base model (a path, Hub id or alias such as ``all-MiniLM-L6-v2``); default:
            the base of the first adapter added.
        slots: adapters resident at once in the fused layers.
        max_rank: LoRA rank the slots are allocated for (grown when an adapter needs more).
        engine: ``"auto"`` (fused when it can, PEFT otherwise), ``"fused"`` or ``"peft"``.
        mixed: how the fused layers mix cultures: ``"bmm"``, ``"segments"`` or ``"auto"``.
        device: ``"cpu"``, ``"cuda"``, ...; default: CUDA when available.
        batch_size: rows per forward pass in :meth:`predict`.
        manager: plugin manager for adapters loaded from directories.
        offline: passed to the registry when adapters are added by name.
    """

    def __init__(
        self,
        base: str | Path | None = None,
        *,
        slots: int = 8,
        max_rank: int = 16,
        engine: str = "auto",
        mixed: str = "auto",
        device: str | None = None,
        batch_size: int = 64,
        manager: PluginManager | None = None,
        offline: bool | None = None,
    ) -> None:
        if slots < 1:
            raise ServeError(f"slots must be at least 1, got {slots}")
        if max_rank < 1:
            raise ServeError(f"max_rank must be at least 1, got {max_rank}")
        if batch_size < 1:
            raise ServeError(f"batch_size must be at least 1, got {batch_size}")
        if engine not in ENGINES:
            raise ServeError(f"engine must be one of {ENGINES}, got {engine!r}")
        if mixed not in MIXED:
            raise ServeError(f"mixed must be one of {MIXED}, got {mixed!r}")
        self.n_slots = slots
        self.max_rank = max_rank
        self.engine = engine
        self.mixed = mixed
        self.batch_size = batch_size
        self.manager = manager
        self.offline = offline
        self._device = device
        self._lock = threading.RLock()
        self._adapters: dict[str, ServedAdapter] = {}
        #: request tag -> served tag; at most ROUTE_CACHE_SIZE entries (tags come from clients)
        self._route_cache: dict[str, str] = {}
        self._slot_keys: list[str | None] = [None] * slots
        self._clock = 0
        self.calibration: dict[str, Any] | None = None
        self.stats: Counter[str] = Counter()
        self.model: Any = None
        self.base_id: str | None = None
        self.base_fingerprint = ""
        self._base_arg = str(base) if base is not None else None
        self._fused_layers: dict[str, Any] = {}
        self._routed: dict[str, Any] = {}
        self._peft: Any = None
        if base is not None:
            self._init_base(str(base))

    # ------------------------------------------------------------------ set-up
    @property
    def device(self) -> Any:
        import torch

        if self._device is None:
            self._device = "cuda" if torch.cuda.is_available() else "cpu"
        return torch.device(self._device)

    def _init_base(self, base: str, labels: Sequence[str] = ("0", "1")) -> None:
        from cultura.adapt import artifact
        from cultura.adapt.base import resolve_base
        from cultura.adapt.heads import load_base_model, module_name
        from cultura.core.types import AdapterHeadSpec
        from cultura.serve.fused import Router

        path, model_id = resolve_base(base)
        spec = AdapterHeadSpec("serve", "seq-cls", labels=tuple(labels))
        try:
            model, _ = load_base_model(path, spec, seed=0)
        except CulturaError:
            raise
        except Exception as exc:  # transformers raises several types for a bad path
            raise ServeError(f"cannot load the base model {base!r}: {exc}") from None
        model.eval().requires_grad_(False).to(self.device)
        self.base_id = model_id
        self.base_fingerprint = artifact.config_fingerprint(model.config.to_dict())
        emb = model.get_input_embeddings()
        self._emb = emb
        self._emb_param = module_name(model, emb) + ".weight"
        self._v0 = int(emb.weight.shape[0])
        self._base_params = {n: p for n, p in model.named_parameters() if n != self._emb_param}
        self._base_rows = emb.weight[: self._v0].detach().clone()
        self._rows = RowAllocator(self._v0, 0)
        self.pad_id = int(getattr(model.config, "pad_token_id", None) or 0)
        self._pristine = _share_copy(model, emb)  # plain structure, for PEFT and merging
        self._router = Router()
        self.model = model

    # ------------------------------------------------------------------ adding
    @property
    def cultures(self) -> list[str]:
        """The culture tags served, in the order they were added."""
        return list(self._adapters)

    def adapter(self, culture: str) -> ServedAdapter:
        """The adapter that serves ``culture`` (after the fallback chain)."""
        return self._adapters[self.route(culture)]

    def add(self, source: Any, culture: str | None = None) -> str:
        """Serve an adapter; returns the culture tag its rows are routed by.

        Args:
            source: a :class:`~cultura.adapt.model.CulturalModel`, an adapter directory, or a
                registry name (``zh-Hant-TW/sentiment``, ``hf:org/repo``) resolved on this
                server's base.
            culture: the tag to route rows by (default: the registry name's culture, else the
                adapter's own culture). The adapter's own normalizers and knowledge are used
                whatever the tag.
        """
        model, label, default_key = self._load(source)
        key = Culture.parse(culture).tag if culture else default_key
        with self._lock:
            if key in self._adapters:
                raise ServeError(
                    f"culture {key!r} is already served by {self._adapters[key].source}; "
                    f"remove it first (server.remove({key!r})) or pass another culture="
                )
            if model.head_type != "seq-cls":
                raise UnsupportedAdapterError(
                    f"{label}: MultiCultureServer serves seq-cls adapters; this one has a "
                    f"{model.head_type} head (use CulturalModel.predict for it)"
                )
            if model.spec.peft.method != "lora":
                raise UnsupportedAdapterError(
                    f"{label}: MultiCultureServer serves LoRA adapters; this one uses "
                    f"{model.spec.peft.method} (serve it alone with CulturalModel.predict, or "
                    "retrain it with PeftSpec(method='lora'))"
                )
            if self.model is None:
                self._init_base(self._base_arg or model.base.id, model.labels)
            self._check_base(model, label)
            if model.base.id and model.base.id != self.base_id and not model.base.weights:
                # adapters saved with a weight digest were already checked on load
                from cultura.adapt.model import CulturaWarning

                warnings.warn(
                    f"{label} records base model {model.base.id!r}; this server's base is "
                    f"{self.base_id!r} (same architecture). Predictions are only right if they "
                    "hold the same weights",
                    CulturaWarning,
                    stacklevel=2,
                )
            adapter = self._extract(model, key, label)
            self._place_rows(adapter)
            if not adapter.fused:
                self._prepare_fused(adapter)
            self._adapters[key] = adapter
            self._route_cache.clear()
            if not adapter.fused and None in self._slot_keys:
                self._load_slot(adapter, self._slot_keys.index(None))
        if model.culture not in Culture.parse(key).chain() and key not in Culture.parse(
            model.culture
        ).chain():
            warnings.warn(
                f"{label} was trained for {model.culture!r} but is served as {key!r}; its "
                f"{model.culture} normalizers and knowledge apply to these rows",
                stacklevel=2,
            )
        return key

    def _load(self, source: Any) -> tuple[Any, str, str]:
        from cultura.adapt.model import load_pretrained

        if _is_cultural_model(source):
            return source, f"in-memory {source!r}", source.culture
        if not isinstance(source, (str, Path)):
            raise ServeError(
                f"add() takes a CulturalModel, an adapter directory or an adapter name, not "
                f"{type(source).__name__}"
            )
        path = Path(source).expanduser()
        if path.is_dir():
            model = load_pretrained(path, base=self._base_arg or self.base_id, manager=self.manager)
            return model, str(path), model.culture
        from cultura.registry.names import RegistryName, parse
        from cultura.registry.resolve import load

        try:
            parsed = parse(str(source))
        except CulturaError as exc:
            raise ServeError(
                f"{source!r} is neither an adapter directory nor an adapter name: {exc}"
            ) from None
        model = load(str(source), base=self._base_arg or self.base_id, offline=self.offline)
        key = parsed.culture if isinstance(parsed, RegistryName) else model.culture
        return model, str(source), key

    def _check_base(self, model: Any, label: str) -> None:
        """The adapter's base must be this server's base: same architecture and weights."""
        import torch

        fingerprint = model.base.fingerprint
        if fingerprint and fingerprint != self.base_fingerprint:
            raise UnsupportedAdapterError(
                f"{label} was trained on {model.base.id!r} ({model.base.architecture}), whose "
                f"architecture differs from this server's base {self.base_id!r}; serve it "
                "with a server on its own base"
            )
        base = model.model.get_base_model()
        skip = ("lora_", "modules_to_save", "original_module", "trainable_tokens_")
        for name, param in base.named_parameters():
            if any(s in name for s in skip):
                continue
            clean = name.replace(".base_layer", "").replace(".token_adapter", "")
            if clean == self._emb_param:
                ref, mine = self._base_rows, param.detach()[: self._v0]
            else:
                ref, mine = self._base_params.get(clean), param.detach()
            if ref is None or ref.shape != mine.shape or not torch.equal(mine.to(ref.device), ref):
                what = "is missing from" if ref is None else "differs from"
                raise UnsupportedAdapterError(
                    f"{label} was trained on other base weights than this server's base "
                    f"{self.base_id!r}: its parameter {clean} {what} the server's. Serve it with "
                    f"the base it was trained on ({model.base.id!r})"
                )

    def _extract(self, model: Any, key: str, label: str) -> ServedAdapter:
        from peft import get_peft_model_state_dict
        from peft.tuners.lora import Linear as LoraLinear
        from peft.tuners.lora import LoraLayer
        from peft.utils.other import ModulesToSaveWrapper

        peft_model = model.model
        name = peft_model.active_adapter
        device = self.device
        lora: dict[str, _Lora] = {}
        heads: dict[str, Any] = {}
        not_fused: list[str] = []
        for mod_name, module in peft_model.get_base_model().named_modules():
            if isinstance(module, ModulesToSaveWrapper):
                head = copy.deepcopy(module.modules_to_save[name]).to(device).eval()
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
                lora[mod_name] = _Lora(
                    module.lora_A[name].weight.detach().to(device).clone(),
                    module.lora_B[name].weight.detach().to(device).clone(),
                    float(module.scaling[name]),
                )
        rows, token_ids = None, ()
        if model.added.tokens:
            added = model.added_rows()
            rows = added["embedding"].to(device)
            token_ids = tuple(int(i) for i in added["token_ids"].tolist())
            outside = [i for i in token_ids if i < self._v0]
            if outside:
                raise UnsupportedAdapterError(
                    f"{label}: added token id {outside[0]} lies inside the base vocabulary "
                    f"({self._v0} rows); the adapter does not fit this base"
                )
        extra = set(range(self._v0, len(model.tokenizer))) - set(token_ids)
        if extra:
            raise UnsupportedAdapterError(
                f"{label}: its tokenizer has {len(extra)} token(s) beyond the base vocabulary "
                f"without embedding rows (e.g. id {min(extra)}); re-save the adapter"
            )
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
        rank = max((int(f.a.shape[0]) for f in lora.values()), default=int(getattr(config, "r", 0)))
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
            rank=rank,
        )

    def _place_rows(self, adapter: ServedAdapter) -> None:
        """Put the adapter's added-token rows into the shared table and build its id map."""
        import torch

        if adapter.rows is None:
            return
        n = int(adapter.rows.shape[0])
        start = self._rows.allocate(n)
        if start is None:
            self._grow_table(n)
            start = self._rows.allocate(n)
            assert start is not None
        with torch.no_grad():
            self._emb.weight[start : start + n] = adapter.rows.to(self._emb.weight.dtype)
        lut = torch.arange(max(adapter.token_ids) + 1, dtype=torch.long)
        lut[list(adapter.token_ids)] = torch.arange(start, start + n, dtype=torch.long)
        adapter.row_start, adapter.lut = start, lut

    def _grow_table(self, need: int) -> None:
        from torch import nn

        capacity = max(self._rows.capacity * 2, self._rows.capacity + need)
        old = self._emb.weight
        new = old.new_zeros(self._v0 + capacity, old.shape[1])
        new[: old.shape[0]] = old
        self._emb.weight = nn.Parameter(new, requires_grad=False)
        self._emb.num_embeddings = int(new.shape[0])
        self._rows.grow(capacity)
        self.stats["table_grows"] += 1

    def _prepare_fused(self, adapter: ServedAdapter) -> None:
        """Inject fused layers for modules no adapter targeted before (once per module)."""
        from torch import nn

        from cultura.serve.fused import MultiLoraLinear, RoutedModule

        for name, factors in adapter.lora.items():
            layer = self._fused_layers.get(name)
            rank = int(factors.a.shape[0])
            if layer is None:
                module = self.model.get_submodule(name)
                if not isinstance(module, nn.Linear):
                    adapter.fused = f"{name} is a {type(module).__name__} in the server's base"
                    return
                layer = MultiLoraLinear(module, self.n_slots, max(rank, self.max_rank), self._router)
                _set_submodule(self.model, name, layer)
                self._fused_layers[name] = layer
            elif rank > layer.rank:
                layer.resize(self.n_slots, rank)
        for name in adapter.heads:
            if name not in self._routed:
                routed = RoutedModule(self.model.get_submodule(name), self.n_slots, self._router)
                _set_submodule(self.model, name, routed)
                self._routed[name] = routed

    def remove(self, culture: str) -> None:
        """Stop serving ``culture`` (its slot, rows and PEFT adapter are released)."""
        with self._lock:
            key = Culture.parse(culture).tag
            adapter = self._adapters.get(key)
            if adapter is None:
                raise NotServedError(f"culture {key!r} is not served (served: {self._served()})")
            if adapter.slot is not None:
                self._clear_slot(adapter.slot)
            if adapter.row_start is not None:
                self._rows.release(adapter.row_start, len(adapter.token_ids))
            if self._peft is not None:
                self._peft.unload(key)
            del self._adapters[key]
            self._route_cache.clear()

    # ------------------------------------------------------------------ slots
    def _load_slot(self, adapter: ServedAdapter, slot: int) -> None:
        for name, layer in self._fused_layers.items():
            factors = adapter.lora.get(name)
            if factors is None:
                layer.set_slot(slot)
            else:
                layer.set_slot(slot, factors.a, factors.b, factors.scaling)
        for name, routed in self._routed.items():
            routed.set_slot(slot, adapter.heads.get(name))
        adapter.slot = slot
        self._slot_keys[slot] = adapter.key

    def _clear_slot(self, slot: int) -> None:
        key = self._slot_keys[slot]
        if key is not None and key in self._adapters:
            self._adapters[key].slot = None
        for layer in self._fused_layers.values():
            layer.set_slot(slot)
        for routed in self._routed.values():
            routed.set_slot(slot, None)
        self._slot_keys[slot] = None

    def swap_in(self, culture: str, *, keep: Iterable[str] = ()) -> int:
        """Make ``culture``'s adapter resident; returns its slot.

        A free slot is used first, else the least recently used adapter not in ``keep`` is
        evicted. Loading copies the LoRA factors into the pre-allocated slot buffers and points
        the routed heads at the adapter's: nothing is injected or allocated.
        """
        with self._lock:
            adapter = self.adapter(culture)
            if adapter.fused:
                raise ServeError(f"{adapter.key} runs on the PEFT engine ({adapter.fused}); it has no slot")
            self._clock += 1
            adapter.last_used = self._clock
            if adapter.slot is not None:
                return adapter.slot
            if None in self._slot_keys:
                slot = self._slot_keys.index(None)
            else:
                pinned = set(keep)
                victims = [
                    self._adapters[k] for k in self._slot_keys if k is not None and k not in pinned
                ]
                if not victims:
                    raise ServeError(
                        f"all {self.n_slots} slots hold adapters this batch needs; use more slots"
                    )
                victim = min(victims, key=lambda a: a.last_used)
                slot = victim.slot
                assert slot is not None
                self._clear_slot(slot)
                self.stats["evictions"] += 1
            self._load_slot(adapter, slot)
            self.stats["swaps"] += 1
            return slot

    @property
    def resident(self) -> list[str | None]:
        """The culture in each slot (``None``: free)."""
        return list(self._slot_keys)

    # ------------------------------------------------------------------ routing
    def _served(self) -> str:
        return ", ".join(self._adapters) or "none yet"

    def route(self, culture: str) -> str:
        """The served culture a row tagged ``culture`` goes to: the tag itself or the first tag
        on its fallback chain that is served (``zh-Hant-TW`` -> ``zh-Hant`` -> ``zh``)."""
        cached = self._route_cache.get(culture)
        if cached is not None:
            return cached
        if not isinstance(culture, str):
            raise ServeError(f"a culture must be a BCP-47 tag string, got {type(culture).__name__}")
        tag = Culture.parse(culture)
        for level in tag.chain():
            if level in self._adapters:
                if len(self._route_cache) < ROUTE_CACHE_SIZE:  # clients choose the tags: bounded
                    self._route_cache[culture] = level
                return level
        raise NotServedError(
            f"culture {culture!r} is not served (served: {self._served()}); add an adapter for "
            f"it with server.add(..., culture={tag.tag!r})"
        )

    def _rows_for(self, texts: Any, cultures: Any) -> tuple[list[str], list[str]]:
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise ServeError(f"texts[{bad[0]}] is a {type(texts[bad[0]]).__name__}, not a string")
        if isinstance(cultures, str):
            cultures = [cultures] * len(texts)
        cultures = list(cultures)
        if len(cultures) != len(texts):
            raise ServeError(
                f"got {len(texts)} texts and {len(cultures)} cultures; pass one culture per text "
                "or one culture for all"
            )
        return texts, [self.route(c) for c in cultures]

    # ------------------------------------------------------------------ running
    def _engine_for(self, keys: Sequence[str]) -> str:
        unfused = [k for k in keys if self._adapters[k].fused]
        if self.engine == "fused" and unfused:
            k = unfused[0]
            raise ServeError(f"engine='fused' cannot run {k}: {self._adapters[k].fused}")
        if self.engine == "peft" or unfused:
            return "peft"
        if self.engine == "auto" and self.calibration is not None:
            return str(self.calibration["engine"])
        return "fused"

    def _mixed_for(self, n_cultures: int) -> str:
        if self.mixed != "auto":
            return self.mixed
        if self.calibration is not None and self.calibration.get("mixed"):
            return str(self.calibration["mixed"])
        return "segments" if n_cultures <= SEGMENTS_UP_TO else "bmm"

    def _encode(self, adapter: ServedAdapter, texts: list[str]) -> dict[str, Any]:
        enc = adapter.encoder.encode(texts)
        out = {k: v for k, v in enc.items() if hasattr(v, "shape")}
        if adapter.lut is not None:  # the culture's ids -> the shared table's
            out["input_ids"] = adapter.lut[out["input_ids"]]
        return out

    def _collate(self, parts: list[tuple[ServedAdapter, dict[str, Any]]]) -> dict[str, Any]:
        import torch

        keys: list[str] = []
        for _, enc in parts:
            keys += [k for k in enc if k not in keys]
        length = max(int(enc["input_ids"].shape[1]) for _, enc in parts)
        fill = {"input_ids": self.pad_id}
        batch: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
        for adapter, enc in parts:
            n, width = enc["input_ids"].shape
            left = getattr(adapter.encoder.tokenizer, "padding_side", "right") == "left"
            for k in keys:
                value = enc.get(k)
                if value is None:
                    value = torch.zeros(n, width, dtype=torch.long)
                if width < length:
                    pad = torch.full((n, length - width), fill.get(k, 0), dtype=value.dtype)
                    value = torch.cat([pad, value] if left else [value, pad], dim=1)
                batch[k].append(value)
        device = self.device
        return {k: torch.cat(v, dim=0).to(device) for k, v in batch.items()}

    def _forward(self, groups: list[tuple[str, list[int]]], texts: list[str], engine: str) -> list[Any]:
        """One forward pass over ``groups`` (culture, row indices); logits per group row."""
        import torch

        from cultura.serve.fused import Route

        adapters = [self._adapters[k] for k, _ in groups]
        keys = [a.key for a in adapters]
        slots = [self.swap_in(a.key, keep=keys) for a in adapters] if engine == "fused" else []
        parts = [(a, self._encode(a, [texts[i] for i in rows])) for a, (_, rows) in zip(adapters, groups, strict=True)]
        inputs = self._collate(parts)
        sizes = [len(rows) for _, rows in groups]
        start = time.perf_counter()
        with torch.inference_mode():
            if engine == "fused":
                route = Route.from_sizes(slots, sizes, device=self.device,
                                         mode=self._mixed_for(len(groups)))
                with self._router.routing(route):
                    logits = self.model(**inputs).logits
            else:
                engine_ = self._peft_engine()
                for a in adapters:
                    engine_.load(a)
                names = [a.key for a, n in zip(adapters, sizes, strict=True) for _ in range(n)]
                logits = engine_.forward(inputs, names)
        logits = logits.float().cpu()
        self.stats["forward_microseconds"] += int((time.perf_counter() - start) * 1e6)
        self.stats["forwards"] += 1
        self.stats[f"forwards_{engine}"] += 1
        out, row = [], 0
        for adapter, size in zip(adapters, sizes, strict=True):
            width = len(adapter.labels)
            out.append([logits[row + j, :width] for j in range(size)])
            adapter.rows_served += size
            row += size
        return out

    def _peft_engine(self) -> Any:
        if self._peft is None:
            from cultura.serve.peft_engine import PeftEngine

            self._peft = PeftEngine(lambda: _share_copy(self._pristine, self._emb), self.device)
        return self._peft

    def logits(
        self, texts: Sequence[str] | str, cultures: Sequence[str] | str, *, batch_size: int | None = None
    ) -> list[torch.Tensor]:
        """Raw logits per row (each as wide as its culture's label set), in input order."""
        texts, keys = self._rows_for(texts, cultures)
        size = batch_size or self.batch_size
        out: list[Any] = [None] * len(texts)
        with self._lock:
            for start in range(0, len(texts), size):
                chunk = range(start, min(len(texts), start + size))
                grouped: dict[str, list[int]] = {}
                for i in chunk:
                    grouped.setdefault(keys[i], []).append(i)
                engine = self._engine_for(list(grouped))
                items = list(grouped.items())
                step = self.n_slots if engine == "fused" else len(items)
                for first in range(0, len(items), step):
                    part = items[first : first + step]
                    for (_, rows), values in zip(part, self._forward(part, texts, engine), strict=True):
                        for i, value in zip(rows, values, strict=True):
                            out[i] = value
            self.stats["rows"] += len(texts)
        return out

    def predict_proba(
        self, texts: Sequence[str] | str, cultures: Sequence[str] | str, *, batch_size: int | None = None
    ) -> tuple[list[np.ndarray], list[tuple[str, ...]]]:
        """Class probabilities per row and each row's label names."""
        import torch

        texts, keys = self._rows_for(texts, cultures)
        rows = self.logits(texts, keys, batch_size=batch_size)
        probs = [torch.softmax(r, dim=-1).numpy() for r in rows]
        return probs, [self._adapters[k].labels for k in keys]

    def predict(
        self,
        texts: Sequence[str] | str,
        cultures: Sequence[str] | str,
        *,
        top_k: int = 1,
        batch_size: int | None = None,
    ) -> list[dict[str, Any]]:
        """One prediction per text, in order: ``{"text", "culture", "label", "score", "top"}``
        (``top``: the ``top_k`` best labels with scores), labels in the culture's language."""
        from cultura.serve.merge import format_prediction

        texts, keys = self._rows_for(texts, cultures)
        probs, labels = self.predict_proba(texts, keys, batch_size=batch_size)
        return [
            {"culture": k, **format_prediction(t, p, lab, top_k)}
            for t, k, p, lab in zip(texts, keys, probs, labels, strict=True)
        ]

    # ------------------------------------------------------------------ tuning
    def calibrate(
        self, texts: Sequence[str], cultures: Sequence[str] | str, *, repeat: int = 3
    ) -> dict[str, Any]:
        """Time the fused modes and the PEFT engine on this batch; ``engine="auto"`` then uses
        the fastest. Returns the median seconds per candidate and the choice."""
        with self._lock:
            saved = (self.engine, self.mixed, self.calibration)
            self.calibration = None
            timings: dict[str, float] = {}
            candidates = [("fused", "bmm"), ("fused", "segments"), ("peft", "auto")]
            try:
                for engine, mixed in candidates:
                    self.engine, self.mixed = engine, mixed
                    try:
                        self.logits(texts, cultures)
                    except ServeError:
                        continue
                    runs = []
                    for _ in range(max(1, repeat)):
                        start = time.perf_counter()
                        self.logits(texts, cultures)
                        runs.append(time.perf_counter() - start)
                    timings[engine if engine == "peft" else f"fused/{mixed}"] = statistics.median(runs)
            finally:
                self.engine, self.mixed, self.calibration = saved
            if not timings:
                raise ServeError("nothing could run this batch; add adapters first")
            best = min(timings, key=lambda k: timings[k])
            engine, _, mixed = best.partition("/")
            self.calibration = {"engine": engine, "mixed": mixed or None, "seconds": timings}
            return dict(self.calibration)

    # ------------------------------------------------------------------ merging
    def merge(self, culture: str) -> MergedModel:
        """A standalone model for one culture: a copy of the base with the adapter merged in
        (PEFT ``merge_and_unload``), its head, and its added-token rows at its own ids.

        Its outputs equal this server's for that culture; the server is left unchanged.
        """
        from cultura.serve.merge import merge_adapter

        with self._lock:
            adapter = self.adapter(culture)
            return merge_adapter(self._pristine, adapter, self._base_rows, self.device)

    # ------------------------------------------------------------------ reporting
    def describe(self) -> dict[str, Any]:
        """What is served: base, engine, slots and every culture (for ``/health``)."""
        return {
            "base": self.base_id,
            "engine": self.engine,
            "calibration": self.calibration,
            "slots": self.n_slots,
            "resident": [k for k in self._slot_keys if k is not None],
            "cultures": [a.describe() for a in self._adapters.values()],
            "shared_rows": {"base": getattr(self, "_v0", 0), "added": self._rows.used
                            if self.model is not None else 0},
        }
