"""Explanations: why an adapter gives a text its label, word by word.

:func:`explain` (also :meth:`cultura.CulturalModel.explain`) computes token attributions with
integrated gradients on the input embeddings and with occlusion as a model-free cross-check,
mapped back to the original text's characters and words through the culture's normalizers
(:mod:`cultura.explain.alignment`) and added vocabulary. :mod:`cultura.explain.render` draws
them in the terminal, as self-contained HTML and as PNG; ``cultura explain`` is the command.
See docs/explain.md. Importing this package does not import torch.
"""

from cultura.explain.alignment import Alignment, align
from cultura.explain.attribution import (
    DEFAULT_STEPS,
    METHODS,
    Explanation,
    PieceAttribution,
    WordAttribution,
    explain,
    spearman,
)
from cultura.explain.render import RenderWarning, to_html, to_png, to_rich, to_text

__all__ = [
    "DEFAULT_STEPS",
    "METHODS",
    "Alignment",
    "Explanation",
    "PieceAttribution",
    "RenderWarning",
    "WordAttribution",
    "align",
    "explain",
    "spearman",
    "to_html",
    "to_png",
    "to_rich",
    "to_text",
]
