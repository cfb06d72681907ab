"""A wide-and-deep text classifier for a base model that has not read the culture's script.

On real Chinese reviews with the embedded English MiniLM, a fine-tuned LoRA adapter loses to a
character n-gram logistic regression, and what it learns adds nothing to that model
(docs/efficacy.md). What does add to it is the base's English reading of the text's **gloss
view** (:mod:`cultura.adapt.glossview`: each word replaced by its dictionary gloss). So this
classifier is one multinomial logistic regression over

* **wide**: TF-IDF (sublinear tf, smoothed idf, unit rows) of the normalized text's character
  1-2-grams, the strongest simple model on this data, and of the gloss view's word 1-2-grams
  (the dictionary's translation as features); and
* **deep**: the frozen base encoder's mean-pooled, L2-normalized embeddings of the gloss view
  and of the text itself, scaled by a weight ``w``;

with the L2 penalty ``C`` and the weight ``w`` chosen together by stratified 3-fold
cross-validation (macro-F1) on the training data only. The fit is convex (L-BFGS) and takes
seconds after the encoder has read the texts once. Nothing of the base is trained. Which
features to use was decided on a development split of the benchmark's training pool, never
on its test set (docs/efficacy.md).

It is measured in docs/efficacy.md (system ``cultura-wide``) and described in docs/wide.md.
Saved as a directory: ``wide.json`` (labels, culture, base, the n-gram vocabularies, the
chosen settings, the sha256 of the weights) and ``wide.safetensors`` (idf, coefficients);
loading checks both as untrusted data.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cultura.adapt.wide_adapter import WideAdapter
from cultura.adapt.wide_files import (
    FORMAT_VERSION,
    MAX_DEEP_DIM,
    read_model_files,
    write_model_files,
)
from cultura.core.errors import CulturaError

if TYPE_CHECKING:
    import torch

    from cultura.adapt.cultural_model import CulturalModel
    from cultura.adapt.glossview import GlossView
    from cultura.core.plugins import PluginManager

__all__ = [
    "C_GRID",
    "CV_FOLDS",
    "DEEP_WEIGHTS",
    "FORMAT_VERSION",
    "Ngrams",
    "WideDeepClassifier",
    "fit_wide_deep",
]

#: the L2 penalties tried (larger: weaker penalty), as in scikit-learn's ``C``
C_GRID: tuple[float, ...] = (0.5, 1.5, 5.0, 15.0)
#: the scales of the deep features tried (0: the n-grams alone)
DEEP_WEIGHTS: tuple[float, ...] = (0.25, 0.5, 1.0)
CV_FOLDS = 3
_WHITESPACE = re.compile(r"\s\s+")


# --------------------------------------------------------------------------- n-grams
@dataclass(frozen=True)
class Ngrams:
    """N-gram TF-IDF as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` computes it: tf
    as ``1 + log(count)``, idf ``log((1 + n) / (1 + df)) + 1``, rows scaled to unit L2 norm,
    over lower-cased text.

    ``analyzer="char"``: n-grams of ``low``..``high`` characters, runs of whitespace read as one
    space (``analyzer="char"``); ``"word"``: n-grams of ``low``..``high`` whitespace-separated
    words joined by a space (``analyzer="word", token_pattern=r"\\S+"``).
    """

    vocabulary: Mapping[str, int]
    idf: tuple[float, ...]
    low: int = 1
    high: int = 2
    analyzer: str = "char"

    @staticmethod
    def grams(text: str, low: int = 1, high: int = 2, analyzer: str = "char") -> Counter[str]:
        if analyzer == "word":
            words = text.lower().split()
            return Counter(" ".join(words[i : i + n]) for n in range(low, high + 1)
                           for i in range(len(words) - n + 1))
        text = _WHITESPACE.sub(" ", text.lower())
        return Counter(text[i : i + n] for n in range(low, high + 1) for i in range(len(text) - n + 1))

    @classmethod
    def fit(cls, texts: Sequence[str], low: int = 1, high: int = 2, analyzer: str = "char") -> Ngrams:
        df: Counter[str] = Counter()
        for text in texts:
            df.update(cls.grams(text, low, high, analyzer).keys())
        vocabulary = {g: i for i, g in enumerate(sorted(df))}
        n = len(texts)
        idf = tuple(math.log((1 + n) / (1 + df[g])) + 1 for g in vocabulary)
        return cls(vocabulary, idf, low, high, analyzer)

    def transform(self, texts: Sequence[str]) -> torch.Tensor:
        """A sparse ``[len(texts), len(vocabulary)]`` float64 matrix (n-grams not in the
        vocabulary are ignored)."""
        import torch

        rows, cols, values = [], [], []
        for r, text in enumerate(texts):
            grams = self.grams(text, self.low, self.high, self.analyzer)
            found = [(self.vocabulary[g], (1 + math.log(c)) * self.idf[self.vocabulary[g]])
                     for g, c in grams.items() if g in self.vocabulary]
            norm = math.sqrt(sum(v * v for _, v in found)) or 1.0
            for col, value in found:
                rows.append(r)
                cols.append(col)
                values.append(value / norm)
        return torch.sparse_coo_tensor(
            torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1),
            torch.tensor(values, dtype=torch.float64),
            (len(texts), len(self.vocabulary)), check_invariants=True,
        ).coalesce()


# --------------------------------------------------------------------------- the regression
@dataclass
class _Linear:
    sparse: torch.Tensor  # [n-grams, labels]
    dense: torch.Tensor  # [deep dim, labels]
    bias: torch.Tensor  # [labels]

    def logits(self, x: torch.Tensor, deep: torch.Tensor) -> torch.Tensor:
        with _own_sparse():
            return x.to_sparse_csr() @ self.sparse + deep @ self.dense + self.bias


@contextmanager
def _own_sparse() -> Iterator[None]:
    """Sparse CSR conversions without torch's invariant checks and its "CSR is in beta"
    warning: every sparse tensor here is built by :meth:`Ngrams.transform` (checked
    there), never read from a file."""
    import torch

    with warnings.catch_warnings(), torch.sparse.check_sparse_tensor_invariants(enable=False):
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        yield


def _fit_logreg(x: torch.Tensor, deep: torch.Tensor, y: torch.Tensor, labels: int, c: float,
                max_iter: int = 500) -> _Linear:
    """Multinomial logistic regression, ``C * sum(cross-entropy) + |W|^2 / 2`` (no penalty on
    the bias), by full-batch L-BFGS from zero, with the gradient written out (sparse products
    in CSR; autograd through sparse COO products is two orders of magnitude slower)."""
    import torch

    with _own_sparse():
        xs = x.to_sparse_csr()
        xt = x.t().coalesce().to_sparse_csr()
    n = max(1, x.shape[0])
    onehot = torch.nn.functional.one_hot(y, labels).to(torch.float64)
    sparse = torch.zeros(x.shape[1], labels, dtype=torch.float64)
    dense = torch.zeros(deep.shape[1], labels, dtype=torch.float64)
    bias = torch.zeros(labels, dtype=torch.float64)
    params = [sparse, dense, bias]
    for p in params:
        p.grad = torch.zeros_like(p)
    opt = torch.optim.LBFGS(params, lr=1, max_iter=max_iter, tolerance_grad=1e-6,
                            tolerance_change=1e-10, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        # divided by C * n: the same minimum, better conditioned
        logits = xs @ sparse + deep @ dense + bias
        logp = torch.log_softmax(logits, dim=-1)
        loss = -(onehot * logp).sum()
        delta = logp.exp() - onehot  # d loss / d logits
        sparse.grad.copy_((xt @ delta + sparse / c) / n)
        dense.grad.copy_((deep.t() @ delta + dense / c) / n)
        bias.grad.copy_(delta.sum(0) / n)
        return (loss + (sparse.pow(2).sum() + dense.pow(2).sum()) / (2 * c)) / n

    with torch.no_grad():
        opt.step(closure)
    return _Linear(sparse, dense, bias)


def _folds(y: Sequence[int], k: int, seed: int) -> list[int]:
    """A stratified fold number per example: each label's examples shuffled by ``seed``, then
    dealt to the folds in turn."""
    import random

    fold = [0] * len(y)
    rng = random.Random(seed)
    for label in sorted(set(y)):
        members = [i for i, v in enumerate(y) if v == label]
        rng.shuffle(members)
        for position, i in enumerate(members):
            fold[i] = position % k
    return fold


def _rows(x: torch.Tensor, index: Sequence[int]) -> torch.Tensor:
    import torch

    return torch.index_select(x, 0, torch.tensor(list(index), dtype=torch.long)).coalesce()


def _select(x: torch.Tensor, deep: torch.Tensor, y: Sequence[int], labels: int, seed: int,
            folds: int, on_fit: Callable[[], None] = lambda: None,
            ) -> tuple[float, float, list[dict[str, float]]]:
    """(C, w, the cross-validation table): every (w, C) pair of the grids scored by mean
    macro-F1 over ``folds`` stratified folds; the best pair wins, the first in grid order on a
    tie."""
    import torch

    from cultura.adapt.metrics import classification_metrics

    names = [str(k) for k in range(labels)]
    fold = _folds(y, folds, seed)
    target = torch.tensor(list(y), dtype=torch.long)
    table = []
    for w in DEEP_WEIGHTS:
        for c in C_GRID:
            scores = []
            for f in range(folds):
                train = [i for i, v in enumerate(fold) if v != f]
                held = [i for i, v in enumerate(fold) if v == f]
                if not held or not train:
                    continue
                model = _fit_logreg(_rows(x, train), deep[train] * w, target[train], labels, c)
                pred = model.logits(_rows(x, held), deep[held] * w).argmax(1).tolist()
                gold = [y[i] for i in held]
                scores.append(float(classification_metrics(gold, pred, names)["macro_f1"]))
                on_fit()
            table.append({"deep_weight": w, "C": c, "macro_f1": sum(scores) / max(1, len(scores))})
    best = max(table, key=lambda row: row["macro_f1"])  # max keeps the first of equal scores
    return best["C"], best["deep_weight"], table


# --------------------------------------------------------------------------- the classifier
@dataclass
class WideDeepClassifier(WideAdapter):
    """A fitted wide-and-deep classifier (module docstring); build one with
    :func:`fit_wide_deep`, or :meth:`load` a saved one.

    Attributes:
        culture / base / labels: the culture tag, the portable base id and the labels in id order.
        ngrams / view_ngrams: the fitted :class:`Ngrams` of the text's characters and of the
            gloss view's words.
        deep_weight / C: the settings cross-validation chose; ``cv``: its table.
        gloss_sources: the gloss sources the view used (``"gloss:cc-cedict"``).
        encoder: the frozen base (a :class:`~cultura.adapt.cultural_model.CulturalModel`
            without added vocabulary, whose untrained LoRA computes what the base computes).
    """

    head_type: ClassVar[str] = "seq-cls"

    culture: str
    base: str
    labels: tuple[str, ...]
    ngrams: Ngrams
    view_ngrams: Ngrams
    deep_weight: float
    C: float
    weights: _Linear = field(repr=False)
    encoder: CulturalModel = field(repr=False)
    view: GlossView = field(repr=False)
    gloss_sources: tuple[str, ...] = ()
    cv: list[dict[str, float]] = field(default_factory=list, repr=False)
    batch_size: int = 64
    #: the task it was saved or loaded as an adapter for (``None``: never)
    task: str | None = None

    # ------------------------------------------------------------------ features
    def features(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """The wide (sparse TF-IDF) and deep (unscaled) features of raw ``texts``."""
        return _features(self.encoder, self.view, (self.ngrams, self.view_ngrams), texts,
                         self.batch_size)

    def predict_proba(self, texts: Sequence[str] | str) -> tuple[Any, list[str]]:
        """Class probabilities ``[n, labels]`` (numpy) and the label names."""
        import torch

        from cultura.adapt.prompting import _texts

        items = _texts(texts)
        x, deep = self.features(items)
        probs = torch.softmax(self.weights.logits(x, deep * self.deep_weight), dim=-1)
        return probs.numpy(), list(self.labels)

    def predict(self, texts: Sequence[str] | str, *, top_k: int = 1) -> list[dict[str, Any]]:
        """One ``{"text", "label", "score", "top"}`` per text, as ``CulturalModel.predict``
        gives for a ``seq-cls`` head."""
        from cultura.adapt.prompting import _texts

        items = _texts(texts)
        probs, labels = self.predict_proba(items)
        out = []
        for text, row in zip(items, probs, strict=True):
            order = sorted(range(len(labels)), key=lambda k: -row[k])
            top = [{"label": labels[k], "score": float(row[k])} for k in order[: max(1, top_k)]]
            out.append({"text": text, "label": top[0]["label"], "score": top[0]["score"], "top": top})
        return out

    def evaluate(self, data: Any, *, text_field: str | None = None, label_field: str | None = None,
                 label_map: Mapping[Any, str] | None = None) -> dict[str, Any]:
        """``accuracy``, ``macro_f1``, ``n`` and ``per_label_f1`` on labelled data (read as
        ``CulturalModel.evaluate`` reads it)."""
        from cultura.adapt.metrics import classification_metrics

        examples = _examples(self.encoder, data, self.labels, text_field, label_field, label_map)
        probs, _ = self.predict_proba([e.text for e in examples])
        pred = probs.argmax(1).tolist()
        return classification_metrics([e.label for e in examples], pred, self.labels)

    # ------------------------------------------------------------------ saving
    def save(self, directory: str | Path) -> Path:
        """Write ``wide.json`` and ``wide.safetensors`` to ``directory`` (created)."""
        tensors = {
            "idf": _tensor(self.ngrams.idf),
            "view_idf": _tensor(self.view_ngrams.idf),
            "sparse": self.weights.sparse.contiguous(),
            "dense": self.weights.dense.contiguous(),
            "bias": self.weights.bias.contiguous(),
        }
        meta = {
            "format": "cultura-wide-deep", "format_version": FORMAT_VERSION,
            "culture": self.culture, "base": self.base, "labels": list(self.labels),
            "ngram_range": [self.ngrams.low, self.ngrams.high],
            "ngrams": sorted(self.ngrams.vocabulary, key=self.ngrams.vocabulary.__getitem__),
            "view_ngram_range": [self.view_ngrams.low, self.view_ngrams.high],
            "view_ngrams": sorted(self.view_ngrams.vocabulary, key=self.view_ngrams.vocabulary.__getitem__),
            "deep_weight": self.deep_weight, "C": self.C, "gloss_sources": list(self.gloss_sources),
            "cv": self.cv,
        }
        return write_model_files(directory, self.head_type, meta, tensors)

    @classmethod
    def load(cls, directory: str | Path, *, manager: PluginManager | None = None,
             dtype: Any = "auto", base: Any = None) -> WideDeepClassifier:
        """Read a saved classifier; every field is checked (it is untrusted data) and the
        weights must match the recorded sha256. The base is resolved from the recorded id
        (embedded alias, Hub id or absolute model directory) as adapters' bases are, unless
        ``base`` (a path, Hub id or alias) replaces it."""
        from cultura.adapt.base import resolve_base, resolve_recorded_base

        meta, tensors, meta_path, weights_path = read_model_files(
            directory, cls.head_type, "WideDeepClassifier")
        n, m, k = len(meta["ngrams"]), len(meta["view_ngrams"]), len(meta["labels"])
        expected = {"idf": (n,), "view_idf": (m,), "sparse": (n + m, k), "bias": (k,)}
        for name, shape in expected.items():
            if name not in tensors or tuple(tensors[name].shape) != shape:
                raise CulturaError(f"{weights_path}: tensor {name!r} must have shape {shape}")
        dense = tensors.get("dense")
        if dense is None or dense.dim() != 2 or dense.shape[1] != k or dense.shape[0] > MAX_DEEP_DIM:
            raise CulturaError(f"{weights_path}: tensor 'dense' must have shape (dim, {k})")
        ngrams = Ngrams({g: i for i, g in enumerate(meta["ngrams"])},
                        tuple(tensors["idf"].double().tolist()), *meta["ngram_range"], "char")
        view_ngrams = Ngrams({g: i for i, g in enumerate(meta["view_ngrams"])},
                             tuple(tensors["view_idf"].double().tolist()), *meta["view_ngram_range"], "word")
        if base is not None:
            path, portable = resolve_base(str(base))
        else:
            path, _ = resolve_recorded_base(meta["base"], f"{meta_path} field 'base'")
            portable = meta["base"]
        encoder, view = _encoder(path, meta["culture"], manager, dtype, portable=portable)
        if tuple(view.labels) != tuple(meta["gloss_sources"]):
            raise CulturaError(
                f"{meta_path}: fitted with gloss sources {meta['gloss_sources']}, the installed "
                f"plugins give {list(view.labels)}; install the plugin versions it was fitted with"
            )
        weights = _Linear(tensors["sparse"].double(), dense.double(), tensors["bias"].double())
        clf = cls(meta["culture"], meta["base"], tuple(meta["labels"]), ngrams, view_ngrams,
                  meta["deep_weight"], meta["C"], weights, encoder, view,
                  tuple(meta["gloss_sources"]), meta["cv"])
        # the deep features are two mean-pooled hidden states: the view's and the text's
        hidden = getattr(encoder.model.config, "hidden_size", None)
        deep_dim = 2 * int(hidden) if isinstance(hidden, int) else clf.features(["x"])[1].shape[1]
        if deep_dim != dense.shape[0]:
            raise CulturaError(f"{weights_path}: 'dense' has {dense.shape[0]} rows, the base "
                               f"{meta['base']} gives {deep_dim} features")
        return clf


def _tensor(values: Sequence[float]) -> torch.Tensor:
    import torch

    return torch.tensor(list(values), dtype=torch.float64)


def _encoder(base: Any, culture: str, manager: PluginManager | None, dtype: Any,
             portable: str | None = None) -> tuple[CulturalModel, GlossView]:
    from cultura.adapt import lm
    from cultura.adapt.build import adapt
    from cultura.adapt.glossview import gloss_view

    encoder = adapt(base, culture, head=lm.builtin_spec(base, None), knowledge=False,
                    extend_vocab=False, manager=manager, dtype=dtype, base_id=portable)
    view = gloss_view(encoder.profile)
    if view is None:
        raise CulturaError(
            f"no installed plugin gives {culture} a gloss source (an EmbeddingSource of kind "
            "'gloss' on a vocabulary extension), which the wide-and-deep classifier reads the "
            "text through; install the culture's plugin (e.g. cultura-zh) or train an adapter"
        )
    return encoder, view


def _features(encoder: CulturalModel, view: GlossView, ngrams: tuple[Ngrams, Ngrams],
              texts: Sequence[str], batch_size: int, on_batch: Callable[[int], None] = lambda n: None,
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """The sparse features (the text's character n-grams, then the view's word n-grams) and
    the deep ones (the base's embedding of the view, then of the text itself), unscaled."""
    import torch

    from cultura.adapt.prompting import mean_pooled

    normalized = encoder.profile.normalize(list(texts)) if texts else []
    viewed: list[str] = []
    chunks = []
    for start in range(0, len(normalized), batch_size):
        chunk = normalized[start : start + batch_size]
        glossed = view(chunk)
        viewed += glossed
        chunks.append(torch.cat([mean_pooled(encoder, glossed, batch_size),
                                 mean_pooled(encoder, chunk, batch_size)], dim=1).double())
        on_batch(len(chunk))
    dim = chunks[0].shape[1] if chunks else 2 * int(getattr(encoder.model.config, "hidden_size", 1))
    deep = torch.cat(chunks) if chunks else torch.zeros((0, dim), dtype=torch.float64)
    chars, words = ngrams
    with _own_sparse():
        sparse = torch.cat([chars.transform(normalized), words.transform(viewed)], dim=1).coalesce()
    return sparse, deep


def _examples(encoder: CulturalModel, data: Any, labels: Sequence[str], text_field: str | None,
              label_field: str | None, label_map: Mapping[Any, str] | None) -> list[Any]:
    from cultura.adapt.data import load_examples

    return load_examples(data, "seq-cls", labels, text_field=text_field, label_field=label_field,
                         label_map=label_map, normalize=encoder.profile.normalize)


def fit_wide_deep(
    data: Any,
    culture: str,
    *,
    labels: Sequence[str] | None = None,
    base: str = "all-MiniLM-L6-v2",
    seed: int = 0,
    folds: int = CV_FOLDS,
    text_field: str | None = None,
    label_field: str | None = None,
    label_map: Mapping[Any, str] | None = None,
    dtype: Any = "auto",
    progress: bool | None = None,
    manager: PluginManager | None = None,
) -> WideDeepClassifier:
    """Fit a :class:`WideDeepClassifier` on labelled ``data`` (a file, records or a Dataset,
    read as ``cultura train`` reads it) for ``culture``.

    ``labels``: the labels in id order (default: the data's, sorted). ``seed``: the
    cross-validation folds. ``base``: the frozen encoder, a Hub id, local path or embedded
    alias (default: the embedded MiniLM). ``progress``: the bar of the encoder's reading and
    of the cross-validation on stderr (``None``: when stderr is a terminal).
    """
    import torch

    from cultura.adapt.base import resolve_base
    from cultura.adapt.data import labels_from_data
    from cultura.adapt.train import _progress, _show_progress, _stderr_console

    if folds < 2:
        raise CulturaError(f"folds must be at least 2, got {folds!r}")
    if not isinstance(base, str):
        raise CulturaError(f"base must be a Hub id, a local path or an embedded alias, got {type(base).__name__}")
    path, portable = resolve_base(base)
    encoder, view = _encoder(path, culture, manager, dtype, portable=portable)
    if labels is None:
        labels = labels_from_data(data, label_field=label_field, label_map=label_map,
                                  normalize=encoder.profile.normalize)
    labels = tuple(labels)
    examples = _examples(encoder, data, labels, text_field, label_field, label_map)
    counts = Counter(e.label for e in examples)
    if len(counts) < 2 or min(counts.values()) < folds:
        raise CulturaError(
            f"the training data needs at least {folds} examples of each of two or more labels "
            f"for {folds}-fold cross-validation; it has "
            + ", ".join(f"{labels[k]}: {counts.get(k, 0)}" for k in range(len(labels)))
        )
    texts = [e.text for e in examples]
    normalized = encoder.profile.normalize(texts)
    ngrams = Ngrams.fit(normalized)
    view_ngrams = Ngrams.fit(view(normalized), analyzer="word")
    y = [e.label for e in examples]
    console = _stderr_console()
    with _progress(_show_progress(progress, console), console, loss=False) as bar:
        reading = bar.add_task("reading the gloss view", total=len(texts))
        x, deep = _features(encoder, view, (ngrams, view_ngrams), texts, 64,
                            lambda n: bar.advance(reading, n))
        fits = bar.add_task("cross-validation", total=len(DEEP_WEIGHTS) * len(C_GRID) * folds)
        c, w, table = _select(x, deep, y, len(labels), seed, folds, lambda: bar.advance(fits))
    weights = _fit_logreg(x, deep * w, torch.tensor(y, dtype=torch.long), len(labels), c)
    return WideDeepClassifier(str(encoder.culture), str(encoder.base.id), labels, ngrams, view_ngrams, w, c,
                              weights, encoder, view, view.labels, table)
