"""Continual updates: train an adapter further on new data without forgetting the old.

A new version of an adapter continues an earlier one (:func:`resume`, ``cultura train
--resume ADAPTER``). Three things keep it from forgetting what the earlier version knew, and
one checks that it did not:

* **Rehearsal.** Every adapter records the data it was trained and evaluated on by reference
  (``training_data`` in ``cultura.json``: the location as given, the sha256 of the file and a
  hash per example, the licence when the data declares one), never by its text. When the user
  gives the old data again (``rehearsal_data=``, ``--rehearsal-data FILE``), it is read with
  the adapter's head, checked against those hashes (:func:`verified_examples`: the same file,
  or data holding every recorded example) and a seeded sample of it is mixed into the new
  data. Data that does not match, or no data, is refused with what was expected; resuming
  without rehearsal is a choice the caller states (``rehearsal=0``, ``--no-rehearsal``).
* **L2-SP** (Li et al. 2018, :class:`L2SP`): ``lambda/2 * sum((w - w_prev)^2)`` over the weights
  that train (adapter, head, added rows) pulls them toward the previous version's.
* **EWC** (Kirkpatrick et al. 2017, :class:`EWC`): the same pull weighted by a diagonal Fisher
  information estimated on a sample of the old data (:func:`estimate_fisher`), normalized to
  mean 1 so a lambda means about what it means for L2-SP.
* **The regression gate** (:func:`compare`, :func:`regression_gate`, ``cultura compare OLD NEW
  DATA``, ``cultura publish --regression-data``): the new version and the old one are evaluated
  on the old evaluation data; forgetting is the old score minus the new one, in points of the
  head's metric (macro-F1 for text classifiers, entity-F1 for BIO taggers, accuracy for other
  taggers), and a version that forgets more than ``max_forgetting`` points is refused
  (:class:`RegressionError`).

The new version's manifest records its ``lineage``: the parent (name, Hub repo and commit when
known, sha256 of its weights, version number), the earlier versions, the rehearsal and penalty
used, and, once published, the gate it passed. Versions published to one Hub repo are its
commits (:func:`cultura.registry.hub.publish`).

No torch import at module level: the reference and hash helpers serve the CLI and registry.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt.artifact import (
    EXAMPLE_HASH_CHARS,
    MAX_ANCESTORS,
    MAX_DATA_REFS,
    MAX_EXAMPLE_HASHES,
    PEFT_WEIGHTS,
    sha256_file,
)
from cultura.core.errors import CulturaError
from cultura.core.types import LM_HEAD_TYPES

if TYPE_CHECKING:
    from cultura.adapt.cultural_model import CulturalModel
    from cultura.adapt.data import Example

__all__ = [
    "EWC",
    "L2SP",
    "Comparison",
    "RegressionError",
    "RehearsalError",
    "compare",
    "estimate_fisher",
    "example_hash",
    "reference_data",
    "regression_gate",
    "resume",
    "verified_examples",
]

#: examples of the old data the EWC Fisher is estimated on (by default)
DEFAULT_FISHER_EXAMPLES = 256


class RehearsalError(CulturaError):
    """The old training data cannot be used: none was given, or it does not match the hashes
    the adapter recorded."""


class RegressionError(CulturaError):
    """The new version forgets more than allowed on the old evaluation data (the regression
    gate failed). ``comparison`` holds the measurement."""

    def __init__(self, message: str, comparison: Comparison) -> None:
        super().__init__(message)
        self.comparison = comparison


# ---------------------------------------------------------------------- data references
def example_hash(example: Example, labels: Sequence[str]) -> str:
    """The hash of one example: the first 128 bits (32 hex digits) of the sha256 of its
    canonical JSON (text or words, and the label or tags by name), so the same example read
    from a .jsonl, a .csv or a folder of ``<label>.txt`` files hashes the same."""
    if example.tokens is not None:
        content: dict[str, Any] = {"tokens": list(example.tokens)}
        if example.tags is not None:
            content["tags"] = [labels[t] for t in example.tags]
    else:
        content = {"text": example.text}
        if example.label is not None:
            content["label"] = labels[example.label]
    blob = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:EXAMPLE_HASH_CHARS]


def data_sha256(data: Any) -> str | None:
    """sha256 of a data file; of a folder of ``<label>.txt`` files, the sha256 of its listing
    (each file's name and sha256); ``None`` for records held in memory."""
    if not isinstance(data, (str, Path)):
        return None
    path = Path(data)
    if path.is_file():
        return sha256_file(path)
    if path.is_dir():
        listing = [f"{p.name}\t{sha256_file(p)}" for p in sorted(path.glob("*.txt"))]
        return hashlib.sha256("\n".join(listing).encode("utf-8")).hexdigest()
    return None


def declared_license(data: Any) -> str | None:
    """The licence the data declares, if any: a ``datasets.Dataset``'s ``info.license``, or
    the ``license`` of the YAML front matter of a dataset card (``README.md``) in the data
    folder or next to the data file (the Hugging Face dataset layout)."""
    info = getattr(data, "info", None)
    if info is not None and isinstance(getattr(info, "license", None), str):
        return info.license.strip() or None
    if not isinstance(data, (str, Path)):
        return None
    path = Path(data)
    card = (path if path.is_dir() else path.parent) / "README.md"
    if not card.is_file():
        return None
    text = card.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return None
    import yaml

    try:
        front = yaml.safe_load(text.split("---", 2)[1])
    except (yaml.YAMLError, IndexError):
        return None
    value = front.get("license") if isinstance(front, dict) else None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value.strip() if isinstance(value, str) and value.strip() else None


def reference_data(
    data: Any,
    examples: Sequence[Example],
    labels: Sequence[str],
    *,
    role: str,
    version: int,
    license: str | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
) -> dict[str, Any]:
    """The ``training_data`` entry for ``data`` (read as ``examples``): its location as given
    (``None`` for records in memory), sha256, example count and per-example hashes (none above
    :data:`~cultura.adapt.artifact.MAX_EXAMPLE_HASHES` examples: such data is matched by its
    sha256 alone), the licence (``license``, else the one the data declares: see
    :func:`declared_license`), and the fields it was read with. Never its text."""
    hashes = (
        [example_hash(e, labels) for e in examples] if len(examples) <= MAX_EXAMPLE_HASHES else []
    )
    return {
        "role": role,
        "version": version,
        "uri": str(data) if isinstance(data, (str, Path)) else None,
        "sha256": data_sha256(data),
        "examples": len(examples),
        "example_hashes": hashes,
        "license": license or declared_license(data),
        "text_field": text_field,
        "label_field": label_field,
    }


def _describe_ref(ref: Mapping[str, Any]) -> str:
    sha = f"sha256 {ref['sha256'][:16]}…" if ref.get("sha256") else "records in memory"
    return f"{ref.get('uri') or 'records'} (version {ref['version']}, {sha}, {ref['examples']} examples)"


def verified_examples(
    cm: CulturalModel,
    given: Sequence[Any],
    *,
    text_field: str | None = None,
    label_field: str | None = None,
    label_map: Mapping[Any, str] | None = None,
) -> tuple[list[Example], list[dict[str, Any]]]:
    """Read the old training data ``given`` (files, folders or records) with ``cm``'s head and
    check each against the ``training_data`` ``cm`` records; returns the examples and, per
    source, ``{"version", "sha256", "examples"}``.

    A source matches a recorded reference when its sha256 is the recorded one, or when it holds
    every recorded example (by hash: reordered, reformatted or extended data is accepted, and
    only the recorded examples are kept). Raises :class:`RehearsalError` naming the file, what
    was recorded and how many examples are missing, when a source matches none.
    """
    refs = [r for r in getattr(cm, "training_data", ()) if r["role"] == "train"]
    if not refs:
        raise RehearsalError(
            "the adapter records no training data to check the old data against (it was "
            "trained before cultura recorded data references, or from records in memory without "
            "them); add the old examples to the new data yourself, or resume without rehearsal "
            "(--no-rehearsal, rehearsal=0)"
        )
    recorded = "; ".join(_describe_ref(r) for r in refs)
    examples: list[Example] = []
    sources: list[dict[str, Any]] = []
    for data in given:
        rows = cm.examples(  # read as it was read for training, unless told otherwise
            data, text_field=text_field or refs[0].get("text_field"),
            label_field=label_field or refs[0].get("label_field"), label_map=label_map,
        )
        sha = data_sha256(data)
        match = next((r for r in refs if sha is not None and r.get("sha256") == sha), None)
        keep = rows
        if match is None:  # compared as multisets: a changed copy of a repeated row counts
            hashes = [example_hash(e, cm.labels) for e in rows]
            have = Counter(hashes)
            best, missing = None, math.inf
            for r in refs:
                wanted = Counter(r["example_hashes"])
                lacking = sum((wanted - have).values())
                if wanted and lacking < missing:
                    best, missing = r, lacking
            if best is None or missing:
                shown = str(data) if isinstance(data, (str, Path)) else "the records given"
                detail = (
                    f"{missing} of the {best['examples']} examples recorded for "
                    f"{best.get('uri') or 'records'} (version {best['version']}) are not in it"
                    if best is not None else "its sha256 matches no recorded file"
                )
                raise RehearsalError(
                    f"{shown} is not the data the adapter was trained on: sha256 "
                    f"{(sha or 'none')[:16]}…, {detail}. Recorded: {recorded}. Give that data "
                    "(--rehearsal-data FILE, rehearsal_data=), or resume without rehearsal "
                    "(--no-rehearsal, rehearsal=0; the new version will forget more)"
                )
            match = best
            wanted = Counter(best["example_hashes"])
            keep = []
            for example, digest in zip(rows, hashes, strict=True):
                if wanted[digest] > 0:  # each recorded example once, extra rows left out
                    wanted[digest] -= 1
                    keep.append(example)
        examples += keep
        sources.append({"version": match["version"], "sha256": match.get("sha256"),
                        "examples": len(keep)})
    return examples, sources


def rehearsal_count(amount: int | float, available: int) -> int:
    """How many old examples ``amount`` asks for: an integer is a count, a float in (0, 1] a
    share of the ``available`` old examples (at least one), ``0`` none; capped at
    ``available``."""
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise CulturaError(f"rehearsal must be a count (an integer), a share (a float in (0, 1]) "
                           f"or 0, got {amount!r}")
    if isinstance(amount, float) and amount != 0:
        if not 0 < amount <= 1:
            raise CulturaError(f"rehearsal {amount} is no share in (0, 1]: give a share such as "
                               "0.2, or a count as an integer such as 200")
        return min(available, max(1, round(amount * available)))
    if amount < 0:
        raise CulturaError(f"rehearsal must not be negative, got {amount}")
    return min(available, int(amount))


# ---------------------------------------------------------------------- penalties
class L2SP:
    """L2-SP: ``strength/2 * sum((w - w_prev)^2)`` over the weights of ``cm`` that train,
    pulling them toward their values when it was built (the previous version's).

    Called with no argument it returns the penalty (a scalar tensor on the weights' device);
    :func:`cultura.adapt.train.train` adds it to every batch's loss (``penalty=``). The weights
    are the model's parameter objects, read as they are at each call.
    """

    kind = "l2sp"

    def __init__(self, cm: CulturalModel, strength: float) -> None:
        if isinstance(strength, bool) or not (isinstance(strength, (int, float))
                                               and math.isfinite(strength) and strength > 0):
            raise CulturaError(f"the {self.kind} lambda must be a positive number, got {strength!r}")
        self.strength = float(strength)
        self.params = [(n, p, p.detach().float().clone())
                       for n, p in cm.model.named_parameters() if p.requires_grad]
        if not self.params:
            raise CulturaError("the model has no trainable parameters to anchor the penalty on")

    def _weight(self, name: str, anchor: Any) -> Any:
        return None

    def __call__(self) -> Any:
        total = None
        for i, (name, param, anchor) in enumerate(self.params):
            if anchor.device != param.device:  # moved by Accelerate: follow once
                anchor = anchor.to(param.device)
                self.params[i] = (name, param, anchor)
            diff = (param.float() - anchor) ** 2
            weight = self._weight(name, anchor)
            term = (diff if weight is None else weight * diff).sum()
            total = term if total is None else total + term
        return 0.5 * self.strength * total

    def summary(self) -> dict[str, Any]:
        """What ``lineage.penalty`` records."""
        return {"kind": self.kind, "lambda": self.strength, "fisher_examples": 0}


class EWC(L2SP):
    """Elastic weight consolidation: ``strength/2 * sum(F * (w - w_prev)^2)`` with ``F`` the
    diagonal Fisher information of the previous version on its old data
    (:func:`estimate_fisher`, normalized to mean 1 over the trainable weights)."""

    kind = "ewc"

    def __init__(self, cm: CulturalModel, strength: float, fisher: Mapping[str, Any],
                 examples: int) -> None:
        super().__init__(cm, strength)
        missing = [n for n, _, _ in self.params if n not in fisher]
        if missing:
            raise CulturaError(f"the Fisher information has no entry for {missing[0]}; estimate "
                               "it on this model (estimate_fisher)")
        self.weights: dict[str, Any] = dict(fisher)
        self.examples = examples

    def _weight(self, name: str, anchor: Any) -> Any:
        weight = self.weights[name]
        if weight.device != anchor.device:
            weight = self.weights[name] = weight.to(anchor.device)
        return weight

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "lambda": self.strength, "fisher_examples": self.examples}


def estimate_fisher(cm: CulturalModel, examples: Sequence[Example]) -> dict[str, Any]:
    """The diagonal (empirical) Fisher information of ``cm``'s trainable weights on
    ``examples``: the mean over examples of each weight's squared gradient of the example's
    loss, normalized so its mean over all trainable weights is 1 (all zeros stay zeros).
    One example per forward pass, dropout off; the model's gradients are cleared after."""
    import torch

    if not examples:
        raise CulturaError("EWC needs old examples to estimate the Fisher information on")
    model = cm.model
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    sums = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params}
    was_training = model.training
    model.eval()
    device = cm.device
    try:
        for example in examples:
            batch = cm.collate([example])
            model.zero_grad(set_to_none=True)
            out = model(**{k: v.to(device) for k, v in batch.items() if hasattr(v, "to")})
            out.loss.backward()
            for n, p in params:
                if p.grad is not None:
                    sums[n] += p.grad.detach().float() ** 2
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    total = sum(float(s.sum()) for s in sums.values())
    count = sum(s.numel() for s in sums.values())
    scale = count / total if total > 0 else 1.0
    return {n: s * scale for n, s in sums.items()}


# ---------------------------------------------------------------------- resume
def _load(adapter: Any, *, base: Any, dtype: Any) -> tuple[CulturalModel, str]:
    """``(model, name)``: a :class:`CulturalModel` as it is (named as ``cultura.load`` found
    it), or an adapter directory loaded with ``load_pretrained`` (named by its path)."""
    from cultura.adapt.cultural_model import CulturalModel

    if isinstance(adapter, CulturalModel):
        source = adapter.source or {}
        return adapter, str(source.get("name") or "")
    if not isinstance(adapter, (str, Path)) or not Path(adapter).is_dir():
        raise CulturaError(
            f"{adapter!r} is not an adapter directory; load an adapter by name with "
            "cultura.load(NAME) and pass the model (the command line takes names as they are)"
        )
    from cultura.adapt.loading import load_pretrained
    from cultura.adapt.wide_adapter import require_peft

    model = require_peft(load_pretrained(adapter, base=base, dtype=dtype), "continual training")
    return model, str(adapter)


def _parent(cm: CulturalModel, name: str) -> dict[str, Any]:
    """``lineage.parent`` for ``cm`` as loaded: name as given, Hub repo and commit when it came
    from the Hub (``hf:ORG/REPO[@REV]``), the sha256 of its weights, its version."""
    import re

    repo = None
    if name.startswith("hf:"):
        candidate = name[3:].split("@", 1)[0]
        if re.fullmatch(r"[A-Za-z0-9][\w.\-]{0,95}/[A-Za-z0-9][\w.\-]{0,95}", candidate):
            repo = candidate
    revision = (cm.source or {}).get("revision")
    lineage = getattr(cm, "lineage", None) or {}
    return {
        "name": name or None,
        "repo": repo,
        "revision": revision if revision and re.fullmatch(r"[0-9a-f]{40}", revision) else None,
        "adapter_sha256": cm.manifest().files.get(PEFT_WEIGHTS),
        "version": int(lineage.get("version", 1)),
    }


def resume(
    adapter: Any,
    train: Any,
    eval: Any = None,
    *,
    rehearsal: int | float | None = None,
    rehearsal_data: Any = (),
    ewc: float | None = None,
    l2sp: float | None = None,
    fisher_examples: int = DEFAULT_FISHER_EXAMPLES,
    data_license: str | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
    label_map: Mapping[Any, str] | None = None,
    base: Any = None,
    dtype: Any = "auto",
    seed: int = 0,
    **train_options: Any,
) -> CulturalModel:
    """Continue training ``adapter`` on ``train`` (with ``eval`` for early stopping); returns
    the new version (``.history``, ``.lineage``, ``.training_data``; save it with
    ``save_pretrained``).

    Args:
        adapter: a :class:`CulturalModel` (``cultura.load(name)`` for a registry name or Hub
            repo) or an adapter directory; its head, labels, tokenizer and settings are kept.
        base / dtype: how a directory is loaded (``load_pretrained``).
        rehearsal: old examples to mix into ``train``: a count (``200``), a share of the old
            training examples (``0.2``), or ``0`` to resume without rehearsal. It must be
            given: resuming without rehearsal forgets more, so it is never the silent default.
        rehearsal_data: the data the adapter was trained on (a path, records, or a list of
            them), checked against its recorded hashes (:func:`verified_examples`). Needed for
            rehearsal and for EWC.
        ewc / l2sp: the penalty's lambda (at most one of them).
        fisher_examples: old examples the EWC Fisher is estimated on (a seeded sample).
        data_license: the licence of ``train`` (recorded; default: the one it declares).
        text_field / label_field / label_map: how ``train``, ``eval`` and the old data are
            read (the old data defaults to the fields recorded for it).
        seed: seeds the rehearsal and Fisher samples and training.
        train_options: the rest of :func:`cultura.adapt.train.train`'s options (``epochs``,
            ``lr``, ``batch_size`` ...).

    Raises :class:`RehearsalError` when rehearsal or EWC has no old data or the old data does
    not match, :class:`~cultura.core.errors.CulturaError` for options that do not fit.
    """
    from cultura.adapt.train import train as run_training

    if rehearsal is None:
        raise CulturaError(
            "say how much of the old training data to rehearse: rehearsal=200 (examples) or "
            "rehearsal=0.2 (a share) with rehearsal_data= the old data (--rehearsal N|FRACTION "
            "--rehearsal-data FILE), or rehearsal=0 (--no-rehearsal) to resume without it"
        )
    if ewc is not None and l2sp is not None:
        raise CulturaError("choose one penalty: ewc= (--ewc) or l2sp= (--l2sp), not both")
    if isinstance(fisher_examples, bool) or not isinstance(fisher_examples, int) or fisher_examples < 1:
        raise CulturaError(f"fisher_examples must be a positive integer, got {fisher_examples!r}")
    rehearsal_count(rehearsal, 1)  # a bad amount fails before anything loads
    if rehearsal_data is None or (isinstance(rehearsal_data, (list, tuple)) and not rehearsal_data):
        given: list[Any] = []
    elif isinstance(rehearsal_data, (list, tuple)) and all(
        isinstance(d, (str, Path)) for d in rehearsal_data
    ):
        given = list(rehearsal_data)  # several files
    else:
        given = [rehearsal_data]  # one file, folder, list of records or Dataset
    needs_old = bool(rehearsal) or ewc is not None
    cm, name = _load(adapter, base=base, dtype=dtype)
    if cm.head_type == "causal-lm" and cm.spec.peft.method == "prefix":
        raise CulturaError("a prefix-tuning adapter cannot be trained further (PEFT loads it "
                           "frozen); retrain it from the base instead")
    recorded = [r for r in getattr(cm, "training_data", ()) if r["role"] == "train"]
    if needs_old and not given:
        what = "; ".join(_describe_ref(r) for r in recorded) or "no training data (see below)"
        why = "rehearsal" if rehearsal else "EWC (its Fisher information)"
        raise RehearsalError(
            f"{why} needs the data {name or 'the adapter'} was trained on, and none was given. "
            f"Recorded: {what}. Give it with --rehearsal-data FILE (rehearsal_data=), or resume "
            "without rehearsal (--no-rehearsal, rehearsal=0)"
            + (" and without EWC (--l2sp needs no old data)" if ewc is not None else "")
        )
    fields = {"text_field": text_field, "label_field": label_field, "label_map": label_map}
    new_examples = cm.examples(train, **fields)
    eval_examples = cm.examples(eval, **fields) if eval is not None else None
    old: list[Example] = []
    sources: list[dict[str, Any]] = []
    if needs_old:
        old, sources = verified_examples(cm, given, **fields)
    rng = random.Random(seed)
    replay = rng.sample(old, rehearsal_count(rehearsal, len(old))) if rehearsal else []
    penalty: L2SP | None = None
    if l2sp is not None:
        penalty = L2SP(cm, l2sp)
    elif ewc is not None:
        sample = rng.sample(old, min(fisher_examples, len(old)))
        penalty = EWC(cm, ewc, estimate_fisher(cm, sample), len(sample))
    parent = _parent(cm, name)
    version = parent["version"] + 1
    lineage = getattr(cm, "lineage", None) or {}
    ancestors = [*lineage.get("ancestors", []), *([lineage["parent"]] if lineage.get("parent")
                                                  else [])][-(MAX_ANCESTORS - 1):]
    run_training(cm, new_examples + replay, eval_examples, seed=seed, penalty=penalty,
                 **train_options)
    refs = [reference_data(train, new_examples, cm.labels, role="train", version=version,
                           license=data_license, text_field=text_field, label_field=label_field)]
    if eval is not None:
        assert eval_examples is not None
        refs.append(reference_data(eval, eval_examples, cm.labels, role="eval", version=version,
                                   text_field=text_field, label_field=label_field))
    cm.training_data = tuple([*getattr(cm, "training_data", ()), *refs][-MAX_DATA_REFS:])
    cm.lineage = {
        "version": version,
        "parent": parent,
        "ancestors": ancestors,
        "rehearsal": ({"examples": len(replay), "requested": float(rehearsal),
                       "sources": sources} if rehearsal else None),
        "penalty": penalty.summary() if penalty is not None else None,
        "gate": None,
    }
    cm.training_summary["rehearsal_examples"] = len(replay)
    return cm


# ---------------------------------------------------------------------- regression gate
def gate_metric(head_type: str, labels: Sequence[str]) -> str:
    """The metric the gate compares: ``entity_f1`` for a BIO tagger, ``accuracy`` for another
    tagger, ``macro_f1`` for a text classifier; LM heads are refused."""
    from cultura.adapt.metrics import is_bio

    if head_type in LM_HEAD_TYPES:
        raise CulturaError(
            f"the regression gate compares classifier metrics (accuracy, macro-F1, entity-F1); "
            f"a {head_type} head has none: compare its perplexity with cultura evaluate"
        )
    if head_type == "token-cls":
        return "entity_f1" if is_bio(labels) else "accuracy"
    return "macro_f1"


@dataclass(frozen=True)
class Comparison:
    """The old and the new version on the old evaluation data.

    ``metric`` is what the gate compares (:func:`gate_metric`); ``old`` and ``new`` hold
    ``accuracy``, ``macro_f1`` and, for BIO taggers, ``entity_f1`` (shares, 0 to 1);
    ``forgetting`` is ``old - new`` of each, in points (100 times the share: negative when the
    new version is better). ``passed`` is ``None`` without ``max_forgetting``.
    """

    metric: str
    old: Mapping[str, float]
    new: Mapping[str, float]
    forgetting: Mapping[str, float]
    examples: int
    old_name: str = ""
    new_name: str = ""
    data: str | None = None
    data_sha256: str | None = None
    max_forgetting: float | None = None
    passed: bool | None = None
    previous: Mapping[str, Any] | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "old": dict(self.old), "new": dict(self.new),
            "forgetting": dict(self.forgetting), "examples": self.examples,
            "old_name": self.old_name, "new_name": self.new_name, "data": self.data,
            "data_sha256": self.data_sha256, "max_forgetting": self.max_forgetting,
            "passed": self.passed,
        }

    def gate_record(self) -> dict[str, Any]:
        """What ``lineage.gate`` records (needs ``max_forgetting``)."""
        assert self.max_forgetting is not None and self.passed is not None
        return {
            "metric": self.metric, "old": self.old[self.metric], "new": self.new[self.metric],
            "forgetting": self.forgetting[self.metric], "max_forgetting": self.max_forgetting,
            "passed": self.passed, "examples": self.examples, "data_sha256": self.data_sha256,
            "previous": dict(self.previous) if self.previous else None,
        }

    def message(self) -> str:
        """One line: the metric before and after, forgetting and the limit."""
        m = self.metric
        line = (f"{m} {100 * self.old[m]:.1f} -> {100 * self.new[m]:.1f} on {self.examples} "
                f"examples: forgetting {self.forgetting[m]:.1f} points")
        if self.max_forgetting is not None:
            line += f" (at most {self.max_forgetting:g} allowed)"
        return line


def compare(
    old: Any,
    new: Any,
    data: Any,
    *,
    max_forgetting: float | None = None,
    base: Any = None,
    dtype: Any = "auto",
    text_field: str | None = None,
    label_field: str | None = None,
    label_map: Mapping[Any, str] | None = None,
    batch_size: int = 32,
) -> Comparison:
    """Evaluate the ``old`` and ``new`` version (:class:`CulturalModel` objects or adapter
    directories, loaded with ``base`` and ``dtype``) on the old evaluation ``data`` and measure what the new one forgot (:class:`Comparison`).

    Both must have the same head type and labels. With ``max_forgetting`` (points, >= 0) the
    comparison says whether the new version ``passed``; :func:`regression_gate` raises when
    it did not.
    """
    if max_forgetting is not None and not (isinstance(max_forgetting, (int, float))
                                           and math.isfinite(max_forgetting) and max_forgetting >= 0):
        raise CulturaError(f"max_forgetting must be a number of points >= 0, got {max_forgetting!r}")
    old_cm, old_name = _load(old, base=base, dtype=dtype)
    new_cm, new_name = _load(new, base=base, dtype=dtype)
    if (old_cm.head_type, tuple(old_cm.labels)) != (new_cm.head_type, tuple(new_cm.labels)):
        raise CulturaError(
            f"the two versions do not predict the same thing: {old_name or 'old'} has a "
            f"{old_cm.head_type} head with labels {', '.join(old_cm.labels)}; {new_name or 'new'} "
            f"a {new_cm.head_type} head with labels {', '.join(new_cm.labels)}; compare versions "
            "of one adapter"
        )
    metric = gate_metric(new_cm.head_type, new_cm.labels)
    fields = {"text_field": text_field, "label_field": label_field, "label_map": label_map}
    examples = new_cm.examples(data, **fields)
    scores = []
    for cm in (old_cm, new_cm):
        result = cm.evaluate(examples, batch_size=batch_size)
        scores.append({k: float(result[k]) for k in ("accuracy", "macro_f1", "entity_f1")
                       if k in result})
    forgetting = {k: round(100 * (scores[0][k] - scores[1][k]), 6) for k in scores[1]}
    passed = None if max_forgetting is None else forgetting[metric] <= max_forgetting
    return Comparison(
        metric=metric, old=scores[0], new=scores[1], forgetting=forgetting,
        examples=len(examples), old_name=old_name, new_name=new_name,
        data=str(data) if isinstance(data, (str, Path)) else None,
        data_sha256=data_sha256(data),
        max_forgetting=float(max_forgetting) if max_forgetting is not None else None,
        passed=passed,
        previous=_parent(old_cm, old_name),
    )


def regression_gate(old: Any, new: Any, data: Any, *, max_forgetting: float,
                    **options: Any) -> Comparison:
    """:func:`compare` with ``max_forgetting``; raises :class:`RegressionError` when the new
    version forgets more than that many points of the head's metric. Returns the comparison
    when it passes."""
    result = compare(old, new, data, max_forgetting=max_forgetting, **options)
    if not result.passed:
        raise RegressionError(
            f"regression gate failed: {result.new_name or 'the new version'} forgets too much "
            f"of what {result.old_name or 'the old version'} knew on {result.data or 'the data'}: "
            f"{result.message()}. Resume with rehearsal of the old data (--rehearsal 0.2 "
            "--rehearsal-data FILE) or a penalty (--l2sp, --ewc), a lower learning rate, or "
            "fewer epochs",
            result,
        )
    return result
