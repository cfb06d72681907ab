"""What the commands that take an adapter share: one argument, one way to load it.

``cultura predict``, ``cultura evaluate`` and ``cultura check-bias`` take ADAPTER as

* a registry name, ``<culture>/<task>[@revision]`` (``zh/sentiment``, ``zh-TW/sentiment@v1``),
  resolved like :func:`cultura.load`: lockfile, local registry, plugins, Hub, along the
  culture's fallback chain;
* a Hub repository, ``hf:<org>/<repo>[@revision]``, pulled into the local registry once;
* a local adapter directory: ``./dir``, ``../dir``, ``/abs/dir``, ``~/dir`` or ``file:dir``.

The grammar is :mod:`cultura.registry.names`: ``zh/sentiment`` is always a name, even when a
folder of that name exists (write ``./zh/sentiment`` for the folder). Text that is no name at
all but names an existing directory (``out``, ``zh-sentiment/``) is taken as that directory.

Nothing here imports torch, transformers or peft; :func:`load_adapter` does, when called.
Names are parsed and resolved by :mod:`cultura.registry`, imported inside the functions: the
commands that take an adapter are where the adapter layer meets the registry above it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from cultura.adapt.model import CulturalModel
    from cultura.adapt.wide_adapter import WideModel
    from cultura.registry.names import AdapterName

__all__ = ["ADAPTER_HELP", "AdapterArg", "AdapterParamType", "adapter_options", "load_adapter",
           "parse_adapter_arg"]

#: one-line description of what an ADAPTER argument accepts (for command docstrings)
ADAPTER_HELP = (
    "ADAPTER is a registry name (zh/sentiment, zh-TW/sentiment@v1), a Hub repo "
    "(hf:ORG/REPO[@REV]) or an adapter directory (./DIR, /abs/DIR)."
)
BASE_HELP = (
    "Base model: Hub id, local path or embedded alias (default: the one in the adapter's "
    "cultura.json; for a name, only adapters that fit this base are considered)."
)
OFFLINE_HELP = (
    "Resolve adapter names from the local registry only, never the Hub (also "
    "HF_HUB_OFFLINE=1 or CULTURA_OFFLINE=1)."
)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AdapterArg:
    """An ADAPTER argument as given (``text``): a name to resolve, or a directory."""

    text: str
    name: AdapterName | None = None
    path: Path | None = None

    def __str__(self) -> str:
        return self.text


def parse_adapter_arg(text: str) -> AdapterArg:
    """Classify ``text`` (see the module docstring); raises
    :class:`~cultura.registry.names.AdapterNameError` for text that is neither a valid name
    nor an existing directory, and :class:`~cultura.core.errors.CulturaError` for a path that
    is not a directory."""
    from cultura.core.errors import CulturaError
    from cultura.registry.names import AdapterNameError, PathName, parse

    try:
        parsed = parse(text)
    except AdapterNameError:
        folder = Path(text).expanduser()
        if text.strip() and folder.is_dir():
            return AdapterArg(text, path=folder)
        raise
    if isinstance(parsed, PathName):
        folder = parsed.resolved()
        if not folder.is_dir():
            what = "is not a directory" if folder.exists() else "does not exist"
            raise CulturaError(
                f"adapter directory {text} ({folder}) {what}; pass the directory an adapter "
                "was saved to (cultura train -o DIR), or a name such as zh/sentiment"
            )
        return AdapterArg(text, path=folder)
    return AdapterArg(text, name=parsed)


class AdapterParamType(click.ParamType):
    """A click parameter type turning ADAPTER text into an :class:`AdapterArg`; a bad name or
    a missing directory is a usage error naming the argument."""

    name = "adapter"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> AdapterArg:
        from cultura.core.errors import CulturaError

        if isinstance(value, AdapterArg):
            return value
        try:
            return parse_adapter_arg(str(value))
        except CulturaError as exc:
            self.fail(str(exc), param, ctx)


def adapter_options(command: F) -> F:
    """Add ``--base/-b`` and ``--offline`` (the options :func:`load_adapter` takes)."""
    command = click.option("--offline", is_flag=True, help=OFFLINE_HELP)(command)
    command = click.option("--base", "-b", default=None, metavar="MODEL", help=BASE_HELP)(command)
    return command


def load_adapter(arg: AdapterArg | str, *, base: str | None = None,
                 offline: bool = False, dtype: str = "auto", wide: bool = False,
                 ) -> CulturalModel | WideModel:
    """Load ADAPTER: a directory with :func:`cultura.load_pretrained`, a name with
    :func:`cultura.load` (on ``base`` when given: an alias resolves to its embedded copy), in
    precision ``dtype`` (:mod:`cultura.adapt.precision`).

    A wide adapter (:mod:`cultura.adapt.wide_adapter`) is returned only to a command that
    handles one (``wide=True``); for the others it is an error naming the command.

    A registry name that resolves to nothing raises the resolver's error (which names the
    name and every candidate) with how to get it appended: ``cultura pull NAME`` when offline
    mode kept the Hub out, ``./NAME`` when a folder of that name exists here.
    """
    model = _load(parse_adapter_arg(arg) if isinstance(arg, str) else arg, base, offline, dtype)
    if not wide:
        from cultura.adapt.wide_adapter import require_peft

        context = click.get_current_context(silent=True)
        require_peft(model, f"`{context.command_path}`" if context is not None else "this command")
    return model


def _load(arg: AdapterArg, base: str | None, offline: bool, dtype: str) -> Any:
    if arg.path is not None:
        from cultura.adapt.model import load_pretrained

        return load_pretrained(arg.path, base=base, dtype=dtype)
    from cultura.adapt.base import resolve_base
    from cultura.registry.errors import OfflineError, ResolutionError
    from cultura.registry.names import RegistryName
    from cultura.registry.resolve import load
    from cultura.registry.settings import is_offline

    flag = True if offline else None  # None: HF_HUB_OFFLINE / CULTURA_OFFLINE decide
    try:
        return load(arg.text, base=resolve_base(base)[0] if base else None, offline=flag,
                    dtype=dtype)
    except (ResolutionError, OfflineError) as exc:
        if not isinstance(arg.name, RegistryName):
            raise
        hints = []
        if is_offline(flag):
            hints.append(f"`cultura pull {arg.text}` installs it from the Hub (run it online: "
                         "offline mode is on)")
        if Path(arg.text).is_dir():
            hints.append(f"for the folder {arg.text} here, write ./{arg.text}")
        if not hints:
            raise
        raise type(exc)(f"{exc}\n" + "; ".join(hints)) from None
