"""Checks on loading and declarations: API version, registration, a light import, cultures,
hook results and merged profiles (all ``api``)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from cultura.testing.conformance.loading import PluginUnderTest
from cultura.testing.conformance.registry import needs, register

__all__ = [
    "HEAVY_MODULES",
    "check_api_version",
    "check_cultures_declared",
    "check_hooks_return_registrations",
    "check_import_is_light",
    "check_profiles_build",
    "check_registers",
]

#: Modules a plugin must not import at module level.
HEAVY_MODULES: tuple[str, ...] = ("torch", "transformers", "peft", "tensorflow", "jax")


@register("api")
def check_api_version(plugin: PluginUnderTest) -> None:
    """The module declares a CULTURA_API_VERSION this core accepts."""
    from cultura.core.hookspecs import API_VERSION
    from cultura.core.plugins import _api_compatible

    declared = getattr(plugin.module, "CULTURA_API_VERSION", None)
    assert isinstance(declared, str), (
        f"module {plugin.module_name} lacks CULTURA_API_VERSION = \"{API_VERSION}\""
    )
    assert _api_compatible(declared), (
        f"CULTURA_API_VERSION {declared!r} is not compatible with the core's {API_VERSION}"
    )


@register("api")
def check_registers(plugin: PluginUnderTest) -> None:
    """The plugin registers in an isolated manager with status 'active' and known hooks."""
    record = plugin.record()
    assert record.status == "active", f"plugin is {record.status}: {record.error}"
    assert set(record.hooks) - {"cultura_cultures"}, (
        "the plugin implements no culture hook (cultura_tokenizer_tweaks, cultura_knowledge, "
        "cultura_adapter_heads or cultura_bias_checks)"
    )


@register("api")
def check_import_is_light(plugin: PluginUnderTest) -> None:
    """Importing the plugin module imports no torch/transformers/peft (plugins load instantly)."""
    code = (
        "import sys, importlib; importlib.import_module(sys.argv[1]); "
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    module = plugin.module_name
    proc = subprocess.run(
        [sys.executable, "-c", code, module], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"importing {module} failed:\n{proc.stderr[-2000:]}"
    heavy = proc.stdout.strip()
    assert not heavy, (
        f"importing {module} imports {heavy}; import heavy libraries inside the functions that "
        "need them"
    )


@register("api", needs("cultura_cultures"))
def check_cultures_declared(plugin: PluginUnderTest) -> None:
    """cultura_cultures() returns CultureInfo objects with distinct tags."""
    from cultura.core.types import CultureInfo

    infos = plugin.module.cultura_cultures()
    assert infos, "cultura_cultures() returned nothing: declare at least one culture"
    bad = [type(i).__name__ for i in infos if not isinstance(i, CultureInfo)]
    assert not bad, f"cultura_cultures() must return CultureInfo objects, got {bad}"
    tags = [i.tag for i in infos]
    dupes = sorted(t for t, n in Counter(tags).items() if n > 1)
    assert not dupes, f"cultures declared twice: {dupes}"


@register("api")
def check_hooks_return_registrations(plugin: PluginUnderTest) -> None:
    """Every culture hook returns valid registrations (or None) for every declared culture."""
    from cultura.core.hookspecs import CULTURE_HOOKS

    assert plugin.cultures, "the plugin serves no culture, so its culture hooks are never called"
    for hook in CULTURE_HOOKS:
        if plugin.implements(hook):
            plugin.results(hook)


@register("api")
def check_profiles_build(plugin: PluginUnderTest) -> None:
    """Each declared culture's merged profile builds without conflicts or hook failures."""
    from cultura.core.profile import build_profile

    for tag in plugin.cultures:
        profile = build_profile(tag, plugin.manager())
        assert not profile.failures, f"{tag}: " + "; ".join(str(f) for f in profile.failures)
