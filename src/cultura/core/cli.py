"""Core CLI commands: ``plugins``, ``cultures``, ``show``, ``normalize`` (no model imports)."""

from __future__ import annotations

import io
import warnings
from typing import Any

import click

from cultura.cli import emit_json


def _manager() -> Any:
    from cultura.core.plugins import PluginWarning, get_plugin_manager

    with warnings.catch_warnings():
        # broken plugins are listed with their error by the commands themselves
        warnings.simplefilter("ignore", PluginWarning)
        return get_plugin_manager()


def _profile_reporting_failures(tag: str) -> Any:
    """The profile of ``tag``; each plugin failure met while building it is one stderr line
    (``warning: plugin 'x' (dist version) in hook ...``), never a warning with a source line."""
    from cultura.core.plugins import PluginWarning
    from cultura.core.profile import culture

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        profile = culture(tag, manager=_manager())
    for warning in caught:
        if issubclass(warning.category, PluginWarning):
            click.echo(f"warning: {warning.message}", err=True)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return profile


def read_stdin() -> str:
    """All of standard input, decoded as UTF-8.

    Invalid UTF-8 is a one-line :class:`click.ClickException` (exit code 1) giving the byte
    offset, never a traceback.
    """
    data = click.get_binary_stream("stdin").read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(
            f"stdin: not UTF-8 text ({exc.reason} at byte {exc.start}); convert it first, "
            "e.g. iconv -f GB18030 -t UTF-8"
        ) from None


def _utf8_argument(number: int, text: str) -> str:
    """``text`` (command-line argument ``number``), refused when its bytes were not UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        offset = len(text[: exc.start].encode("utf-8"))
        raise click.ClickException(
            f"text {number} is not UTF-8 (at byte {offset}); pass UTF-8 text, or pipe it "
            "through iconv and read it with -"
        ) from None
    return text


def _console() -> Any:
    from rich.console import Console

    console = Console(soft_wrap=False)
    if not console.is_terminal:  # piped: don't squeeze tables into 80 columns
        console = Console(soft_wrap=False, width=200)
    return console


def _table(*columns: str, title: str | None = None) -> Any:
    from rich.table import Table

    table = Table(*columns, title=title, title_justify="left", box=None, pad_edge=False)
    return table


_STATUS_STYLE = {
    "active": "green",
    "disabled": "yellow",
    "error": "red",
    "hung": "red",
    "incompatible": "red",
}
_HOOK_SHORT = {
    "cultura_cultures": "cultures",
    "cultura_tokenizer_tweaks": "tokenizer",
    "cultura_knowledge": "knowledge",
    "cultura_adapter_heads": "heads",
    "cultura_bias_checks": "bias",
    "cultura_word_rules": "words",
    "cultura_perturbations": "perturbations",
}


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--hook", help="Only plugins implementing this hook (e.g. cultura_knowledge).")
@click.option(
    "--requirements", is_flag=True, help="Print pinned 'distribution==version' lines."
)
@click.option("--all", "show_all", is_flag=True, help="Also list disabled plugins.")
def plugins(as_json: bool, hook: str | None, requirements: bool, show_all: bool) -> None:
    """List installed plugins: name, version, status, hooks and cultures.

    Status is active, disabled, incompatible, error (failed to import, raised in a hook or
    returned a bad value) or hung (took longer than CULTURA_PLUGIN_TIMEOUT seconds, default
    10); a failed plugin is listed with the reason while the others still work. Two
    distributions registering the same plugin name are both listed, each naming the other.
    Disable plugins with CULTURA_DISABLE_PLUGINS=zh,ar or by distribution name (they are then
    listed only with --all).
    """
    from rich.markup import escape

    from cultura.core.hookspecs import ALL_HOOKS

    records = _manager().records()
    hidden = 0 if show_all else sum(r.status == "disabled" for r in records)
    if not show_all:
        records = [r for r in records if r.status != "disabled"]
    if hook is not None:
        name = hook if hook.startswith("cultura_") else f"cultura_{hook.replace('-', '_')}"
        if name not in ALL_HOOKS:
            raise click.BadParameter(
                f"unknown hook {hook!r}; hooks: {', '.join(ALL_HOOKS)}", param_hint="--hook"
            )
        records = [r for r in records if name in r.hooks]
    if requirements:
        for dist in sorted({(r.distribution, r.version) for r in records if not r.builtin}):
            click.echo(f"{dist[0]}=={dist[1]}")
        return
    if as_json:
        emit_json([r.as_dict() for r in records])
        return
    table = _table("plugin", "distribution", "version", "status", "hooks", "cultures")
    notes = []
    for r in records:
        style = _STATUS_STYLE[r.status]
        table.add_row(
            escape(r.name) + (" (built-in)" if r.builtin else ""),
            escape(r.distribution),
            escape(r.version),
            f"[{style}]{r.status}[/]",
            ", ".join(_HOOK_SHORT[h] for h in r.hooks) or "-",
            ", ".join(r.cultures) or "-",
        )
        who = f"{r.name} ({r.distribution})" if r.conflicts else r.name
        if r.conflicts:
            notes.append((who, f"conflict: the plugin name {r.name!r} is also registered by "
                          f"{', '.join(r.conflicts)}; disable one by its distribution name "
                          "(CULTURA_DISABLE_PLUGINS=<distribution>)"))
        if r.error:
            notes.append((who, r.error))
    console = _console()
    console.print(table)
    for who, note in notes:
        console.print(f"[red]{escape(who)}[/]: {escape(note)}", highlight=False, soft_wrap=True)
    if hidden:
        console.print(f"({hidden} disabled plugin(s) not shown; --all lists them)")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cultures(as_json: bool) -> None:
    """List the cultures that installed plugins serve, with names and fallback parents."""
    served = _manager().cultures()
    rows = []
    for tag, declarations in served.items():
        info, _ = declarations[0]
        rows.append(
            {
                "tag": tag,
                "english_name": info.english_name,
                "native_name": info.native_name,
                "script": info.script,
                "direction": info.direction,
                "parent": info.parent,
                "description": info.description,
                "plugins": [str(p) for _, p in declarations],
            }
        )
    if as_json:
        emit_json(rows)
        return
    table = _table("culture", "name", "native", "script", "dir", "falls back to", "plugins")
    for row in rows:
        table.add_row(
            row["tag"],
            row["english_name"],
            row["native_name"],
            row["script"],
            row["direction"],
            row["parent"] or "-",
            ", ".join(row["plugins"]),
        )
    _console().print(table)


def _init_text(entry: dict[str, Any]) -> str:
    """``gloss:cc-cedict>fvt``: the embedding sources tried in order, then the fallback."""
    return ">".join([*entry.get("init_from", []), entry["init"]])


@click.command()
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(tag: str, as_json: bool) -> None:
    """Show the merged profile of culture TAG and which plugin gave each part.

    Contributions are merged along the fallback chain (e.g. zh-Hant-TW -> zh-Hant -> zh ->
    und); a more specific level overrides a less specific one with the same key. Normalizers
    are listed by their full id, the key and the conversion (zh.script.s2twp). Every culture
    also has the built-in task lm (a language adapter) unless a plugin declares its own.
    """
    from rich.markup import escape

    from cultura.core.plugins import PluginWarning
    from cultura.core.profile import culture

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)  # listed below as "failed"
        profile = culture(tag, manager=_manager())
    data = profile.as_dict()
    builtin = not any(e["key"] == "lm" for e in data["heads"])
    data["builtin_tasks"] = ["lm"] if builtin else []
    if as_json:
        emit_json(data)
        return
    console = _console()
    info = data["info"] or {}
    name = f" — {info['english_name']} / {info['native_name']}" if info else ""
    console.print(f"[bold]{data['tag']}[/]{escape(name)}", highlight=False)
    if profile.culture.tag != tag:
        console.print(f"requested as {escape(repr(tag))}", highlight=False)
    console.print("fallback chain: " + " -> ".join(data["chain"]), highlight=False)
    console.print("plugins: " + escape(", ".join(data["plugins"])), highlight=False)
    sections = [
        ("normalizers", lambda e: e["description"]),
        ("vocabulary", lambda e: f"{e['tokens']} tokens, init={_init_text(e)}; {e['description']}"),
        ("split_patterns", lambda e: ""),
        ("knowledge", lambda e: f"license {e['license']}; {e['description']}"),
        ("heads", lambda e: f"{e['head_type']} [{', '.join(e['labels'])}] ({e['peft']})"),
        ("bias_checks", lambda e: f"{e['category']}: {e['metric']} <= {e['threshold']}"),
        ("word_rules", lambda e: ", ".join(k for k in ("segmenter", "agreement") if e[k])
         + f"; {e['description']}"),
        ("perturbations", lambda e: f"{e['kind']}"
         + (f", seeded, rate {e['rate']:g}" if e["rate"] is not None else
            ", seeded" if e["seeded"] else "") + f"; {e['description']}"),
    ]
    for key, detail in sections:
        entries = data[key]
        if not entries:
            continue
        table = _table(key.replace("_", " "), "level", "from", "details", title=None)
        for e in entries:
            source = f"{e['distribution']} {e['version']}"
            if e["overrides"]:
                source += " (overrides " + ", ".join(
                    f"{o['distribution']}@{o['level']}" for o in e["overrides"]
                ) + ")"
            name = e.get("id", e["key"])  # a normalizer shows its full id: key and conversion
            table.add_row(escape(name), e["level"], escape(source), escape(detail(e)))
        console.print()
        console.print(table)
    if builtin:
        console.print(
            "\nbuilt-in task: lm — a language adapter (the culture's added vocabulary + LoRA, "
            "masked-lm on encoder bases, causal-lm on decoder bases), trained on unlabeled "
            "text; task adapters stack on it with --start-from",
            highlight=False,
        )
    for failure in data["failures"]:
        console.print(f"[red]failed[/]: {escape(failure)}", highlight=False)


@click.command()
@click.option("--culture", "-c", "tag", required=True, help="Culture tag, e.g. zh-Hans.")
@click.argument("texts", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of results.")
def normalize(tag: str, texts: tuple[str, ...], as_json: bool) -> None:
    """Normalize TEXTS with the culture's normalizer chain.

    Pass - (or nothing) to read standard input, one text per line.

    \b
    Example:
      echo '臺灣的軟體' | cultura normalize --culture zh-Hans -
    """
    if not texts or texts == ("-",):
        lines = [line.rstrip("\n") for line in io.StringIO(read_stdin(), newline=None)]
    else:
        lines = [_utf8_argument(number, text) for number, text in enumerate(texts, 1)]
    profile = _profile_reporting_failures(tag)
    results = profile.normalize(lines)
    if as_json:
        emit_json(
            {"culture": profile.tag, "normalizers": list(profile.normalizer_ids), "texts": results}
        )
        return
    for line in results:
        click.echo(line)
