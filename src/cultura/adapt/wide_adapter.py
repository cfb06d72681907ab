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
plugins' word rules and gloss sources). What a wide model cannot do (serve, export, bias and
robustness checks, explanations, continual training, stacking on a language adapter) is
refused with :func:`require_peft`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt import artifact
from cultura.core.errors import CulturaError

if TYPE_CHECKING:
    from cultura.adapt.tagger import WideTagger
    from cultura.adapt.wide import WideDeepClassifier
    from cultura.core.plugins import PluginManager
    from cultura.core.profile import CultureProfile

    WideModel = WideDeepClassifier | WideTagger

__all__ = ["METHODS", "choose_method", "fit_wide", "is_wide", "load_wide_adapter", "require_peft",
           "save_wide_adapter"]

#: ``cultura train --method``: ``auto`` picks (see :func:`choose_method`)
METHODS = ("auto", "wide", "peft")


def is_wide(model: object) -> bool:
    """Whether ``model`` is a wide classifier or tagger (not a PEFT ``CulturalModel``)."""
    from cultura.adapt.tagger import WideTagger
    from cultura.adapt.wide import WideDeepClassifier

    return isinstance(model, (WideDeepClassifier, WideTagger))


def require_peft(model: Any, what: str) -> Any:
    """``model`` when it is a PEFT adapter; a :class:`CulturaError` naming ``what`` (the
    command or function) when it is a wide model, which ``what`` does not handle."""
    if is_wide(model):
        raise CulturaError(
            f"{what} needs a PEFT adapter; this is a wide {_noun(model)} (culture "
            f"{model.culture}), which only predicts and evaluates (cultura predict / cultura "
            "evaluate, or .predict / .evaluate in Python). Train a PEFT adapter with "
            "cultura train --method peft for this"
        )
    return model


def choose_method(method: str, profile: CultureProfile, head_type: str,
                  peft_options: Sequence[str] = ()) -> tuple[str, str]:
    """``(method, why)``: what ``cultura train --method METHOD`` builds for a ``head_type``
    head of ``profile``'s culture when the PEFT-only options ``peft_options`` (their flags)
    were given.

    ``auto`` is ``wide`` for a classifier or tagger of a culture whose plugins give dictionary
    glosses (the cases measured, where it beat both the classical baselines and the PEFT
    adapters: docs/efficacy.md) unless a PEFT option was given, else ``peft``. ``wide`` with a
    head it cannot build, a culture without glosses (classifiers) or a PEFT option is an error.
    """
    from cultura.adapt.glossview import gloss_view

    if method not in METHODS:
        raise CulturaError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "peft":
        return "peft", "--method peft"
    glosses = gloss_view(profile)
    if method == "wide":
        if head_type not in artifact.WIDE_FILES:
            raise CulturaError(f"--method wide builds classifiers (seq-cls) and taggers "
                               f"(token-cls); this head is {head_type}. Use --method peft")
        if peft_options:
            raise CulturaError(f"{', '.join(peft_options)} set(s) how a PEFT adapter trains; drop "
                               "it, or pass --method peft")
        if head_type == "seq-cls" and glosses is None:
            raise CulturaError(f"a wide classifier reads the text's gloss view, and no installed "
                               f"plugin gives {profile.tag} dictionary glosses; use --method peft")
        return "wide", "--method wide"
    if head_type not in artifact.WIDE_FILES:
        return "peft", f"a {head_type} head"
    if glosses is None:
        return "peft", f"no installed plugin gives {profile.tag} dictionary glosses"
    if peft_options:
        return "peft", f"{', '.join(peft_options)} given"
    return "wide", (f"{profile.tag}'s plugins give dictionary glosses ({', '.join(glosses.labels)}); "
                    "--method peft trains a PEFT adapter instead")


def fit_wide(data: Any, culture: str, head_type: str, labels: Sequence[str] | None = None, *,
             base: str = "all-MiniLM-L6-v2", seed: int = 0, text_field: str | None = None,
             label_field: str | None = None, label_map: Mapping[Any, str] | None = None,
             dtype: Any = "auto", progress: bool | None = None,
             manager: PluginManager | None = None) -> WideModel:
    """The wide model ``cultura train --method wide`` fits, with the defaults of
    :func:`~cultura.adapt.wide.fit_wide_deep` (``seq-cls``) or
    :func:`~cultura.adapt.tagger.fit_wide_tagger` (``token-cls``; it reads no ``base``)."""
    if head_type == "seq-cls":
        from cultura.adapt.wide import fit_wide_deep

        return fit_wide_deep(data, culture, labels=labels, base=base, seed=seed,
                             text_field=text_field, label_field=label_field, label_map=label_map,
                             dtype=dtype, progress=progress, manager=manager)
    if head_type == "token-cls":
        from cultura.adapt.tagger import fit_wide_tagger

        return fit_wide_tagger(data, culture, labels=labels, text_field=text_field,
                               label_field=label_field, label_map=label_map, progress=progress,
                               manager=manager)
    raise CulturaError(f"wide models are classifiers (seq-cls) and taggers (token-cls), not {head_type}")


def _noun(model: Any) -> str:
    from cultura.adapt.tagger import WideTagger

    return "tagger" if isinstance(model, WideTagger) else "classifier"


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
    from cultura.adapt.tagger import WideTagger

    tagger = isinstance(model, WideTagger)
    profile = model.profile if tagger else model.encoder.profile
    directory = Path(directory)
    with artifact.atomic_directory(directory, overwrite=overwrite) as tmp:
        model.save(tmp)
        settings = dict(model.settings) if tagger else {"C": model.C, "deep_weight": model.deep_weight}
        sources = model.features.sources if tagger else {"gloss_sources": list(model.gloss_sources)}
        manifest = artifact.Manifest(
            culture=str(profile.culture),
            task=task,
            head_type="token-cls" if tagger else "seq-cls",
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


def load_wide_adapter(
    directory: str | Path,
    manifest: artifact.Manifest,
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

