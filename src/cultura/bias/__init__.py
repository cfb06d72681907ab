"""Bias checks: engine, metrics, importers, reports, the publish gate and CDA mitigation.

Imported lazily: ``import cultura.bias`` does not import torch; the engine and scorers import it
when they run a model. See docs/bias.md.

* :func:`cultura.bias.engine.check_bias` — run a culture's checks (and user data) on a model;
* :class:`cultura.bias.report.BiasReport` — JSON, Markdown, summary, PNG;
* :mod:`cultura.bias.metrics` — CTF gap, max group gap, flip rate, CrowS-Pairs, sentence LL,
  StereoSet SS/LMS/ICAT;
* :mod:`cultura.bias.importers` — CrowS-Pairs CSV, StereoSet JSON, user check files;
* :func:`cultura.bias.cda.augment` — counterfactual data augmentation;
* :func:`cultura.bias.gate.enforce` — the publish gate.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "check_bias": "cultura.bias.engine",
    "collect_checks": "cultura.bias.engine",
    "BiasReport": "cultura.bias.report",
    "CheckResult": "cultura.bias.report",
    "augment": "cultura.bias.cda",
    "enforce": "cultura.bias.gate",
    "run_gate": "cultura.bias.gate",
    "BiasGateError": "cultura.bias.gate",
    "load_data": "cultura.bias.importers",
    "read_crows_pairs": "cultura.bias.importers",
    "read_stereoset": "cultura.bias.importers",
    "read_check_file": "cultura.bias.importers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cultura.bias' has no attribute {name!r}")
    return getattr(import_module(module), name)
