"""Restoring a saved adapter artifact (the body of ``cultura.load_pretrained``).

An adapter is data: before transformers or PEFT sees a file, the artifact is checked (no
remote code, allowed file types only, every ``cultura.json`` field typed and bounded, sha256
of every file, PEFT sizes within what its weights hold; see
:func:`cultura.adapt.artifact.verify_artifact`), and the base model is refused when its
configuration asks for remote code. Then the base model's fingerprint and vocabulary size are
checked, the added rows' safetensors header is checked against the manifest, the embeddings
are resized to the recorded size and the rows copied back, the installed plugins'
normalizers and knowledge are re-attached (warning when they changed), the language adapter an
adapter stacks on (``start_from``) is merged into the base from its own checked file, and the
PEFT adapter is loaded. Every transformers loader runs with ``trust_remote_code=False``.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt import artifact, lm
from cultura.adapt.artifact import ROW_TRAINING_MASK, ArtifactError, Manifest
from cultura.adapt.build import (
    check_fast_tokenizer,
    culture_profile,
    ensure_pad_token,
    mask_row_gradients,
)
from cultura.adapt.cultural_model import CulturalModel, CulturaWarning
from cultura.adapt.knowledge import KnowledgeInjector
from cultura.adapt.tokenizer import AddedVocabulary
from cultura.core.errors import CulturaError
from cultura.core.types import AdapterHeadSpec, PeftSpec

if TYPE_CHECKING:
    from cultura.adapt.wide_adapter import WideModel
    from cultura.core.plugins import PluginManager
    from cultura.core.profile import CultureProfile

__all__ = ["load_pretrained"]


def load_pretrained(
    directory: str | Path,
    *,
    base: Any = None,
    verify: bool = True,
    manager: PluginManager | None = None,
    dtype: Any = "auto",
) -> CulturalModel | WideModel:
    """Restore a :class:`CulturalModel` saved with :meth:`CulturalModel.save_pretrained`, or
    the wide classifier or tagger of a wide artifact (``kind: "wide"``; see
    :mod:`cultura.adapt.wide_adapter`), checked the same way.

    Args:
        directory: the adapter directory.
        base: the base model (path, id or alias; default: the manifest's base id, resolved to
            an embedded copy when there is one, and followed only when it is an alias, a Hub id
            or an absolute path to a model directory: see
            :func:`~cultura.adapt.base.resolve_recorded_base`). Its architecture fingerprint
            and vocabulary size must match the manifest's.
        verify: check every file's sha256 against ``cultura.json`` first (the other checks
            of an adapter's contents always run).
        manager: plugin manager supplying the culture's normalizers and knowledge.
        dtype: the precision of the whole model (base, adapter, head, added rows):
            ``"auto"`` (bfloat16 on a GPU that supports it, float32 on CPU), ``"bfloat16"``,
            ``"float16"`` or ``"float32"`` (:mod:`cultura.adapt.precision`). The base is read
            and checked in float32 and the adapter restored onto it before the model is cast,
            so an adapter saved in any precision loads in any other.

    Raises :class:`~cultura.adapt.artifact.ArtifactError` for missing/changed/corrupt files and
    :class:`~cultura.core.errors.CulturaError` for a mismatching base or a culture no
    installed plugin serves.
    """
    from cultura.adapt.precision import resolve_dtype

    torch_dtype = resolve_dtype(dtype)  # a bad name fails before anything is read
    directory = Path(directory)
    manifest = _checked_manifest(directory, verify)
    if manifest.kind == "wide":  # a classifier or tagger, not PEFT: cultura.adapt.wide_adapter
        return load_wide(directory, manifest, base=base, manager=manager, dtype=dtype)

    import peft as peft_lib
    import transformers

    from cultura.adapt.base import resolve_base, resolve_recorded_base
    from cultura.adapt.heads import (
        embedding_digest,
        load_base_model,
        quiet_transformers,
        refuse_remote_base,
    )
    from cultura.adapt.tokenizer import has_untied_output, wrap_tokenizer

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
    if base is not None:
        path, model_id = resolve_base(str(base))
    else:
        path, model_id = resolve_recorded_base(
            manifest.base_model.id, str(directory / artifact.MANIFEST)
        )
    refuse_remote_base(path)
    config = transformers.AutoConfig.from_pretrained(path, trust_remote_code=False)
    _check_base(config, manifest, path, directory)
    tok_info = manifest.tokenizer  # sizes validated by Manifest.from_dict
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
    source = str(directory) if has_tokenizer else path
    try:
        with quiet_transformers():
            tok = transformers.AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    except Exception as exc:  # transformers raises several types for broken files
        hint = artifact.FIX_HINT if has_tokenizer else "check the base model's tokenizer files"
        raise ArtifactError(f"{source}: the tokenizer cannot be loaded ({exc}); {hint}") from None
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
    # a masked-LM head's bias rows; a language adapter's LoRA merged into the base (start_from)
    start = lm.restore_stack(model, manifest, directory, added)
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
    peft_model.to(torch_dtype)  # base, adapter, head and added rows alike
    settings = dict(manifest.settings)
    injector = restore_knowledge(manifest, profile, spec.head_type, directory)
    row_training = str(settings.get("row_training", ""))
    if row_training == ROW_TRAINING_MASK and added.tokens:  # so training can continue
        mask_row_gradients(peft_model.get_base_model(), added.token_ids, untied)
    cm = CulturalModel(
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
        dtype=torch_dtype,
    )
    cm.start_from = start
    cm.training_data, cm.lineage = manifest.training_data, manifest.lineage
    return cm


def _checked_manifest(directory: Path, verify: bool) -> Manifest:
    """The adapter's manifest, once its contents passed the checks that keep it data.

    ``verify`` adds the sha256 of every file; the rest always runs: no remote code, the
    manifest's fields, safetensors weights only, allowed file types, the model files' own
    checks (PEFT sizes, or a wide model's metadata).
    """
    if verify:
        manifest = artifact.verify_artifact(directory)
    else:
        artifact.refuse_remote_code(directory)
        manifest = artifact.read_manifest(directory)
    if manifest.kind != "wide" and not (directory / artifact.PEFT_WEIGHTS).is_file():
        # PEFT would fall back to adapter_model.bin, a pickle: never load one
        raise ArtifactError(
            f"{directory}: no {artifact.PEFT_WEIGHTS}; cultura loads safetensors weights only"
        )
    if not verify:  # verify_artifact ran these
        artifact.check_file_types(directory)
        artifact.check_model_files(directory, manifest)
    return manifest


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
    """Resize the base to ``rows_after`` and copy back the added rows of ``added_tokens.safetensors``
    (read and checked by :func:`cultura.adapt.artifact.read_added_rows`), after checking the
    ids against ``rows_after`` and the tokenizer."""
    import torch

    hidden = int(model.get_input_embeddings().weight.shape[1])
    tokens, tensors = artifact.read_added_rows(directory, n_added, hidden, lm_head=untied)
    path = directory / artifact.ADDED_TOKENS
    ids = tensors["token_ids"].tolist()
    if len(set(ids)) != len(ids) or min(ids) < 0 or max(ids) >= rows_after:
        raise ArtifactError(
            f"{path}: token ids must be distinct rows of the {rows_after} embedding rows "
            f"recorded in {artifact.MANIFEST} (vocab_size_after); re-save the adapter"
        )
    tok_ids = tok.convert_tokens_to_ids(tokens)
    if list(tok_ids) != ids:
        raise ArtifactError(
            f"{directory}: the tokenizer files give the added tokens other ids than "
            f"{artifact.ADDED_TOKENS}; the tokenizer does not belong to this adapter"
        )
    model.resize_token_embeddings(rows_after, mean_resizing=False)
    index = torch.tensor(ids, dtype=torch.long)
    with torch.no_grad():
        weight = model.get_input_embeddings().weight
        weight.index_copy_(0, index, tensors["embedding"].to(weight.dtype))
        if untied:
            out = model.get_output_embeddings()
            out.weight.index_copy_(0, index, tensors["lm_head"].to(out.weight.dtype))
            bias = getattr(out, "bias", None)
            if bias is not None and "lm_head_bias" in tensors:
                bias.index_copy_(0, index, tensors["lm_head_bias"].to(bias.dtype))
    return AddedVocabulary(tuple(tokens), tuple(ids), rows_before, rows_after, not untied, {})


def _check_normalizers(manifest: Manifest, profile: CultureProfile, directory: Path) -> None:
    """Warn when the installed plugins normalize inputs differently than in training.

    The manifest's normalizers are paired with the profile's by merge key and compared by full
    id (``zh.script.s2twp``: key and conversion): a changed conversion, a normalizer gone or
    new, or another order is named with what training used and what runs now. A manifest
    saved before ids named the conversion records the key alone (``zh.script``): it loads
    with a warning that the conversion cannot be checked. Same ids, other plugin versions: a
    warning listing them.
    """
    saved = list(manifest.tokenizer.get("normalizers", []))
    now = {c.key: c for c in profile.normalizers}
    where = f"{directory} ({profile.tag})"
    problems: list[str] = []
    unchecked: list[str] = []
    for entry in saved:
        full_id, key = str(entry.get("id")), _merge_key(entry)
        current = now.get(key)
        if current is None:
            problems.append(f"{full_id} no longer runs (no installed plugin gives {key!r})")
        elif "key" not in entry and full_id != current.value.full_id:
            unchecked.append(f"{full_id} (now {current.value.full_id})")
        elif full_id != current.value.full_id:
            problems.append(
                f"the adapter was trained with {full_id} but this culture's profile now gives "
                f"{current.value.full_id} ({current.provenance})"
            )
    keys = [_merge_key(entry) for entry in saved]
    problems += [
        f"{c.value.full_id} ({c.provenance}) is new, it did not run in training"
        for c in profile.normalizers
        if c.key not in keys
    ]
    if not problems and keys != list(now):
        problems.append(
            f"they run in another order: {', '.join(profile.normalizer_ids)} (trained with "
            f"{', '.join(str(entry.get('id')) for entry in saved)})"
        )
    if problems:
        warnings.warn(
            f"{where}: inputs are normalized differently than in training: "
            + "; ".join(problems)
            + ". Install the plugin versions it was trained with (listed in its cultura.json) "
            "or retrain the adapter",
            CulturaWarning,
            stacklevel=3,
        )
        return
    if unchecked:
        warnings.warn(
            f"{where}: its cultura.json names normalizers by key only ({', '.join(unchecked)}), "
            "as cultura did before ids named the conversion, so whether training used the "
            "conversion that runs now cannot be checked. If it did, re-save the adapter "
            "(load_pretrained, then save_pretrained) to record it",
            CulturaWarning,
            stacklevel=3,
        )
    changed = [
        f"{entry.get('id')} ({entry.get('distribution')} {entry.get('version')} -> "
        f"{now[key].provenance.distribution} {now[key].provenance.version})"
        for entry, key in zip(saved, keys, strict=True)
        if (entry.get("distribution"), entry.get("version"))
        != (now[key].provenance.distribution, now[key].provenance.version)
    ]
    if changed:
        warnings.warn(
            f"{where}: normalizer plugins changed version since saving: {', '.join(changed)}",
            CulturaWarning,
            stacklevel=3,
        )


def _merge_key(entry: dict[str, Any]) -> str:
    """A recorded normalizer's merge key (older manifests record the id alone)."""
    return str(entry.get("key") or entry.get("id"))


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


def restore_knowledge(manifest: Any, profile: Any, head_type: str, directory: Any) -> Any:
    """The knowledge injector an adapter was trained with, rebuilt from its manifest's settings
    and the installed plugins' knowledge (checked against what was recorded), or ``None``.

    Warns when the adapter was trained with knowledge that no installed plugin gives now.
    """
    know = dict(dict(manifest.settings).get("knowledge", {}))
    if know.get("enabled") and profile.knowledge:
        injector = KnowledgeInjector.from_profile(
            profile,
            head_type,
            top_k=int(know.get("top_k", 2)),
            max_chars=int(know.get("max_chars", 256)),
            min_score=float(know.get("min_score", 0.0)),
        )
        _check_knowledge(manifest, injector, directory)
        return injector
    if know.get("enabled"):
        warnings.warn(
            f"{directory} was trained with knowledge injection, but no installed plugin gives "
            f"{profile.tag} knowledge now; predictions will differ",
            CulturaWarning,
            stacklevel=3,
        )
    return None


def load_wide(
    directory: str | Path,
    manifest: Manifest,
    *,
    base: Any = None,
    manager: PluginManager | None = None,
    dtype: Any = "auto",
) -> WideModel:
    """The wide model of an artifact whose ``manifest`` passed
    :func:`~cultura.adapt.artifact.verify_artifact`; ``base`` replaces a classifier's
    recorded base (a tagger reads none, and ignores it)."""
    from cultura.adapt.tagger import WideTagger
    from cultura.adapt.wide import WideDeepClassifier

    directory = Path(directory)
    if manifest.head_type == "token-cls":
        model: Any = WideTagger.load(directory, manager=manager)
    else:
        model = WideDeepClassifier.load(directory, manager=manager, dtype=dtype, base=base)
    model.task = manifest.task
    return model
