"""Floating-point precision: one ``dtype`` argument understood the same way everywhere.

``adapt``, ``train``, ``load_pretrained``, :class:`~cultura.serve.MultiCultureServer` and the
``cultura train`` / ``cultura serve`` commands take ``dtype="auto" | "bfloat16" | "float16" |
"float32"``:

* ``"auto"`` (the default): bfloat16 on a CUDA GPU that supports it, float32 everywhere else
  (CPU, older GPUs, Apple ``mps``);
* the others force that precision (``"bf16"``, ``"fp16"``, ``"fp32"``, ``"half"`` and
  ``"float"`` are accepted as spellings of the same three).

This module imports torch only inside the functions that return torch objects, so it is safe
to import from command modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cultura.core.errors import CulturaError

if TYPE_CHECKING:
    import torch

__all__ = [
    "DTYPE_CHOICES",
    "DTYPE_HELP",
    "canonical_dtype",
    "check_training_dtype",
    "dtype_option",
    "mixed_precision",
    "resolve_dtype",
]

#: the values a ``dtype`` argument / ``--dtype`` option takes
DTYPE_CHOICES: tuple[str, ...] = ("auto", "bfloat16", "float16", "float32")
#: help text shared by every ``--dtype`` option
DTYPE_HELP = (
    "Floating-point precision: auto (bfloat16 on a GPU that supports it, float32 on CPU), "
    "bfloat16, float16 or float32."
)
_ALIASES = {
    "auto": "auto",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "float16": "float16", "fp16": "float16", "half": "float16",
    "float32": "float32", "fp32": "float32", "float": "float32",
}


def canonical_dtype(dtype: Any) -> str:
    """The canonical name (one of :data:`DTYPE_CHOICES`) of a dtype argument.

    Accepts the names above, their aliases and ``torch.dtype`` objects; ``None`` is ``"auto"``.
    Raises :class:`~cultura.core.errors.CulturaError` naming the value otherwise.
    """
    if dtype is None:
        return "auto"
    if not isinstance(dtype, str):
        name = str(dtype).removeprefix("torch.")
        if name in _ALIASES:
            return _ALIASES[name]
        raise CulturaError(
            f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPE_CHOICES)}"
        )
    key = dtype.strip().lower()
    if key not in _ALIASES:
        raise CulturaError(
            f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPE_CHOICES)}"
        )
    return _ALIASES[key]


def _bf16_ok(device: torch.device) -> bool:
    import torch

    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    return bool(torch.cuda.is_bf16_supported())


def resolve_dtype(dtype: Any = "auto", device: Any = None) -> torch.dtype:
    """The ``torch.dtype`` that ``dtype`` means on ``device`` (default: CUDA when available).

    ``"auto"`` is bfloat16 on a CUDA device that supports it and float32 otherwise.
    """
    import torch

    name = canonical_dtype(dtype)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if name == "auto":
        return torch.bfloat16 if _bf16_ok(device) else torch.float32
    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[name]


def mixed_precision(dtype: Any = "auto", device: Any = None) -> str:
    """Accelerate's ``mixed_precision`` setting for training in ``dtype``: ``"bf16"``,
    ``"fp16"`` or ``"no"`` (float32)."""
    import torch

    resolved = resolve_dtype(dtype, device)
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(resolved, "no")


def check_training_dtype(dtype: Any, device: Any) -> None:
    """Raise :class:`~cultura.core.errors.CulturaError` when training in ``dtype`` on
    ``device`` cannot work: float16 on a CPU (PyTorch has no float16 mixed precision there, and
    Accelerate would silently train in float32 with float16 weights)."""
    import torch

    if resolve_dtype(dtype, device) == torch.float16 and torch.device(device).type == "cpu":
        raise CulturaError(
            "float16 training needs a GPU: on CPU PyTorch has no float16 mixed precision; use "
            "dtype='bfloat16' (mixed precision by CPU autocast) or 'float32' (--dtype on the "
            "command line)"
        )


def dtype_option(command: Any) -> Any:
    """The ``--dtype`` option of a command (default ``auto``, the aliases accepted, the value
    passed on in its canonical name); click is imported only when a command is decorated."""
    import click

    def convert(ctx: click.Context, param: click.Parameter, value: Any) -> str:
        try:
            return canonical_dtype(value)
        except CulturaError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None

    return click.option(
        "--dtype", default="auto", show_default=True, callback=convert,
        metavar="[" + "|".join(DTYPE_CHOICES) + "]", help=DTYPE_HELP,
    )(command)
