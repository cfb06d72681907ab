"""``MultiCultureServer``: one shared base model, many culture adapters, mixed batches.

>>> from cultura.serve import MultiCultureServer
>>> server = MultiCultureServer("all-MiniLM-L6-v2", slots=8)              # doctest: +SKIP
>>> server.add("zh-Hant-TW/sentiment")                                       # doctest: +SKIP
>>> server.add("./adapters/sw-sentiment", culture="sw-KE")                   # doctest: +SKIP
>>> server.predict(["這部電影很好看", "Filamu hii ni nzuri"], cultures=["zh-TW", "sw-KE"])  # doctest: +SKIP

How a batch runs
    Rows are routed to a served culture (:mod:`cultura.serve.routing`) and grouped by it. Each
    group is encoded by its own adapter's tokenizer (the culture's normalizers once, its
    knowledge injected, its added tokens), its token ids are remapped into the shared
    embedding table (:mod:`cultura.serve.table`), the groups are padded to one length and
    concatenated (:mod:`cultura.serve.dispatch`), and one forward pass of the shared base runs
    with every row routed to its culture's LoRA weights and head: on the fused layers, whose
    slots hold the resident adapters (:mod:`cultura.serve.slots`, :mod:`cultura.serve.fused`),
    or on the PEFT engine (:mod:`cultura.serve.peft_engine`), as the dispatch chooses. Outputs
    go back in input order; each row keeps its own label set.

Adding an adapter
    The adapter is loaded (by name, directory or object), checked against the server's base
    (same architecture and weights), and extracted into a
    :class:`~cultura.serve.adapters.ServedAdapter`; its added-token rows are placed in the
    shared table and, when a slot is free, its weights loaded into one.

Head families
    A server serves adapters of one head family (:mod:`cultura.serve.heads`): ``seq-cls``
    (:meth:`~MultiCultureServer.predict`: a label per row), ``token-cls`` (``predict``: tagged
    words and entities per row, :mod:`cultura.serve.tokens`) or ``causal-lm``
    (:meth:`~MultiCultureServer.generate`: one decode loop for a mixed batch,
    :mod:`cultura.serve.generation`); set by ``head_type`` or the first adapter. IA3 and
    prefix-tuning adapters are refused with a message (serve them alone with
    ``CulturalModel.predict``).
"""

from __future__ import annotations

import statistics
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.core.errors import CulturaError
from cultura.core.tags import Culture
from cultura.serve import routing
from cultura.serve.adapters import (
    ServedAdapter,
    build_head,
    extract_adapter,
    is_cultural_model,
    served_from_files,
)
from cultura.serve.basecheck import WeightSamples
from cultura.serve.dispatch import ENGINES, MIXED, choose_engine, choose_mixed, collate
from cultura.serve.errors import NotServedError, ServeError, UnsupportedAdapterError
from cultura.serve.heads import base_spec, check_head, check_head_type
from cultura.serve.merge import MergedModel, format_prediction, merge_adapter
from cultura.serve.modules import share_copy
from cultura.serve.peft_engine import PeftEngine
from cultura.serve.quantize import check_precision, quantize_linears
from cultura.serve.reader import DirectoryAdapter, read_adapter
from cultura.serve.slots import SlotStore
from cultura.serve.table import RowAllocator, SharedTable

if TYPE_CHECKING:
    import numpy as np
    import torch

    from cultura.core.plugins import PluginManager

__all__ = [
    "ENGINES",
    "MIXED",
    "MultiCultureServer",
    "RowAllocator",
    "ServedAdapter",
]


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
        dtype: precision of the shared base, the slots' LoRA weights, the heads and the added
            rows: ``"auto"`` (bfloat16 on a GPU that supports it, float32 on CPU),
            ``"bfloat16"``, ``"float16"`` or ``"float32"`` (:mod:`cultura.adapt.precision`).
            Logits are returned in float32.
        quantize: ``"int8"``: dynamic int8 quantization of the base's linear layers (CPU and
            float32 only; the LoRA terms and heads stay float; see
            :mod:`cultura.serve.quantize`).
        head_type: the head family served (``"seq-cls"``, ``"token-cls"``, ``"causal-lm"``);
            default: the first adapter's.
        cuda_graphs: replay the fused forward pass as CUDA graphs, one per batch layout seen
            three times (CUDA only; see :mod:`cultura.serve.graphs`). Worth it for small
            batches, where kernel launches dominate; each graph holds its activations.
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
        head_type: str | None = None,
        dtype: Any = "auto",
        quantize: str | None = None,
        cuda_graphs: bool = False,
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
        self._device = device
        self.dtype, self.quantize = check_precision(dtype, quantize, self.device)
        if self.quantize and engine == "peft":
            raise ServeError(
                "quantize='int8' runs on the fused engine; use engine='auto' or 'fused'"
            )
        if cuda_graphs and self.device.type != "cuda":
            raise ServeError(
                f"cuda_graphs=True needs a CUDA device; this server runs on {self.device}. "
                "Drop cuda_graphs (CPU runs have no kernel-launch overhead to save)"
            )
        self.n_slots = slots
        self.max_rank = max_rank
        self.engine = engine
        self.mixed = mixed
        self.batch_size = batch_size
        self.manager = manager
        self.offline = offline
        self._lock = threading.RLock()
        self._adapters: dict[str, ServedAdapter] = {}
        #: request tag -> served tag; bounded by routing.ROUTE_CACHE_SIZE (tags come from clients)
        self._route_cache: dict[str, str] = {}
        self.calibration: dict[str, Any] | None = None
        self.stats: Counter[str] = Counter()
        self._graphs: Any = None
        if cuda_graphs:
            from cultura.serve.graphs import CudaGraphs

            self._graphs = CudaGraphs(stats=self.stats)
        self._changes = 0  # adapters added or removed (the shared table may have changed)
        self.model: Any = None
        self.base_id: str | None = None
        self.base_fingerprint = ""
        self._base_arg = str(base) if base is not None else None
        self._peft: PeftEngine | None = None
        self.head_type = check_head_type(head_type)
        self._outputs: Any = None  # causal-lm: the LM head, row for row with the table
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
        from cultura.adapt.heads import embedding_digest, load_base_model, module_name

        path, model_id = resolve_base(base)
        if self.quantize and (self.head_type or "seq-cls") == "causal-lm":
            raise ServeError(
                "quantize='int8' serves seq-cls and token-cls adapters; causal-lm generation "
                "runs in float (drop --quantize, or pick dtype='bfloat16' on a GPU)"
            )
        spec = base_spec(self.head_type or "seq-cls", labels)
        self._base_head = spec.head_type
        try:
            model, _ = load_base_model(path, spec, seed=0)
        except CulturaError:
            raise
        except Exception as exc:  # transformers raises several types for a bad path
            raise ServeError(f"cannot load the base model {base!r}: {exc}") from None
        model.eval().requires_grad_(False)
        self.base_id = model_id
        self.base_fingerprint = artifact.config_fingerprint(model.config.to_dict())
        emb = model.get_input_embeddings()
        self._emb_param = module_name(model, emb) + ".weight"
        # what adapters' bases are checked against: taken once, in float32, before the cast
        self.base_weights = embedding_digest(model)
        self._base_vocab = int(getattr(model.config, "vocab_size", 0) or 0)
        rows = {self._emb_param: int(emb.weight.shape[0])}
        out = model.get_output_embeddings()
        if out is not None and getattr(out, "weight", None) is not None:
            rows[module_name(model, out) + ".weight"] = int(out.weight.shape[0])
        self._base_samples = WeightSamples(model, rows)
        model.to(self.device, self.dtype)
        self._table = SharedTable(emb)
        self.pad_id = int(getattr(model.config, "pad_token_id", None) or 0)
        if spec.head_type == "causal-lm":
            from cultura.serve.generation import OutputTable

            self._outputs = OutputTable(model)
            self._pristine = share_copy(model, emb, self._outputs.module)
        else:
            self._pristine = share_copy(model, emb)  # plain structure, for PEFT and merging
        if self.quantize:
            model = quantize_linears(share_copy(model, emb))  # the pristine copy stays float
        self._slots = SlotStore(model, self.n_slots, self.max_rank, self.stats)
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
            check_head(self.head_type, model.head_type, label)
            method = model.spec.peft.method
            if method != "lora":
                export = (
                    ", export it merged into its base with `cultura export ADAPTER --format "
                    "onnx`" if method == "ia3" else ""
                )
                raise UnsupportedAdapterError(
                    f"{label}: MultiCultureServer serves LoRA adapters; this one uses "
                    f"{method}, which cannot share one base in a mixed batch. Serve it alone "
                    f"with cultura.load_pretrained(...).predict(...){export}, or retrain it "
                    "with PeftSpec(method='lora')"
                )
            if getattr(model, "start_from", None) is not None:
                raise UnsupportedAdapterError(
                    f"{label}: it stacks on the language adapter {model.start_from.label}, whose "
                    "LoRA is merged into its base weights, while MultiCultureServer shares one "
                    "unchanged base among its adapters; serve it alone with "
                    "CulturalModel.predict"
                )
            self.head_type = model.head_type  # the first adapter sets the head family
            if self.model is None or self._base_head != model.head_type:
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
            if isinstance(model, DirectoryAdapter):
                adapter = served_from_files(model, model.heads, key, label, device=self.device,
                                            dtype=self.dtype, v0=self._table.v0)
            else:
                adapter = extract_adapter(model, key, label, device=self.device,
                                          v0=self._table.v0, dtype=self.dtype)
            if self._outputs is not None:
                self._outputs.check(adapter, label)
            if self._table.place(adapter):
                self.stats["table_grows"] += 1
            if self._outputs is not None:
                self._outputs.place(self._table, adapter)
            if not adapter.fused:
                self._slots.prepare(adapter)
            self._adapters[key] = adapter
            self._changes += 1
            self._route_cache.clear()
            if not adapter.fused:
                self._slots.load_if_free(adapter)
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

        if is_cultural_model(source):
            return source, f"in-memory {source!r}", source.culture
        if not isinstance(source, (str, Path)):
            raise ServeError(
                f"add() takes a CulturalModel, an adapter directory or an adapter name, not "
                f"{type(source).__name__}"
            )
        path = Path(source).expanduser()
        if path.is_dir():
            read = self._read(path)
            if read is not None:
                return read, str(path), read.culture
            # read on the CPU in float32; only the adapter's own weights go to the device
            model = load_pretrained(path, base=self._base_arg or self.base_id,
                                    manager=self.manager, dtype="float32")
            return _peft(model), str(path), model.culture
        from cultura.registry.names import RegistryName, parse
        from cultura.registry.resolve import load

        try:
            parsed = parse(str(source))
        except CulturaError as exc:
            raise ServeError(
                f"{source!r} is neither an adapter directory nor an adapter name: {exc}"
            ) from None
        model = _peft(load(str(source), base=self._base_arg or self.base_id, offline=self.offline))
        key = parsed.culture if isinstance(parsed, RegistryName) else model.culture
        return model, str(source), key

    def _read(self, path: Path) -> DirectoryAdapter | None:
        """The adapter in ``path`` read from its files alone (:mod:`cultura.serve.reader`),
        its heads built on the server's base modules; ``None`` when the reader does not cover
        it or the server has no base yet (then ``load_pretrained`` loads it)."""
        from cultura.adapt.tokenizer import has_untied_output

        if self.model is None:
            return None
        pristine = self._pristine
        read = read_adapter(
            path,
            manager=self.manager,
            hidden=int(self._table.embedding.weight.shape[1]),
            untied=has_untied_output(pristine),
            has_pad=getattr(pristine.config, "pad_token_id", None) is not None,
            dtype=self.dtype,
        )
        if read is None:
            return None
        heads = {}
        for name, params in read.heads.items():
            try:
                template = pristine.get_submodule(name)
            except AttributeError:
                return None
            head = build_head(template, params, device=self.device, dtype=self.dtype)
            if head is None:
                return None
            heads[name] = head
        read.heads = heads
        return read

    def _check_base(self, model: Any, label: str) -> None:
        """The adapter's base must be this server's base: same architecture and weights
        (:mod:`cultura.serve.basecheck`; nothing of the base is copied)."""
        base = model.base
        if base.fingerprint and base.fingerprint != self.base_fingerprint:
            raise UnsupportedAdapterError(
                f"{label} was trained on {base.id!r} ({base.architecture}), whose "
                f"architecture differs from this server's base {self.base_id!r}; serve it "
                "with a server on its own base"
            )
        if isinstance(model, DirectoryAdapter):  # the manifest's records, as load_pretrained
            before = model.added.vocab_size_before
            if base.weights and base.weights != self.base_weights:
                why = (f"different weights (embedding digest {self.base_weights}, the adapter "
                       f"records {base.weights})")
            elif base.vocab_size and self._base_vocab and base.vocab_size != self._base_vocab:
                why = f"vocabulary size {self._base_vocab} != {base.vocab_size}"
            elif before and before != self._table.v0:
                why = f"{self._table.v0} embedding rows, the adapter was trained on {before}"
            else:
                return
            raise UnsupportedAdapterError(
                f"base model mismatch: {label} was trained on {base.id!r}; this server's base "
                f"{self.base_id!r} has the same architecture but {why}. Serve it with a server "
                "on the base it was trained on"
            )
        skip = ("lora_", "modules_to_save", "original_module", "trainable_tokens_")
        for name, param in model.model.get_base_model().named_parameters():
            if any(s in name for s in skip):
                continue
            clean = name.replace(".base_layer", "").replace(".token_adapter", "")
            what = self._base_samples.differs(clean, param)
            if what:
                raise UnsupportedAdapterError(
                    f"{label} was trained on other base weights than this server's base "
                    f"{self.base_id!r}: its parameter {clean} {what} the server's. Serve it with "
                    f"the base it was trained on ({base.id!r})"
                )

    def remove(self, culture: str) -> None:
        """Stop serving ``culture`` (its slot, rows and PEFT adapter are released)."""
        with self._lock:
            key = Culture.parse(culture).tag
            adapter = self._adapters.get(key)
            if adapter is None:
                raise NotServedError(
                    f"culture {key!r} is not served (served: {routing.served_list(self._adapters)})"
                )
            if adapter.slot is not None:
                self._slots.clear(adapter.slot)
            self._table.release(adapter)
            if self._peft is not None:
                self._peft.unload(key)
            del self._adapters[key]
            self._changes += 1
            self._route_cache.clear()

    # ------------------------------------------------------------------ slots
    def swap_in(self, culture: str, *, keep: Iterable[str] = ()) -> int:
        """Make ``culture``'s adapter resident; returns its slot.

        A free slot is used first, else the least recently used adapter not in ``keep`` is
        evicted. Loading copies the LoRA factors into the pre-allocated slot buffers and points
        the routed heads at the adapter's: nothing is injected or allocated.
        """
        with self._lock:
            return self._slots.swap_in(self.adapter(culture), keep)

    @property
    def resident(self) -> list[str | None]:
        """The culture in each slot (``None``: free)."""
        return self._slots.resident if self.model is not None else [None] * self.n_slots

    # ------------------------------------------------------------------ routing
    def route(self, culture: str) -> str:
        """The served culture a row tagged ``culture`` goes to: the tag itself or the first tag
        on its fallback chain that is served (``zh-Hant-TW`` -> ``zh-Hant`` -> ``zh``)."""
        return routing.route(culture, self._adapters, self._route_cache)

    def _rows_for(self, texts: Any, cultures: Any) -> tuple[list[str], list[str]]:
        return routing.rows_for(texts, cultures, self.route)

    # ------------------------------------------------------------------ running
    def _forward(self, groups: list[tuple[str, list[int]]], encode: Any, engine: str) -> list[Any]:
        """One forward pass over ``groups`` (culture, row indices), each group's rows encoded
        by ``encode(adapter, rows)``; logits per group row (as wide as its label set)."""
        import torch

        from cultura.serve.fused import Route

        adapters = [self._adapters[k] for k, _ in groups]
        keys = [a.key for a in adapters]
        slots = [self.swap_in(a.key, keep=keys) for a in adapters] if engine == "fused" else []
        parts = [(a, encode(a, rows)) for a, (_, rows) in zip(adapters, groups, strict=True)]
        inputs = collate(parts, self.pad_id, self.device)
        sizes = [len(rows) for _, rows in groups]
        start = time.perf_counter()
        with torch.inference_mode():
            if engine == "fused":
                mode = choose_mixed(self.mixed, len(groups), self.calibration)
                route = Route.from_sizes(slots, sizes, device=self.device, mode=mode)
                logits = self._fused_logits(inputs, route)
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
            out.append([logits[row + j, ..., :width] for j in range(size)])
            adapter.rows_served += size
            row += size
        return out

    def _fused_logits(self, inputs: dict[str, Any], route: Any) -> Any:
        """The fused model's logits for ``inputs`` under ``route`` (replayed from a CUDA graph
        when the server has them and this layout was captured)."""
        with self._slots.router.routing(route):
            if self._graphs is None:
                return self.model(**inputs).logits
            version = (self._slots.version, self._changes)
            return self._graphs.run(lambda x: self.model(**x).logits, inputs, route, version)

    def _peft_engine(self) -> PeftEngine:
        if self._peft is None:
            self._peft = PeftEngine(
                lambda: share_copy(self._pristine, self._table.embedding), self.device
            )
        return self._peft

    def logits(
        self, texts: Sequence[str] | str, cultures: Sequence[str] | str, *, batch_size: int | None = None
    ) -> list[torch.Tensor]:
        """Raw logits per row (each as wide as its culture's label set; ``token-cls``: one
        row per token position), in input order."""
        self._require("seq-cls", "token-cls", instead="generate")
        texts, keys = self._rows_for(texts, cultures)
        return self._run_rows(keys, lambda a, rows: a.encode([texts[i] for i in rows]), batch_size)

    def _parts(
        self, keys: Sequence[str], batch_size: int | None
    ) -> Iterable[tuple[str, list[tuple[str, list[int]]]]]:
        """The batches that run rows routed to ``keys``: ``(engine, [(culture, row indices)])``,
        at most ``batch_size`` rows and (fused) as many cultures as there are slots each."""
        size = batch_size or self.batch_size
        for start in range(0, len(keys), size):
            grouped: dict[str, list[int]] = {}
            for i in range(start, min(len(keys), start + size)):
                grouped.setdefault(keys[i], []).append(i)
            engine = choose_engine(self.engine, [self._adapters[k] for k in grouped], self.calibration)
            items = list(grouped.items())
            step = self.n_slots if engine == "fused" else len(items)
            for first in range(0, len(items), step):
                yield engine, items[first : first + step]

    def _run_rows(self, keys: Sequence[str], encode: Any, batch_size: int | None = None) -> list[Any]:
        """Logits per row routed to ``keys``, each culture's rows encoded by
        ``encode(adapter, row indices)``, in input order."""
        out: list[Any] = [None] * len(keys)
        with self._lock:
            for engine, part in self._parts(keys, batch_size):
                for (_, rows), values in zip(part, self._forward(part, encode, engine), strict=True):
                    for i, value in zip(rows, values, strict=True):
                        out[i] = value
            self.stats["rows"] += len(keys)
        return out

    def _require(self, *heads: str, instead: str) -> None:
        if self.head_type is not None and self.head_type not in heads:
            raise ServeError(
                f"this server serves {self.head_type} adapters; use server.{instead}(...) for them"
            )

    def predict_proba(
        self, texts: Sequence[str] | str, cultures: Sequence[str] | str, *, batch_size: int | None = None
    ) -> tuple[list[np.ndarray], list[tuple[str, ...]]]:
        """Class probabilities per row and each row's label names (``seq-cls``)."""
        import torch

        self._require("seq-cls", instead="predict" if self.head_type == "token-cls" else "generate")
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
        (``top``: the ``top_k`` best labels with scores), labels in the culture's language.

        On a ``token-cls`` server: ``{"culture", "text", "words", "entities"}`` per text, as
        :meth:`CulturalModel.predict <cultura.adapt.model.CulturalModel.predict>` gives for a
        token-cls head (:mod:`cultura.serve.tokens`; ``top_k`` does not apply)."""
        self._require("seq-cls", "token-cls", instead="generate")
        texts, keys = self._rows_for(texts, cultures)
        if self.head_type == "token-cls":
            from cultura.serve.tokens import predict_tokens

            return predict_tokens(self, texts, keys, batch_size)
        probs, labels = self.predict_proba(texts, keys, batch_size=batch_size)
        return [
            {"culture": k, **format_prediction(t, p, lab, top_k)}
            for t, k, p, lab in zip(texts, keys, probs, labels, strict=True)
        ]

    def generate(
        self,
        texts: Sequence[str] | str,
        cultures: Sequence[str] | str,
        *,
        max_new_tokens: int = 32,
        do_sample: bool = False,
        temperature: float = 1.0,
        seed: int | None = None,
        batch_size: int | None = None,
    ) -> list[dict[str, Any]]:
        """Continue each text with its culture's causal-LM adapter, a mixed batch in one decode
        loop (:mod:`cultura.serve.generation`): ``{"culture", "text", "generated", "score",
        "token_ids"}`` per text, in order. Greedy (the tokens ``CulturalModel.predict`` gives)
        unless ``do_sample`` (``temperature``; ``seed`` makes it repeatable)."""
        from cultura.serve.generation import generate

        self._require("causal-lm", instead="predict")
        texts, keys = self._rows_for(texts, cultures)
        return generate(self, texts, keys, max_new_tokens=max_new_tokens, do_sample=do_sample,
                        temperature=temperature, seed=seed, batch_size=batch_size)

    # ------------------------------------------------------------------ tuning
    def calibrate(
        self, texts: Sequence[str], cultures: Sequence[str] | str, *, repeat: int = 3
    ) -> dict[str, Any]:
        """Time the fused modes and the PEFT engine on this batch; ``engine="auto"`` then uses
        the fastest. Returns the median seconds per candidate and the choice."""
        self._require("seq-cls", "token-cls", instead="generate")
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
        self._require("seq-cls", instead="generate" if self.head_type == "causal-lm" else "predict")
        with self._lock:
            adapter = self.adapter(culture)
            return merge_adapter(self._pristine, adapter, self._table.base_rows, self.device)

    # ------------------------------------------------------------------ reporting
    def describe(self) -> dict[str, Any]:
        """What is served: base, engine, slots and every culture (for ``/health``)."""
        return {
            "base": self.base_id,
            "head_type": self.head_type,
            "dtype": str(self.dtype).removeprefix("torch."),
            "quantize": self.quantize,
            "engine": self.engine,
            "calibration": self.calibration,
            "slots": self.n_slots,
            "resident": [k for k in self.resident if k is not None],
            "cultures": [a.describe() for a in self._adapters.values()],
            "shared_rows": {"base": self._table.v0, "added": self._table.rows.used}
            if self.model is not None else {"base": 0, "added": 0},
        }


def _peft(model: Any) -> Any:
    """``model`` when the server can run it: a wide adapter (no network to batch) is refused."""
    from cultura.adapt.wide_adapter import require_peft

    try:
        return require_peft(model, "cultura serve")
    except CulturaError as exc:
        raise ServeError(str(exc)) from None
