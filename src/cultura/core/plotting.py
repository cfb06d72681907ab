"""matplotlib for the reports' PNG output, imported only when a chart is drawn."""

from __future__ import annotations

from typing import Any

from cultura.core.errors import CulturaError

__all__ = ["pyplot"]


def pyplot(what: str) -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend, or a :class:`CulturaError`
    saying that ``what`` needs the ``plot`` extra when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise CulturaError(
            f"{what} needs matplotlib, which is not installed; install the plotting extra: "
            "pip install 'cultura[plot]'"
        ) from None
    return plt
