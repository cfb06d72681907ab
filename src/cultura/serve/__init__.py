"""Multi-culture inference: one base model, many culture adapters, mixed batches.

* :class:`~cultura.serve.server.MultiCultureServer` — add adapters by name, directory or
  object; ``predict(texts, cultures=[...])`` routes each row to its culture's normalizers,
  knowledge, adapter and head inside one batch; hot swap into pre-allocated slots; ``merge``.
* :mod:`cultura.serve.fused` — the fused mixed-batch LoRA layers.
* :mod:`cultura.serve.http` — the HTTP JSON API behind ``cultura serve`` (extra ``serve``).

The server's parts: :mod:`~cultura.serve.adapters` (an adapter as served),
:mod:`~cultura.serve.table` (the shared embedding table), :mod:`~cultura.serve.slots` (slots and
hot swap), :mod:`~cultura.serve.routing` (rows to cultures), :mod:`~cultura.serve.dispatch`
(engine choice, batch assembly), :mod:`~cultura.serve.peft_engine`, :mod:`~cultura.serve.merge`
and :mod:`~cultura.serve.modules` (module-tree helpers).

Names are imported lazily: ``import cultura.serve`` does not import torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "MultiCultureServer": "cultura.serve.server:MultiCultureServer",
    "ServedAdapter": "cultura.serve.adapters:ServedAdapter",
    "MergedModel": "cultura.serve.merge:MergedModel",
    "create_app": "cultura.serve.http:create_app",
    "ServeError": "cultura.serve.errors:ServeError",
    "NotServedError": "cultura.serve.errors:NotServedError",
    "UnsupportedAdapterError": "cultura.serve.errors:UnsupportedAdapterError",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'cultura.serve' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from cultura.serve.adapters import ServedAdapter  # noqa: F401
    from cultura.serve.errors import NotServedError, ServeError, UnsupportedAdapterError  # noqa: F401
    from cultura.serve.http import create_app  # noqa: F401
    from cultura.serve.merge import MergedModel  # noqa: F401
    from cultura.serve.server import MultiCultureServer  # noqa: F401
