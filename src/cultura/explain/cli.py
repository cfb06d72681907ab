"""``cultura explain``: word attributions of an adapter's decisions (docs/explain.md).

torch, transformers and peft are imported when the command runs, never at import time.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cultura.adapt.cli_common import ADAPTER_HELP, AdapterArg, AdapterParamType, adapter_options
from cultura.adapt.precision import dtype_option
from cultura.cli import emit_json
from cultura.explain.attribution import DEFAULT_STEPS, METHODS

if TYPE_CHECKING:
    from cultura.explain.attribution import Explanation


def _steps(ctx: click.Context, param: click.Parameter, value: str) -> int | str:
    if value == "auto":
        return value
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise click.BadParameter(f"{value!r} is neither 'auto' nor a positive integer", ctx=ctx,
                             param=param)


@click.command(help=f"""Explain ADAPTER's decisions on TEXTS (or --file), word by word.

Integrated gradients on the input embeddings (baseline: every text piece replaced by the pad
embedding) and occlusion (each word replaced by the mask token) as a cross-check, mapped back
to the original text through the culture's normalizers and added vocabulary. Each text gets the
IG convergence delta (sum of attributions minus the logit difference to the baseline) and the
rank agreement of the two methods. seq-cls heads: the label of the text; token-cls heads: the tag
of one word (--token).

{ADAPTER_HELP}

\b
Examples:
  cultura explain zh/sentiment "服务太差了"
  cultura explain ./out "这部电影太好看了" --html explain.html --png explain.png
  cultura explain zh-Hans/sentiment "春节快乐" --compare zh-Hant-TW/sentiment --json
""")
@click.argument("adapter", type=AdapterParamType())
@click.argument("texts", nargs=-1)
@click.option("--file", "-f", "file", default=None, help="Read texts from a file (- for stdin).")
@click.option("--method", type=click.Choice(METHODS), default="ig", show_default=True,
              help="The method the scores show (the other one runs as a cross-check).")
@click.option("--target", default=None, metavar="LABEL",
              help="The label to explain (default: the predicted one).")
@click.option("--steps", default=str(DEFAULT_STEPS), show_default=True, callback=_steps,
              help="Integrated-gradients quadrature nodes, or auto: 50, doubled until the "
                   "attributions converge (at most 800).")
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(min=1),
              help="IG path points / occluded copies per forward pass.")
@click.option("--token", default=None, metavar="WORD|INDEX",
              help="token-cls: the word whose tag is explained (default: the first entity).")
@click.option("--no-cross-check", is_flag=True,
              help="Run only --method (no rank agreement).")
@click.option("--compare", "compare", default=None, type=AdapterParamType(), metavar="ADAPTER2",
              help="Explain the same texts with a second adapter, side by side.")
@click.option("--html", "html_file", default=None, type=click.Path(dir_okay=False),
              help="Write a self-contained HTML page.")
@click.option("--png", "png_file", default=None, type=click.Path(dir_okay=False),
              help="Write a PNG bar chart (needs matplotlib: pip install 'cultura[plot]').")
@adapter_options
@dtype_option
@click.option("--no-knowledge", is_flag=True, help="Explain without knowledge injection.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def explain(
    adapter: AdapterArg, texts: tuple[str, ...], file: str | None, method: str,
    target: str | None, steps: int | str, batch_size: int, token: str | None, no_cross_check: bool,
    compare: AdapterArg | None, html_file: str | None, png_file: str | None,
    base: str | None, offline: bool, dtype: str, no_knowledge: bool, as_json: bool,
) -> None:
    from cultura.adapt.cli import _texts_from
    from cultura.adapt.cli_common import load_adapter
    from cultura.core.errors import CulturaError
    from cultura.explain import render

    items = list(texts)
    if file is not None:
        items += _texts_from(file)
    if not items:
        raise CulturaError("nothing to explain: pass texts as arguments or --file FILE")
    options: dict[str, Any] = {
        "method": method, "target": target, "steps": steps,
        "token": int(token) if token is not None and token.isdigit() else token,
        "cross_check": not no_cross_check, "knowledge": False if no_knowledge else None,
        "batch_size": batch_size,
    }
    columns: dict[str, list[Explanation]] = {}
    for arg in (adapter, compare) if compare is not None else (adapter,):
        model = load_adapter(arg, base=base, offline=offline, dtype=dtype)
        title = f"{arg.text} ({model.culture}/{model.spec.task})"
        if title in columns:
            title += " (2)"
        columns[title] = model.explain(items, **options)
    data: Any = columns if compare is not None else next(iter(columns.values()))
    notes = []
    if html_file is not None:
        Path(html_file).write_text(render.to_html(data), encoding="utf-8")
        notes.append(f"wrote {html_file}")
    if png_file is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", render.RenderWarning)
            render.to_png(data, png_file)
        notes += [f"warning: {w.message}" for w in caught]
        notes.append(f"wrote {png_file}")
    if as_json:
        emit_json(_as_json(columns, adapter, compare))
    else:
        from rich.console import Console

        console = Console()
        if console.is_terminal and not console.no_color:
            console.print(render.to_rich(data))
        else:
            click.echo(render.to_text(data))
    for note in notes:
        click.echo(note, err=True)


def _as_json(columns: dict[str, list[Explanation]], adapter: AdapterArg,
             compare: AdapterArg | None) -> Any:
    """One dict per text (with ``adapter``); with --compare, per text ``{"text",
    "explanations": [first adapter's, second's]}``."""
    names = [adapter.text] + ([compare.text] if compare is not None else [])
    rows = [
        [{"adapter": name, **e.as_dict()} for e in items]
        for name, items in zip(names, columns.values(), strict=True)
    ]
    if compare is None:
        return rows[0]
    return [{"text": first["text"], "explanations": [first, second]}
            for first, second in zip(rows[0], rows[1], strict=True)]
