"""Counterfactual data augmentation (CDA), the bias mitigation: :mod:`cultura.adapt.cda`.

Training applies it (``counterfactual_augmentation=True``), so it lives in the adaptation layer,
below the bias package (see docs/architecture.md, "Module layering"); it is re-exported here
with the other bias tools.
"""

from __future__ import annotations

from cultura.adapt.cda import (
    CDAWarning,
    SwapTable,
    Words,
    augment,
    counterfactuals,
    default_boundaries,
)

__all__ = ["augment", "counterfactuals", "default_boundaries", "CDAWarning", "SwapTable", "Words"]
