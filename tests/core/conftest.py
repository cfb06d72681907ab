"""Fixtures for the core tests: test plugins really installed as distributions."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixture_plugins"
ALL_TEST_PLUGINS = tuple(sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where pip installed every test plugin (with its entry points)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), *(str(FIXTURES / p) for p in ALL_TEST_PLUGINS)],
        check=True,
    )
    return target


@pytest.fixture
def with_test_plugins(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the installed test plugins discoverable (sys.path and PYTHONPATH) for one test."""
    monkeypatch.syspath_prepend(str(plugin_site))
    monkeypatch.setenv("PYTHONPATH", str(plugin_site))
    for var in ("CULTURA_DISABLE_PLUGINS", "CULTURA_LOAD_PLUGINS", "CULTURA_NO_PLUGINS",
                "CULTURA_STRICT_PLUGINS", "CULTURA_TRACE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    yield plugin_site
    for name in list(sys.modules):
        if name.startswith("cultura_test"):
            del sys.modules[name]


def _run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    import os

    exe = Path(sys.executable).with_name("cultura")
    return subprocess.run(
        [str(exe), *args], input=stdin, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=60,
    )


@pytest.fixture
def run_cli():  # type: ignore[no-untyped-def]
    """Run the installed `cultura` console script in a fresh process."""
    return _run_cli
