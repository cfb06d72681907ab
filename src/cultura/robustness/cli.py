"""``cultura robustness``: an adapter's accuracy and flip rate under its culture's
perturbations, as a table, JSON or PNG, with optional thresholds (exit status 1 when one is
not met)."""

from __future__ import annotations

from pathlib import Path

import click

from cultura.adapt.cli_common import ADAPTER_HELP, AdapterArg, AdapterParamType, adapter_options
from cultura.adapt.cli_data import data_options
from cultura.cli import emit_json


def _share(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not 0 <= value <= 1:
        raise click.BadParameter(f"{value!r} is not a share: give a number between 0 and 1 "
                                 "(0.1 is 10%)")
    return value


def gate_options(command: click.Command) -> click.Command:
    """``--max-flip-rate``, ``--max-drop`` and ``--min-accuracy`` (shares, 0 to 1)."""
    for name, text in reversed((
        ("--max-flip-rate", "Fail when a perturbation changes more than this share of "
                            "predictions (e.g. 0.1)."),
        ("--max-drop", "Fail when accuracy under a perturbation is more than this below the "
                       "clean accuracy (e.g. 0.05)."),
        ("--min-accuracy", "Fail when accuracy (clean or under a perturbation) is below this "
                           "(e.g. 0.7)."),
    )):
        command = click.option(name, type=float, callback=_share, default=None,
                               metavar="SHARE", help=text)(command)
    return command


@click.command(help=f"""Measure ADAPTER (a text classifier) on labelled DATA under the
perturbations its culture's plugins give: another script or regional variant, diacritics,
width, homophone typos, romanization, casing. Reports clean accuracy and, per perturbation,
the share of texts it changed, accuracy, the drop from clean and the flip rate (share of
predictions that change). A perturbation that changes no text is flagged; one that fails is
named with its plugin and skipped. DATA is read as by cultura evaluate.

{ADAPTER_HELP}

With --max-flip-rate, --max-drop or --min-accuracy it exits with status 1 when a threshold is
not met (also when a perturbation failed).

\b
Examples:
  cultura robustness ./zh-sentiment test.jsonl
  cultura robustness zh/sentiment test.jsonl --json --png robustness.png
  cultura robustness ./zh-sentiment test.jsonl --max-flip-rate 0.1 -p zh.variant.hant
""")
@click.argument("adapter", type=AdapterParamType())
@click.argument("data")
@adapter_options
@data_options
@click.option("--perturbation", "-p", "only", multiple=True, metavar="ID",
              help="Run only this perturbation (repeatable; cultura show TAG lists them).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random perturbations (typos): same seed, same texts.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--no-knowledge", is_flag=True, help="Predict without knowledge injection.")
@gate_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the report as a PNG chart (needs cultura[plot]).")
def robustness(
    adapter: AdapterArg, data: str, base: str | None, offline: bool, text_field: str | None,
    label_field: str | None, label_map: dict[str, str] | None, only: tuple[str, ...],
    seed: int, batch_size: int, no_knowledge: bool, max_flip_rate: float | None,
    max_drop: float | None, min_accuracy: float | None, as_json: bool, png_path: Path | None,
) -> None:
    from cultura.adapt.cli import _eval_examples, _resolved_directory
    from cultura.adapt.cli_common import load_adapter
    from cultura.robustness.engine import robustness_report
    from cultura.robustness.report import robustness_gate

    directory = adapter.path or _resolved_directory(adapter, base=base, offline=offline)
    rows = None
    if directory is not None:  # every row checked before the base model loads
        rows = _eval_examples(directory, data, text_field=text_field, label_field=label_field,
                              label_map=label_map)
        adapter = AdapterArg(adapter.text, path=directory)
    model = load_adapter(adapter, base=base, offline=offline)
    report = robustness_report(
        model, rows or data, perturbations=only or None, seed=seed, batch_size=batch_size,
        knowledge=False if no_knowledge else None, text_field=text_field,
        label_field=label_field, label_map=label_map, name=adapter.text,
    )
    thresholds = {"max_flip_rate": max_flip_rate, "max_drop": max_drop,
                  "min_accuracy": min_accuracy}
    gate = (robustness_gate(report, **thresholds)
            if any(v is not None for v in thresholds.values()) else None)
    if png_path is not None:
        report.to_png(png_path)
    if as_json:
        emit_json({**report.as_dict(), "gate": gate.as_dict() if gate is not None else None})
    else:
        _print(report, gate)
    if gate is not None and not gate.passed:
        raise click.exceptions.Exit(1)


def _print(report: object, gate: object) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from cultura.robustness.report import RobustnessGate, RobustnessReport

    assert isinstance(report, RobustnessReport)
    console = Console(highlight=False)
    console.print(
        f"[bold]{escape(report.adapter)}[/] ({report.culture}, {escape(report.task)}): clean "
        f"accuracy {100 * report.clean_accuracy:.1f}% on {report.n} rows, seed {report.seed}"
    )
    rows = [{k: v for k, v in row.items() if k != "source"} for row in report.rows()]
    table = Table(*(rows[0] if rows else ()), box=None, pad_edge=False)
    if rows:
        table.columns[0].no_wrap = True
    style = {"ok": "", "inert": "yellow", "normalized": "dim", "failed": "red"}
    for row in rows:
        cells = [escape(v) for v in row.values()]
        if style[row["status"]]:
            cells[-1] = f"[{style[row['status']]}]{cells[-1]}[/]"
        table.add_row(*cells)
    console.print(table)
    sources = sorted({r.source for r in report.results})
    console.print(f"perturbations from {escape(', '.join(sources))}")
    for note in report.notes():
        console.print(f"[yellow]note[/]: {escape(note)}", soft_wrap=True)
    if isinstance(gate, RobustnessGate):
        verdict = "[green]passed[/]" if gate.passed else "[red]failed[/]"
        limits = ", ".join(f"{k} {v:g}" for k, v in gate.thresholds.items())
        console.print(f"gate ({limits}): {verdict}")
        for failure in gate.failures:
            console.print(f"  [red]✗[/] {escape(failure)}", soft_wrap=True)
