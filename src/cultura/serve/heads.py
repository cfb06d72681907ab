"""Head families: which adapters one :class:`~cultura.serve.MultiCultureServer` serves together.

A server loads its shared base once, with one kind of head (``transformers``' sequence
classifier, token classifier or causal LM), so it serves adapters of one head family:

* ``seq-cls`` — :meth:`~cultura.serve.MultiCultureServer.predict` gives a label per row;
* ``token-cls`` — ``predict`` gives each row's tagged words and entities
  (:mod:`cultura.serve.tokens`);
* ``causal-lm`` — :meth:`~cultura.serve.MultiCultureServer.generate` continues each row's
  prompt (:mod:`cultura.serve.generation`).

The family is the ``head_type`` given to the server, else its first adapter's. An adapter of
another family is refused with how to serve it: a second server on the same base. ``masked-lm``
adapters (fill-mask) are not served: ``CulturalModel.predict`` runs them.
"""

from __future__ import annotations

from typing import Any

from cultura.serve.errors import ServeError, UnsupportedAdapterError

__all__ = ["SERVED_HEADS", "base_spec", "check_head", "check_head_type"]

#: the head families a server serves
SERVED_HEADS = ("seq-cls", "token-cls", "causal-lm")


def check_head_type(head_type: str | None) -> str | None:
    """``head_type`` when the server can serve it (``None``: set by the first adapter)."""
    if head_type is not None and head_type not in SERVED_HEADS:
        raise ServeError(
            f"head_type must be one of {SERVED_HEADS} (or None: the first adapter's), got "
            f"{head_type!r}"
        )
    return head_type


def check_head(served: str | None, head_type: str, label: str) -> None:
    """Refuse an adapter with a ``head_type`` head on a server of the ``served`` family."""
    if head_type not in SERVED_HEADS:
        raise UnsupportedAdapterError(
            f"{label}: MultiCultureServer serves {', '.join(SERVED_HEADS)} adapters; this one "
            f"has a {head_type} head (use CulturalModel.predict for it)"
        )
    if served is not None and head_type != served:
        raise UnsupportedAdapterError(
            f"{label}: a {head_type} adapter, and this server serves {served} adapters (one "
            f"head family per server, as its shared base has one head); serve it with a second "
            f"server on the same base: MultiCultureServer(base, head_type={head_type!r})"
        )


def base_spec(head_type: str, labels: Any = ("0", "1")) -> Any:
    """The head spec the shared base is loaded with (the adapters' heads replace its own)."""
    from cultura.core.types import AdapterHeadSpec

    if head_type == "causal-lm":
        return AdapterHeadSpec("serve", "causal-lm")
    return AdapterHeadSpec("serve", head_type, labels=tuple(labels))  # type: ignore[arg-type]
