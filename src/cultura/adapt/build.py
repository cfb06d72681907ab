"""Building a :class:`~cultura.adapt.model.CulturalModel` (the body of ``cultura.adapt``).

Loads the base with the task's head, applies the culture's tokenizer tweaks (vocabulary
extension with FVT rows, split patterns, normalizers), wraps the model in the PEFT adapter
(making added rows trainable) and builds the knowledge injector.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt import artifact, lm
from cultura.adapt.artifact import ROW_TRAINING_MASK, ROW_TRAINING_PEFT, BaseModelRef
from cultura.adapt.cultural_model import CulturalModel
from cultura.adapt.knowledge import DEFAULT_MIN_SCORE, KnowledgeInjector, default_enabled
from cultura.adapt.tokenizer import AddedVocabulary
from cultura.core.errors import CulturaError
from cultura.core.types import LM_HEAD_TYPES, AdapterHeadSpec, PeftSpec

if TYPE_CHECKING:
    from cultura.core.plugins import PluginManager
    from cultura.core.profile import CultureProfile

__all__ = [
    "adapt",
    "check_fast_tokenizer",
    "culture_profile",
    "ensure_pad_token",
    "mask_row_gradients",
]


def mask_row_gradients(model: Any, token_ids: Sequence[int], untied: bool) -> None:
    """Make only the added rows of the embedding (and an untied LM head) trainable."""
    import torch

    def mask_for(weight: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros(weight.shape[0], 1, dtype=weight.dtype, device=weight.device)
        mask[list(token_ids)] = 1
        return mask

    weights = [model.get_input_embeddings().weight]
    if untied:
        weights.append(model.get_output_embeddings().weight)
    for weight in weights:
        mask = mask_for(weight)
        weight.requires_grad_(True)
        # the mask follows the gradient: the model may move to a GPU or change dtype later
        weight.register_hook(lambda grad, mask=mask: grad * mask.to(grad.device, grad.dtype))
        weight._cultura_row_mask = True  # type: ignore[attr-defined]


def check_fast_tokenizer(tokenizer: Any, base: str) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise CulturaError(
            f"the tokenizer of {base} is not a fast (Rust) tokenizer; cultura needs one for "
            "word alignment and vocabulary extension (convert it with transformers first)"
        )


def ensure_pad_token(tokenizer: Any, model: Any) -> None:
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise CulturaError(
                "the base tokenizer has neither a pad nor an eos token; add a pad token to it"
            )
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id


def _base_ref(config: Any, model_id: str, revision: str | None) -> BaseModelRef:
    archs = getattr(config, "architectures", None) or []
    return BaseModelRef(
        id=model_id,
        revision=revision or getattr(config, "_commit_hash", None),
        architecture=archs[0] if archs else str(getattr(config, "model_type", "")),
        fingerprint=artifact.config_fingerprint(config.to_dict()),
        vocab_size=int(getattr(config, "vocab_size", 0) or 0),
    )


def _wrap_peft(model: Any, spec: AdapterHeadSpec, missing: list[str], added: AddedVocabulary) -> tuple[Any, str]:
    import peft as peft_lib

    from cultura.adapt.heads import build_peft_config, module_name

    tti: dict[str, list[int]] | list[int] | None = None
    row_training = ""
    if added.tokens and spec.peft.method == "lora":
        ids = list(added.token_ids)
        if added.tied:
            tti = ids
        else:
            tti = {
                module_name(model, model.get_input_embeddings()): ids,
                module_name(model, model.get_output_embeddings()): ids,
            }
        row_training = ROW_TRAINING_PEFT
    if (
        spec.peft.method == "prefix"
        and spec.head_type != "causal-lm"
        and not _supports_past_key_values(model)
    ):
        raise CulturaError(
            f"prefix tuning of a {spec.head_type} head needs a base model whose forward takes "
            f"past_key_values (a PEFT requirement); {type(model).__name__} does not. Use "
            "PeftSpec(method='lora') or 'ia3', or prefix tuning with a causal-lm head"
        )
    config = build_peft_config(
        spec.peft, spec.head_type, modules_to_save=missing, trainable_token_indices=tti
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            peft_model = peft_lib.get_peft_model(model, config)
    except ValueError as exc:
        raise CulturaError(f"cannot build the {spec.peft.method} adapter: {exc}") from None
    if added.tokens and spec.peft.method != "lora":
        mask_row_gradients(peft_model.get_base_model(), added.token_ids, not added.tied)
        row_training = ROW_TRAINING_MASK
    return peft_model, row_training


def _supports_past_key_values(model: Any) -> bool:
    import inspect

    candidates = [model, getattr(model, getattr(model, "base_model_prefix", ""), None)]
    return any(
        m is not None and "past_key_values" in inspect.signature(m.forward).parameters
        for m in candidates
    )


def culture_profile(culture: str | None, manager: PluginManager | None) -> CultureProfile:
    from cultura.core.profile import culture as get_profile

    if not culture:
        raise CulturaError("pass culture=<BCP-47 tag>, e.g. culture='zh-Hans'")
    return get_profile(culture, manager=manager)


def _with_labels(
    spec: AdapterHeadSpec, labels: Sequence[str], profile: CultureProfile
) -> AdapterHeadSpec:
    from cultura.adapt.data import resolve_labels

    if spec.head_type in LM_HEAD_TYPES:
        raise CulturaError(
            f"labels= is for seq-cls and token-cls heads; task {spec.task!r} is a "
            f"{spec.head_type} head"
        )
    found = resolve_labels(labels, spec.labels, normalize=profile.normalize, what="labels=")
    prompt = spec.prompt.for_labels(found) if spec.prompt is not None else None
    return dataclasses.replace(spec, labels=found, prompt=prompt)


#: the licence an adapter gets when neither the user nor the head's plugin names one
DEFAULT_LICENSE = "apache-2.0"


def adapt(
    model_or_path: Any,
    culture: str | None = None,
    task: str | None = None,
    *,
    head: AdapterHeadSpec | None = None,
    knowledge: bool | None = None,
    extend_vocab: bool = True,
    peft: PeftSpec | None = None,
    manager: PluginManager | None = None,
    tokenizer: Any = None,
    base_id: str | None = None,
    revision: str | None = None,
    knowledge_top_k: int = 1,
    knowledge_max_chars: int = 128,
    knowledge_min_score: float = DEFAULT_MIN_SCORE,
    max_length: int = 128,
    seed: int = 0,
    license: str | None = None,
    labels: Sequence[str] | None = None,
    start_from: Any = None,
    dtype: Any = "auto",
) -> CulturalModel:
    """Adapt a base model to ``culture`` for ``task``; returns an untrained :class:`CulturalModel`.

    Args:
        model_or_path: a Hub id, a local path, an embedded base alias (``all-MiniLM-L6-v2``) or
            a loaded ``PreTrainedModel`` that already has the task's head.
        culture: BCP-47 tag; its plugins' tweaks, knowledge and heads are merged.
        task: the adapter-head spec to use from the culture's plugins (e.g. ``"sentiment"``),
            or ``"lm"``, the language adapter every culture has (a ``masked-lm`` head on
            encoders, ``causal-lm`` on decoders; :mod:`cultura.adapt.lm`).
        head: an explicit :class:`AdapterHeadSpec` (overrides ``task``).
        knowledge: inject the culture's knowledge (when it has any). Default: off for
            ``seq-cls`` and ``token-cls`` heads (measured to cost accuracy on real reviews),
            on for ``causal-lm`` (:data:`cultura.adapt.knowledge.DEFAULT_ENABLED`).
        extend_vocab: add the plugins' vocabulary the base tokenizer lacks.
        peft: override the spec's :class:`PeftSpec` (e.g. ``PeftSpec(method="ia3")``).
        manager: plugin manager (default: the process-wide one).
        tokenizer: the tokenizer, when ``model_or_path`` is a loaded model.
        base_id: the portable base id to record (default: derived from ``model_or_path``).
        knowledge_top_k / knowledge_max_chars: entries injected per input and the length cap
            of the knowledge segment.
        knowledge_min_score: the relevance threshold of retrieval (normalized BM25: distinctive
            n-grams matched, a tag counting 3; default 2.5, see
            :class:`~cultura.adapt.knowledge.BM25Retriever`).
        max_length / seed: truncation (tokens) and the seed of new weights.
        license: the adapter's licence (SPDX id) for its manifest and card; default: the
            licence the plugin offering ``task`` gives its data, else ``apache-2.0``.
        labels: build the head with exactly these labels, in this order (a subset of the
            spec's labels or any list; ``labels_from_data(path)`` of
            :mod:`cultura.adapt.data` gives a data file's). A label that matches one of the
            spec's after the culture's normalizers keeps the spec's spelling.
        start_from: a language adapter to stack on (MAD-X style): an adapter directory or a
            loaded ``CulturalModel`` trained with ``task="lm"`` on the same base; for a
            registry name, ``cultura.load("zh/lm")`` (its name and revision are recorded).
            Its LoRA is merged into the base and its rows become the added rows (same tokens
            required); see :mod:`cultura.adapt.lm`.
        dtype: the precision the model is stored in and trains in (:mod:`cultura.adapt.precision`):
            ``"auto"`` (bfloat16 on a GPU that supports it, float32 on CPU), ``"bfloat16"``,
            ``"float16"`` (GPU training only) or ``"float32"``. The base is read in float32
            (its fingerprint, added rows and a ``start_from`` merge are computed there), then
            the whole model is cast; :meth:`CulturalModel.train` trains in mixed precision
            with float32 master weights (docs/adapters.md, "Precision").
    """
    import transformers

    from cultura.adapt.base import resolve_base
    from cultura.adapt.heads import (
        check_head_supported,
        embedding_digest,
        load_base_model,
        quiet_transformers,
        refuse_remote_base,
    )
    from cultura.adapt.precision import resolve_dtype
    from cultura.adapt.tokenizer import (
        apply_split_patterns,
        extend_vocabulary,
        plan_vocabulary,
        wrap_tokenizer,
    )

    torch_dtype = resolve_dtype(dtype)  # a bad name fails before anything loads

    profile = culture_profile(culture, manager)
    if head is not None:
        spec = head
    elif lm.is_builtin(profile, task):  # every culture's language adapter
        spec = lm.builtin_spec(model_or_path, revision)
    elif task:
        spec = profile.head(task)
    else:
        offered = ", ".join(c.key for c in profile.heads) or "none"
        if not any(c.key == lm.LM_TASK for c in profile.heads):
            offered += f"; every culture has {lm.LM_TASK!r}"
        raise CulturaError(f"pass task=... (tasks on offer for {profile.tag}: {offered}) or head=")
    if peft is not None:
        spec = dataclasses.replace(spec, peft=peft)
    if labels is not None:
        spec = _with_labels(spec, labels, profile)
    if license is None:
        license = (profile.data_license(task) if task and head is None else None) or DEFAULT_LICENSE
    if isinstance(model_or_path, (str, Path)):
        path, model_id = resolve_base(str(model_or_path))
        refuse_remote_base(path, revision=revision)
        config = transformers.AutoConfig.from_pretrained(
            path, revision=revision, trust_remote_code=False
        )
        check_head_supported(config, spec.head_type, base=str(model_or_path))
        with quiet_transformers():
            tok = tokenizer or transformers.AutoTokenizer.from_pretrained(
                path, revision=revision, trust_remote_code=False
            )
        model, missing = load_base_model(path, spec, seed=seed, revision=revision)
    else:
        model, missing = load_base_model(model_or_path, spec, seed=seed)
        config = model.config
        model_id = base_id or getattr(model, "name_or_path", "") or type(model).__name__
        if tokenizer is None:
            raise CulturaError("pass tokenizer=... together with a loaded model")
        tok = tokenizer
    model_id = base_id or model_id
    weights = embedding_digest(model)  # before any resize (pad token, added vocabulary)
    check_fast_tokenizer(tok, model_id)
    if spec.head_type == "causal-lm" or tok.pad_token is None or model.config.pad_token_id is None:
        ensure_pad_token(tok, model)
    base = dataclasses.replace(_base_ref(config, model_id, revision), weights=weights)
    import torch

    torch.manual_seed(seed)
    plan = plan_vocabulary(tok, profile) if extend_vocab else None
    if plan is not None and plan.tokens:
        added = extend_vocabulary(model, tok, plan)
    else:
        from cultura.adapt.tokenizer import has_untied_output

        rows = int(model.get_input_embeddings().weight.shape[0])
        added = AddedVocabulary((), (), rows, rows, not has_untied_output(model), {})
    lm.prepare_lm_head(model, spec.head_type, added, missing, model_id)
    start = None
    if start_from is not None:
        start = lm.language_start(start_from, model=model, base=base, culture=profile.tag,
                                  task=spec.task)
        added = start.apply(model, added, spec.task)
    patterns = [c.value for c in profile.split_patterns]
    apply_split_patterns(tok, patterns)
    wrap_tokenizer(tok, profile)
    peft_model, row_training = _wrap_peft(model, spec, missing, added)
    injector = None
    if knowledge is None:
        knowledge = default_enabled(spec.head_type)
    if knowledge and profile.knowledge:
        injector = KnowledgeInjector.from_profile(
            profile,
            spec.head_type,
            top_k=knowledge_top_k,
            max_chars=knowledge_max_chars,
            min_score=knowledge_min_score,
        )
    cm = CulturalModel(
        peft_model,
        tok,
        profile,
        spec,
        base=base,
        added=added,
        knowledge=injector,
        max_length=max_length,
        row_training=row_training,
        split_patterns=patterns,
        license=license,
    )
    cm.start_from = start
    return cm.to_dtype(torch_dtype)


