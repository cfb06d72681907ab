"""Adding an adapter directory without loading a second base model.

``load_pretrained`` rebuilds a whole model: it loads the base checkpoint, restores the added
rows and injects the LoRA layers. A server already holds the base, so
:func:`read_adapter` reads only what is the adapter's: the manifest and every check
``load_pretrained`` makes of the files (sha256, file types, PEFT sizes, no remote code), the
tokenizer, normalizers and knowledge (the culture's encoder), the added-token rows, and the
LoRA factors and saved heads straight from ``adapter_model.safetensors``. The base it was
trained on is checked by the manifest's records (architecture fingerprint, vocabulary size and
weight digest) against the server's, computed once when the server loaded its base: adding
an adapter reads a few MB and copies no base weight.

The server's first adapter, when no base was given, is loaded with ``load_pretrained`` (its
base is the one the server loads).

Adapters this reader does not cover (another head type, not LoRA, DoRA, LoRA biases or
transposed layers, rank or alpha patterns, LoRA on embeddings, a stacked language adapter, an
untied LM head with added rows, a synthesized manifest without tokenizer files) return
``None``: the server then loads them with ``load_pretrained`` on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt import artifact
from cultura.adapt.artifact import ArtifactError
from cultura.serve.adapters import LoraFactors

if TYPE_CHECKING:
    from cultura.adapt.cultural_model import CulturalModel
    from cultura.core.plugins import PluginManager

__all__ = ["DirectoryAdapter", "read_adapter"]

#: head types whose artifacts hold LoRA factors plus whole saved modules (the heads)
READ_HEADS = ("seq-cls", "token-cls")
_PREFIX = "base_model.model."


@dataclass
class DirectoryAdapter:
    """An adapter read from its directory, without a model (see the module docstring).

    Attributes:
        encoder: a model-less :class:`~cultura.adapt.model.CulturalModel` (tokenizer,
            normalizers, knowledge): what ``encode`` needs.
        lora: module name -> factors (on the CPU, as saved).
        heads: module name -> ``{parameter path: tensor}`` of each saved whole module (the
            server replaces them by modules, :func:`~cultura.serve.adapters.build_head`).
        rows / token_ids: the added-token rows and their ids (``None`` / ``()``: none).
        peft_config / peft_state: for the PEFT engine and merging.
    """

    encoder: CulturalModel
    lora: dict[str, LoraFactors]
    heads: dict[str, dict[str, Any]]
    rows: Any
    token_ids: tuple[int, ...]
    peft_config: Any
    peft_state: dict[str, Any]
    model: None = None
    start_from: None = None

    # what MultiCultureServer.add reads of a CulturalModel
    @property
    def culture(self) -> str:
        return self.encoder.culture

    @property
    def head_type(self) -> str:
        return self.encoder.head_type

    @property
    def spec(self) -> Any:
        return self.encoder.spec

    @property
    def labels(self) -> tuple[str, ...]:
        return self.encoder.labels

    @property
    def base(self) -> Any:
        return self.encoder.base

    @property
    def added(self) -> Any:
        return self.encoder.added

    @property
    def tokenizer(self) -> Any:
        return self.encoder.tokenizer


def _plain_lora(config: Any) -> bool:
    """Whether ``config`` is a LoRA the reader computes the scaling of, on plain linears."""
    return bool(
        type(config).__name__ == "LoraConfig"
        and not config.use_dora
        and not config.fan_in_fan_out
        and not getattr(config, "lora_bias", False)
        and not config.rank_pattern
        and not config.alpha_pattern
        and not getattr(config, "layer_replication", None)
        and getattr(config, "alora_invocation_tokens", None) is None
    )


def _split_state(
    state: dict[str, Any], config: Any
) -> tuple[dict[str, LoraFactors], dict[str, dict[str, Any]]] | None:
    """LoRA factors and saved heads from the saved state dict, ``None`` for any key the
    reader does not know (it is then loaded with PEFT)."""
    import math

    scaling = config.lora_alpha / (math.sqrt(config.r) if config.use_rslora else config.r)
    factors: dict[str, dict[str, Any]] = {}
    heads: dict[str, dict[str, Any]] = {}
    saved = [m for m in (config.modules_to_save or ()) if m]
    for key, tensor in state.items():
        if not key.startswith(_PREFIX):
            return None
        name = key[len(_PREFIX):]
        if ".token_adapter." in name:  # the added rows come from added_tokens.safetensors
            continue
        for part in ("lora_A", "lora_B"):
            module, sep, rest = name.partition(f".{part}.")
            if sep:
                if rest != "weight":
                    return None
                factors.setdefault(module, {})[part] = tensor
                break
        else:
            parts = name.split(".")
            for i in range(1, len(parts)):
                module = ".".join(parts[:i])
                if any(module == m or module.endswith("." + m) for m in saved):
                    heads.setdefault(module, {})[".".join(parts[i:])] = tensor
                    break
            else:
                return None
    lora = {}
    for module, pair in factors.items():
        a, b = pair.get("lora_A"), pair.get("lora_B")
        if a is None or b is None or a.dim() != 2 or b.dim() != 2 or a.shape[0] != config.r:
            return None
        lora[module] = LoraFactors(a, b, float(scaling))
    return lora, heads


def read_adapter(
    directory: Path,
    *,
    manager: PluginManager | None,
    hidden: int,
    untied: bool,
    has_pad: bool,
    dtype: Any,
) -> DirectoryAdapter | None:
    """Read the adapter in ``directory`` for a server whose base has embedding width
    ``hidden`` (``untied``: an LM head separate from the embeddings; ``has_pad``: a pad token
    id in its config) and runs in ``dtype``. ``None`` when the reader does not cover this
    adapter (see the module docstring)."""
    import transformers
    from peft import PeftConfig
    from safetensors.torch import load_file

    from cultura.adapt.build import check_fast_tokenizer, culture_profile
    from cultura.adapt.cultural_model import CulturalModel
    from cultura.adapt.heads import quiet_transformers
    from cultura.adapt.loading import _check_normalizers, _checked_manifest, restore_knowledge
    from cultura.adapt.tokenizer import AddedVocabulary, wrap_tokenizer
    from cultura.core.types import AdapterHeadSpec, PeftSpec

    manifest = _checked_manifest(directory, verify=True)
    if manifest.kind != "peft":  # load_pretrained reads it, and the server refuses it
        return None
    if (
        manifest.head_type not in READ_HEADS
        or manifest.peft_method != "lora"
        or manifest.start_from is not None
        or manifest.synthesized
        or not has_pad
    ):
        return None
    n_added = int(manifest.tokenizer.get("added_tokens", 0))
    if n_added and untied:
        return None
    if not any((directory / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
        return None
    config = PeftConfig.from_pretrained(str(directory))
    if not _plain_lora(config):
        return None
    state = load_file(str(directory / artifact.PEFT_WEIGHTS), device="cpu")
    split = _split_state(state, config)
    if split is None:
        return None
    lora, heads = split

    profile = culture_profile(manifest.culture, manager)
    spec = AdapterHeadSpec(
        manifest.task,
        manifest.head_type,  # type: ignore[arg-type]
        labels=manifest.labels,
        peft=PeftSpec(method="lora"),
    )
    try:
        with quiet_transformers():
            tok = transformers.AutoTokenizer.from_pretrained(str(directory), trust_remote_code=False)
    except Exception as exc:  # transformers raises several types for broken files
        raise ArtifactError(
            f"{directory}: the tokenizer cannot be loaded ({exc}); {artifact.FIX_HINT}"
        ) from None
    check_fast_tokenizer(tok, str(directory))
    tok_info = manifest.tokenizer
    before = int(tok_info.get("vocab_size_before", 0))
    after = int(tok_info.get("vocab_size_after", 0))
    rows, token_ids = None, ()
    if n_added:
        tokens, tensors = artifact.read_added_rows(directory, n_added, hidden, lm_head=False)
        ids = [int(i) for i in tensors["token_ids"].tolist()]
        if len(set(ids)) != len(ids) or min(ids) < 0 or max(ids) >= after:
            raise ArtifactError(
                f"{directory / artifact.ADDED_TOKENS}: token ids must be distinct rows of the "
                f"{after} embedding rows recorded in {artifact.MANIFEST} (vocab_size_after); "
                "re-save the adapter"
            )
        if list(tok.convert_tokens_to_ids(tokens)) != ids:
            raise ArtifactError(
                f"{directory}: the tokenizer files give the added tokens other ids than "
                f"{artifact.ADDED_TOKENS}; the tokenizer does not belong to this adapter"
            )
        rows, token_ids = tensors["embedding"], tuple(ids)
        added = AddedVocabulary(tuple(tokens), token_ids, before, after, True,
                                dict(tok_info.get("init", {})))
    else:
        added = AddedVocabulary((), (), before, before, True, {})
    if after and len(tok) > after:
        raise ArtifactError(
            f"{directory}: the tokenizer has {len(tok)} tokens but the manifest records "
            f"{after} embedding rows; the tokenizer files do not belong to this adapter "
            "(re-save it)"
        )
    _check_normalizers(manifest, profile, directory)
    wrap_tokenizer(tok, profile)
    settings = dict(manifest.settings)
    injector = restore_knowledge(manifest, profile, spec.head_type, directory)
    encoder = CulturalModel(
        None,
        tok,
        profile,
        spec,
        base=manifest.base_model,
        added=added,
        knowledge=injector,
        max_length=int(settings.get("max_length", 128)),
        row_training=str(settings.get("row_training", "")),
        split_patterns=tuple(tok_info.get("split_patterns", ())),
        license=manifest.license,
        training=manifest.training,
        files=manifest.files,
        dtype=dtype,
    )
    peft_state = {k: v for k, v in state.items() if "token_adapter" not in k and "trainable_tokens" not in k}
    config.trainable_token_indices = None
    config.inference_mode = True
    return DirectoryAdapter(encoder, lora, heads, rows, token_ids, config, peft_state)
