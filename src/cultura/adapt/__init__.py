"""Culture adaptation: tokenizer tweaks, knowledge injection, adapter heads and training.

Modules: :mod:`~cultura.adapt.model` (``adapt``, ``CulturalModel``, ``load_pretrained``),
:mod:`~cultura.adapt.tokenizer`, :mod:`~cultura.adapt.knowledge`, :mod:`~cultura.adapt.heads`,
:mod:`~cultura.adapt.cultural_model` (the class), :mod:`~cultura.adapt.build` and
:mod:`~cultura.adapt.loading` (the bodies of ``adapt`` and ``load_pretrained``),
:mod:`~cultura.adapt.train`, :mod:`~cultura.adapt.cda` (counterfactual data augmentation),
:mod:`~cultura.adapt.data`, :mod:`~cultura.adapt.artifact`, :mod:`~cultura.adapt.base`,
:mod:`~cultura.adapt.metrics`, :mod:`~cultura.adapt.cli`, :mod:`~cultura.adapt.demo`.

``cultura.adapt`` is both this package and the public function
:func:`cultura.adapt.model.adapt`: once any ``cultura.adapt.*`` module is imported, Python
binds the attribute ``cultura.adapt`` to this package, so the package itself is callable and
forwards to the function. Importing it loads no torch.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from cultura.adapt.model import adapt

        return adapt(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
