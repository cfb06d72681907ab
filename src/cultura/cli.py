"""The ``cultura`` command line.

Sub-commands are imported only when run, so ``cultura --help`` and the commands that do not
compute with a model never import torch, transformers or peft. Each area of the package keeps
its commands in its own module; :data:`COMMANDS` maps a command name to ``module:attribute``.
"""

from __future__ import annotations

import json
import sys
from importlib import import_module
from typing import Any

import click

#: command name -> (``module:attribute`` of a click command, one-line help shown by --help)
COMMANDS: dict[str, tuple[str, str]] = {
    "plugins": ("cultura.core.cli:plugins", "List installed plugins with version, hooks, status."),
    "cultures": ("cultura.core.cli:cultures", "List the cultures installed plugins serve."),
    "show": ("cultura.core.cli:show", "Show a culture's merged profile with provenance."),
    "normalize": ("cultura.core.cli:normalize", "Normalize text with a culture's normalizers."),
    # adapters (cultura.adapt)
    "tokenize-report": (
        "cultura.adapt.cli:tokenize_report",
        "UNK rate and tokens per character before/after a culture's tweaks.",
    ),
    "train": ("cultura.adapt.cli:train", "Train a culture adapter on a data file."),
    "evaluate": ("cultura.adapt.cli:evaluate", "Evaluate a saved adapter on a data file."),
    "predict": ("cultura.adapt.cli:predict", "Predict with a saved adapter (localized labels)."),
    "prompt": ("cultura.adapt.cli_prompt:prompt", "Print a culture's few-/zero-shot prompt for a task."),
    "zero-shot": (
        "cultura.adapt.cli_prompt:zero_shot",
        "Classify texts for a culture's task with a plain base model (no training).",
    ),
    "wide": ("cultura.adapt.cli_wide:wide",
             "Fit and use wide models: classifiers and CRF taggers on the plugins' words and glosses."),
    "compare": ("cultura.adapt.cli_continual:compare",
                "Compare two versions of an adapter: what the new one forgot (regression gate)."),
    "explain": ("cultura.explain.cli:explain", "Explain an adapter's decisions word by word."),
    "demo": ("cultura.adapt.demo:demo", "Run the end-to-end demo on the embedded base model."),
    # registry (cultura.registry)
    "publish": ("cultura.registry.cli:publish", "Publish an adapter directory to the Hub."),
    "pull": ("cultura.registry.cli:pull", "Download, verify and install an adapter by name."),
    "search": ("cultura.registry.cli:search", "Search the Hub for culture adapters."),
    "resolve": ("cultura.registry.cli:resolve", "Show how an adapter name resolves (--explain)."),
    "lock": ("cultura.registry.cli:lock", "Pin adapter names to commits and hashes."),
    "list": ("cultura.registry.cli:list_installed", "List adapters in the local registry."),
    "remove": ("cultura.registry.cli:remove", "Remove an adapter from the local registry."),
    # bias (cultura.bias)
    "check-bias": ("cultura.bias.cli:check_bias", "Run a culture's bias checks on an adapter."),
    # robustness (cultura.robustness)
    "robustness": (
        "cultura.robustness.cli:robustness",
        "Accuracy and flip rate of an adapter under its culture's perturbations.",
    ),
    # plugin authors (cultura.testing)
    "new-plugin": ("cultura.testing.scaffold:new_plugin", "Scaffold a new culture plugin."),
    # serving (cultura.serve)
    "serve": ("cultura.serve.cli:serve", "Serve culture adapters over HTTP (JSON API)."),
    # exports (cultura.export)
    "export": ("cultura.export.cli:export", "Export an adapter to ONNX (int8) or for vLLM."),
}


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target[0].split(":")
        command: click.Command = getattr(import_module(module_name), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cultura", prog_name="cultura")
def cli() -> None:
    """cultura: culture adapters for Hugging Face models, from installable plugins.

    \b
    Examples:
      cultura plugins                       installed plugins and their status
      cultura show zh-TW                    what the plugins give zh-Hant-TW, and who gave it
      echo 臺灣的軟體 | cultura normalize --culture zh-Hans -
    """


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON (UTF-8, not ASCII-escaped)."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def main(argv: list[str] | None = None) -> None:
    """Console entry point: turns cultura errors into a one-line message and exit code 1."""
    from cultura.core.errors import ConflictError, CulturaError, PluginError

    try:
        # standalone_mode=False: click returns a command's Exit(code) instead of exiting
        code = cli.main(args=argv, prog_name="cultura", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except CulturaError as exc:
        click.echo(f"error: {exc}", err=True)
        if isinstance(exc, (PluginError, ConflictError)) and "CULTURA_" not in str(exc):
            click.echo("hint: CULTURA_NO_PLUGINS=1 runs with the built-in plugin only", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
