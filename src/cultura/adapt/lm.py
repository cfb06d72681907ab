"""Culture language adapters (MAD-X style): the built-in ``lm`` task and ``start_from``.

**Every culture has the task** ``lm`` without a plugin declaring it:
``cultura.adapt(base, culture="zh", task="lm")`` builds a *language adapter*, the culture's
vocabulary extension (new embedding rows) plus a LoRA, with the language-model head the base
architecture has (:func:`lm_head_type`):

* ``masked-lm`` for encoders (BERT-like; ``AutoModelForMaskedLM``), trained with a masked-LM
  objective (:func:`mask_tokens`): about 15% of each text's tokens are chosen as whole words
  (a WordPiece word with its ``##`` pieces; every Han or kana character is a word of its own)
  by a seeded ``torch.Generator``; of the chosen tokens 80% become the mask token, 10% a random
  token and 10% stay as they are;
* ``causal-lm`` for decoders (``AutoModelForCausalLM``), trained to predict the next token.

The masked-LM decoder is tied to the input embeddings, added rows included, so the new rows
train through both ends. A checkpoint saved without masked-LM head weights (the embedded
``sentence-transformers/all-MiniLM-L6-v2`` is a bare ``BertModel``) gets the head's transform
(dense + LayerNorm) newly initialized by transformers: cultura trains it with the adapter and
saves it (PEFT ``modules_to_save``); the output bias keeps its initial value (zeros) and is
neither trained nor saved, since loading recreates it. A checkpoint that has a bias gives the
added rows the mean of the old rows' bias. Training data is unlabeled text
(:func:`cultura.adapt.data.lm_examples`): plain strings, ``{"text": ...}`` rows, a ``.txt`` file with one text
per line, or any task's labeled data (labels are ignored; token lists are joined).

A plugin that declares a task named ``lm`` replaces the built-in one for its cultures, as any
more specific contribution does (:func:`is_builtin`).

**Task adapters start from a language adapter** (``adapt(..., task="sentiment",
start_from="./zh-lm")``: an adapter directory, read without loading a model, or a loaded
:class:`~cultura.adapt.cultural_model.CulturalModel`; a registry name is resolved a layer up,
by ``cultura.load("zh/lm")`` or ``cultura train --start-from zh/lm``, and the model it gives
carries the name and revision to record). cultura uses the simpler form of MAD-X
stacking: the language adapter's LoRA is *merged into the frozen base* (``W += scaling · B A``
on each module it targets, found by its name inside the backbone, so a masked-LM language
adapter serves a classifier on the same encoder), its trained rows become the task adapter's
added rows (same tokens in the same order, checked), and a fresh task LoRA and head train on
top (the added rows keep training with the task, as every adapter's do). The task artifact is
self-contained: ``language_adapter.safetensors`` holds the merged LoRA factors and
``cultura.json`` records the language adapter (``start_from``: name, revision, culture, task,
head type, sha256 of its weights and of the factors); loading re-applies the merge before the
task adapter loads, so the language adapter is never fetched again. A language adapter built
on another base (architecture fingerprint, embedding digest or vocabulary size differ) is
refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt import artifact
from cultura.adapt.artifact import LANGUAGE_LORA, ArtifactError, BaseModelRef, Manifest
from cultura.core.errors import CulturaError
from cultura.core.types import LM_HEAD_TYPES, AdapterHeadSpec, PeftSpec

if TYPE_CHECKING:
    from cultura.adapt.cultural_model import CulturalModel
    from cultura.adapt.data import Example
    from cultura.adapt.tokenizer import AddedVocabulary
    from cultura.core.profile import CultureProfile

__all__ = [
    "LANGUAGE_LORA_FORMAT",
    "LM_TASK",
    "MLM_PROBABILITY",
    "LanguageStart",
    "LoraFactor",
    "builtin_spec",
    "collate_masked",
    "fill_mask",
    "is_builtin",
    "language_start",
    "lm_head_type",
    "lm_head_type_of",
    "mask_tokens",
    "prepare_lm_head",
    "restore_stack",
    "seed_masking",
]

logger = logging.getLogger(__name__)

#: the built-in task every culture has: a language adapter
LM_TASK = "lm"
#: share of each text's tokens a masked-LM batch predicts
MLM_PROBABILITY = 0.15
#: ``format`` in the metadata of ``language_adapter.safetensors``
LANGUAGE_LORA_FORMAT = "cultura-language-lora/1"
#: largest ``|scaling|`` of a merged LoRA module accepted from a file
MAX_SCALING = 1e6
#: a module name inside a backbone: dotted identifiers, no dunder parts
_MODULE_NAME = re.compile(r"(?!__)[A-Za-z0-9_]{1,128}(?:\.(?!__)[A-Za-z0-9_]{1,128}){0,32}")
#: Han characters and kana: each is a word of its own for whole-word masking
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


# ---------------------------------------------------------------------------- the lm task
def lm_head_type(config: Any, base: str = "the base model") -> str:
    """``"masked-lm"`` for an encoder config, ``"causal-lm"`` for a decoder one.

    Raises :class:`CulturaError` when transformers has neither head for the architecture.
    """
    from transformers.models.auto import modeling_auto

    model_type = getattr(config, "model_type", "")
    if model_type in modeling_auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES and not getattr(
        config, "is_decoder", False
    ):
        return "masked-lm"
    if model_type in modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return "causal-lm"
    raise CulturaError(
        f"{base} (model type {model_type!r}) has neither a masked-LM nor a causal-LM head in "
        f"transformers, so it cannot take the built-in language adapter (task {LM_TASK!r}); "
        "use a BERT-like encoder or a decoder base model"
    )


def base_config(model_or_path: Any, revision: str | None = None) -> Any:
    """The config of a base given as a path, Hub id or alias (read without running remote
    code), or of a loaded model."""
    if not isinstance(model_or_path, (str, Path)):
        config = getattr(model_or_path, "config", None)
        if config is None:
            raise CulturaError(
                f"expected a base model path, Hub id or loaded model, got "
                f"{type(model_or_path).__name__}"
            )
        return config
    import transformers

    from cultura.adapt.base import resolve_base
    from cultura.adapt.heads import refuse_remote_base

    path, _ = resolve_base(str(model_or_path))
    refuse_remote_base(path, revision=revision)
    return transformers.AutoConfig.from_pretrained(path, revision=revision, trust_remote_code=False)


def lm_head_type_of(base: Any, revision: str | None = None) -> str:
    """The LM head type of ``base`` (a path, Hub id, alias or loaded model)."""
    label = str(base) if isinstance(base, (str, Path)) else type(base).__name__
    return lm_head_type(base_config(base, revision), label)


def is_builtin(profile: CultureProfile, task: str | None) -> bool:
    """Whether ``task`` is the built-in ``lm`` for ``profile`` (no plugin declares an ``lm``)."""
    return task == LM_TASK and not any(c.key == LM_TASK for c in profile.heads)


def builtin_spec(
    model_or_path: Any, revision: str | None = None, peft: PeftSpec | None = None
) -> AdapterHeadSpec:
    """The head spec of the built-in ``lm`` task on ``model_or_path`` (LoRA by default)."""
    head_type = lm_head_type_of(model_or_path, revision)
    return AdapterHeadSpec(
        LM_TASK,
        head_type,  # type: ignore[arg-type]
        peft=peft or PeftSpec(),
        description=f"culture language adapter ({head_type}, trained on unlabeled text)",
    )


def prepare_lm_head(model: Any, head_type: str, added: AddedVocabulary,
                    missing: Sequence[str] = (), base: str = "") -> None:
    """Make a masked-LM head deterministic around the added rows, before PEFT wraps the model.

    The output bias rows of the added tokens get the mean of the old rows' bias (the resize
    pads zeros); both building and loading call this, so the rows agree. ``missing`` (the head
    modules the checkpoint lacked) is logged: they train with the adapter and are saved.
    """
    if head_type != "masked-lm":
        return
    import torch

    if missing:
        logger.info(
            "%s has no masked-LM head weights for %s; they are newly initialized, trained with "
            "the adapter and saved with it (the output bias stays at its initial value)",
            base or "the base checkpoint", ", ".join(missing),
        )
    out = model.get_output_embeddings()
    bias = getattr(out, "bias", None)
    if not added.tokens or bias is None or bias.shape[0] != added.vocab_size_after:
        return
    with torch.no_grad():
        bias[list(added.token_ids)] = bias[: added.vocab_size_before].mean()


# ---------------------------------------------------------------------------- masking
def seed_masking(cm: CulturalModel, seed: int) -> None:
    """Seed the generator that chooses the masked tokens of training batches."""
    import torch

    cm.masking_generator = torch.Generator().manual_seed(seed)


def _continuation_prefix(tokenizer: Any) -> str | None:
    """``##`` for a WordPiece tokenizer (pieces continuing a word), else ``None``."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    model = getattr(backend, "model", None)
    if type(model).__name__ == "WordPiece":
        return getattr(model, "continuing_subword_prefix", None) or None
    return None


def _words(tokens: Sequence[str], positions: Sequence[int], prefix: str | None) -> list[list[int]]:
    """``positions`` grouped into words: a ``prefix`` piece continues the word before it; a
    token with a Han/kana character is a word of its own."""
    words: list[list[int]] = []
    joinable = False  # whether the last word may take a continuation piece
    for pos in positions:
        token = tokens[pos]
        cjk = bool(_CJK.search(token))
        if prefix and not cjk and joinable and token.startswith(prefix) and words[-1][-1] == pos - 1:
            words[-1].append(pos)
        else:
            words.append([pos])
        joinable = not cjk
    return words


def mask_tokens(
    input_ids: Any,
    attention_mask: Any,
    tokenizer: Any,
    generator: Any,
    probability: float = MLM_PROBABILITY,
) -> tuple[Any, Any]:
    """``(masked input ids, labels)`` for a masked-LM batch (the inputs are not changed).

    Per row, whole words (see the module docstring) are drawn in a random order until about
    ``probability`` of the row's real tokens (special tokens and padding excluded; at least one)
    are chosen; labels hold the original ids there and -100 elsewhere. Of the chosen tokens
    80% become the mask token, 10% a random token, 10% stay. All randomness comes from
    ``generator``.
    """
    import torch

    if tokenizer.mask_token_id is None:
        raise CulturaError(
            "the tokenizer has no mask token, which masked-LM training needs; use a base "
            "whose tokenizer has one (BERT-like encoders do)"
        )
    ids = input_ids.clone()
    labels = torch.full_like(ids, -100)
    special = set(tokenizer.all_special_ids)
    prefix = _continuation_prefix(tokenizer)
    for row in range(ids.shape[0]):
        row_ids = ids[row].tolist()
        mask_row = attention_mask[row].tolist()
        positions = [i for i, (t, m) in enumerate(zip(row_ids, mask_row, strict=True))
                     if m and t not in special]
        if not positions:
            continue
        words = _words(tokenizer.convert_ids_to_tokens(row_ids), positions, prefix)
        target = max(1, round(len(positions) * probability))
        chosen: list[int] = []
        for w in torch.randperm(len(words), generator=generator).tolist():
            if len(chosen) >= target:
                break
            if chosen and len(chosen) + len(words[w]) > target:
                continue
            chosen += words[w]
        labels[row, chosen] = ids[row, chosen]
    selected = labels != -100
    draw = torch.rand(ids.shape, generator=generator)
    randoms = torch.randint(len(tokenizer), ids.shape, generator=generator, dtype=ids.dtype)
    ids[selected & (draw < 0.8)] = tokenizer.mask_token_id
    swap = selected & (draw >= 0.8) & (draw < 0.9)
    ids[swap] = randoms[swap]
    return ids, labels


def _generator(cm: CulturalModel, input_ids: Any) -> Any:
    """Training: the model's seeded masking generator. Evaluation: one seeded by the batch's
    ids, so the same eval data is masked the same way at every epoch."""
    import torch

    if cm.model.training:
        if cm.masking_generator is None:
            seed_masking(cm, 0)
        return cm.masking_generator
    digest = hashlib.sha256(input_ids.cpu().numpy().tobytes()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def collate_masked(cm: CulturalModel, examples: Sequence[Example], *, stats: Any = None) -> dict[str, Any]:
    """A masked-LM batch: the texts encoded as the model sees them, then masked."""
    enc = cm.encode([e.text or "" for e in examples], stats=stats)
    ids, labels = mask_tokens(
        enc["input_ids"], enc["attention_mask"], cm.tokenizer, _generator(cm, enc["input_ids"])
    )
    batch = dict(enc)
    batch["input_ids"] = ids
    batch["labels"] = labels
    return batch


def fill_mask(
    cm: CulturalModel, texts: Sequence[str], top_k: int = 5, *, batch_size: int = 32,
    knowledge: bool | None = None,
) -> list[dict[str, Any]]:
    """Predict the tokens at the mask tokens of ``texts`` (a ``masked-lm`` head).

    One dict per text: ``{"text", "filled", "masks": [{"position", "top": [{"token",
    "score", "token_id"}]}]}``; ``filled`` is the normalized text with each mask replaced by
    its best token. Every text needs at least one mask token (``[MASK]`` for BERT). Special
    tokens (``[MASK]``, ``[CLS]``, ``[SEP]``, ``[PAD]``, ``[UNK]``...) are never proposed: their
    logits are set to −inf before the softmax, so the scores are probabilities over the
    other tokens.
    """
    import torch

    mask = cm.tokenizer.mask_token
    mask_id = cm.tokenizer.mask_token_id
    if mask is None or mask_id is None:
        raise CulturaError("the tokenizer has no mask token; fill-mask needs one")
    texts = list(texts)
    for number, text in enumerate(texts):
        if mask not in text:
            raise CulturaError(
                f"text {number} ({text[:40]!r}) has no {mask}: write {mask} where a word is to "
                f"be predicted, e.g. '今天天{mask}很好'"
            )
    cm.model.eval()
    prefix = _continuation_prefix(cm.tokenizer)
    special = sorted(set(cm.tokenizer.all_special_ids))
    results: list[dict[str, Any]] = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        enc = cm.encode(chunk, knowledge=knowledge)
        logits = cm._forward(enc).logits.float()
        logits[..., special] = float("-inf")
        probs = torch.softmax(logits, dim=-1).cpu()
        normalized = cm.tokenizer.normalize(chunk)
        for i, text in enumerate(chunk):
            masks = []
            filled = normalized[i]
            for pos in (enc["input_ids"][i] == mask_id).nonzero().flatten().tolist():
                scores, ids = probs[i, pos].topk(max(1, top_k))
                tokens = cm.tokenizer.convert_ids_to_tokens(ids.tolist())
                masks.append({
                    "position": pos,
                    "top": [{"token": t, "score": float(s), "token_id": int(j)}
                            for t, s, j in zip(tokens, scores.tolist(), ids.tolist(), strict=True)],
                })
                best = tokens[0]
                if prefix and best.startswith(prefix):
                    best = best[len(prefix) :]
                filled = filled.replace(mask, best, 1)
            results.append({"text": text, "filled": filled, "masks": masks})
    return results


# ---------------------------------------------------------------------------- start_from
@dataclass(frozen=True)
class LoraFactor:
    """One LoRA module of a language adapter: ``delta = scaling · B A`` (transposed for a
    ``fan_in_fan_out`` layer such as GPT-2's ``Conv1D``), added to the module's weight."""

    lora_a: Any
    lora_b: Any
    scaling: float
    fan_in_fan_out: bool = False

    def delta(self) -> Any:
        product = self.lora_b.float() @ self.lora_a.float()
        return (product.T if self.fan_in_fan_out else product) * self.scaling

    def describe(self) -> dict[str, Any]:
        return {"scaling": self.scaling, "fan_in_fan_out": self.fan_in_fan_out}


def lora_digest(factors: Mapping[str, LoraFactor]) -> str:
    """sha256 (hex) of the LoRA factors: module names, settings, shapes and float32 values."""
    digest = hashlib.sha256()
    for name in sorted(factors):
        f = factors[name]
        meta = {**f.describe(), "a": list(f.lora_a.shape), "b": list(f.lora_b.shape)}
        digest.update(name.encode() + b"\0" + json.dumps(meta, sort_keys=True).encode() + b"\0")
        for tensor in (f.lora_a, f.lora_b):
            digest.update(tensor.float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _backbone(model: Any) -> tuple[str, Any]:
    """``(prefix, module)``: the backbone every head class of an architecture shares
    (``bert`` of ``BertForMaskedLM`` and ``BertForSequenceClassification``), else the model."""
    import torch

    prefix = getattr(model, "base_model_prefix", "") or ""
    sub = getattr(model, prefix, None) if prefix else None
    if isinstance(sub, torch.nn.Module) and sub is not model:
        return prefix, sub
    return "", model


@dataclass
class LanguageStart:
    """The language adapter a task adapter stacks on (see the module docstring).

    ``record`` is the manifest's ``start_from``; ``factors`` the LoRA merged into the base, by
    module name inside the backbone; ``tokens`` / ``token_ids`` / ``rows`` the language
    adapter's added vocabulary and its trained rows (only when built, not when loaded).
    """

    record: dict[str, Any]
    factors: dict[str, LoraFactor]
    tokens: tuple[str, ...] = ()
    token_ids: tuple[int, ...] = ()
    rows: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.record["name"] or f"in-memory {self.record['culture']}/{self.record['task']}"

    def merge_into(self, model: Any) -> None:
        """Add every factor's delta to its module's weight in ``model`` (not PEFT-wrapped)."""
        import torch

        prefix, backbone = _backbone(model)
        with torch.no_grad():
            for name, factor in self.factors.items():
                weight = _target_weight(backbone, name, prefix, type(model).__name__, self.label)
                delta = factor.delta()
                if tuple(delta.shape) != tuple(weight.shape):
                    raise CulturaError(
                        f"start_from={self.label}: its LoRA on {name} has shape "
                        f"{list(delta.shape)}, the module's weight {list(weight.shape)}; the "
                        "language adapter belongs to another architecture"
                    )
                weight.add_(delta.to(dtype=weight.dtype, device=weight.device))

    def apply(self, model: Any, added: AddedVocabulary, task: str) -> AddedVocabulary:
        """Take the language adapter's rows for the same added tokens, then merge its LoRA.

        Raises :class:`CulturaError` naming both adapters when the token lists differ.
        """
        import torch

        if tuple(added.tokens) != self.tokens or tuple(added.token_ids) != self.token_ids:
            raise CulturaError(_token_mismatch(self, added, task))
        if self.tokens:
            index = torch.tensor(self.token_ids, dtype=torch.long)
            with torch.no_grad():
                weight = model.get_input_embeddings().weight
                weight[index] = self.rows["embedding"].to(weight.dtype)
                out = model.get_output_embeddings()
                if not added.tied and out is not None and "lm_head" in self.rows:
                    out.weight[index] = self.rows["lm_head"].to(out.weight.dtype)
                    bias = getattr(out, "bias", None)
                    if bias is not None and "lm_head_bias" in self.rows:
                        bias[index] = self.rows["lm_head_bias"].to(bias.dtype)
            added = replace(added, init_counts={"start_from": len(self.tokens)})
        self.merge_into(model)
        return added

    def save(self, directory: Path) -> None:
        """Write ``language_adapter.safetensors`` (the factors; settings in its metadata)."""
        from safetensors.torch import save_file

        tensors: dict[str, Any] = {}
        for name, factor in self.factors.items():
            tensors[f"{name}.lora_A"] = factor.lora_a.contiguous()
            tensors[f"{name}.lora_B"] = factor.lora_b.contiguous()
        modules = {name: f.describe() for name, f in self.factors.items()}
        save_file(tensors, str(directory / LANGUAGE_LORA), metadata={
            "format": LANGUAGE_LORA_FORMAT,
            "modules": json.dumps(modules),
            "lora_sha256": self.record["lora_sha256"],
        })


def _token_mismatch(start: LanguageStart, added: AddedVocabulary, task: str) -> str:
    ours, theirs = tuple(added.tokens), start.tokens
    first = next((i for i, (a, b) in enumerate(zip(theirs, ours, strict=False)) if a != b),
                 min(len(ours), len(theirs)))
    if ours == theirs:
        where = "the same tokens got other ids (the base tokenizers differ)"
    else:
        a = repr(theirs[first]) if first < len(theirs) else "nothing"
        b = repr(ours[first]) if first < len(ours) else "nothing"
        where = f"first difference at position {first}: {a} in the language adapter, {b} here"
    return (
        f"start_from={start.label}: the language adapter added {len(theirs)} tokens, this "
        f"{task} adapter adds {len(ours)}, and the lists differ ({where}). A task adapter "
        "takes the language adapter's rows only for the same tokens in the same order: build "
        "both with the same culture plugins (same versions) and the same extend_vocab setting"
    )


def _target_weight(backbone: Any, name: str, prefix: str, model_name: str, label: str) -> Any:
    import torch

    try:
        module = backbone.get_submodule(name)
    except AttributeError:
        module = None
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.nn.Parameter) or weight.ndim != 2:
        where = f"{prefix}.{name}" if prefix else name
        raise CulturaError(
            f"start_from={label}: its LoRA targets {where}, which {model_name} has no linear "
            "layer for; the language adapter belongs to another architecture"
        )
    return weight


def lora_factors(lang: CulturalModel, label: str) -> dict[str, LoraFactor]:
    """The LoRA factors of a loaded language adapter, by module name inside its backbone."""
    from peft.tuners.lora import LoraLayer

    peft_model = lang.model
    adapter = peft_model.active_adapter
    base = peft_model.get_base_model()
    prefix, _ = _backbone(base)
    factors: dict[str, LoraFactor] = {}
    for name, module in base.named_modules():
        if not isinstance(module, LoraLayer):
            continue
        if adapter not in module.lora_A or module.use_dora.get(adapter) or (
            module.lora_B[adapter].bias is not None
        ):
            raise CulturaError(
                f"start_from={label}: {name} holds a LoRA variant cultura does not merge "
                "(embedding LoRA, DoRA or a LoRA bias); build the language adapter with the "
                "default LoRA"
            )
        factors[_relative(name, prefix, label)] = LoraFactor(
            module.lora_A[adapter].weight.detach().float().cpu().clone(),
            module.lora_B[adapter].weight.detach().float().cpu().clone(),
            float(module.scaling[adapter]),
            bool(getattr(module, "fan_in_fan_out", False)),
        )
    if not factors:
        raise CulturaError(f"start_from={label}: the language adapter holds no LoRA weights")
    return factors


def _check_language(
    label: str, *, head_type: str, task: str, peft_method: str, culture: str,
    lang_base: BaseModelRef, base: BaseModelRef, target_culture: str,
) -> None:
    """Refuse what cannot be a language adapter for this base and culture (before loading)."""
    from cultura.core.tags import Culture

    if head_type not in LM_HEAD_TYPES:
        raise CulturaError(
            f"start_from={label}: a {head_type} adapter for task {task!r}, not a language "
            f"adapter; start from one trained with task={LM_TASK!r} (cultura train --task "
            f"{LM_TASK})"
        )
    if peft_method != "lora":
        raise CulturaError(
            f"start_from={label}: the language adapter uses {peft_method}; start_from merges "
            "a LoRA language adapter (the default PEFT method)"
        )
    if culture not in Culture.parse(target_culture).chain():
        raise CulturaError(
            f"start_from={label}: the language adapter is for culture {culture!r}, this adapter "
            f"for {target_culture!r}; a language adapter serves its culture and more specific "
            f"ones (zh for zh-Hant-TW). Train one for {target_culture} (task {LM_TASK!r})"
        )
    problems = []
    for what, theirs, ours in (
        ("architecture fingerprint", lang_base.fingerprint, base.fingerprint),
        ("embedding digest", lang_base.weights, base.weights),
        ("vocabulary size", lang_base.vocab_size, base.vocab_size),
    ):
        if theirs and ours and theirs != ours:
            problems.append(f"{what} {theirs} != {ours}")
    if problems:
        raise CulturaError(
            f"start_from={label}: the language adapter was trained on base {lang_base.id!r}, "
            f"this adapter's base is {base.id!r}, and they differ ({'; '.join(problems)}); a "
            "language adapter stacks only on the base it was trained on. Train one on this "
            f"base: cultura.adapt(base, culture=..., task={LM_TASK!r}) or cultura train "
            f"--task {LM_TASK} --base ..."
        )


#: LoRA weights of ``adapter_model.safetensors``, by module path and factor
_LORA_KEY = re.compile(r"base_model\.model\.(.+)\.lora_([AB])\.weight")
#: adapter_config.json settings that change what merging a LoRA means: refused when set
_UNMERGED_OPTIONS = ("use_dora", "lora_bias", "rank_pattern", "alpha_pattern")


def _directory(source: str | Path) -> Path:
    """The adapter directory ``source`` names; a registry or Hub name is refused with how to
    pass it (names are resolved by the registry, a layer above this one)."""
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise CulturaError(
            f"start_from={str(source)!r} is not an adapter directory. Pass the directory a "
            f"language adapter was saved to, a loaded CulturalModel, or for a registry or Hub "
            f"name the model cultura.load({str(source)!r}) gives (cultura train --start-from "
            "takes names too)"
        )
    return folder


def _factors_from_files(directory: Path, prefix: str, label: str) -> dict[str, LoraFactor]:
    """The LoRA factors of a saved language adapter (already verified), read from
    ``adapter_config.json`` and ``adapter_model.safetensors`` without loading a model."""
    import torch
    from safetensors import safe_open

    config = artifact.read_json_object(directory / artifact.PEFT_CONFIG)
    unmerged = [k for k in _UNMERGED_OPTIONS if config.get(k)]
    if unmerged:
        raise CulturaError(
            f"start_from={label}: the language adapter's LoRA uses {', '.join(unmerged)}, which "
            "start_from does not merge; build the language adapter with the default LoRA"
        )
    rank, alpha = config.get("r"), config.get("lora_alpha")
    if (not isinstance(rank, int) or isinstance(rank, bool) or rank < 1
            or not isinstance(alpha, (int, float)) or isinstance(alpha, bool)
            or not math.isfinite(alpha)):
        raise ArtifactError(f"{directory / artifact.PEFT_CONFIG}: 'r' and 'lora_alpha' must be a "
                            f"positive integer and a number; {artifact.FIX_HINT}")
    scaling = alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank
    fan_in_fan_out = bool(config.get("fan_in_fan_out", False))
    path = directory / artifact.PEFT_WEIGHTS
    header, _ = artifact.read_safetensors_header(path)
    pairs: dict[str, dict[str, str]] = {}
    for key in header:
        if ".lora_embedding_" in key or ".lora_magnitude_vector" in key:
            raise CulturaError(f"start_from={label}: {key} is an embedding LoRA or DoRA weight, "
                               "which start_from does not merge")
        found = _LORA_KEY.fullmatch(key)
        if found is not None:
            pairs.setdefault(found.group(1), {})[found.group(2)] = key
    factors: dict[str, LoraFactor] = {}
    with safe_open(str(path), framework="pt") as fh:
        for module, keys in sorted(pairs.items()):
            if set(keys) != {"A", "B"}:
                raise ArtifactError(f"{path}: {module} has no lora_A/lora_B pair; {artifact.FIX_HINT}")
            factors[_relative(module, prefix, label)] = LoraFactor(
                fh.get_tensor(keys["A"]).to(torch.float32),
                fh.get_tensor(keys["B"]).to(torch.float32),
                scaling,
                fan_in_fan_out,
            )
    if not factors:
        raise CulturaError(f"start_from={label}: the language adapter holds no LoRA weights")
    return factors


def _relative(module: str, prefix: str, label: str) -> str:
    """``module``'s name inside the backbone ``prefix`` (refused outside it)."""
    if not prefix:
        return module
    if not module.startswith(f"{prefix}."):
        raise CulturaError(
            f"start_from={label}: its LoRA on {module} lies outside the {prefix!r} backbone the "
            "task model shares; build the language adapter with target modules inside it (the "
            "default)"
        )
    return module[len(prefix) + 1 :]


def _rows_from_file(
    directory: Path, manifest: Manifest, hidden: int
) -> tuple[tuple[str, ...], tuple[int, ...], dict[str, Any]]:
    """``(tokens, token ids, rows)`` of a saved language adapter's ``added_tokens.safetensors``,
    its header and token list checked against the manifest before anything is read."""
    n_added = int(manifest.tokenizer.get("added_tokens", 0))
    if not n_added:
        return (), (), {}
    tokens, rows = artifact.read_added_rows(directory, n_added, hidden, lm_head=None)
    ids = tuple(int(i) for i in rows.pop("token_ids").tolist())
    return tuple(tokens), ids, rows


def language_start(
    source: Any,
    *,
    model: Any,
    base: BaseModelRef,
    culture: str,
    task: str,
) -> LanguageStart:
    """Check and read the language adapter ``source`` (an adapter directory or a loaded
    :class:`~cultura.adapt.cultural_model.CulturalModel`) for a ``task`` adapter of ``culture``
    on ``base``; ``model`` is that adapter's base model (not PEFT-wrapped), whose backbone the
    LoRA's module names are taken relative to. A directory is verified (hashes, manifest, PEFT
    sizes) and read without loading a model. A model loaded by ``cultura.load`` records the
    name and revision it was resolved from."""
    prefix, _ = _backbone(model)
    hidden = int(model.get_input_embeddings().weight.shape[1])
    if all(hasattr(source, a) for a in ("spec", "model", "added", "manifest")):
        label = f"in-memory {source!r}"
        manifest = source.manifest()
        origin = dict(getattr(source, "source", None) or {})
        name, revision = str(origin.get("name") or ""), origin.get("revision")
        label = name or label
    elif isinstance(source, (str, Path)):
        directory = _directory(source)
        name, revision, label = str(source), None, str(source)
        manifest = artifact.verify_artifact(directory)
    else:
        raise CulturaError(
            f"start_from must be an adapter directory or a loaded CulturalModel (for a registry "
            f"name, cultura.load(name)), got {type(source).__name__}"
        )
    _check_language(
        label, head_type=manifest.head_type, task=manifest.task,
        peft_method=manifest.peft_method, culture=manifest.culture,
        lang_base=manifest.base_model, base=base, target_culture=culture,
    )
    if isinstance(source, (str, Path)):
        factors = _factors_from_files(directory, prefix, label)
        tokens, token_ids, rows = _rows_from_file(directory, manifest, hidden)
    else:
        factors = lora_factors(source, label)
        tokens, token_ids = tuple(source.added.tokens), tuple(source.added.token_ids)
        rows = {k: v for k, v in source.added_rows().items() if k != "token_ids"}
    return LanguageStart(
        record={
            "name": name,
            "revision": revision,
            "culture": manifest.culture,
            "task": manifest.task,
            "head_type": manifest.head_type,
            "adapter_sha256": manifest.files.get(artifact.PEFT_WEIGHTS),
            "lora_sha256": lora_digest(factors),
            "file": LANGUAGE_LORA,
            "modules": len(factors),
            "added_tokens": len(tokens),
        },
        factors=factors,
        tokens=tokens,
        token_ids=token_ids,
        rows=rows,
    )


# ---------------------------------------------------------------------------- loading
def restore_stack(
    model: Any, manifest: Manifest, directory: Path, added: AddedVocabulary
) -> LanguageStart | None:
    """What loading does between restoring the rows and loading the PEFT adapter: the
    masked-LM bias rows (:func:`prepare_lm_head`), then the merge of ``start_from``."""
    prepare_lm_head(model, manifest.head_type, added)
    if manifest.start_from is None:
        return None
    start = read_language_start(directory, manifest, model)
    start.merge_into(model)
    return start


def _modules_meta(text: str | None, path: Path, expected: int) -> dict[str, dict[str, Any]]:
    """The ``modules`` metadata of ``language_adapter.safetensors``, every entry checked."""
    def bad(why: str) -> ArtifactError:
        return ArtifactError(f"{path}: {why}; {artifact.FIX_HINT}")

    try:
        modules = json.loads(text or "")
    except (ValueError, RecursionError):
        raise bad("its 'modules' metadata is not JSON") from None
    if not isinstance(modules, dict) or len(modules) != expected:
        raise bad(f"its 'modules' metadata must map the {expected} module names of "
                  f"{artifact.MANIFEST} (start_from.modules) to their settings")
    for name, info in modules.items():
        if not _MODULE_NAME.fullmatch(name):
            raise bad(f"module name {name[:80]!r} is not a dotted module path")
        if not isinstance(info, dict) or set(info) != {"scaling", "fan_in_fan_out"}:
            raise bad(f"module {name}: settings must be {{'scaling', 'fan_in_fan_out'}}")
        scaling = info["scaling"]
        if (not isinstance(scaling, (int, float)) or isinstance(scaling, bool)
                or not math.isfinite(scaling) or abs(scaling) > MAX_SCALING):
            raise bad(f"module {name}: scaling must be a finite number of at most {MAX_SCALING:g}")
        if not isinstance(info["fan_in_fan_out"], bool):
            raise bad(f"module {name}: fan_in_fan_out must be true or false")
    return modules


def read_language_start(directory: Path, manifest: Manifest, model: Any) -> LanguageStart:
    """Read ``language_adapter.safetensors`` for ``model`` (the base, not PEFT-wrapped).

    Its header and metadata are checked against the manifest and against ``model``'s modules
    (names, shapes) before any tensor is read; the factors' sha256 must be the manifest's.
    """
    import torch
    from safetensors import safe_open

    record = dict(manifest.start_from or {})
    path = directory / LANGUAGE_LORA
    if not path.is_file():
        raise ArtifactError(
            f"{directory}: {artifact.MANIFEST} records a language adapter (start_from) but "
            f"{LANGUAGE_LORA} is missing; {artifact.FIX_HINT}"
        )
    header, meta = artifact.read_safetensors_header(path)
    if meta.get("format") != LANGUAGE_LORA_FORMAT:
        raise ArtifactError(f"{path}: not a cultura language-adapter file (format "
                            f"{meta.get('format')!r}); {artifact.FIX_HINT}")
    modules = _modules_meta(meta.get("modules"), path, int(record["modules"]))
    wanted = {f"{n}.lora_{p}" for n in modules for p in "AB"}
    if set(header) != wanted:
        odd = sorted(set(header) ^ wanted)[0]
        raise ArtifactError(f"{path}: tensor {odd[:120]!r} is missing or not named in its "
                            f"metadata; {artifact.FIX_HINT}")
    prefix, backbone = _backbone(model)
    for name, info in modules.items():
        a, b = header[f"{name}.lora_A"], header[f"{name}.lora_B"]
        if (a.dtype not in ("F32", "F16", "BF16") or b.dtype != a.dtype or len(a.shape) != 2
                or len(b.shape) != 2 or a.shape[0] != b.shape[1] or a.shape[0] < 1):
            raise ArtifactError(f"{path}: module {name}: lora_A {a.dtype} {list(a.shape)} and "
                                f"lora_B {b.dtype} {list(b.shape)} are no LoRA pair; "
                                f"{artifact.FIX_HINT}")
        weight = _target_weight(backbone, name, prefix, type(model).__name__, str(directory))
        shape = (b.shape[0], a.shape[1])
        if (shape[::-1] if info["fan_in_fan_out"] else shape) != tuple(weight.shape):
            raise ArtifactError(
                f"{path}: module {name}: the LoRA gives a {list(shape)} update, the base's "
                f"weight is {list(weight.shape)}; the file does not belong to this base"
            )
    try:
        with safe_open(str(path), framework="pt") as fh:
            factors = {
                name: LoraFactor(
                    fh.get_tensor(f"{name}.lora_A").to(torch.float32),
                    fh.get_tensor(f"{name}.lora_B").to(torch.float32),
                    float(info["scaling"]),
                    info["fan_in_fan_out"],
                )
                for name, info in modules.items()
            }
    except Exception as exc:  # safetensors raises its own error types
        raise ArtifactError(f"{path}: not a readable safetensors file ({exc})") from None
    if lora_digest(factors) != record["lora_sha256"]:
        raise ArtifactError(
            f"{path}: its LoRA factors do not have the sha256 {artifact.MANIFEST} records "
            f"(start_from.lora_sha256); {artifact.FIX_HINT}"
        )
    return LanguageStart(record=record, factors=factors)
