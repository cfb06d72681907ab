"""Registry commands: ``publish``, ``pull``, ``search``, ``resolve``, ``lock``, ``list``, ``remove``.

None of them imports torch, transformers or peft (``publish`` may, through the bias checks
of the adapter's culture and its ``--bias-data`` files, once its options are checked). Errors are :class:`~cultura.core.errors.CulturaError` subclasses,
printed as one ``error:`` line by :func:`cultura.cli.main`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cultura.cli import emit_json
from cultura.robustness.cli import gate_options

if TYPE_CHECKING:
    from cultura.adapt.continual import Comparison

OFFLINE_HELP = "Use only the local registry (also HF_HUB_OFFLINE=1 or CULTURA_OFFLINE=1)."


def _offline(flag: bool) -> bool | None:
    return True if flag else None


def _table(headers: list[str], rows: list[list[str]], title: str | None = None) -> None:
    """A rich table on a terminal; tab-separated lines (with a header) when piped."""
    import sys

    if not sys.stdout.isatty():
        if title:
            click.echo(f"# {title}")
        for row in [headers, *rows]:
            click.echo("\t".join(row))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*headers, title=title)
    for column in table.columns:
        column.overflow = "fold"
    for row in rows:
        table.add_row(*row)
    Console().print(table)


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--repo", "repo_id", required=True, metavar="ORG/NAME", help="Hub repo to publish to.")
@click.option("--private", is_flag=True, help="Create the repo as private.")
@click.option("--revision", metavar="BRANCH", default=None, help="Branch to commit to (default main).")
@click.option("--allow-bias-failures", is_flag=True,
              help="Publish even when a bias check fails (the failing report goes in the card).")
@click.option("--bias-data", "bias_data", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also gate on this CrowS-Pairs .csv, StereoSet .json or check .yaml/.json "
                   "file, even when no plugin declares a check for the culture (repeatable).")
@click.option("--bias-threshold", type=click.FloatRange(0, 50), default=None, metavar="POINTS",
              help="Allowed distance from 50 for --bias-data benchmark files (default 10).")
@click.option("--min-lms", type=click.FloatRange(0, 100), default=None, metavar="POINTS",
              help="StereoSet --bias-data files: refuse when the language-model score LMS of a "
                   "split, bias type or overall is below this (default: LMS is not gated).")
@click.option("--min-icat", type=click.FloatRange(0, 100), default=None, metavar="POINTS",
              help="StereoSet --bias-data files: refuse when ICAT is below this (default: not "
                   "gated).")
@click.option("--robustness-data", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, metavar="FILE",
              help="Refuse to publish unless the adapter meets --max-flip-rate / --max-drop / "
                   "--min-accuracy under its culture's perturbations on this labelled file "
                   "(as cultura robustness measures it).")
@gate_options
@click.option("--regression-data", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, metavar="FILE",
              help="Refuse to publish when the adapter forgets more than --max-forgetting points "
                   "on this labelled file (the earlier version's evaluation data) compared with "
                   "--previous (as cultura compare measures it).")
@click.option("--max-forgetting", type=click.FloatRange(min=0), default=None, metavar="POINTS",
              help="With --regression-data: the most points of the head's metric the new "
                   "version may lose (e.g. 2).")
@click.option("--previous", default=None, metavar="ADAPTER",
              help="With --regression-data: the version to compare with (default: what --repo "
                   "holds now on --revision, i.e. the version this one replaces).")
@click.option("--message", "-m", default=None, help="Commit message.")
@click.option("--license", "license_id", default=None, metavar="ID",
              help="Licence of the published adapter (SPDX id, e.g. cc-by-4.0); default: the "
                   "one it was trained with (cultura train --license).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def publish(
    directory: Path, repo_id: str, private: bool, revision: str | None,
    allow_bias_failures: bool, bias_data: tuple[Path, ...], bias_threshold: float | None,
    min_lms: float | None, min_icat: float | None, robustness_data: Path | None,
    max_flip_rate: float | None, max_drop: float | None, min_accuracy: float | None,
    regression_data: Path | None, max_forgetting: float | None, previous: str | None,
    message: str | None, license_id: str | None, as_json: bool,
) -> None:
    """Publish the adapter in DIRECTORY to the Hub, in one commit.

    Validates files, hashes and manifest, runs the culture's bias checks and the --bias-data
    files (refusing on failure unless --allow-bias-failures), rewrites the model card,
    uploads. The token comes from HF_TOKEN or `hf auth login` and is never printed.

    \b
    Examples:
      cultura publish ./zh-sentiment --repo my-org/zh-sentiment
      cultura publish ./en-lm --repo my-org/en-lm --bias-data stereoset/dev.json \\
          --min-lms 80 --min-icat 60
      cultura publish ./zh-sentiment --repo my-org/zh-sentiment \\
          --robustness-data test.jsonl --max-flip-rate 0.1
      cultura publish ./zh-sentiment-v2 --repo my-org/zh-sentiment \\
          --regression-data old-test.jsonl --max-forgetting 2
    """
    from cultura.registry.hub import BiasOptionsError
    from cultura.registry.hub import publish as do_publish

    robustness = _robustness_gate(directory, robustness_data, max_flip_rate=max_flip_rate,
                                  max_drop=max_drop, min_accuracy=min_accuracy)
    regression = _regression_gate(directory, repo_id, revision, regression_data,
                                  max_forgetting, previous)
    try:
        result = do_publish(
            directory, repo_id, private=private, revision=revision,
            allow_bias_failures=allow_bias_failures, bias_data=bias_data,
            bias_threshold=bias_threshold, min_lms=min_lms, min_icat=min_icat,
            commit_message=message, license=license_id,
            echo=lambda text: click.echo(text, err=True),
            regression=regression.gate_record() if regression is not None else None,
        )
    except BiasOptionsError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        emit_json({
            "repo_id": result.repo_id, "url": result.url, "commit": result.commit,
            "commit_url": result.commit_url, "revision": result.revision,
            "files": list(result.files), "bias": result.bias, "robustness": robustness,
            "regression": regression.as_dict() if regression is not None else None,
        })
        return
    click.echo(f"published {directory} to {result.url}")
    click.echo(f"commit {result.commit}")


def _robustness_gate(directory: Path, data: Path | None, **thresholds: float | None
                     ) -> dict | None:  # type: ignore[type-arg]
    """Run ``cultura robustness``'s gate before publishing (``None`` without --robustness-data);
    a failure stops the command before the Hub is contacted."""
    given = {k: v for k, v in thresholds.items() if v is not None}
    if data is None:
        if given:
            raise click.UsageError("--max-flip-rate, --max-drop and --min-accuracy need "
                                   "--robustness-data FILE (labelled data to measure on)")
        return None
    if not given:
        raise click.UsageError("--robustness-data needs a threshold: --max-flip-rate, "
                               "--max-drop or --min-accuracy (e.g. --max-flip-rate 0.1)")
    from cultura.adapt.loading import load_pretrained
    from cultura.adapt.wide_adapter import require_peft
    from cultura.robustness import robustness_gate, robustness_report

    model = require_peft(load_pretrained(directory), "cultura publish --robustness-data")
    report = robustness_report(model, data, name=str(directory))
    gate = robustness_gate(report, **given)
    limits = ", ".join(f"{k} {v:g}" for k, v in given.items())
    if not gate.passed:
        raise click.ClickException(
            f"robustness gate failed ({limits}) on {data}; not published:\n  "
            + "\n  ".join(gate.failures)
            + "\nSee cultura robustness for the full report; train on perturbed data or relax "
            "the thresholds"
        )
    click.echo(f"robustness gate passed ({limits}) on {data}", err=True)
    return {**gate.as_dict(), "report": report.as_dict()}


def _regression_gate(directory: Path, repo_id: str, revision: str | None, data: Path | None,
                     max_forgetting: float | None, previous: str | None) -> Comparison | None:
    """Run ``cultura compare``'s gate against the previous version before publishing (``None``
    without --regression-data); :class:`~cultura.adapt.continual.RegressionError` stops the
    command before anything is uploaded."""
    if data is None:
        if max_forgetting is not None or previous is not None:
            raise click.UsageError("--max-forgetting and --previous need --regression-data FILE "
                                   "(the earlier version's labelled evaluation data)")
        return None
    if max_forgetting is None:
        raise click.UsageError("--regression-data needs --max-forgetting POINTS (e.g. 2)")
    if previous is None:  # the version this one replaces: the branch's head commit
        from cultura.registry.download import fetch_manifest
        from cultura.registry.errors import HubError

        branch = revision or "main"
        try:
            head, commit = fetch_manifest(repo_id, branch)
        except HubError as exc:
            if exc.status != 404:
                raise
            head = None
        if head is None:
            raise click.UsageError(
                f"--regression-data compares with the version {repo_id}@{branch} holds now, and "
                "it holds no cultura adapter; pass --previous ADAPTER (the earlier version)"
            )
        previous = f"hf:{repo_id}@{commit}"
    from cultura.adapt.cli_continual import adapter_for
    from cultura.adapt.continual import regression_gate

    old = adapter_for(previous, base=None, offline=False, dtype="auto")
    result = regression_gate(old, str(directory), data, max_forgetting=max_forgetting)
    click.echo(f"regression gate passed against {previous} on {data}: {result.message()}",
               err=True)
    return result


@click.command()
@click.argument("name")
@click.option("--base", default=None,
              help="Base model id or folder (filters by compatibility; for a plain PEFT repo, "
                   "the base model to use instead of the one its config names).")
@click.option("--culture", default=None, help="Culture of a plain PEFT repo (no cultura.json).")
@click.option("--task", default=None, help="Task of a plain PEFT repo (no cultura.json).")
@click.option("--label", "labels", multiple=True, help="Labels of a plain PEFT repo, in order.")
@click.option("--force", is_flag=True, help="Download again even if that commit is installed.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Give up a download after this long in all "
              "(default CULTURA_PULL_TIMEOUT, or 1800).")
@click.option("--offline", is_flag=True, help=OFFLINE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the installed entry as JSON.")
def pull(
    name: str, base: str | None, culture: str | None, task: str | None, labels: tuple[str, ...],
    force: bool, timeout: float | None, offline: bool, as_json: bool,
) -> None:
    """Download NAME, verify every sha256 and install it in the local registry.

    NAME is hf:ORG/REPO[@REV], CULTURE/TASK[@REV] (best compatible Hub adapter) or ./FOLDER.
    Every Hub answer is checked before it is used (commit ids, file names and types, sizes:
    CULTURA_MAX_FILE_BYTES, CULTURA_MAX_TEXT_BYTES, CULTURA_MAX_PULL_BYTES); a refused or
    failed pull installs nothing.
    """
    from cultura.registry.hub import pull as do_pull

    entry = do_pull(
        name, base=base, culture=culture, task=task, labels=labels or None, force=force,
        offline=_offline(offline), timeout=timeout,
    )
    if as_json:
        emit_json(entry.as_dict())
        return
    click.echo(f"installed {entry.name} from {entry.origin.describe()}")
    click.echo(f"  {entry.path}")


@click.command()
@click.option("--culture", default=None, help="Exact culture tag (canonicalized).")
@click.option("--task", default=None, help="Task name.")
@click.option("--base", default=None, help="Base model id.")
@click.option("--limit", default=50, show_default=True, help="At most this many results.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search(
    culture: str | None, task: str | None, base: str | None, limit: int, as_json: bool
) -> None:
    """Search the Hub for cultura adapters (by culture, task and base model tags)."""
    from cultura.registry.hub import search as do_search

    found = do_search(culture, task, base, limit=limit)
    if as_json:
        emit_json([a.as_dict() for a in found])
        return
    if not found:
        click.echo("no cultura adapters found", err=True)
        _hint_fallback(culture, task)
        return
    _table(["name", "repo", "base model", "downloads", "bias"],
           [[a.name, a.repo_id, a.base_model, str(a.downloads), a.bias_summary()] for a in found])


def _hint_fallback(culture: str | None, task: str | None) -> None:
    """Search matches the exact culture tag; name the tags that loading by name would also try."""
    if not culture:
        return
    from cultura.core.tags import Culture

    chain = [level for level in Culture.parse(culture).chain() if level != "und"]
    if len(chain) < 2:
        return
    name = f"{chain[0]}/{task or '<task>'}"
    click.echo(
        f"hint: search matches the exact tag {chain[0]}; loading {name} by name falls back along "
        f"{' -> '.join(chain)}, so try --culture {chain[1]} (or `cultura resolve {name} "
        "--explain`)",
        err=True,
    )


@click.command()
@click.argument("name")
@click.option("--base", default=None, help="Base model id or folder.")
@click.option("--explain", is_flag=True, help="Show every candidate and why it was taken or skipped.")
@click.option("--offline", is_flag=True, help=OFFLINE_HELP)
@click.option("--lock", "lock_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Verify against this lockfile (default: ./cultura.lock if present).")
@click.option("--no-lock", is_flag=True, help="Ignore any lockfile.")
@click.option("--download", is_flag=True, help="Download the chosen adapter if it is not installed.")
@click.option("--json", "as_json", is_flag=True, help="Print the resolution as JSON.")
def resolve(
    name: str, base: str | None, explain: bool, offline: bool, lock_path: Path | None,
    no_lock: bool, download: bool, as_json: bool,
) -> None:
    """Show what NAME resolves to: local registry, then plugins, then the Hub."""
    from cultura.registry.resolve import resolve as do_resolve

    lock: Path | bool | None = False if no_lock else lock_path
    res = do_resolve(name, base=base, offline=_offline(offline), lock=lock, install=download)
    if as_json:
        emit_json(res.as_dict())
    elif explain:
        click.echo(res.explain())
    elif res.path is not None:
        click.echo(str(res.path))
    elif res.pending is not None:
        click.echo(f"hf:{res.pending[0]}@{res.pending[1]} (not installed; --download to fetch)")


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.option("--base", default=None, help="Base model id or folder the adapters must fit.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("cultura.lock"), show_default=True, help="Lockfile to write.")
@click.option("--offline", is_flag=True, help=OFFLINE_HELP)
def lock(names: tuple[str, ...], base: str | None, output: Path, offline: bool) -> None:
    """Pin NAMES to a repo, a commit and the sha256 of every file (cultura.lock)."""
    from cultura.registry.names import format_name, parse
    from cultura.registry.resolve import lock as do_lock

    lockfile = do_lock(list(names), base=base, output=output, offline=_offline(offline))
    for name in names:
        pin = lockfile.get(name)
        assert pin is not None
        where = f"hf:{pin.repo}@{pin.commit}" if pin.repo else f"local entry {pin.entry}"
        click.echo(f"{format_name(parse(name))} -> {where} ({len(pin.files)} files)")
    click.echo(f"wrote {output}")


@click.command()
@click.option("--culture", default=None, help="Only this exact culture tag.")
@click.option("--task", default=None, help="Only this task.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_installed(culture: str | None, task: str | None, as_json: bool) -> None:
    """List adapters in the local registry ($CULTURA_HOME)."""
    from cultura.core.tags import Culture
    from cultura.registry.store import LocalRegistry

    registry = LocalRegistry()
    entries = registry.entries(Culture.parse(culture).tag if culture else None, task)
    if as_json:
        emit_json([e.as_dict() for e in entries])
        return
    if not entries:
        click.echo(f"no adapters installed in {registry.home}", err=True)
        return
    rows = [
        [e.name, e.base_model, e.origin.describe() + (" (synthesized manifest)" if e.synthesized
                                                      else ""), e.installed_at, e.entry_id]
        for e in entries
    ]
    _table(["name", "base model", "source", "installed", "entry"], rows, title=str(registry.home))


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the removed entries as JSON.")
def remove(name: str, as_json: bool) -> None:
    """Remove NAME from the local registry (CULTURE/TASK[@REV], hf:ORG/REPO[@REV] or a path)."""
    from cultura.core.errors import CulturaError
    from cultura.registry.store import LocalRegistry

    registry = LocalRegistry()
    removed = registry.remove(name)
    if as_json:
        emit_json([e.as_dict() for e in removed])
        return
    if not removed:
        raise CulturaError(f"{name} is not installed in {registry.home} (see `cultura list`)")
    for entry in removed:
        click.echo(f"removed {entry.name} ({entry.entry_id}, {entry.origin.describe()})")
