"""Culture-specific robustness: how an adapter's predictions hold up when the same text is
written the way people of its culture really write it (another script or regional variant,
diacritics, width, homophone typos, romanization, casing).

Plugins contribute :class:`~cultura.core.types.Perturbation` registrations through the
``cultura_perturbations`` hook; :func:`robustness_report` measures an adapter under each,
:func:`robustness_gate` judges the report (``cultura robustness``, ``cultura publish
--robustness-data``). See ``docs/robustness.md``.
"""

from __future__ import annotations

from cultura.robustness.engine import PerturbationFailure, perturb, robustness_report
from cultura.robustness.report import (
    PerturbationResult,
    RobustnessGate,
    RobustnessReport,
    robustness_gate,
)

__all__ = [
    "PerturbationFailure",
    "PerturbationResult",
    "RobustnessGate",
    "RobustnessReport",
    "perturb",
    "robustness_gate",
    "robustness_report",
]
