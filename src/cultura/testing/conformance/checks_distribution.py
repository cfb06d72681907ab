"""The check on the installed distribution's metadata."""

from __future__ import annotations

from importlib import metadata

from cultura.testing.conformance.loading import PluginUnderTest
from cultura.testing.conformance.registry import CheckSkipped, register

__all__ = ["check_distribution_metadata"]


@register("quality")
def check_distribution_metadata(plugin: PluginUnderTest) -> None:
    """The distribution is installed with a version, a license and a summary."""
    try:
        meta = metadata.metadata(plugin.distribution)
    except metadata.PackageNotFoundError:
        raise CheckSkipped(f"{plugin.distribution} is not installed as a distribution") from None
    assert meta.get("Version"), "no version"
    assert meta.get("License-Expression") or meta.get("License"), (
        "no license: add license = \"...\" to [project] in pyproject.toml"
    )
    assert meta.get("Summary"), "no description: add description = \"...\" to [project]"
