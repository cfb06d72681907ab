"""Module-tree helpers shared by the server, the PEFT engine and merging (no torch import)."""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["set_submodule", "share_copy"]


def set_submodule(model: Any, name: str, module: Any) -> None:
    """Replace the submodule at the dotted path ``name`` of ``model`` with ``module``."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def share_copy(model: Any, *extra_shared: Any) -> Any:
    """A copy of ``model``'s module tree that shares every parameter and buffer (and the
    modules in ``extra_shared``) with it: new module objects, no new weights."""
    memo: dict[int, Any] = {}
    for tensor in list(model.parameters()) + list(model.buffers()):
        memo[id(tensor)] = tensor
    for module in extra_shared:
        memo[id(module)] = module
    return copy.deepcopy(model, memo)
