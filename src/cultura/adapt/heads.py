"""Adapter heads: load a base model with a ``seq-cls``, ``token-cls``, ``causal-lm`` or
``masked-lm`` head and build the PEFT configuration (LoRA by default; prefix tuning and IA3 as
options).

Weights the base checkpoint lacks (the new classifier, and e.g. a pooler when the checkpoint
was saved without one) are found from the loading report and saved through PEFT's
``modules_to_save``, so a reload never re-initializes anything at random.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cultura.core.errors import CulturaError
from cultura.core.types import LM_HEAD_TYPES, AdapterHeadSpec, PeftSpec

__all__ = [
    "AUTO_CLASSES",
    "build_peft_config",
    "check_head_supported",
    "load_base_model",
    "quiet_transformers",
    "refuse_remote_base",
]

#: head type -> (transformers auto class, name of its model-type mapping)
AUTO_CLASSES: dict[str, tuple[str, str]] = {
    "seq-cls": ("AutoModelForSequenceClassification", "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES"),
    "token-cls": ("AutoModelForTokenClassification", "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES"),
    "causal-lm": ("AutoModelForCausalLM", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"),
    "masked-lm": ("AutoModelForMaskedLM", "MODEL_FOR_MASKED_LM_MAPPING_NAMES"),
}
#: PEFT's task type per head type; PEFT has none for masked LMs (``None``: a plain PeftModel)
PEFT_TASK_TYPES: dict[str, str | None] = {
    "seq-cls": "SEQ_CLS", "token-cls": "TOKEN_CLS", "causal-lm": "CAUSAL_LM", "masked-lm": None,
}


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and weight-loading bars (cultura reports itself)."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def refuse_remote_base(model: str, *, revision: str | None = None) -> None:
    """Refuse a base model whose configuration asks for remote code, before transformers reads it.

    cultura passes ``trust_remote_code=False`` to every transformers loader, so remote code
    never runs and transformers never prompts; this check turns a base that would need it into
    a clear error up front. A local directory has every JSON config checked
    (:func:`~cultura.adapt.artifact.refuse_remote_code`); a Hub id has its ``config.json`` and
    ``tokenizer_config.json`` fetched into the Hugging Face cache (as ``from_pretrained`` would)
    and checked before any class is picked or instantiated.
    """
    from cultura.adapt.artifact import refuse_remote_code, refuse_remote_code_file

    where = f"base model {model}"
    if Path(model).is_dir():
        refuse_remote_code(model, where)
        return
    from transformers.utils.hub import cached_file

    for name, required in (("config.json", True), ("tokenizer_config.json", False)):
        try:
            found = cached_file(
                model, name, revision=revision, _raise_exceptions_for_missing_entries=required
            )
        except (OSError, ValueError) as exc:
            raise CulturaError(
                f"{where}: cannot read its {name} ({exc}); check the id or path, or pass a "
                "local model directory"
            ) from None
        if found is not None:
            refuse_remote_code_file(found, where)


def check_head_supported(config: Any, head_type: str, *, base: str = "the base model") -> None:
    """Raise :class:`CulturaError` when ``config``'s architecture cannot take ``head_type``."""
    from transformers.models.auto import modeling_auto

    if head_type not in AUTO_CLASSES:
        raise CulturaError(f"unknown head type {head_type!r}; use one of {tuple(AUTO_CLASSES)}")
    auto_name, mapping_name = AUTO_CLASSES[head_type]
    mapping = getattr(modeling_auto, mapping_name)
    model_type = getattr(config, "model_type", "")
    if model_type not in mapping:
        raise CulturaError(
            f"{base} (model type {model_type!r}) cannot take a {head_type} head: transformers "
            f"has no {auto_name} for it. Pick a base model that has one, or another task"
        )
    if (
        head_type == "causal-lm"
        and model_type in modeling_auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES
        and not getattr(config, "is_decoder", False)
    ):
        raise CulturaError(
            f"{base} (model type {model_type!r}) is an encoder (masked LM) and cannot take a "
            "causal-lm head; use a decoder base model such as GPT-2 or LLaMA, or a seq-cls / "
            "token-cls task"
        )


def _head_kwargs(spec: AdapterHeadSpec) -> dict[str, Any]:
    if spec.head_type in LM_HEAD_TYPES:
        return {}
    return {
        "num_labels": len(spec.labels),
        "id2label": spec.id2label,
        "label2id": spec.label2id,
    }


def _module_names(keys: Sequence[str]) -> list[str]:
    names: dict[str, None] = {}
    for key in sorted(keys):
        names.setdefault(key.rsplit(".", 1)[0] if "." in key else key, None)
    return list(names)


def embedding_digest(model: Any, *, sample_rows: int = 4096) -> str:
    """sha256 (first 16 hex chars) of the model's input-embedding matrix, as float32.

    Computed on the base checkpoint before any resize; large matrices are hashed on an evenly
    strided sample of ``sample_rows`` rows plus the shape, which still tells two trainings
    apart and keeps the cost to a few milliseconds.
    """
    import hashlib

    import torch

    weight = model.get_input_embeddings().weight.detach()
    stride = max(1, weight.shape[0] // sample_rows)
    sample = weight[::stride].to(dtype=torch.float32, device="cpu").contiguous()
    digest = hashlib.sha256(str(tuple(weight.shape)).encode())
    digest.update(sample.numpy().tobytes())
    return digest.hexdigest()[:16]


def load_base_model(
    model_or_path: Any,
    spec: AdapterHeadSpec,
    *,
    seed: int = 0,
    revision: str | None = None,
    vocab_size: int | None = None,
) -> tuple[Any, list[str]]:
    """Load the base with ``spec``'s head; returns ``(model, modules_missing_from_checkpoint)``.

    ``model_or_path`` may be a path, a Hub id or an already loaded ``PreTrainedModel`` with the
    right head. Missing weights are initialized under ``torch.manual_seed(seed)``. A base that
    asks for remote code is refused (:func:`refuse_remote_base`).
    """
    import torch
    import transformers

    auto_name = AUTO_CLASSES[spec.head_type][0]
    if not isinstance(model_or_path, (str, bytes)) and hasattr(model_or_path, "config"):
        model = model_or_path
        check_head_supported(model.config, spec.head_type, base=type(model).__name__)
        from transformers.models.auto import modeling_auto

        mapping = getattr(modeling_auto, AUTO_CLASSES[spec.head_type][1])
        expected = mapping.get(model.config.model_type)
        names = expected if isinstance(expected, (list, tuple)) else (expected,)
        if type(model).__name__ not in names:
            raise CulturaError(
                f"the model passed is a {type(model).__name__}, but a {spec.head_type} head "
                f"needs {' or '.join(map(str, names))}; pass the model's path instead and "
                "cultura loads it with the right head"
            )
        if spec.head_type not in LM_HEAD_TYPES and model.config.num_labels != len(spec.labels):
            raise CulturaError(
                f"the model passed has {model.config.num_labels} labels, the task "
                f"{spec.task!r} has {len(spec.labels)} ({', '.join(spec.labels)})"
            )
        return model, []
    path = str(model_or_path)
    refuse_remote_base(path, revision=revision)
    config = transformers.AutoConfig.from_pretrained(
        path, revision=revision, trust_remote_code=False
    )
    check_head_supported(config, spec.head_type, base=path)
    auto = getattr(transformers, auto_name)
    torch.manual_seed(seed)
    with quiet_transformers():
        model, info = auto.from_pretrained(
            path,
            revision=revision,
            output_loading_info=True,
            dtype=torch.float32,
            use_safetensors=True,  # never unpickle a base checkpoint
            trust_remote_code=False,  # never run code shipped with a model
            **_head_kwargs(spec),
        )
    missing = _module_names(list(info.get("missing_keys", ())))
    if spec.head_type in LM_HEAD_TYPES and model.get_output_embeddings() is not None:
        # a tied LM head is "missing" from checkpoints that store only the embedding matrix
        out = model.get_output_embeddings()
        names = {n for n, m in model.named_modules() if m is out}
        emb = model.get_input_embeddings().weight
        if out.weight.data_ptr() == emb.data_ptr():
            missing = [m for m in missing if m not in names]
        # never save a module holding the output layer (a vocabulary-sized copy): its own
        # missing parameters (a masked LM's output bias) keep their deterministic init (zeros)
        missing = [m for m in missing if not any(n.startswith(f"{m}.") for n in names)]
    return model, missing


def module_name(model: Any, module: Any) -> str:
    """The qualified name of ``module`` inside ``model``."""
    for name, m in model.named_modules():
        if m is module:
            return name
    raise CulturaError(f"module {type(module).__name__} is not part of {type(model).__name__}")


def build_peft_config(
    peft: PeftSpec,
    head_type: str,
    *,
    modules_to_save: Sequence[str] = (),
    trainable_token_indices: dict[str, list[int]] | list[int] | None = None,
) -> Any:
    """The PEFT config for ``peft`` on a ``head_type`` model.

    ``trainable_token_indices`` (LoRA only) makes added vocabulary rows train with the adapter.
    """
    import peft as peft_lib

    task_type = PEFT_TASK_TYPES[head_type]
    options = dict(peft.options)
    extra = sorted(set(modules_to_save))
    common: dict[str, Any] = {"task_type": task_type}
    if extra:
        common["modules_to_save"] = extra
    try:
        if peft.method == "lora":
            kwargs: dict[str, Any] = {
                "r": peft.r,
                "lora_alpha": peft.alpha,
                "lora_dropout": peft.dropout,
                "target_modules": list(peft.target_modules) if peft.target_modules else None,
            }
            if trainable_token_indices:
                kwargs["trainable_token_indices"] = trainable_token_indices
            return peft_lib.LoraConfig(**common, **kwargs, **options)
        if peft.method == "ia3":
            kwargs = {"target_modules": list(peft.target_modules) if peft.target_modules else None}
            if peft.target_modules and "feedforward_modules" not in options:
                kwargs["feedforward_modules"] = []
            return peft_lib.IA3Config(**common, **kwargs, **options)
        return peft_lib.PrefixTuningConfig(
            **common, num_virtual_tokens=peft.num_virtual_tokens, **options
        )
    except (TypeError, ValueError) as exc:
        raise CulturaError(f"invalid PEFT options for {peft.method}: {exc}") from None
