"""Fixtures for the core tests: test plugins really installed as distributions."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixture_plugins"
#: plugins that exit, hang, spin, raise KeyboardInterrupt, impersonate cultura-zh or return bad
#: values; kept apart so the tests using ``with_test_plugins`` never wait on them
HOSTILE = Path(__file__).parent / "hostile_plugins"
PLUGIN_VARS = ("CULTURA_DISABLE_PLUGINS", "CULTURA_LOAD_PLUGINS", "CULTURA_NO_PLUGINS",
               "CULTURA_PLUGIN_TIMEOUT", "CULTURA_STRICT_PLUGINS", "CULTURA_TRACE_PLUGINS")


def _install(source: Path, target: Path) -> Path:
    """pip-install every plugin under ``source`` (with its entry points) into ``target``."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target),
         *(str(p) for p in sorted(source.iterdir()) if p.is_dir())],
        check=True,
    )
    return target


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where pip installed every test plugin (with its entry points)."""
    return _install(FIXTURES, tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="session")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where pip installed the hostile test plugins."""
    return _install(HOSTILE, tmp_path_factory.mktemp("hostile-site"))


def _use_site(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    for var in PLUGIN_VARS:
        monkeypatch.delenv(var, raising=False)
    yield site
    for name in list(sys.modules):
        if name.startswith("cultura_test"):
            del sys.modules[name]


@pytest.fixture
def with_test_plugins(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the installed test plugins discoverable (sys.path and PYTHONPATH) for one test."""
    yield from _use_site(plugin_site, monkeypatch)


@pytest.fixture
def with_hostile_plugins(hostile_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the hostile test plugins discoverable for one test (choose with an allow-list:
    the ones that hang leave a sleeping daemon thread behind in this process)."""
    yield from _use_site(hostile_site, monkeypatch)


def _run_cli(*args: str, stdin: str | bytes | None = None, env: dict[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the console script; ``stdin`` is sent as given (bytes) or UTF-8 encoded (str)."""
    import os

    exe = Path(sys.executable).with_name("cultura")
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    done = subprocess.run(
        [str(exe), *args], input=data, capture_output=True,
        env={**os.environ, **(env or {})}, timeout=timeout,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


@pytest.fixture
def run_cli():  # type: ignore[no-untyped-def]
    """Run the installed `cultura` console script in a fresh process."""
    return _run_cli
