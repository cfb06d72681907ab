"""``cultura.check_bias``: the bias engine, with adapter names resolved by the registry.

:func:`cultura.bias.engine.check_bias` checks models, adapter and model directories and
``(model, tokenizer)`` pairs; the registry publishes through the bias gate, so the engine cannot
import the registry back to resolve names. :func:`check_bias` here loads a name
(``zh/sentiment``, ``hf:org/repo``) with :func:`cultura.registry.resolve.load` and hands the
model to the engine, reported under the name given.

>>> import cultura
>>> cultura.check_bias("zh/sentiment").passed                   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.bias import engine
from cultura.registry.resolve import load

if TYPE_CHECKING:
    from cultura.bias.report import BiasReport
    from cultura.core.tags import Culture

__all__ = ["check_bias"]


def check_bias(
    target: Any,
    *,
    culture: str | Culture | None = None,
    checks: Iterable[Any] | None = None,
    data: Any = None,
    manager: Any = None,
    batch_size: int = 32,
    progress: bool = True,
    min_lms: float | None = None,
    min_icat: float | None = None,
    stereoset_predictions: str | Path | None = None,
) -> BiasReport:
    """Run bias checks on ``target``, which may also be an adapter name.

    A string or path that is not a directory is resolved as an adapter name and loaded; any
    other target goes to :func:`cultura.bias.engine.check_bias` as given, which documents the
    arguments and the report.
    """
    if isinstance(target, (str, Path)) and not Path(target).is_dir():
        target = replace(engine.resolve_target(load(str(target))), name=str(target))
    return engine.check_bias(
        target, culture=culture, checks=checks, data=data, manager=manager,
        batch_size=batch_size, progress=progress, min_lms=min_lms, min_icat=min_icat,
        stereoset_predictions=stereoset_predictions,
    )
