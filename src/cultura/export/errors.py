"""Errors raised by :mod:`cultura.export` (no heavy imports)."""

from __future__ import annotations

from cultura.core.errors import CulturaError

__all__ = ["ExportError", "MissingExtraError", "require_onnx"]


class ExportError(CulturaError):
    """An adapter cannot be exported (unsupported head or adapter type, a failed parity
    check), or an exported directory is malformed, changed or unsafe to load."""


class MissingExtraError(ExportError, ImportError):
    """A package of the ``export`` extra (onnx, onnxruntime) is not installed."""


def require_onnx() -> tuple[object, object]:
    """``(onnx, onnxruntime)``, imported; :class:`MissingExtraError` naming the extra when
    either is missing."""
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise MissingExtraError(
            f"ONNX export and the ONNX runtime need the 'export' extra ({exc.name} is not "
            "installed): pip install 'cultura[export]'"
        ) from None
    return onnx, onnxruntime
