"""Running a plugin's perturbation over many texts, isolated and time-limited.

Perturbations are plugin code (:class:`~cultura.core.types.Perturbation`, the
``cultura_perturbations`` hook): :func:`perturb` runs one in a daemon thread per chunk of texts,
each chunk within the plugin time limit (``CULTURA_PLUGIN_TIMEOUT``), and turns a raise, a hang
or a non-string into a :class:`PerturbationFailure` naming the perturbation and its plugin. Used
by ``cultura robustness`` and by perturbation augmentation in training.
"""

from __future__ import annotations

from collections.abc import Sequence

from cultura.core.errors import CulturaError, describe_exception
from cultura.core.plugins import _isolated, _timeout_from_env
from cultura.core.types import Perturbation

__all__ = ["CHUNK", "PerturbationFailure", "perturb", "source"]

#: texts per isolated call of a perturbation (each call gets the whole time limit)
CHUNK = 256
_TIMEOUT_VAR = "CULTURA_PLUGIN_TIMEOUT"


class PerturbationFailure(CulturaError):
    """A perturbation raised, hung or returned something other than a string."""


def source(p: Perturbation) -> str:
    """Who gave ``p``: its plugin and distribution, or ``given`` for one passed in directly."""
    return str(p.provenance) if p.provenance is not None else "given"


def perturb(
    perturbation: Perturbation,
    texts: Sequence[str],
    *,
    seed: int = 0,
    timeout: float | None = None,
    chunk: int = CHUNK,
) -> list[str]:
    """``perturbation`` applied to ``texts``, isolated: each chunk of ``chunk`` texts runs in a
    daemon thread and must finish within ``timeout`` seconds (default
    ``CULTURA_PLUGIN_TIMEOUT``, else 10; ``0``: no limit).

    Raises :class:`PerturbationFailure` naming the perturbation and its plugin when it raises,
    hangs or returns a non-string.
    """
    limit = _timeout_from_env() if timeout is None else (timeout or None)
    out: list[str] = []
    texts = list(texts)
    for start in range(0, len(texts), chunk):
        part = texts[start : start + chunk]
        outcome = _isolated(
            lambda part=part: perturbation.apply(part, seed=seed), limit,
            f"perturbation {perturbation.id}",
        )
        if outcome.hung:
            who = perturbation.provenance
            fix = (f"fix it, or disable the plugin: CULTURA_DISABLE_PLUGINS={who.distribution}"
                   if who is not None else "fix it")
            raise PerturbationFailure(
                f"perturbation {perturbation.id!r} ({source(perturbation)}) did not finish "
                f"{len(part)} texts within {limit:g} s ({_TIMEOUT_VAR}); its thread is "
                f"abandoned. If it is only slow, raise the limit (e.g. {_TIMEOUT_VAR}=60); "
                f"otherwise {fix}"
            )
        if outcome.error is not None:
            if isinstance(outcome.error, CulturaError):  # apply() named the plugin already
                raise PerturbationFailure(str(outcome.error)) from outcome.error
            raise PerturbationFailure(
                f"perturbation {perturbation.id!r} ({source(perturbation)}) failed: "
                f"{describe_exception(outcome.error)}"
            ) from outcome.error
        out.extend(outcome.value)
    return out
