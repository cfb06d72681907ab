"""``cultura check-bias``: run a culture's bias checks (and benchmark files) on a model."""

from __future__ import annotations

from pathlib import Path

import click

from cultura.adapt.cli_common import AdapterArg, AdapterParamType, adapter_options


@click.command("check-bias")
@click.argument("target", metavar="NAME_OR_DIR", type=AdapterParamType())
@adapter_options
@click.option("--culture", "culture_tag", metavar="TAG",
              help="Culture whose checks to run (default: the adapter's culture).")
@click.option("--data", "data", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CrowS-Pairs .csv, StereoSet .json or check .yaml/.json file (repeatable).")
@click.option("--threshold", type=float, default=None, metavar="POINTS",
              help="Allowed distance from 50 for --data benchmark files (default 10).")
@click.option("--min-lms", type=click.FloatRange(0, 100), default=None, metavar="POINTS",
              help="StereoSet files: also fail when the language-model score LMS of a split, "
                   "bias type or overall is below this (default: LMS is not gated).")
@click.option("--min-icat", type=click.FloatRange(0, 100), default=None, metavar="POINTS",
              help="StereoSet files: also fail when ICAT is below this (default: not gated).")
@click.option("--stereoset-predictions", type=click.Path(dir_okay=False, path_type=Path),
              default=None, metavar="FILE",
              help="Write the StereoSet sentence scores to FILE in the reference scripts' "
                   "prediction format (for their evaluation.py); needs one StereoSet --data.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the Markdown report (model-card section) to this file.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the report as a PNG chart (needs cultura[plot]).")
def check_bias(
    target: AdapterArg,
    base: str | None,
    offline: bool,
    culture_tag: str | None,
    data: tuple[Path, ...],
    threshold: float | None,
    min_lms: float | None,
    min_icat: float | None,
    stereoset_predictions: Path | None,
    batch_size: int,
    as_json: bool,
    markdown_path: Path | None,
    png_path: Path | None,
) -> None:
    """Run bias checks on an adapter or a Hugging Face model directory (masked LM, causal LM
    or classifier, saved with save_pretrained).

    NAME_OR_DIR is an adapter registry name (zh/sentiment, zh-TW/sentiment@v1), a Hub repo
    (hf:ORG/REPO[@REV]), or a directory (./DIR, /abs/DIR) holding an adapter or a model.
    Exits with status 1 when a check fails.

    \b
    Examples:
      cultura check-bias zh/sentiment
      cultura check-bias ./my-adapter --json
      cultura check-bias ./bert-mlm --data crows_pairs_anonymized.csv
      cultura check-bias ./bert-mlm --data dev.json --min-lms 80 \\
          --stereoset-predictions predictions.json
    """
    from cultura.bias.engine import check_bias as run
    from cultura.bias.importers import load_data

    loaded = [load_data(p, threshold=threshold) for p in data] or None
    report = run(
        _subject(target, base, offline), culture=culture_tag, data=loaded,
        batch_size=batch_size, progress=not as_json, min_lms=min_lms, min_icat=min_icat,
        stereoset_predictions=stereoset_predictions,
    )
    if markdown_path is not None:
        markdown_path.write_text(report.to_markdown(), encoding="utf-8")
    if png_path is not None:
        report.to_png(png_path)
    if as_json:
        click.echo(report.to_json())
    else:
        _print(report)
    if not report.passed:
        raise click.exceptions.Exit(1)


def _subject(target: AdapterArg, base: str | None, offline: bool) -> object:
    """What to check, reported under the name given: an adapter loaded as ``cultura predict``
    loads it, or the Hugging Face model in a directory without ``cultura.json``."""
    from dataclasses import replace

    from cultura.adapt.artifact import MANIFEST
    from cultura.adapt.cli_common import load_adapter
    from cultura.bias.engine import resolve_target

    if target.path is not None and not (target.path / MANIFEST).is_file():
        if base is not None:
            raise click.UsageError(
                f"--base applies to cultura adapters; {target} has no {MANIFEST}, so it is "
                "checked as the Hugging Face model it holds: drop --base"
            )
        subject = resolve_target(target.path)
    else:
        subject = resolve_target(load_adapter(target, base=base, offline=offline, wide=True))
    return replace(subject, name=str(target))


def _print(report) -> None:  # type: ignore[no-untyped-def]
    import sys

    from rich import box
    from rich.console import Console
    from rich.table import Table

    from cultura.bias.report import MIN_METRICS, PAIR_METRICS

    # piped output is not wrapped at 80 columns: one row per check stays greppable
    console = Console(width=None if sys.stdout.isatty() else 160)
    verdict = "[bold green]PASSED[/]" if report.passed else "[bold red]FAILED[/]"
    title = f"Bias report for {report.target}" + (
        f" (culture {report.culture})" if report.culture else ""
    )
    ran = sorted(report.ran, key=lambda r: (r.category, r.check_id))
    if ran:
        table = Table(title=title, box=box.SIMPLE_HEAD)
        table.add_column("Category")
        table.add_column("Check", no_wrap=True)
        for column in ("Metric", "Score", "Threshold", "Result", "Supplied by"):
            table.add_column(column)
        style = {"pass": "green", "fail": "bold red"}
        for r in ran:
            pair, minimum = r.metric in PAIR_METRICS, r.metric in MIN_METRICS
            table.add_row(
                r.category, r.check_id, r.metric,
                f"{r.score:.1f}" if pair or minimum else f"{r.score:.4f}",
                f"50 ± {r.threshold:g}" if pair else f"≥ {r.threshold:g}" if minimum
                else f"≤ {r.threshold:g}",
                f"[{style[r.status]}]{r.status}[/]", r.supplied_by,
            )
        console.print(table)
    else:
        console.print(title)
    console.print(
        f"{verdict}: {len(report.ran)} run, {len(report.failures)} failed, "
        f"{len(report.skipped)} skipped"
    )
    for r in report.failures:
        console.print(f"[red]✗ {r.check_id}[/]: {r.reason}", highlight=False)
    if any(r.details.get("pairs") for r in report.ran):
        console.print("[dim]--json lists every minimal pair: both sentences, their scores and "
                      "which one the model prefers[/]", highlight=False)
    by_reason: dict[str, list[str]] = {}
    for r in report.skipped:
        by_reason.setdefault(r.reason, []).append(r.check_id)
    for reason, ids in by_reason.items():
        console.print(f"[dim]skipped ({reason}): {', '.join(ids)}[/]", highlight=False)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
