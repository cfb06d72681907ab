"""The training defaults of :func:`cultura.adapt.train.train`, ``CulturalModel.train``,
``cultura train`` and ``cultura demo``: one set, imported by all of them, chosen on the efficacy
benchmark (docs/efficacy.md has the runs behind each value). A light module: no torch.
"""

from __future__ import annotations

import math

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_EMBEDDING_LR",
    "DEFAULT_LR",
    "MAX_EPOCHS",
    "MIN_EPOCHS",
    "TARGET_STEPS",
    "auto_epochs",
]

#: learning rate of the adapter and head
DEFAULT_LR = 5e-4
#: learning rate of the added vocabulary rows: they start from an initialization, not from
#: pretraining, and must move further than the adapter's weights
DEFAULT_EMBEDDING_LR = 5e-3
DEFAULT_BATCH_SIZE = 16
#: ``epochs=None``: as many epochs as give about this many optimizer steps ...
TARGET_STEPS = 300
#: ... but at least and at most these many
MIN_EPOCHS, MAX_EPOCHS = 3, 20


def auto_epochs(examples: int, batch_size: int = DEFAULT_BATCH_SIZE, grad_accum: int = 1) -> int:
    """The epochs ``train(epochs=None)`` runs for ``examples`` training rows: enough for about
    :data:`TARGET_STEPS` optimizer steps, within [:data:`MIN_EPOCHS`, :data:`MAX_EPOCHS`]
    (200 rows -> 20 epochs, 1,000 -> 5, 5,000 or more -> 3 at batch 16)."""
    steps = max(1, math.ceil(max(examples, 1) / (batch_size * grad_accum)))
    return max(MIN_EPOCHS, min(MAX_EPOCHS, math.ceil(TARGET_STEPS / steps)))
