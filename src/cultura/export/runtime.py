"""Running an ONNX export on CPU: :class:`OnnxModel` (onnxruntime, no PyTorch model).

>>> from cultura.export import OnnxModel
>>> model = OnnxModel.load("zh-sentiment-onnx", threads=2)      # doctest: +SKIP
>>> model.predict(["这部电影很好看"])                              # doctest: +SKIP
[{'text': '这部电影很好看', 'label': '正面', 'score': 0.93, 'top': [...]}]

The directory is data from whoever wrote it. Before anything runs: the manifest is validated
field by field (:mod:`cultura.export.manifest`); the directory must hold exactly the files it
lists, each with its sha256 (the ONNX bytes hashed are the bytes the session is built from);
no JSON file may ask for remote code; the graph may keep no tensor in external files (a path
into the rest of the disk), must declare the manifest's opset, inputs and output, and uses
only the standard and onnxruntime operator domains (custom-op libraries are never registered).
The tokenizer loads with ``trust_remote_code=False`` and may not give ids beyond the graph's
embedding rows.

Texts then go through the adapter's own pipeline: the installed plugins' normalizers for the
culture (a warning when they differ from those the adapter was exported with), knowledge
injection when the adapter used it, the exported tokenizer; predictions come back in the
format of :meth:`CulturalModel.predict <cultura.adapt.model.CulturalModel.predict>` (the same
code builds them).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from cultura.adapt.cultural_model import CulturalModel
from cultura.export.errors import ExportError, require_onnx
from cultura.export.manifest import (
    EXPORT_MANIFEST,
    ONNX_FILE,
    ExportManifest,
    read_export_manifest,
    verify_directory,
)

if TYPE_CHECKING:
    import numpy as np

    from cultura.core.plugins import PluginManager

__all__ = ["ALLOWED_DOMAINS", "OnnxModel"]

#: operator domains an exported graph may use: ONNX's and onnxruntime's contrib ops (what
#: the exporter and dynamic quantization write)
ALLOWED_DOMAINS = frozenset({"", "ai.onnx", "com.microsoft"})


class _Session:
    """The onnxruntime session in the place of a PyTorch model (``eval``/``train`` do
    nothing: a graph has no modes; it has no torch parameters)."""

    training = False

    def __init__(self, session: Any, inputs: Sequence[str]) -> None:
        self.session = session
        self.inputs = tuple(inputs)

    def eval(self) -> _Session:
        return self

    def train(self, mode: bool = True) -> _Session:
        return self

    def parameters(self) -> Any:
        """None: the weights live in the graph (the logits are float32)."""
        return iter(())


class _Pipeline(CulturalModel):
    """A :class:`CulturalModel` whose forward pass is the ONNX graph: encoding and the
    prediction formats are CulturalModel's own."""

    model: _Session

    @property
    def device(self) -> Any:
        import torch

        return torch.device("cpu")

    def _forward(self, batch: Mapping[str, Any]) -> Any:
        import numpy as np
        import torch

        feeds = {}
        for name in self.model.inputs:
            if name not in batch:
                raise ExportError(f"the exported graph takes {name!r}, which the tokenizer does "
                                  "not give; re-export the adapter")
            feeds[name] = np.ascontiguousarray(np.asarray(batch[name]), dtype=np.int64)
        logits = self.model.session.run(["logits"], feeds)[0]
        return SimpleNamespace(logits=torch.from_numpy(logits))


class OnnxModel:
    """An exported adapter run by onnxruntime on CPU (see the module docstring).

    Attributes:
        manifest: the validated :class:`~cultura.export.manifest.ExportManifest`.
        directory: where it was loaded from.
        culture / task / head_type / labels / opset / quantization: from the manifest.
    """

    def __init__(self, pipeline: _Pipeline, manifest: ExportManifest, directory: Path) -> None:
        self._pipeline = pipeline
        self.manifest = manifest
        self.directory = directory

    culture = property(lambda self: self.manifest.culture)
    task = property(lambda self: self.manifest.task)
    head_type = property(lambda self: self.manifest.head_type)
    labels = property(lambda self: self.manifest.labels)
    opset = property(lambda self: self.manifest.opset)
    quantization = property(lambda self: self.manifest.quantization)

    @property
    def tokenizer(self) -> Any:
        """The culture's tokenizer (its normalizers run on every encode)."""
        return self._pipeline.tokenizer

    def __repr__(self) -> str:
        return (f"OnnxModel(culture={self.culture!r}, task={self.task!r}, head={self.head_type!r}, "
                f"opset={self.opset}, quantization={self.quantization!r}, from={str(self.directory)!r})")

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        threads: int | None = None,
        manager: PluginManager | None = None,
    ) -> OnnxModel:
        """Check and load an export (see the module docstring).

        Args:
            directory: written by :func:`~cultura.export.onnx.export_onnx`.
            threads: onnxruntime's intra-op threads (default: its own choice, one per core).
            manager: plugin manager giving the culture's normalizers and knowledge.

        Raises :class:`~cultura.export.errors.ExportError` for a malformed, changed or unsafe
        directory and :class:`~cultura.export.errors.MissingExtraError` without the
        ``export`` extra.
        """
        onnx, ort = require_onnx()
        from cultura.adapt import artifact

        directory = Path(directory)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise ExportError(f"threads must be a positive integer or None, got {threads!r}")
        manifest = read_export_manifest(directory)
        verify_directory(directory, manifest, skip=frozenset({ONNX_FILE}))
        try:
            artifact.refuse_remote_code(directory)
        except artifact.ArtifactError as exc:
            raise ExportError(str(exc)) from None
        data = (directory / ONNX_FILE).read_bytes()
        if hashlib.sha256(data).hexdigest() != manifest.files[ONNX_FILE]:
            raise ExportError(f"{directory}: {ONNX_FILE} does not match its sha256 in "
                              f"{EXPORT_MANIFEST} (changed or corrupt); re-export the adapter")
        _check_graph(onnx, data, manifest, directory / ONNX_FILE)
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:  # from the verified bytes: nothing else is read from disk
            session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for bad graphs
            raise ExportError(f"{directory / ONNX_FILE}: onnxruntime cannot load it ({exc}); "
                              "re-export the adapter") from None
        del data
        pipeline = _pipeline(_Session(session, manifest.inputs), manifest, directory, manager)
        return cls(pipeline, manifest, directory)

    # ------------------------------------------------------------------ inference
    def logits(self, texts: Sequence[str] | str, *, knowledge: bool | None = None) -> np.ndarray:
        """Raw logits (``[n, labels]``, or ``[n, tokens, labels]`` for token-cls) as
        float32 numpy arrays, for one batch of texts encoded as the adapter encodes them."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        return self._pipeline.logits(texts, knowledge=knowledge).numpy()

    def predict_proba(self, texts: Sequence[str], *, batch_size: int = 32,
                      knowledge: bool | None = None) -> tuple[np.ndarray, list[str]]:
        """Class probabilities ``[n, labels]`` and the label names (``seq-cls`` only)."""
        return self._pipeline.predict_proba(texts, batch_size=batch_size, knowledge=knowledge)

    def predict(self, texts: Sequence[str] | Sequence[Sequence[str]] | str, top_k: int = 1, *,
                batch_size: int = 32, knowledge: bool | None = None) -> list[dict[str, Any]]:
        """Predictions with the culture's labels, as :meth:`CulturalModel.predict
        <cultura.adapt.model.CulturalModel.predict>` gives them (``seq-cls``: ``text``,
        ``label``, ``score``, ``top``; ``token-cls``: ``text``, ``words`` and, for BIO labels,
        ``entities``)."""
        return self._pipeline.predict(texts, top_k, batch_size=batch_size, knowledge=knowledge)


def _tensors(graph: Any) -> Any:
    """Every tensor stored in ``graph`` and its subgraphs (initializers, constants)."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    yield from _node_tensors(graph.node)


def _node_tensors(nodes: Any) -> Any:
    for node in nodes:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _tensors(attr.g)
            for sub in attr.graphs:
                yield from _tensors(sub)


def _check_graph(onnx: Any, data: bytes, manifest: ExportManifest, path: Path) -> None:
    """The graph's declarations against the manifest; no external data, known domains."""
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and others
        raise ExportError(f"{path}: not an ONNX model ({exc}); re-export the adapter") from None
    tensors = [*_tensors(proto.graph), *(t for f in proto.functions for t in _node_tensors(f.node))]
    if any(t.data_location == onnx.TensorProto.EXTERNAL or len(t.external_data) for t in tensors):
        raise ExportError(f"{path}: the graph keeps tensors in external files; an export "
                          "holds its weights inside model.onnx, so it is refused")
    domains = {op.domain: op.version for op in proto.opset_import}
    unknown = sorted(set(domains) - ALLOWED_DOMAINS)
    used = {n.domain for n in proto.graph.node} | {n.domain for f in proto.functions for n in f.node}
    unknown += sorted(used - ALLOWED_DOMAINS - set(unknown))
    if unknown:
        raise ExportError(f"{path}: the graph uses operator domain {unknown[0]!r} (allowed: the "
                          "standard ONNX ops and com.microsoft); it is refused")
    opset = domains.get("", domains.get("ai.onnx"))
    if opset != manifest.opset:
        raise ExportError(f"{path}: the graph declares opset {opset}, its manifest "
                          f"{manifest.opset}; re-export the adapter")
    inputs = tuple(i.name for i in proto.graph.input)
    outputs = tuple(o.name for o in proto.graph.output)
    if inputs != manifest.inputs or outputs != (manifest.output,):
        raise ExportError(f"{path}: the graph's inputs {list(inputs)} and outputs {list(outputs)} "
                          f"are not the manifest's ({list(manifest.inputs)} -> "
                          f"{manifest.output}); re-export the adapter")


def _pipeline(session: _Session, manifest: ExportManifest, directory: Path,
              manager: PluginManager | None) -> _Pipeline:
    """The culture's text pipeline around ``session``: its normalizers and knowledge from the
    installed plugins, the exported tokenizer."""
    import transformers

    from cultura.adapt.artifact import BaseModelRef
    from cultura.adapt.build import check_fast_tokenizer, culture_profile
    from cultura.adapt.heads import quiet_transformers
    from cultura.adapt.knowledge import KnowledgeInjector
    from cultura.adapt.model import CulturaWarning
    from cultura.adapt.tokenizer import AddedVocabulary, wrap_tokenizer
    from cultura.core.types import AdapterHeadSpec

    where = f"{directory} ({manifest.culture}/{manifest.task})"
    try:
        with quiet_transformers():
            tok = transformers.AutoTokenizer.from_pretrained(str(directory), trust_remote_code=False)
    except Exception as exc:  # transformers raises several types for broken files
        raise ExportError(f"{directory}: the tokenizer cannot be loaded ({exc}); re-export "
                          "the adapter") from None
    check_fast_tokenizer(tok, str(directory))
    if len(tok) > manifest.vocab_size:
        raise ExportError(f"{directory}: the tokenizer has {len(tok)} tokens but the graph's "
                          f"embedding {manifest.vocab_size} rows; the tokenizer files do not "
                          "belong to this export")
    profile = culture_profile(manifest.culture, manager)
    if tuple(profile.normalizer_ids) != manifest.normalizers:
        warnings.warn(
            f"{where}: inputs are normalized differently than when it was exported: the "
            f"installed plugins run {list(profile.normalizer_ids)}, the adapter ran "
            f"{list(manifest.normalizers)}. Install the plugin versions it was trained with or "
            "re-export it",
            CulturaWarning,
            stacklevel=3,
        )
    wrap_tokenizer(tok, profile)
    know = manifest.knowledge
    injector = None
    if know.get("enabled") and profile.knowledge:
        injector = KnowledgeInjector.from_profile(
            profile, manifest.head_type, top_k=int(know["top_k"]),
            max_chars=int(know["max_chars"]), min_score=float(know["min_score"]),
        )
        now = {s["name"]: s["sha256"] for s in injector.describe()}
        if now != {s["name"]: s["sha256"] for s in manifest.knowledge_sources}:
            warnings.warn(f"{where}: the culture's knowledge sources changed since the export; "
                          "knowledge injected now differs from training", CulturaWarning,
                          stacklevel=3)
    elif know.get("enabled"):
        warnings.warn(f"{where} was trained with knowledge injection, but no installed plugin "
                      f"gives {profile.tag} knowledge now; predictions will differ",
                      CulturaWarning, stacklevel=3)
    spec = AdapterHeadSpec(manifest.task, manifest.head_type,  # type: ignore[arg-type]
                           labels=manifest.labels)
    rows = manifest.vocab_size
    source = manifest.source
    return _Pipeline(
        session, tok, profile, spec,
        base=BaseModelRef(id=str(source.get("base_model") or "onnx")),
        added=AddedVocabulary((), (), rows, rows, True, {}),
        knowledge=injector,
        max_length=manifest.max_length,
    )
