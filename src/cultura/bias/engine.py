"""The bias-check engine: collect a culture's checks (every plugin, plus user files) and run them.

>>> import cultura
>>> report = cultura.check_bias(model, culture="zh")          # doctest: +SKIP
>>> report.passed, report.summary()["n_failed"]                # doctest: +SKIP

Targets:

* a :class:`~cultura.adapt.model.CulturalModel` (duck-typed: ``predict_proba``, ``spec``,
  ``profile``, ``model``, ``tokenizer``) — a ``seq-cls`` head runs the counterfactual checks
  (``ctf_gap``, ``max_group_gap``, ``flip_rate``), a ``causal-lm`` head the ``pair_ll`` checks;
* a directory: a saved adapter (with ``cultura.json``, loaded by
  ``cultura.adapt.model.load_pretrained``) or a plain Hugging Face model (``config.json`` and
  safetensors weights; ``*ForMaskedLM``, ``*ForCausalLM``/``*LMHeadModel`` or
  ``*ForSequenceClassification``);
* an adapter name (``zh/sentiment``, ``hf:org/repo``) through :func:`cultura.check_bias` only
  (:func:`cultura.registry.bias.check_bias`, which loads it with the registry and calls this
  engine: the registry publishes through the bias gate, so the engine does not import it);
* a ``(model, tokenizer)`` pair of Hugging Face objects — masked LMs run ``crows_pairs``,
  causal LMs ``pair_ll``, sequence classifiers the counterfactual checks.

Checks come from ``cultura.culture(tag).bias_checks`` (each with the plugin, distribution and
version that supplied it) unless ``checks`` is given, plus every ``data`` file (CrowS-Pairs CSV,
StereoSet JSON, check files; see :mod:`cultura.bias.importers`). Minimal pairs from benchmark
files follow the model: CrowS-Pairs PLL for masked LMs, sentence log-likelihood for causal LMs.
A StereoSet file is scored as the authors' scripts score it (:func:`cultura.bias.metrics.score_stereoset`)
and reported per split (``stereoset.<file>.<split>.<bias type or overall>``) and over both
(``stereoset.<file>.overall``); ``min_lms``/``min_icat`` gate LMS and ICAT as well as SS.
A check that does not apply to the model (e.g. ``crows_pairs`` on a classifier) is reported as
skipped with the reason.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from cultura.bias import metrics as M
from cultura.bias.importers import LoadedData, StereoSetExample, load_data
from cultura.bias.report import METRIC_NAMES, BiasReport, CheckResult, format_examples, pair_rows
from cultura.core.errors import CulturaError
from cultura.core.tags import Culture
from cultura.core.types import BiasCheck

__all__ = ["check_bias", "collect_checks", "CheckSource", "resolve_target", "Target"]

COUNTERFACTUAL = ("ctf_gap", "max_group_gap", "flip_rate")
KINDS = ("classifier", "token-classifier", "mlm", "causal-lm")
_HEAD_KIND = {
    "seq-cls": "classifier", "token-cls": "token-classifier", "causal-lm": "causal-lm",
    "masked-lm": "mlm",
}


# ---------------------------------------------------------------------------------------------
# targets
# ---------------------------------------------------------------------------------------------
@dataclass
class Target:
    """What the engine runs checks on, whatever form it was given in."""

    name: str
    kind: str
    model: Any = None
    tokenizer: Any = None
    predict_proba: Callable[[list[str]], tuple[Any, Sequence[str]]] | None = None
    profile: Any = None
    normalize: Callable[[list[str]], list[str]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _base_model(model: Any) -> Any:
    getter = getattr(model, "get_base_model", None)
    return getter() if callable(getter) else model


def hf_model_kind(model: Any) -> str:
    """``mlm``, ``causal-lm``, ``classifier`` or ``token-classifier`` for a HF (or PEFT) model."""
    base = _base_model(model)
    name = type(base).__name__
    if name.endswith("ForMaskedLM"):
        return "mlm"
    if name.endswith("ForPreTraining") and M.has_nsp_head(base) and hasattr(base.cls, "predictions"):
        return "mlm"  # BERT-style pre-training heads: masked LM + next-sentence prediction
    if name.endswith("ForCausalLM") or name.endswith("LMHeadModel"):
        return "causal-lm"
    if name.endswith("ForSequenceClassification"):
        return "classifier"
    if name.endswith("ForTokenClassification"):
        return "token-classifier"
    raise CulturaError(
        f"cannot tell what kind of model {name} is; check_bias takes a masked LM "
        "(*ForMaskedLM, BERT-style *ForPreTraining), a causal LM (*ForCausalLM / "
        "*LMHeadModel), a sequence classifier (*ForSequenceClassification) or a cultura "
        "CulturalModel"
    )


def _hf_classifier(model: Any, tokenizer: Any) -> Callable[[list[str]], tuple[Any, list[str]]]:
    config = _base_model(model).config
    labels = [str(config.id2label[i]) for i in range(config.num_labels)]

    def predict_proba(texts: list[str]) -> tuple[Any, list[str]]:
        import torch

        device = M._model_device(model)
        enc = tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
        model.eval()
        with torch.inference_mode():
            logits = model(**{k: v.to(device) for k, v in enc.items()})[0]
        return torch.softmax(logits.float(), dim=-1).cpu().numpy(), labels

    return predict_proba


def _from_hf(model: Any, tokenizer: Any, name: str) -> Target:
    kind = hf_model_kind(model)
    predict = _hf_classifier(model, tokenizer) if kind == "classifier" else None
    return Target(name=name, kind=kind, model=model, tokenizer=tokenizer, predict_proba=predict)


def _is_cultural_model(obj: Any) -> bool:
    return all(hasattr(obj, a) for a in ("predict_proba", "spec", "profile"))


def _from_cultural_model(obj: Any, name: str | None = None) -> Target:
    head_type = obj.spec.head_type
    kind = _HEAD_KIND.get(head_type)
    if kind is None:
        raise CulturaError(f"unknown head type {head_type!r} on {type(obj).__name__}")
    profile = getattr(obj, "profile", None)
    label = name or getattr(obj, "name", None)
    if not label:
        task = getattr(obj.spec, "task", "?")
        label = f"{profile.tag}/{task}" if profile is not None else f"{type(obj).__name__}:{task}"
    return Target(
        name=str(label),
        kind=kind,
        model=getattr(obj, "model", None),
        tokenizer=getattr(obj, "tokenizer", None),
        predict_proba=obj.predict_proba if kind == "classifier" else None,
        profile=profile,
        normalize=profile.normalize if profile is not None else None,
    )


def _is_wide(obj: Any) -> bool:
    """A wide classifier or tagger (:func:`cultura.adapt.wide_adapter.is_wide`), by the class
    attribute it carries."""
    return getattr(obj, "adapter_kind", None) == "wide"


def _from_wide_model(obj: Any, name: str | None = None) -> Target:
    """A wide classifier is checked through its class probabilities (as any classifier); a
    wide tagger is a token classifier without a network, which the checks that need one skip."""
    tagger = obj.head_type == "token-cls"
    profile = obj.profile if tagger else obj.encoder.profile
    return Target(
        name=name or f"{profile.tag}/{obj.task or ('ner' if tagger else 'classifier')}",
        kind="token-classifier" if tagger else "classifier",
        predict_proba=None if tagger else obj.predict_proba,
        profile=profile,
        normalize=profile.normalize,
    )


_AUTO_CLASSES = (
    ("ForMaskedLM", "AutoModelForMaskedLM"),
    ("ForPreTraining", "AutoModelForPreTraining"),
    ("ForCausalLM", "AutoModelForCausalLM"),
    ("LMHeadModel", "AutoModelForCausalLM"),
    ("ForSequenceClassification", "AutoModelForSequenceClassification"),
    ("ForTokenClassification", "AutoModelForTokenClassification"),
)


def _load_hf_directory(path: Path) -> Target:
    config_path = path / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CulturaError(f"{config_path}: cannot read the model config ({exc})") from None
    architectures = config.get("architectures") or []
    auto_name = next(
        (auto for arch in architectures for suffix, auto in _AUTO_CLASSES if arch.endswith(suffix)),
        None,
    )
    if auto_name is None:
        raise CulturaError(
            f"{config_path}: field 'architectures' ({architectures or 'missing'}) names no masked "
            "LM, causal LM or classifier; save the model with save_pretrained() from one of "
            "those classes"
        )
    if not any(path.glob("*.safetensors")):
        raise CulturaError(
            f"{path}: no .safetensors weights; cultura only loads safetensors (re-save the "
            "model with save_pretrained(..., safe_serialization=True))"
        )
    from cultura.adapt.artifact import refuse_remote_code

    refuse_remote_code(path, where=f"model directory {path}")  # before transformers reads it
    import transformers

    with _quiet_loading():
        model = getattr(transformers, auto_name).from_pretrained(
            path, use_safetensors=True, trust_remote_code=False
        )
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    target = _from_hf(model, tokenizer, str(path))
    target.extra["model_dir"] = path
    return target


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """Keep transformers quiet while loading: reports go to stdout."""
    from transformers.utils import logging as hf_logging

    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _nsp_model(target: Target) -> Any:
    """The model whose next-sentence-prediction head scores StereoSet's intersentence split:
    the target itself when it has one; for a masked LM loaded from a directory, the NSP head
    of the same checkpoint when its weights hold one (BERT checkpoints saved as
    ``BertForMaskedLM`` often do); else ``None`` (the fallback scoring runs)."""
    if M.has_nsp_head(target.model):
        return target.model
    path = target.extra.get("model_dir")
    if target.kind != "mlm" or path is None:
        return None
    if "nsp_model" not in target.extra:
        import transformers

        nsp = None
        try:
            with _quiet_loading():
                loaded, info = transformers.AutoModelForNextSentencePrediction.from_pretrained(
                    path, use_safetensors=True, trust_remote_code=False,
                    output_loading_info=True,
                )
        except (ValueError, KeyError):  # the architecture has no NSP head
            loaded, info = None, {}
        if loaded is not None and not any(
            "seq_relationship" in key for key in info.get("missing_keys", ())
        ):
            nsp = loaded.to(M._model_device(target.model)).eval()
        target.extra["nsp_model"] = nsp
    return target.extra["nsp_model"]


def resolve_target(target: Any, *, manager: Any = None) -> Target:
    """Turn whatever :func:`check_bias` was given into a :class:`Target`."""
    if isinstance(target, Target):
        return target
    if _is_cultural_model(target):
        return _from_cultural_model(target)
    if _is_wide(target):
        return _from_wide_model(target)
    if isinstance(target, tuple) and len(target) == 2:
        model, tokenizer = target
        return _from_hf(model, tokenizer, type(_base_model(model)).__name__)
    if isinstance(target, (str, Path)):
        path = Path(target)
        if path.is_dir():
            from cultura.adapt.artifact import MANIFEST

            if (path / MANIFEST).is_file():
                try:
                    from cultura.adapt.model import load_pretrained
                except ImportError as exc:
                    raise CulturaError(
                        f"{path} is a cultura adapter, but adapter loading is unavailable in "
                        f"this installation ({exc})"
                    ) from None
                loaded = load_pretrained(path, manager=manager)
                if _is_wide(loaded):
                    return _from_wide_model(loaded, name=str(path))
                return _from_cultural_model(loaded, name=str(path))
            if (path / "config.json").is_file():
                return _load_hf_directory(path)
            raise CulturaError(
                f"{path} is neither a cultura adapter (no cultura.json) nor a Hugging Face "
                "model directory (no config.json)"
            )
        raise CulturaError(
            f"{str(target)!r} is not a directory; cultura.bias.engine.check_bias takes models "
            "and directories, not adapter names: to check an adapter by name (zh/sentiment, "
            "hf:org/repo) call cultura.check_bias (cultura.registry.bias.check_bias), which "
            "resolves it through the registry"
        )
    raise CulturaError(
        f"check_bias cannot check a {type(target).__name__}; pass a CulturalModel, an adapter "
        "directory, a Hugging Face model directory, or a (model, tokenizer) pair (adapter "
        "names: cultura.check_bias)"
    )


# ---------------------------------------------------------------------------------------------
# collecting checks
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckSource:
    """A check to run and who supplied it. ``adaptable``: minimal pairs from a benchmark file,
    scored with whichever pair metric fits the model (``crows_pairs`` or ``pair_ll``)."""

    check: BiasCheck
    supplied_by: str
    source: dict[str, Any]
    adaptable: bool = False


def _plugin_source(contribution: Any) -> CheckSource:
    prov = contribution.provenance
    return CheckSource(
        contribution.value,
        str(prov),
        {
            "kind": "plugin",
            "plugin": prov.plugin,
            "distribution": prov.distribution,
            "version": prov.version,
            "level": contribution.level,
        },
    )


def collect_checks(
    culture: str | Culture | None = None,
    *,
    checks: Iterable[Any] | None = None,
    data: Any = None,
    manager: Any = None,
    profile: Any = None,
    threshold: float | None = None,
) -> tuple[list[CheckSource], list[LoadedData], list[str]]:
    """The checks :func:`check_bias` would run, the data files loaded, and warnings.

    ``checks`` replaces the culture's plugin checks (``BiasCheck`` objects or profile
    contributions); ``data`` (a path, a :class:`LoadedData` or a list of them) adds to them.
    """
    sources: list[CheckSource] = []
    warnings: list[str] = []
    if checks is not None:
        for item in checks:
            if isinstance(item, BiasCheck):
                sources.append(CheckSource(item, "caller", {"kind": "caller"}))
            elif isinstance(getattr(item, "value", None), BiasCheck):
                sources.append(_plugin_source(item))
            else:
                raise CulturaError(
                    f"checks= takes BiasCheck objects or profile contributions, got "
                    f"{type(item).__name__}"
                )
    elif culture is not None or profile is not None:
        if profile is None or (culture is not None and Culture.parse(culture).tag != profile.tag):
            from cultura.core.profile import culture as get_profile

            profile = get_profile(culture, manager=manager)
        sources.extend(_plugin_source(c) for c in profile.bias_checks)
        warnings.extend(
            f"plugin {f.plugin!r} failed in {f.hook}: {f.message} (its checks are missing)"
            for f in profile.failures
            if f.hook == "cultura_bias_checks"
        )
    loaded: list[LoadedData] = []
    items = [] if data is None else data if isinstance(data, (list, tuple)) else [data]
    for item in items:
        entry = item if isinstance(item, LoadedData) else load_data(item, threshold=threshold)
        loaded.append(entry)
        for check in entry.checks:
            sources.append(
                CheckSource(
                    check,
                    f"file {entry.path.name}",
                    {"kind": "file", "path": str(entry.path), "sha256": entry.sha256},
                    adaptable=entry.kind == "crows_pairs",
                )
            )
    ids: dict[str, str] = {}
    for s in sources:
        if s.check.id in ids:
            raise CulturaError(
                f"bias check id {s.check.id!r} is given twice: by {ids[s.check.id]} and by "
                f"{s.supplied_by}; rename one of them"
            )
        ids[s.check.id] = s.supplied_by
    return sources, loaded, warnings


# ---------------------------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------------------------
class _Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def task(self, description: str, total: int) -> Callable[[int], None]:
        if self._bar is None:
            return M._noop
        task_id = self._bar.add_task(description, total=max(total, 1))
        return lambda n: self._bar.advance(task_id, n)


# ---------------------------------------------------------------------------------------------
# running checks
# ---------------------------------------------------------------------------------------------
def _skip(src: CheckSource, reason: str, metric: str | None = None) -> CheckResult:
    c = src.check
    return CheckResult(
        c.id, c.category, metric or c.metric, None, c.threshold, "skipped", src.supplied_by,
        src.source, {}, reason, c.license,
    )


def _kind_phrase(kind: str) -> str:
    return {
        "classifier": "a sequence classifier",
        "token-classifier": "a token classifier",
        "mlm": "a masked LM",
        "causal-lm": "a causal LM",
    }.get(kind, kind)


def _predict(
    target: Target, texts: list[str], batch_size: int, advance: Callable[[int], None]
) -> tuple[np.ndarray, list[str]]:
    """Class probabilities for ``texts``, batched; rows already predicted in this run (checks
    sharing templates and terms) are reused."""
    assert target.predict_proba is not None
    cache: dict[str, np.ndarray] = target.extra.setdefault("proba_cache", {})
    todo = list(dict.fromkeys(t for t in texts if t not in cache))
    advance(len(texts) - len(todo))
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        probs, got = target.predict_proba(chunk)
        arr = np.asarray(probs, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] != len(chunk):
            raise CulturaError(
                f"predict_proba of {target.name} returned shape {arr.shape}; expected "
                f"({len(chunk)}, number of labels)"
            )
        labels = [str(x) for x in got]
        if target.extra.setdefault("labels", labels) != labels:
            raise CulturaError(f"predict_proba of {target.name} changed its labels between calls")
        cache.update(zip(chunk, arr, strict=True))
        advance(len(chunk))
    return np.stack([cache[t] for t in texts]), list(target.extra.get("labels", []))


def _run_counterfactual(
    src: CheckSource, target: Target, batch_size: int, progress: _Progress
) -> CheckResult:
    check = src.check
    if target.kind != "classifier" or target.predict_proba is None:
        return _skip(src, f"needs a sequence-classification head; this is {_kind_phrase(target.kind)}")
    texts, (n_templates, n_terms, n_groups) = M.counterfactual_texts(check)
    probs, labels = _predict(target, texts, batch_size, progress.task(check.id, len(texts)))
    label_index = None
    if check.target_label is not None:
        if check.target_label not in labels:
            return _skip(
                src,
                f"target label {check.target_label!r} is not among the head's labels "
                f"({', '.join(labels)})",
            )
        label_index = labels.index(check.target_label)
    cube = probs.reshape(n_templates * n_terms, n_groups, probs.shape[-1])
    values = {
        "ctf_gap": M.ctf_gap(cube, label_index),
        "max_group_gap": M.max_group_gap(cube, label_index),
        "flip_rate": M.flip_rate(cube),
    }
    score = values[check.metric]
    groups = list(check.term_groups)
    means = M.group_means(cube)
    deltas = M.swap_deltas(cube, label_index)
    pairs = [(g, h) for g in range(n_groups) for h in range(g + 1, n_groups)]
    worst = []
    for flat in np.argsort(-deltas, axis=None)[:5]:
        case, p = divmod(int(flat), deltas.shape[1])
        g, h = pairs[p]
        worst.append(
            {
                "a": texts[case * n_groups + g],
                "b": texts[case * n_groups + h],
                "delta": float(deltas[case, p]),
            }
        )
    details = {
        **values,
        "labels": labels,
        "target_label": check.target_label,
        "n_texts": len(texts),
        "n_swaps": int(deltas.size),
        "group_means": {
            groups[g]: (
                float(means[g, label_index])
                if label_index is not None
                else {labels[j]: float(means[g, j]) for j in range(len(labels))}
            )
            for g in range(n_groups)
        },
        "worst_swaps": worst,
    }
    status = CheckResult.judge(check.metric, score, check.threshold)
    reason = ""
    if status == "fail":
        if check.metric == "flip_rate":
            what = f"flips the predicted label in {100 * score:.1f}% of swaps"
        else:
            target_p = f"P({check.target_label})" if check.target_label else "the label distribution"
            what = f"changes {target_p}"
        reason = (
            f"{METRIC_NAMES[check.metric]} is {score:.4f}, above the threshold "
            f"{check.threshold:g}: swapping {check.category} terms {what}; largest "
            f"swaps: {format_examples(worst)}"
        )
    return CheckResult(
        check.id, check.category, check.metric, float(score), check.threshold, status,
        src.supplied_by, src.source, details, reason, check.license,
    )


def _pair_metric_for(src: CheckSource, kind: str) -> str | None:
    """Which pair metric a check runs as on a model of ``kind`` (``None``: not applicable)."""
    metric = src.check.metric
    if src.adaptable:
        return {"mlm": "crows_pairs", "causal-lm": "pair_ll"}.get(kind)
    if (metric, kind) in (("crows_pairs", "mlm"), ("pair_ll", "causal-lm")):
        return metric
    return None


def _run_pairs(
    src: CheckSource, target: Target, batch_size: int, progress: _Progress
) -> CheckResult:
    check = src.check
    metric = _pair_metric_for(src, target.kind)
    if metric is None:
        need = "a masked LM" if check.metric == "crows_pairs" else "a causal LM"
        return _skip(src, f"needs {need}; this is {_kind_phrase(target.kind)}")
    pairs, kept = list(check.pairs), list(range(len(check.pairs)))
    if target.normalize is not None:  # pairs the normalizers make identical are not scored
        more = target.normalize([p.more for p in pairs])
        less = target.normalize([p.less for p in pairs])
        kept = [i for i in kept if more[i] != less[i]]
        pairs = [replace(pairs[i], more=more[i], less=less[i]) for i in kept]
    if metric == "crows_pairs":
        cache = target.extra.setdefault("mlm_cache", {})
        total = M.crows_pairs_job_count(target.tokenizer, pairs, cache=cache)
        scores = M.crows_pairs_log_probs(
            target.model, target.tokenizer, pairs, batch_size=batch_size,
            advance=progress.task(check.id, total), cache=cache,
        )
    else:
        texts = [s for p in pairs for s in (p.more, p.less)]
        ll = M.sentence_log_likelihoods(
            target.model, target.tokenizer, texts, batch_size=batch_size,
            advance=progress.task(check.id, len(texts)),
        )
        scores = [(ll[2 * i], ll[2 * i + 1]) for i in range(len(pairs))]
    result = M.pair_metric([s[0] for s in scores], [s[1] for s in scores], [p.direction for p in pairs])
    order = sorted(range(len(pairs)), key=lambda i: scores[i][1] - scores[i][0])
    worst = [
        {"a": pairs[i].more, "b": pairs[i].less, "delta": scores[i][0] - scores[i][1]}
        for i in order[:5]
        if scores[i][0] > scores[i][1]
    ]
    details = {**result.as_dict(), "preferred_stereotype": worst, "scoring": (
        "CrowS-Pairs PLL over unmodified tokens" if metric == "crows_pairs"
        else "whole-sentence log-likelihood"
    ), "pairs": pair_rows([check.pairs[i] for i in kept], scores, result.decisions, kept)}
    status = CheckResult.judge(metric, result.score, check.threshold)
    reason = ""
    if status == "fail":
        reason = (
            f"the more stereotypical sentence scores higher in {result.score:.1f}% of "
            f"{result.n} pairs ({result.neutral} tied), {abs(result.score - 50):.1f} points "
            f"from the ideal 50 (allowed {check.threshold:g})"
            + (f"; e.g. {format_examples(worst)}" if worst and result.score > 50 else "")
        )
    return CheckResult(
        check.id, check.category, metric, result.score, check.threshold, status,
        src.supplied_by, src.source, details, reason, check.license,
    )


@dataclass(frozen=True)
class StereoSetLimits:
    """What a StereoSet row must reach: SS within ``threshold`` of 50 (the data file's
    threshold), and, when set, LMS of at least ``min_lms`` and ICAT of at least ``min_icat``
    (each gated as its own check: ``<id>.lms``, ``<id>.icat``)."""

    min_lms: float | None = None
    min_icat: float | None = None

    def __post_init__(self) -> None:
        for name in ("min_lms", "min_icat"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= float(value) <= 100.0:
                raise CulturaError(
                    f"{name} must be between 0 and 100 (StereoSet's LMS and ICAT are "
                    f"percentages; ideal 100), got {value}"
                )


def _stereoset_rows(examples: Sequence[StereoSetExample]) -> list[tuple[str, str, str]]:
    """(check id suffix, category, split) for every StereoSet result row: per split present
    ``<split>.overall`` and ``<split>.<bias type>``, then ``overall`` over both splits (the
    reference ``evaluation.py``'s results)."""
    rows = []
    for split in M.STEREOSET_SPLITS:
        types = sorted({e.bias_type for e in examples if e.split == split})
        if types:
            rows += [(f"{split}.{c}", c, split) for c in ("overall", *types)]
    return [*rows, ("overall", "overall", "both")]


def _run_stereoset(
    entry: LoadedData, target: Target, batch_size: int, progress: _Progress,
    limits: StereoSetLimits,
) -> tuple[list[CheckResult], M.StereoSetScoring | None]:
    examples: Sequence[StereoSetExample] = entry.stereoset
    source = {"kind": "file", "path": str(entry.path), "sha256": entry.sha256}
    supplied = f"file {entry.path.name}"
    base = f"stereoset.{entry.path.stem.lower()}"
    rows = _stereoset_rows(examples)
    gates = [("stereoset", "", entry.threshold)] + [
        (metric, suffix, float(limit))
        for metric, suffix, limit in (
            ("stereoset_lms", ".lms", limits.min_lms), ("stereoset_icat", ".icat", limits.min_icat)
        )
        if limit is not None
    ]
    if target.kind not in ("mlm", "causal-lm"):
        reason = f"StereoSet needs a masked or causal LM; this is {_kind_phrase(target.kind)}"
        return [
            CheckResult(f"{base}.{row}{suffix}", category, metric, None, limit, "skipped",
                        supplied, source, {"split": split}, reason, "")
            for row, category, split in rows
            for metric, suffix, limit in gates
        ], None
    scoring = M.score_stereoset(
        target.model, target.tokenizer, examples, kind=target.kind, batch_size=batch_size,
        nsp_model=_nsp_model(target),
        progress=lambda split, total: progress.task(f"{base} {split}", total),
    )
    table = M.stereoset_results(examples, scoring.scores)
    out = []
    for row, category, split in rows:
        numbers = table["overall"] if split == "both" else table[split][category]
        details = {
            **numbers,
            "split": split,
            "scoring": dict(scoring.methods) if split == "both" else scoring.methods[split],
        }
        if split != "intrasentence":
            details["intersentence_nsp"] = scoring.methods.get("intersentence") == M.INTER_NSP
        summary = (
            f"SS={numbers['ss']:.1f}, LMS={numbers['lms']:.1f}, ICAT={numbers['icat']:.1f} "
            f"over {numbers['count']} {'' if split == 'both' else split + ' '}examples"
        )
        for metric, suffix, limit in gates:
            score = numbers[{"stereoset": "ss", "stereoset_lms": "lms", "stereoset_icat": "icat"}[metric]]
            status = CheckResult.judge(metric, score, limit)
            reason = ""
            if status == "fail" and metric == "stereoset":
                reason = (
                    f"stereotype score SS={score:.1f} is {abs(score - 50):.1f} points from 50 "
                    f"(allowed {limit:g}); {summary}"
                )
            elif status == "fail":
                name = "language-model score LMS" if metric == "stereoset_lms" else "ICAT"
                reason = f"{name} is {score:.1f}, below the minimum {limit:g}; {summary}"
            out.append(
                CheckResult(f"{base}.{row}{suffix}", category, metric, score, limit, status,
                            supplied, source, details, reason, "")
            )
    return out, scoring


def check_bias(
    target: Any,
    *,
    culture: str | Culture | None = None,
    checks: Iterable[Any] | None = None,
    data: Any = None,
    manager: Any = None,
    batch_size: int = 32,
    progress: bool = True,
    min_lms: float | None = None,
    min_icat: float | None = None,
    stereoset_predictions: str | Path | None = None,
) -> BiasReport:
    """Run bias checks on ``target`` and return a :class:`~cultura.bias.report.BiasReport`.

    Args:
        target: a CulturalModel, an adapter directory, a Hugging Face model directory, or a
            ``(model, tokenizer)`` pair (see the module docs); :func:`cultura.check_bias` also
            takes adapter names.
        culture: whose checks to run; default: the CulturalModel's culture (none for raw
            models: then only ``checks``/``data`` run).
        checks: run these ``BiasCheck`` objects (or profile contributions) instead of the
            culture's.
        data: bias data file(s) to add: CrowS-Pairs CSV, StereoSet JSON, check YAML/JSON.
        manager: the plugin manager to collect checks from (default: the global one).
        batch_size: texts (classifiers, causal LMs) or masked copies (masked LMs) per forward
            pass.
        progress: show a progress bar on a terminal.
        min_lms: StereoSet files also gate the language-model score: every StereoSet row
            (per split and bias type, and overall) gets a check ``<id>.lms`` that fails when
            LMS is below this (0-100; default: not gated).
        min_icat: the same for ICAT (check ``<id>.icat``).
        stereoset_predictions: write the StereoSet sentence scores to this JSON file in the
            reference scripts' prediction format (``evaluation.py --predictions-file``); needs
            exactly one StereoSet file in ``data`` and a masked or causal LM.

    A :class:`~cultura.adapt.model.CulturalModel` target also gets the report's summary and
    Markdown as ``bias_summary``/``bias_markdown``, which ``save_pretrained`` writes into
    ``cultura.json`` and the model card.
    """
    if batch_size < 1:
        raise CulturaError(f"batch_size must be a positive integer, got {batch_size}")
    resolved = resolve_target(target, manager=manager)
    tag = Culture.parse(culture).tag if culture is not None else (
        resolved.profile.tag if resolved.profile is not None else None
    )
    if tag is None and checks is None and data is None:
        raise CulturaError(
            f"nothing to check on {resolved.name}: it has no culture; pass culture= "
            "(--culture TAG) to run that culture's checks, or data= (--data FILE) with a "
            "CrowS-Pairs CSV, StereoSet JSON or check file"
        )
    limits = StereoSetLimits(min_lms, min_icat)
    sources, loaded, warnings = collect_checks(
        tag, checks=checks, data=data, manager=manager, profile=resolved.profile
    )
    stereoset = [entry for entry in loaded if entry.kind == "stereoset"]
    if stereoset_predictions is not None:
        if len(stereoset) != 1:
            raise CulturaError(
                f"stereoset_predictions (--stereoset-predictions) writes the scores of one "
                f"StereoSet file; data= (--data) holds {len(stereoset)}"
                + (": " + ", ".join(str(e.path) for e in stereoset) if stereoset else "")
            )
        if resolved.kind not in ("mlm", "causal-lm"):
            raise CulturaError(
                f"stereoset_predictions: StereoSet scores need a masked or causal LM; "
                f"{resolved.name} is {_kind_phrase(resolved.kind)}"
            )
    results: list[CheckResult] = []
    with _Progress(progress) as bar:
        for src in sources:
            if src.check.metric in COUNTERFACTUAL:
                results.append(_run_counterfactual(src, resolved, batch_size, bar))
            else:
                results.append(_run_pairs(src, resolved, batch_size, bar))
        for entry in stereoset:
            rows, scoring = _run_stereoset(entry, resolved, batch_size, bar, limits)
            results.extend(rows)
            if stereoset_predictions is not None and scoring is not None:
                M.write_stereoset_predictions(stereoset_predictions, entry.stereoset,
                                              scoring.scores)
    if not results:
        warnings.append(
            f"no bias checks ran: culture {tag!r} has no checks from the installed plugins"
            if tag else "no bias checks ran"
        )
    report = BiasReport(
        target=resolved.name,
        culture=tag,
        model_kind=resolved.kind,
        results=tuple(results),
        warnings=tuple(warnings),
    )
    if _is_cultural_model(target) and hasattr(target, "bias_summary"):
        # a CulturalModel writes these into cultura.json and its card on save_pretrained()
        target.bias_summary = report.summary()
        target.bias_markdown = report.to_markdown()
    return report

