"""``cultura.adapt(...)`` and :class:`CulturalModel`: a base model adapted to a culture.

A :class:`CulturalModel` bundles the PEFT model (base + adapter + head), the tweaked tokenizer
(culture normalizers on every encode path, extended vocabulary), the culture profile, the
adapter-head spec and the knowledge injector. It trains (:meth:`CulturalModel.train`),
evaluates, predicts with localized labels, and saves the artifact of design.md §4, which
:func:`load_pretrained` restores exactly (identical logits).

This module is the public home of the three; they live in :mod:`~cultura.adapt.cultural_model`
(the class), :mod:`~cultura.adapt.build` (``adapt``) and :mod:`~cultura.adapt.loading`
(``load_pretrained``), which import the class and never this module.

>>> import cultura
>>> model = cultura.adapt("sentence-transformers/all-MiniLM-L6-v2", culture="zh-Hans",
...                       task="sentiment")                          # doctest: +SKIP
>>> model.train("train.jsonl", eval="dev.jsonl", epochs=3)           # doctest: +SKIP
>>> model.predict(["这部电影太好看了"])                                # doctest: +SKIP
[{'label': '正面', 'score': 0.93, ...}]
"""

from __future__ import annotations

from cultura.adapt.build import adapt
from cultura.adapt.cultural_model import CulturalModel, CulturaWarning
from cultura.adapt.loading import load_pretrained

__all__ = ["CulturalModel", "CulturaWarning", "adapt", "load_pretrained"]
