"""An isolated process environment for tests that go through cultura's process-wide state.

cultura reads its plugins from a process-wide :class:`~cultura.core.plugins.PluginManager`
(built from the installed entry points on first use), its local registry from ``CULTURA_HOME``
(default ``~/.cultura``), a lockfile from ``CULTURA_LOCK`` or the working directory, and the
Hub from ``HF_ENDPOINT``. A test that loads, adapts, installs or resolves by name would
otherwise see the developer's installed plugins, registry and network::

    @pytest.fixture(autouse=True)
    def env(tmp_path, monkeypatch):
        with isolated_environment(make_manager(), tmp_path / "cultura-home", monkeypatch) as pm:
            yield pm

Imports nothing heavy (no torch, transformers or peft).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from cultura.core.plugins import PluginManager, reset_plugin_manager

if TYPE_CHECKING:
    import pytest

__all__ = ["CLEARED_VARIABLES", "active_plugin_manager", "isolate_environment",
           "isolated_environment"]

#: what :func:`isolate_environment` unsets by default: a lockfile and a Hub endpoint named
#: outside the test
CLEARED_VARIABLES: tuple[str, ...] = ("CULTURA_LOCK", "HF_ENDPOINT")


@contextmanager
def active_plugin_manager(manager: PluginManager) -> Iterator[PluginManager]:
    """Make ``manager`` the process-wide plugin manager for the ``with`` block.

    Afterwards the process-wide manager is dropped (``reset_plugin_manager(None)``), so the next
    use rebuilds it from the environment, even when the block raised.
    """
    reset_plugin_manager(manager)
    try:
        yield manager
    finally:
        reset_plugin_manager(None)


def isolate_environment(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    offline: bool = True,
    clear: Iterable[str] = CLEARED_VARIABLES,
    cwd: Path | None = None,
) -> None:
    """Point cultura at an empty registry and away from the network, through ``monkeypatch``.

    Sets ``CULTURA_HOME`` to ``home`` (its local registry; need not exist yet), unsets every
    variable in ``clear``, and changes the working directory to ``cwd`` (default
    ``home.parent``, so no ``cultura.lock`` of the checkout is found). With ``offline`` (the
    default) ``CULTURA_OFFLINE=1`` keeps resolution off the Hub; with ``offline=False`` both
    ``CULTURA_OFFLINE`` and ``HF_HUB_OFFLINE`` are unset, for tests that talk to a local Hub
    themselves. ``monkeypatch`` restores all of it when the test ends.
    """
    monkeypatch.setenv("CULTURA_HOME", str(home))
    if offline:
        monkeypatch.setenv("CULTURA_OFFLINE", "1")
    else:
        for var in ("HF_HUB_OFFLINE", "CULTURA_OFFLINE"):
            monkeypatch.delenv(var, raising=False)
    for var in clear:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(home.parent if cwd is None else cwd)


@contextmanager
def isolated_environment(
    manager: PluginManager,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    offline: bool = True,
    clear: Iterable[str] = CLEARED_VARIABLES,
    cwd: Path | None = None,
) -> Iterator[PluginManager]:
    """``manager`` as the process-wide plugin manager, an empty registry at ``home``, no network.

    Isolates the test from the plugins, registry, lockfile and Hub of the machine running it:
    :func:`isolate_environment` (``home``, ``offline``, ``clear``, ``cwd``), then
    :func:`active_plugin_manager` for the block. On exit the process-wide manager is dropped;
    the variables and working directory come back when ``monkeypatch`` undoes its changes at
    the end of the test. Yields ``manager``.
    """
    isolate_environment(home, monkeypatch, offline=offline, clear=clear, cwd=cwd)
    with active_plugin_manager(manager) as active:
        yield active
