"""What ``cultura train`` builds: a PEFT adapter, or a wide model (a classifier or a tagger
fitted in seconds on what the culture's plugins know; :mod:`cultura.adapt.wide`,
:mod:`cultura.adapt.tagger`), saved as an adapter either way (:mod:`cultura.adapt.wide_adapter`).

``--method auto`` (the default) picks the one measured best (docs/efficacy.md): a wide model
for a classifier or tagger of a culture whose plugins give dictionary glosses, else PEFT.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cultura.adapt import artifact
from cultura.adapt.base import DEFAULT_BASE
from cultura.core.errors import CulturaError

if TYPE_CHECKING:
    from cultura.adapt.wide_adapter import WideModel
    from cultura.core.plugins import PluginManager
    from cultura.core.profile import CultureProfile

__all__ = ["METHODS", "choose_method", "fit_wide"]

#: ``cultura train --method``: ``auto`` picks (see :func:`choose_method`)
METHODS = ("auto", "wide", "peft")


def choose_method(method: str, profile: CultureProfile, head_type: str,
                  peft_options: Sequence[str] = ()) -> tuple[str, str]:
    """``(method, why)``: what ``cultura train --method METHOD`` builds for a ``head_type``
    head of ``profile``'s culture when the PEFT-only options ``peft_options`` (their flags)
    were given.

    ``auto`` is ``wide`` unless a PEFT option was given: for a tagger (``token-cls``), whose
    CRF beat the PEFT adapter on every NER data set measured, with or without the plugins'
    words and glosses (Chinese, Japanese); for a classifier (``seq-cls``) of a culture whose
    plugins give dictionary glosses, which it reads (Chinese reviews). Else ``peft``: other
    heads, and classifiers of cultures without glosses, where nothing else was measured
    (docs/efficacy.md). ``wide`` with a head it cannot build, a classifier of a culture without
    glosses or a PEFT option is an error.
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
    if head_type == "seq-cls" and glosses is None:
        return "peft", f"no installed plugin gives {profile.tag} dictionary glosses"
    if peft_options:
        return "peft", f"{', '.join(peft_options)} given"
    if head_type == "token-cls":
        return "wide", ("a CRF tagger beat the PEFT adapter on every NER data set measured; "
                        "--method peft trains a PEFT adapter instead")
    return "wide", (f"{profile.tag}'s plugins give dictionary glosses ({', '.join(glosses.labels)}); "
                    "--method peft trains a PEFT adapter instead")


def fit_wide(data: Any, culture: str, head_type: str, labels: Sequence[str] | None = None, *,
             base: str = DEFAULT_BASE, seed: int = 0, text_field: str | None = None,
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
