"""Export a causal-LM LoRA adapter for vLLM's multi-LoRA serving.

vLLM serves many LoRA adapters over one base model (``vllm serve BASE --enable-lora
--lora-modules NAME=PATH``), choosing the adapter per request by its name. Its loader reads two
files of a directory, written by PEFT's ``save_pretrained``:

* ``adapter_config.json``: it needs ``r``, ``lora_alpha`` and ``target_modules``; it refuses
  ``modules_to_save``, DoRA (``use_dora``), adapter biases and a rank above its
  ``--max-lora-rank``; ``use_rslora`` changes the scaling to ``lora_alpha / sqrt(r)``;
* ``adapter_model.safetensors``: one ``lora_A.weight`` (shape ``[r, in]``) and one
  ``lora_B.weight`` (``[out, r]``) per module, keyed ``base_model.model.<module path>`` as in
  the base checkpoint; every module must be a linear layer of the base.

It adds no vocabulary: an adapter whose tokens extend the base tokenizer, which trains
embedding rows (PEFT trainable tokens) or whole modules (``modules_to_save``), which is not a
LoRA, which stacks on a merged language adapter (``start_from``) or which has no causal-LM
head is refused by :func:`export_vllm`, naming why and what to do instead.

The export also holds ``cultura-vllm.json`` (culture, task, base, where the adapter came from,
the culture's normalizers, sha256 of the exported files) and a ``README.md`` with the vLLM
command. vLLM tokenizes raw text with the base tokenizer: the culture's normalizers and
knowledge injection are not applied, so clients normalize prompts themselves
(``cultura.culture(tag).normalize(texts)``).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt import artifact
from cultura.core.errors import CulturaError

if TYPE_CHECKING:
    from cultura.adapt.cultural_model import CulturalModel

__all__ = ["VLLM_FORMAT", "VLLM_MANIFEST", "VLLM_MAX_LORA_RANKS", "VllmExportError", "export_vllm"]

#: the cultura manifest written next to the PEFT files
VLLM_MANIFEST = "cultura-vllm.json"
#: ``format`` of :data:`VLLM_MANIFEST`
VLLM_FORMAT = "cultura-vllm-export/1"
#: the values vLLM accepts for ``--max-lora-rank`` (its ``LoRAConfig.max_lora_rank``)
VLLM_MAX_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
#: a PEFT LoRA key vLLM parses: ``base_model.model.<module path>.lora_A|lora_B.weight``
_LORA_KEY = re.compile(r"base_model\.model\.(?P<module>[A-Za-z0-9_.]+)\.(?P<part>lora_A|lora_B)\.weight")
#: an adapter name vLLM's ``--lora-modules NAME=PATH`` and the OpenAI ``model`` field accept
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
#: PEFT initializations that rewrite the base weights (the LoRA only works on the rewritten base)
_BASE_REWRITING_INIT = ("pissa", "olora", "corda", "loftq", "lora_ga")


class VllmExportError(CulturaError, ValueError):
    """The adapter cannot be served by vLLM's multi-LoRA serving (the message says why and
    what to do instead)."""


def export_vllm(
    model: CulturalModel, out_dir: str | Path, *, name: str | None = None, overwrite: bool = False
) -> Path:
    """Write ``model``'s LoRA to ``out_dir`` in the layout vLLM's multi-LoRA serving loads.

    Args:
        model: a causal-LM :class:`~cultura.adapt.cultural_model.CulturalModel` with a plain
            LoRA and no added vocabulary (from ``cultura.load``, ``load_pretrained`` or
            ``adapt``).
        out_dir: the directory to write (atomically: nothing half-written is left).
        name: the adapter's name in vLLM (``--lora-modules NAME=PATH``, the request's
            ``model``); default ``<culture>-<task>``.
        overwrite: replace a non-empty ``out_dir``.

    Returns:
        ``out_dir``, holding ``adapter_config.json``, ``adapter_model.safetensors``,
        :data:`VLLM_MANIFEST` and ``README.md``.

    Raises:
        VllmExportError: the adapter is not one vLLM can serve (see the module docstring).
    """
    from safetensors.torch import save_file

    _check_model(model)
    label = f"adapter {model.culture}/{model.spec.task}"
    adapter_name = _adapter_name(model, name)
    config = model.model.peft_config[model.model.active_adapter]
    _check_config(config, label)
    tensors = _lora_tensors(model, config, label)
    exported = _exported_config(config, model.base.id)
    out_dir = Path(out_dir)
    with artifact.atomic_directory(out_dir, overwrite=overwrite) as tmp:
        save_file(tensors, str(tmp / artifact.PEFT_WEIGHTS), metadata={"format": "pt"})
        (tmp / artifact.PEFT_CONFIG).write_text(
            json.dumps(exported, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        files = {f: artifact.sha256_file(tmp / f) for f in (artifact.PEFT_CONFIG, artifact.PEFT_WEIGHTS)}
        manifest = _manifest(model, adapter_name, exported, tensors, files)
        (tmp / VLLM_MANIFEST).write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (tmp / artifact.CARD).write_text(_readme(manifest, out_dir.resolve()), encoding="utf-8")
    return out_dir


# ---------------------------------------------------------------------------- refusals
def _check_model(model: Any) -> None:
    if not all(hasattr(model, a) for a in ("spec", "model", "added", "base", "profile")):
        raise VllmExportError(
            f"export_vllm takes a CulturalModel (from cultura.load, load_pretrained or "
            f"cultura.adapt), got {type(model).__name__}"
        )
    label = f"adapter {model.culture}/{model.spec.task}"
    serve = "serve it with `cultura serve` instead"
    if model.head_type != "causal-lm":
        raise VllmExportError(
            f"{label} has a {model.head_type} head; vLLM's multi-LoRA serving generates text "
            f"with a causal LM, so only causal-lm adapters export to it: {serve}"
        )
    method = model.spec.peft.method
    if method != "lora" or str(getattr(model.model, "peft_type", "LORA")).rsplit(".", 1)[-1] != "LORA":
        raise VllmExportError(
            f"{label} is a {method} adapter; vLLM loads LoRA adapters only: retrain it with "
            f"PeftSpec(method='lora') (`cultura train --peft lora`) or {serve}"
        )
    if model.start_from is not None:
        stacked = model.start_from.record.get("name") or model.start_from.record.get("task")
        raise VllmExportError(
            f"{label} stacks on the language adapter {stacked!r}, whose LoRA is merged into the "
            "base it was trained on; vLLM would apply the task LoRA to the unmerged base and "
            f"generate something else: retrain it without --start-from, or {serve}"
        )
    if model.added.tokens:
        raise VllmExportError(
            f"{label} adds {len(model.added.tokens)} tokens to the base vocabulary "
            f"(ids {model.added.vocab_size_before}..{model.added.vocab_size_after - 1}); vLLM's "
            "multi-LoRA serving loads LoRA factors over the base tokenizer and cannot add "
            "vocabulary rows: retrain it with extend_vocab=False (`cultura train "
            f"--no-extend-vocab`), or {serve}"
        )


def _check_config(config: Any, label: str) -> None:
    serve = "serve it with `cultura serve` instead"
    if getattr(config, "trainable_token_indices", None):
        raise VllmExportError(
            f"{label} trains embedding rows (PEFT trainable_token_indices); vLLM loads LoRA "
            f"factors only: retrain it without trained tokens, or {serve}"
        )
    if getattr(config, "modules_to_save", None):
        raise VllmExportError(
            f"{label} trains whole modules with the LoRA (modules_to_save: "
            f"{', '.join(sorted(config.modules_to_save))}); vLLM refuses modules_to_save: use a "
            f"base checkpoint that has these weights so nothing outside the LoRA trains, or {serve}"
        )
    features = {
        "use_dora": "DoRA (use_dora=True): vLLM does not load DoRA magnitude vectors",
        "lora_bias": "LoRA biases (lora_bias=True): vLLM refuses adapter biases",
        "rank_pattern": "per-module ranks (rank_pattern): vLLM gives every module one r",
        "alpha_pattern": "per-module alphas (alpha_pattern): vLLM scales every module by one lora_alpha",
        "layer_replication": "layer replication (layer_replication): vLLM keeps the base's layers",
        "target_parameters": "LoRA on parameters (target_parameters): vLLM adapts modules only",
        "alora_invocation_tokens": "activated LoRA (alora_invocation_tokens)",
    }
    for field, what in features.items():
        if getattr(config, field, None):
            raise VllmExportError(
                f"{label} uses {what}; retrain it with a plain LoRA, or {serve}"
            )
    if getattr(config, "bias", "none") != "none":
        raise VllmExportError(
            f"{label} trains biases (bias={config.bias!r}); vLLM refuses adapter biases: retrain "
            f"it with bias='none', or {serve}"
        )
    init = getattr(config, "init_lora_weights", True)
    if isinstance(init, str) and init.lower().startswith(_BASE_REWRITING_INIT):
        raise VllmExportError(
            f"{label} was initialized with {init!r}, which rewrites the base weights; vLLM "
            f"applies the LoRA to the original base: retrain it with the default "
            f"initialization, or {serve}"
        )
    if config.r > VLLM_MAX_LORA_RANKS[-1]:
        raise VllmExportError(
            f"{label} has rank r={config.r}; vLLM serves LoRA ranks up to "
            f"{VLLM_MAX_LORA_RANKS[-1]}: retrain it with a smaller r, or {serve}"
        )


def _lora_tensors(model: Any, config: Any, label: str) -> dict[str, Any]:
    """PEFT's state dict of the adapter, checked: only linear-layer LoRA factors of rank
    ``config.r``, an A and a B per module, shaped ``[r, in]`` and ``[out, r]``."""
    from peft import get_peft_model_state_dict

    from cultura.adapt.heads import module_name

    peft_model = model.model
    base = peft_model.get_base_model()
    embeddings = {
        module_name(base, m)
        for m in (base.get_input_embeddings(), base.get_output_embeddings())
        if m is not None
    }
    state = get_peft_model_state_dict(
        peft_model, adapter_name=peft_model.active_adapter, save_embedding_layers=False
    )
    parts: dict[str, dict[str, Any]] = {}
    for key, tensor in state.items():
        match = _LORA_KEY.fullmatch(key)
        if match is None:
            raise VllmExportError(
                f"{label} holds the tensor {key!r}, which is not a LoRA factor of a linear layer "
                "(vLLM loads only base_model.model.<module>.lora_A/lora_B.weight): retrain it "
                "with a plain LoRA on linear layers, or serve it with `cultura serve` instead"
            )
        module = match["module"]
        if module in embeddings:
            raise VllmExportError(
                f"{label} puts a LoRA on the embedding module {module!r}; vLLM adapts the base's "
                "linear layers only: retrain it with target_modules naming attention/MLP "
                "projections, or serve it with `cultura serve` instead"
            )
        parts.setdefault(module, {})[match["part"]] = tensor
    if not parts:
        raise VllmExportError(f"{label} has no LoRA factors to export")
    out: dict[str, Any] = {}
    for module, pair in sorted(parts.items()):
        layer = base.get_submodule(module)
        shapes = {"lora_A": (config.r, layer.in_features), "lora_B": (layer.out_features, config.r)}
        for part, shape in shapes.items():
            tensor = pair.get(part)
            if tensor is None or tuple(tensor.shape) != shape:
                found = None if tensor is None else tuple(tensor.shape)
                raise VllmExportError(
                    f"{label}: {module}.{part} is {found}, expected {shape} (rank {config.r}); "
                    "re-save the adapter with cultura"
                )
            out[f"base_model.model.{module}.{part}.weight"] = tensor.detach().to("cpu").contiguous().clone()
    return out


# ---------------------------------------------------------------------------- files
def _exported_config(config: Any, base_id: str) -> dict[str, Any]:
    """The PEFT config as ``adapter_config.json``: inference mode, the base's id, sorted
    target modules, no ``modules_to_save`` nor trainable tokens."""
    exported = copy.deepcopy(config)
    exported.base_model_name_or_path = base_id
    exported.inference_mode = True
    data = exported.to_dict()
    for key in ("modules_to_save", "trainable_token_indices"):
        data.pop(key, None)
    targets = data.get("target_modules")
    if isinstance(targets, (set, list, tuple)):
        data["target_modules"] = sorted(targets)
    return {k: sorted(v) if isinstance(v, set) else v for k, v in data.items()}


def _adapter_name(model: Any, name: str | None) -> str:
    chosen = name if name is not None else f"{model.culture}-{model.spec.task}"
    if not _NAME.fullmatch(chosen):
        raise VllmExportError(
            f"adapter name {chosen!r} is not usable in `--lora-modules NAME=PATH`: use 1-128 "
            "letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return chosen


def _manifest(
    model: Any, name: str, config: dict[str, Any], tensors: dict[str, Any], files: dict[str, str]
) -> dict[str, Any]:
    from cultura import __version__

    source = dict(model.source or {})
    dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in tensors.values()})
    return {
        "format": VLLM_FORMAT,
        "engine": "vllm",
        "name": name,
        "culture": model.culture,
        "task": model.spec.task,
        "head_type": model.head_type,
        "base_model": {
            "id": model.base.id,
            "revision": model.base.revision,
            "architecture": model.base.architecture,
            "fingerprint": model.base.fingerprint,
        },
        "source": {
            "name": source.get("name"),
            "revision": source.get("revision"),
            # sha256 of the cultura artifact's weights (None for an adapter never saved/loaded)
            "adapter_sha256": model.manifest().files.get(artifact.PEFT_WEIGHTS),
        },
        "lora": {
            "r": config["r"],
            "lora_alpha": config["lora_alpha"],
            "use_rslora": bool(config.get("use_rslora")),
            "target_modules": config["target_modules"],
            "modules": len(tensors) // 2,
            "dtype": dtypes[0] if len(dtypes) == 1 else dtypes,
            "max_lora_rank": next(r for r in VLLM_MAX_LORA_RANKS if r >= config["r"]),
        },
        "client_side": {
            "normalizers": [c.value.full_id for c in model.profile.normalizers],
            "knowledge": bool(model.knowledge is not None and model.knowledge.enabled),
        },
        "files": files,
        "created_with": f"cultura {__version__}",
    }


def _readme(manifest: dict[str, Any], where: Path) -> str:
    name, base = manifest["name"], manifest["base_model"]["id"]
    revision = manifest["base_model"]["revision"]
    rank = manifest["lora"]["max_lora_rank"]
    normalizers = manifest["client_side"]["normalizers"]
    pinned = f" --revision {revision}" if revision else ""
    lines = [
        f"# {name}: cultura {manifest['culture']}/{manifest['task']} for vLLM",
        "",
        f"A LoRA adapter on `{base}` exported by {manifest['created_with']} for vLLM's "
        "multi-LoRA serving (PEFT layout: `adapter_config.json`, `adapter_model.safetensors`). "
        f"`{VLLM_MANIFEST}` records the culture, the base, the source adapter and file hashes.",
        "",
        "```bash",
        f"vllm serve {base}{pinned} --enable-lora --max-lora-rank {rank} \\",
        f"    --lora-modules {name}={where}",
        "curl http://localhost:8000/v1/completions -H 'Content-Type: application/json' \\",
        f"    -d '{{\"model\": \"{name}\", \"prompt\": \"...\", \"max_tokens\": 32}}'",
        "```",
        "",
        "Several adapters share one base: repeat `NAME=PATH` after `--lora-modules` and raise "
        "`--max-loras` (adapters batched together on the GPU).",
        "",
        "vLLM tokenizes prompts with the base tokenizer and does not run cultura: normalize "
        "prompts as cultura does before sending them",
    ]
    if normalizers:
        lines += [
            f"(this culture's normalizers: {', '.join(f'`{n}`' for n in normalizers)}):",
            "",
            "```python",
            "import cultura",
            f"prompts = cultura.culture({manifest['culture']!r}).normalize(prompts)",
            "```",
        ]
    else:
        lines[-1] += " (this culture has no normalizers)."
    if manifest["client_side"]["knowledge"]:
        lines += [
            "",
            "The adapter was used with knowledge injection; vLLM does not inject knowledge, so "
            "put the retrieved context into the prompt yourself.",
        ]
    return "\n".join(lines) + "\n"
