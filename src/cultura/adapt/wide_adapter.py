"""Wide models as registry adapters: a :class:`~cultura.adapt.wide.WideDeepClassifier` or a
:class:`~cultura.adapt.tagger.WideTagger` saved as a cultura artifact (``kind: "wide"`` in
``cultura.json``), so that it is loaded by name, published to and pulled from the Hub, and
predicted with and evaluated like a PEFT adapter.

Layout (docs/reference/artifact.md)::

    wide.json + wide.safetensors       a classifier (seq-cls), or
    tagger.json + tagger.safetensors   a tagger (token-cls)
    cultura.json                       the manifest (kind "wide", sha256 of every file)
    README.md                          the model card

The files are untrusted data like every artifact's: :func:`cultura.adapt.artifact.verify_artifact`
checks the manifest, the hashes and the model's metadata before anything is read, and the
model's own loader checks the rest (weights' sha256, shapes, finite values, the installed
plugins' word rules and gloss sources). A wide model predicts, evaluates and is bias-checked
(a classifier through its class probabilities); what needs a network (serving, export,
robustness reports, explanations, continual training, stacking on a language adapter) refuses
it with :func:`require_peft`. :func:`cultura.adapt.loading.load_pretrained` reads one
back (:func:`~cultura.adapt.loading.load_wide`); :mod:`cultura.adapt.methods` decides when
``cultura train`` fits one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cultura.adapt import artifact
from cultura.core.errors import CulturaError

if TYPE_CHECKING:
    from cultura.adapt.tagger import WideTagger
    from cultura.adapt.wide import WideDeepClassifier

    WideModel = WideDeepClassifier | WideTagger

__all__ = ["WideAdapter", "is_wide", "require_peft", "save_wide_adapter"]


class WideAdapter:
    """What makes a wide model an adapter: its kind, and :meth:`save_pretrained`. Mixed into
    :class:`~cultura.adapt.wide.WideDeepClassifier` and :class:`~cultura.adapt.tagger.WideTagger`,
    which give ``head_type`` and ``save`` (their own files)."""

    #: what it is to the registry and the commands (a PEFT ``CulturalModel`` has a head type too)
    adapter_kind: ClassVar[str] = "wide"
    head_type: ClassVar[str]

    def save_pretrained(self, directory: str | Path, *, task: str, license: str = "apache-2.0",
                        overwrite: bool = False, training: Mapping[str, Any] | None = None) -> Path:
        """Save as a cultura adapter for ``task`` (the model's files, the manifest and the
        model card): loaded by name, published and pulled like any adapter. ``training``: what
        to record of the fit (``cultura train`` records the training size and eval metrics)."""
        return save_wide_adapter(self, directory, task=task, license=license, overwrite=overwrite,  # type: ignore[arg-type]
                                 training=training)


def is_wide(model: object) -> bool:
    """Whether ``model`` is a wide classifier or tagger (not a PEFT ``CulturalModel``): both
    say so by their class attribute ``adapter_kind``."""
    return getattr(model, "adapter_kind", None) == "wide"


def require_peft(model: Any, what: str) -> Any:
    """``model`` when it is a PEFT adapter; a :class:`CulturaError` naming ``what`` (the
    command or function) when it is a wide model, which ``what`` does not handle."""
    if is_wide(model):
        raise CulturaError(
            f"{what} needs a PEFT adapter; this is a wide {_noun(model)} (culture "
            f"{model.culture}), which predicts, evaluates and is bias-checked only (cultura "
            "predict / evaluate / check-bias, or .predict / .evaluate in Python). Train a PEFT "
            "adapter with cultura train --method peft for this"
        )
    return model


def _noun(model: Any) -> str:
    return "tagger" if model.head_type == "token-cls" else "classifier"


def save_wide_adapter(
    model: WideModel,
    directory: str | Path,
    *,
    task: str,
    license: str = "apache-2.0",
    training: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` as a cultura adapter artifact for ``task`` to ``directory``,
    atomically: the model's files, ``cultura.json`` and the model card.

    ``training``: what the fit was (recorded in the manifest's ``training``; the model's
    settings are added). Only what loading accepts is saved: the manifest is read back
    through the same checks first.
    """
    from cultura import __version__

    tagger = model.head_type == "token-cls"
    profile = model.profile if tagger else model.encoder.profile
    directory = Path(directory)
    with artifact.atomic_directory(directory, overwrite=overwrite) as tmp:
        model.save(tmp)
        settings = dict(model.settings) if tagger else {"C": model.C, "deep_weight": model.deep_weight}
        sources = model.features.sources if tagger else {"gloss_sources": list(model.gloss_sources)}
        manifest = artifact.Manifest(
            culture=str(profile.culture),
            task=task,
            head_type=model.head_type,
            # a classifier's base as its encoder records it (architecture fingerprint,
            # vocabulary, embedding digest), so the registry can tell which bases it fits
            base_model=(artifact.BaseModelRef(id="") if tagger
                        else replace(model.encoder.base, id=model.base)),
            labels=tuple(model.labels),
            tokenizer={"normalizers": artifact.normalizer_records(profile),
                       "plugins": [str(p) for p in profile.plugins]},
            license=license,
            files=artifact.compute_hashes(tmp),
            created_with=f"cultura {__version__}",
            training={**dict(training or {}), "method": "wide", "model": _noun(model),
                      "settings": settings, **sources},
            kind="wide",
        )
        text = manifest.to_json()
        artifact.Manifest.from_dict(json.loads(text), where=str(directory / artifact.MANIFEST))
        (tmp / artifact.MANIFEST).write_text(text, encoding="utf-8")
        (tmp / artifact.CARD).write_text(artifact.render_card(manifest), encoding="utf-8")
        artifact.check_model_files(tmp, manifest)
    return directory
