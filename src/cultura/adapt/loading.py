"""Restoring a saved adapter artifact (the body of ``cultura.load_pretrained``).

Verifies the files against ``cultura.json``, checks the base model's fingerprint and
vocabulary size, resizes the embeddings to the recorded size and copies back the added rows,
re-attaches the installed plugins' normalizers and knowledge (warning when they changed), and
loads the PEFT adapter.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt import artifact
from cultura.adapt.artifact import ArtifactError, Manifest
from cultura.adapt.build import (
    check_fast_tokenizer,
    culture_profile,
    ensure_pad_token,
    mask_row_gradients,
)
from cultura.adapt.knowledge import KnowledgeInjector
from cultura.adapt.model import (
    ADDED_TOKENS_FORMAT,
    ROW_TRAINING_MASK,
    CulturalModel,
    CulturaWarning,
)
from cultura.adapt.tokenizer import AddedVocabulary
from cultura.core.errors import CulturaError
from cultura.core.types import AdapterHeadSpec, PeftSpec

if TYPE_CHECKING:
    from cultura.core.plugins import PluginManager
    from cultura.core.profile import CultureProfile

__all__ = ["load_pretrained"]


def load_pretrained(
    directory: str | Path,
    *,
    base: Any = None,
    verify: bool = True,
    manager: PluginManager | None = None,
) -> CulturalModel:
    """Restore a :class:`CulturalModel` saved with :meth:`CulturalModel.save_pretrained`.

    Args:
        directory: the adapter directory.
        base: the base model (path, id or alias; default: the manifest's base id, resolved to
            an embedded copy when there is one). Its architecture fingerprint and vocabulary
            size must match the manifest's.
        verify: check every file's sha256 against ``cultura.json`` first.
        manager: plugin manager supplying the culture's normalizers and knowledge.

    Raises :class:`~cultura.adapt.artifact.ArtifactError` for missing/changed/corrupt files and
    :class:`~cultura.core.errors.CulturaError` for a mismatching base or a culture no
    installed plugin serves.
    """
    import peft as peft_lib
    import transformers

    from cultura.adapt.base import resolve_base
    from cultura.adapt.heads import embedding_digest, load_base_model, quiet_transformers
    from cultura.adapt.tokenizer import has_untied_output, wrap_tokenizer

    directory = Path(directory)
    manifest = artifact.verify_artifact(directory) if verify else artifact.read_manifest(directory)
    if not (directory / artifact.PEFT_WEIGHTS).is_file():
        # PEFT would fall back to adapter_model.bin, a pickle: never load one
        raise artifact.ArtifactError(
            f"{directory}: no {artifact.PEFT_WEIGHTS}; cultura loads safetensors weights only"
        )
    profile = culture_profile(manifest.culture, manager)
    try:
        spec = AdapterHeadSpec(
            manifest.task,
            manifest.head_type,  # type: ignore[arg-type]
            labels=manifest.labels,
            peft=PeftSpec(method=manifest.peft_method),  # type: ignore[arg-type]
        )
    except CulturaError as exc:
        raise ArtifactError(f"{directory / artifact.MANIFEST}: {exc}") from None
    path, model_id = resolve_base(str(base) if base is not None else manifest.base_model.id)
    config = transformers.AutoConfig.from_pretrained(path)
    _check_base(config, manifest, path, directory)
    tok_info = manifest.tokenizer
    n_added = int(tok_info.get("added_tokens", 0))
    rows_before = int(tok_info.get("vocab_size_before", 0))
    rows_after = int(tok_info.get("vocab_size_after", 0))
    model, _ = load_base_model(path, spec, seed=0)
    expected_weights = manifest.base_model.weights
    if expected_weights and embedding_digest(model) != expected_weights:
        raise CulturaError(
            f"base model mismatch: {path} has the architecture the adapter in {directory} was "
            f"trained on, but different weights (embedding digest differs from "
            f"{expected_weights}); load it with base= the model it was trained on "
            f"({manifest.base_model.id})"
        )
    have_rows = int(model.get_input_embeddings().weight.shape[0])
    if rows_before and have_rows != rows_before:
        raise CulturaError(
            f"base model mismatch: {path} has {have_rows} embedding rows, the adapter in "
            f"{directory} was trained on {rows_before}; load it with base={manifest.base_model.id!r}"
        )
    # a synthesized manifest (plain PEFT repo) may come without tokenizer files: use the base's
    has_tokenizer = any((directory / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json"))
    if n_added and not has_tokenizer:
        raise ArtifactError(
            f"{directory}: {n_added} tokens were added but the tokenizer files are missing; "
            "re-download or re-save the adapter"
        )
    with quiet_transformers():
        tok = transformers.AutoTokenizer.from_pretrained(str(directory) if has_tokenizer else path)
    check_fast_tokenizer(tok, str(directory))
    if spec.head_type == "causal-lm" or getattr(model.config, "pad_token_id", None) is None:
        ensure_pad_token(tok, model)
    untied = has_untied_output(model)
    if n_added:
        added = _restore_rows(model, tok, directory, n_added, rows_before, rows_after, untied)
        added = dataclasses.replace(added, init_counts=dict(tok_info.get("init", {})))
    else:
        added = AddedVocabulary((), (), have_rows, have_rows, not untied, {})
    if len(tok) > added.vocab_size_after:
        raise ArtifactError(
            f"{directory}: the tokenizer has {len(tok)} tokens but the manifest records "
            f"{added.vocab_size_after} embedding rows; the tokenizer files do not belong to "
            "this adapter (re-save it)"
        )
    if not manifest.synthesized:  # a plain PEFT repo records no normalizers
        _check_normalizers(manifest, profile, directory)
    wrap_tokenizer(tok, profile)
    try:
        with warnings.catch_warnings(), quiet_transformers():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            # prompt-learning adapters (prefix) cannot be reloaded as trainable in PEFT
            trainable = spec.peft.method != "prefix"
            peft_model = peft_lib.PeftModel.from_pretrained(
                model, str(directory), is_trainable=trainable
            )
    except Exception as exc:  # PEFT raises several types for broken files
        raise ArtifactError(f"{directory}: PEFT could not load the adapter: {exc}") from None
    peft_model.eval()
    settings = dict(manifest.settings)
    know = dict(settings.get("knowledge", {}))
    injector = None
    if know.get("enabled") and profile.knowledge:
        injector = KnowledgeInjector.from_profile(
            profile,
            spec.head_type,
            top_k=int(know.get("top_k", 2)),
            max_chars=int(know.get("max_chars", 256)),
            min_score=float(know.get("min_score", 0.0)),
        )
        _check_knowledge(manifest, injector, directory)
    elif know.get("enabled"):
        warnings.warn(
            f"{directory} was trained with knowledge injection, but no installed plugin gives "
            f"{profile.tag} knowledge now; predictions will differ",
            CulturaWarning,
            stacklevel=2,
        )
    row_training = str(settings.get("row_training", ""))
    if row_training == ROW_TRAINING_MASK and added.tokens:  # so training can continue
        mask_row_gradients(peft_model.get_base_model(), added.token_ids, untied)
    return CulturalModel(
        peft_model,
        tok,
        profile,
        spec,
        base=dataclasses.replace(manifest.base_model, id=manifest.base_model.id or model_id),
        added=added,
        knowledge=injector,
        max_length=int(settings.get("max_length", 128)),
        row_training=row_training,
        split_patterns=tuple(tok_info.get("split_patterns", ())),
        license=manifest.license,
        training=manifest.training,
        files=manifest.files,
    )


def _check_base(config: Any, manifest: Manifest, path: str, directory: Path) -> None:
    expected = manifest.base_model
    got = artifact.config_fingerprint(config.to_dict())
    problems = []
    if expected.fingerprint and got != expected.fingerprint:
        problems.append(f"architecture fingerprint {got} != {expected.fingerprint}")
    vocab = int(getattr(config, "vocab_size", 0) or 0)
    if expected.vocab_size and vocab and vocab != expected.vocab_size:
        problems.append(f"vocabulary size {vocab} != {expected.vocab_size}")
    if problems:
        raise CulturaError(
            f"base model mismatch: the adapter in {directory} was trained on "
            f"{expected.id!r} ({expected.architecture}), but {path} differs: "
            + "; ".join(problems)
            + f". Pass base= the model it was trained on ({expected.id})"
        )


def _restore_rows(
    model: Any, tok: Any, directory: Path, n_added: int, rows_before: int, rows_after: int,
    untied: bool,
) -> AddedVocabulary:
    import torch
    from safetensors import safe_open

    path = directory / artifact.ADDED_TOKENS
    if not path.is_file():
        raise ArtifactError(
            f"{directory}: {artifact.ADDED_TOKENS} is missing but {artifact.MANIFEST} records "
            f"{n_added} added tokens; re-download or re-save the adapter"
        )
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:
        raise ArtifactError(f"{path}: not a readable safetensors file ({exc})") from None
    if meta.get("format") != ADDED_TOKENS_FORMAT or "embedding" not in tensors or "token_ids" not in tensors:
        raise ArtifactError(f"{path}: not a cultura added-tokens file (format {meta.get('format')!r})")
    tokens = json.loads(meta.get("tokens", "[]"))
    ids = tensors["token_ids"].tolist()
    hidden = model.get_input_embeddings().weight.shape[1]
    emb = tensors["embedding"]
    if len(tokens) != n_added or len(ids) != n_added or tuple(emb.shape) != (n_added, hidden):
        raise ArtifactError(
            f"{path}: holds {len(ids)} rows of shape {tuple(emb.shape)}, the manifest records "
            f"{n_added} added tokens of width {hidden}; the file does not belong to this adapter"
        )
    if not rows_after or max(ids) >= rows_after or rows_after < rows_before:
        raise ArtifactError(
            f"{directory / artifact.MANIFEST}: vocab_size_after {rows_after} does not cover the "
            f"added token ids (max {max(ids)}); re-save the adapter"
        )
    tok_ids = tok.convert_tokens_to_ids(tokens)
    if list(tok_ids) != ids:
        raise ArtifactError(
            f"{directory}: the tokenizer files give the added tokens other ids than "
            f"{artifact.ADDED_TOKENS}; the tokenizer does not belong to this adapter"
        )
    if untied and "lm_head" not in tensors:
        raise ArtifactError(f"{path}: the base has an untied LM head but the file has no lm_head rows")
    model.resize_token_embeddings(rows_after, mean_resizing=False)
    index = torch.tensor(ids, dtype=torch.long)
    with torch.no_grad():
        weight = model.get_input_embeddings().weight
        weight.index_copy_(0, index, emb.to(weight.dtype))
        if untied:
            out = model.get_output_embeddings()
            out.weight.index_copy_(0, index, tensors["lm_head"].to(out.weight.dtype))
            bias = getattr(out, "bias", None)
            if bias is not None and "lm_head_bias" in tensors:
                bias.index_copy_(0, index, tensors["lm_head_bias"].to(bias.dtype))
    return AddedVocabulary(tuple(tokens), tuple(ids), rows_before, rows_after, not untied, {})


def _check_normalizers(manifest: Manifest, profile: CultureProfile, directory: Path) -> None:
    saved = [(n.get("id"), n.get("distribution"), n.get("version")) for n in manifest.tokenizer.get("normalizers", [])]
    now = [(c.key, c.provenance.distribution, c.provenance.version) for c in profile.normalizers]
    if [s[0] for s in saved] != [n[0] for n in now]:
        warnings.warn(
            f"{directory} was saved with normalizers {[s[0] for s in saved]}, the installed "
            f"plugins give {[n[0] for n in now]} for {profile.tag}; inputs are normalized "
            "differently than in training",
            CulturaWarning,
            stacklevel=3,
        )
    elif saved != now:
        changed = [f"{s[0]} ({s[1]} {s[2]} -> {n[1]} {n[2]})" for s, n in zip(saved, now, strict=True) if s != n]
        warnings.warn(
            f"{directory}: normalizer plugins changed version since saving: {', '.join(changed)}",
            CulturaWarning,
            stacklevel=3,
        )


def _check_knowledge(manifest: Manifest, injector: KnowledgeInjector, directory: Path) -> None:
    saved = {k.get("name"): k.get("sha256") for k in manifest.knowledge}
    now = {k["name"]: k["sha256"] for k in injector.describe()}
    if saved and saved != now:
        warnings.warn(
            f"{directory}: the culture's knowledge sources changed since saving "
            f"(saved {sorted(saved)}, now {sorted(now)} or different entries); knowledge "
            "injected at prediction time differs from training",
            CulturaWarning,
            stacklevel=3,
        )
