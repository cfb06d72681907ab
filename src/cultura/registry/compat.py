"""Base-model compatibility: does an adapter fit the base model the user wants to load?

An adapter records its base model in ``cultura.json`` (``base_model``: id, architecture, a
fingerprint of the architecture-defining config fields, vocabulary size). A base model is
described by its config (``config.json`` of a local folder, of a Hub repo, or of a loaded
model). The adapter is compatible when the fingerprints are equal (same shape: model type,
hidden size, layers, heads, ...), the architecture family agrees and the base vocabulary size
is the one the adapter was trained on. When the base config cannot be read (offline and not
cached), ids are compared instead, and the reason says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cultura.adapt.artifact import Manifest, config_fingerprint

__all__ = ["BaseInfo", "check_compat", "describe_base"]


@dataclass(frozen=True)
class BaseInfo:
    """What is known about the requested base model."""

    id: str | None
    config: Mapping[str, Any] | None

    @property
    def fingerprint(self) -> str | None:
        return config_fingerprint(self.config) if self.config else None

    def label(self) -> str:
        return self.id or "<model object>"


def _family(name: str) -> str:
    """``BertForSequenceClassification`` -> ``bert``; ``GPT2LMHeadModel`` -> ``gpt2``."""
    head = re.split(r"For[A-Z]|Model$|LMHead|PreTrained", name)[0]
    return re.sub(r"[^a-z0-9]", "", head.lower())


def _read_config_file(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe_base(
    base: Any, *, offline: bool, endpoint: str | None = None, token: str | None = None
) -> BaseInfo | None:
    """Describe ``base`` (a folder, a Hub id, a loaded model or a config mapping).

    A Hub id's ``config.json`` is read from the Hugging Face cache, or downloaded when online
    (at a checked commit, through a temporary folder: see
    :func:`cultura.registry.download.fetch_config`); when neither works the config is ``None`` and
    compatibility falls back to comparing ids.
    """
    if base is None:
        return None
    if isinstance(base, Mapping):
        return BaseInfo(str(base.get("_name_or_path") or "") or None, dict(base))
    config_obj = getattr(base, "config", None)
    if config_obj is not None and hasattr(config_obj, "to_dict"):
        config = config_obj.to_dict()
        return BaseInfo(str(config.get("_name_or_path") or "") or None, config)
    text = str(base)
    folder = Path(text).expanduser()
    if folder.is_dir():
        return BaseInfo(text, _read_config_file(folder / "config.json"))
    config = None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(text, "config.json")
        if isinstance(cached, str):
            config = _read_config_file(Path(cached))
    except Exception:  # not a valid repo id for the cache: treat as unknown
        config = None
    if config is None and not offline:
        from cultura.registry.download import fetch_config

        try:
            config = fetch_config(text, token=token, endpoint=endpoint)
        except Exception:  # unreachable, refused or not a model repo: compare ids instead
            config = None
    return BaseInfo(text, config)


def check_compat(manifest: Manifest, base: BaseInfo | None) -> tuple[bool, str]:
    """Whether the adapter of ``manifest`` fits ``base``, with the reason either way."""
    ref = manifest.base_model
    if not ref.id:  # a wide tagger (cultura.adapt.tagger) reads no base model
        return True, "reads no base model (a wide tagger): fits any base"
    if base is None:
        return True, f"no base given: uses its own base {ref.id}"
    config = base.config
    if config is not None and ref.fingerprint:
        fingerprint = config_fingerprint(config)
        if fingerprint != ref.fingerprint:
            return False, (
                f"base config fingerprint {fingerprint} differs from the adapter's "
                f"{ref.fingerprint} (trained on {ref.id}: another architecture or size)"
            )
        families = {_family(a) for a in config.get("architectures") or []}
        if config.get("model_type"):
            families.add(re.sub(r"[^a-z0-9]", "", str(config["model_type"]).lower()))
        if ref.architecture and families and _family(ref.architecture) not in families:
            return False, (
                f"architecture {ref.architecture} does not match the base "
                f"({', '.join(sorted(families))})"
            )
        vocab = config.get("vocab_size")
        expected = {ref.vocab_size, int(manifest.tokenizer.get("vocab_size_before") or 0)} - {0}
        if vocab and expected and int(vocab) not in expected:
            return False, (
                f"base vocabulary has {vocab} tokens, the adapter was trained on a base with "
                f"{' or '.join(str(v) for v in sorted(expected))}"
            )
        return True, f"compatible with {base.label()} (fingerprint {fingerprint})"
    if base.id and base.id == ref.id:
        why = "base config not readable" if config is None else "adapter records no fingerprint"
        return True, f"same base id {ref.id} ({why}; fingerprints not compared)"
    if config is None:
        return False, (
            f"trained on {ref.id}, not {base.label()}, and the base config is not available "
            "to compare fingerprints (offline?)"
        )
    return False, f"trained on {ref.id}; the adapter records no fingerprint to compare"
