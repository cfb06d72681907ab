"""Rendering explanations: plain text, rich terminal colors, self-contained HTML and PNG.

Every renderer takes either a list of :class:`~cultura.explain.attribution.Explanation`
(one column) or a mapping ``title -> list of explanations`` (columns side by side, e.g. two
cultures' adapters on the same texts; every column must explain the same texts in the same
order). Scores are colored by sign (green: toward the explained label, red: against it) and
scaled by the largest absolute word score of each explanation.

Texts are user data: the HTML escapes every piece of it (text, words, labels, titles) and
loads nothing from outside the file. The PNG needs matplotlib (``pip install
'cultura[plot]'``, imported when called); characters no installed font can draw (CJK,
Arabic, Devanagari on a machine with only the default fonts) come out as boxes, and
:func:`to_png` then says so with one :class:`RenderWarning` naming a font to install — each
bar is also labelled with the word's character offsets, so the chart stays readable.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cultura.core.errors import CulturaError
from cultura.explain.attribution import (
    CONVERGED_SHARE,
    Explanation,
    WordAttribution,
    within_tolerance,
)

__all__ = ["CONVERGED_SHARE", "RenderWarning", "columns", "converged", "summary", "to_html", "to_png", "to_rich", "to_text"]

Explanations = Sequence[Explanation] | Mapping[str, Sequence[Explanation]]

#: fonts tried, in this order, after matplotlib's default for characters it lacks
FALLBACK_FONTS = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Noto Sans JP", "Source Han Sans SC",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "SimHei", "Microsoft YaHei",
    "PingFang SC", "Hiragino Sans", "Noto Sans Arabic", "Noto Naskh Arabic", "Noto Sans Devanagari",
    "Lohit Devanagari", "Arial Unicode MS",
)


class RenderWarning(UserWarning):
    """A rendering is incomplete (e.g. characters without a glyph in the PNG's fonts)."""


def columns(data: Explanations) -> list[tuple[str, list[Explanation]]]:
    """``data`` as ``(title, explanations)`` columns; checks every column explains the same
    texts."""
    if isinstance(data, Mapping):
        cols = [(str(title), list(items)) for title, items in data.items()]
    else:
        cols = [("", list(data))]
    if not cols or not cols[0][1]:
        raise CulturaError("nothing to render: no explanation was given")
    texts = [e.text for e in cols[0][1]]
    for title, items in cols[1:]:
        if [e.text for e in items] != texts:
            raise CulturaError(
                f"column {title!r} explains other texts than column {cols[0][0]!r}; side by side "
                "columns must explain the same texts in the same order"
            )
    return cols


def summary(explanation: Explanation) -> str:
    """One line: the label explained, its probability, the method and the checks."""
    parts = [f"{explanation.target} {explanation.probability:.3f}"]
    if explanation.target != explanation.predicted:
        parts.append(f"(predicted {explanation.predicted})")
    checks = [explanation.method]
    if explanation.convergence_delta is not None:
        checks.append(f"IG delta {explanation.convergence_delta:+.2g} over {explanation.steps} steps")
        if not converged(explanation):
            checks.append("IG NOT CONVERGED: raise the steps")
    if explanation.rank_agreement is not None:
        checks.append(f"IG/occlusion rank agreement {explanation.rank_agreement:.2f}")
    if explanation.truncated:
        checks.append("text cut at max_length")
    parts.append(f"[{'; '.join(checks)}]")
    if explanation.focus is not None:
        start, end = explanation.focus
        parts.insert(0, f"tag of {explanation.text[start:end]!r} ({start}-{end}):")
    return " ".join(parts)


#: :func:`converged`: the largest |convergence delta| accepted, as a share of |f(x) - f(x')|


def converged(explanation: Explanation) -> bool:
    """Whether IG's convergence delta is within :data:`CONVERGED_SHARE` of the logit
    difference it splits (plus 1e-3 for a difference near zero); ``True`` without IG."""
    if explanation.convergence_delta is None or explanation.baseline_logit is None:
        return True
    return within_tolerance(explanation.convergence_delta,
                            explanation.logit - explanation.baseline_logit)


def _scale(explanation: Explanation) -> float:
    return max((abs(w.score) for w in explanation.words), default=0.0) or 1.0


def _segments(explanation: Explanation) -> list[tuple[str, WordAttribution | None]]:
    """The original text cut into its words and the gaps between them (``None``)."""
    out: list[tuple[str, WordAttribution | None]] = []
    at = 0
    for word in explanation.words:
        if word.start > at:
            out.append((explanation.text[at : word.start], None))
        out.append((word.text, word))
        at = word.end
    if at < len(explanation.text):
        out.append((explanation.text[at:], None))
    return out


# ---------------------------------------------------------------------------- text
def to_text(data: Explanations) -> str:
    """Plain text: per text and column, the summary line and each word followed by its score
    in brackets (``excellent[+1.23]``)."""
    cols = columns(data)
    blocks = []
    for row in range(len(cols[0][1])):
        lines = [cols[0][1][row].text]
        for title, items in cols:
            explanation = items[row]
            lines.append(f"  {title + ': ' if title else ''}{summary(explanation)}")
            words = " ".join(
                f"{w.text}[{w.score:+.3f}]" if w.pieces else f"{w.text}[-]"
                for w in explanation.words
            )
            lines.append(f"    {words}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# ---------------------------------------------------------------------------- rich
def _rgb(word: WordAttribution | None, scale: float) -> tuple[int, int, int] | None:
    """The background of ``word`` (``None``: a gap, or a word without pieces)."""
    if word is None or not word.pieces:
        return None
    score = word.score
    strength = min(1.0, abs(score) / scale)
    target = (46, 160, 67) if score >= 0 else (214, 39, 40)
    return tuple(round(255 + (c - 255) * strength) for c in target)  # type: ignore[return-value]


def to_rich(data: Explanations) -> Any:
    """A rich renderable: the text with each word's background colored by its score (and
    the summary line), per text and column."""
    from rich.console import Group
    from rich.style import Style
    from rich.text import Text

    cols = columns(data)
    parts: list[Any] = []
    for row in range(len(cols[0][1])):
        for title, items in cols:
            explanation = items[row]
            head = Text(f"{title}: " if title else "", style="bold")
            head.append(summary(explanation), style="dim")
            parts.append(head)
            line = Text("  ")
            scale = _scale(explanation)
            for segment, word in _segments(explanation):
                rgb = _rgb(word, scale)
                style = Style(color="black", bgcolor=f"rgb({rgb[0]},{rgb[1]},{rgb[2]})") if rgb else None
                line.append(segment, style=style)
            parts.append(line)
        parts.append(Text(""))
    return Group(*parts)


# ---------------------------------------------------------------------------- html
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ddd; padding: .6em; vertical-align: top; text-align: start; }
.text { font-size: 1.25em; line-height: 2; }
.text span.w { border-radius: 3px; padding: 0 1px; }
.meta { color: #555; font-size: .85em; }
.legend span { padding: 0 .4em; border-radius: 3px; }
"""


def to_html(data: Explanations, *, title: str = "cultura explain") -> str:
    """A self-contained HTML page (inline CSS, no scripts, no external resources): one row
    per text, one column per adapter, each word's background colored by its score, its
    scores in a tooltip. Every piece of user data is HTML-escaped."""
    esc = html.escape
    cols = columns(data)
    out = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        '<p class="legend">word background: <span style="background:rgb(46,160,67)">toward the '
        'label</span> <span style="background:rgb(214,39,40);color:#fff">against it</span>, '
        "stronger = larger share of the largest score; hover a word for its scores.</p>",
        "<table>",
    ]
    if any(t for t, _ in cols):
        out.append("<tr>" + "".join(f"<th>{esc(t)}</th>" for t, _ in cols) + "</tr>")
    for row in range(len(cols[0][1])):
        cells = []
        for _, items in cols:
            explanation = items[row]
            scale = _scale(explanation)
            spans = []
            for segment, word in _segments(explanation):
                if word is None:
                    spans.append(esc(segment))
                    continue
                rgb = _rgb(word, scale)
                style = f' style="background:rgb{rgb}"' if rgb else ""
                tip = f"{word.text} [{word.start}:{word.end}] score {word.score:+.4f}"
                if word.ig is not None:
                    tip += f", IG {word.ig:+.4f}"
                if word.occlusion is not None:
                    tip += f", occlusion {word.occlusion:+.4f}"
                spans.append(f'<span class="w" title="{esc(tip)}"{style}>{esc(segment)}</span>')
            cells.append(
                f'<td><div class="text" dir="auto">{"".join(spans)}</div>'
                f'<div class="meta">{esc(summary(explanation))}</div></td>'
            )
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</table>", "</body></html>", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------- png
def to_png(data: Explanations, path: str | Path, *, dpi: int = 120) -> Path:
    """A bar chart of the word scores per text (rows) and column (side by side) to ``path``.

    Needs matplotlib. Characters without a glyph in the installed fonts are drawn as boxes and
    reported with one :class:`RenderWarning` (see the module docstring)."""
    from cultura.core.plotting import pyplot

    plt = pyplot("the PNG rendering")
    import matplotlib
    from matplotlib import font_manager

    cols = columns(data)
    rows = len(cols[0][1])
    installed = {f.name for f in font_manager.fontManager.ttflist}
    family = [matplotlib.rcParams["font.family"][0]] + [f for f in FALLBACK_FONTS if f in installed]
    height = sum(0.3 * max(len(items[r].words) for _, items in cols) + 1.0 for r in range(rows))
    path = Path(path)
    with matplotlib.rc_context({"font.family": family}), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, axes = plt.subplots(rows, len(cols), figsize=(6 * len(cols), max(2.0, height)),
                                 squeeze=False)
        for c, (title, items) in enumerate(cols):
            for r, explanation in enumerate(items):
                ax = axes[r][c]
                words = explanation.words
                ax.barh(range(len(words)), [w.score for w in words],
                        color=["#2e7d32" if w.score >= 0 else "#c62828" for w in words])
                ax.set_yticks(range(len(words)),
                              labels=[f"{w.text} ({w.start}-{w.end})" for w in words])
                ax.invert_yaxis()
                ax.axvline(0, color="black", linewidth=0.8)
                name = f"{title}: " if title else ""
                ax.set_title(f"{name}{explanation.target} {explanation.probability:.2f} "
                             f"({explanation.method})", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
    missing = sorted({_glyph(str(w.message)) for w in caught if "missing from font" in str(w.message)}
                     - {""})
    others = [w for w in caught if "missing from font" not in str(w.message)]
    for w in others:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if missing:
        warnings.warn(
            f"{len(missing)} characters have no glyph in the installed fonts and show as boxes "
            f"in {path} ({''.join(missing[:20])}{'...' if len(missing) > 20 else ''}); install a "
            "font that covers them (e.g. Noto Sans CJK: apt install fonts-noto-cjk) — the bars "
            "are labelled with character offsets meanwhile",
            RenderWarning,
            stacklevel=2,
        )
    return path


def _glyph(message: str) -> str:
    """The character a matplotlib "Glyph N (...) missing from font(s)" warning names."""
    parts = message.split()
    if len(parts) > 1 and parts[0] == "Glyph" and parts[1].isdigit():
        return chr(int(parts[1]))
    return ""
