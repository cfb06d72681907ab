"""The plugin under test: resolving a name to the plugin object, and what checks ask of it."""

from __future__ import annotations

import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from cultura.core.errors import CulturaError
from cultura.core.hookspecs import PROJECT
from cultura.testing.conformance.probes import BUILTIN_PROBES, PROBES_ATTRIBUTE, read_probes
from cultura.testing.conformance.texts import bias_texts, fuzz, head_texts, knowledge_texts

__all__ = ["ENTRY_POINT_GROUP", "PluginUnderTest", "load_plugin"]

#: The entry-point group plugins register under (the project name, as for the core).
ENTRY_POINT_GROUP = PROJECT


@dataclass
class PluginUnderTest:
    """A plugin with the names it is registered under, and lazily built helpers.

    Attributes:
        module: the plugin object the entry point names: the plugin module, or a
            :class:`~cultura.core.declarative.Plugin` instance (``xx = "cultura_xx:plugin"``).
        name: the entry-point name (``"zh"``).
        distribution: the distribution name (``"cultura-zh"``); used in check ids.
        version: the distribution's version.
    """

    module: Any
    name: str
    distribution: str
    version: str = "0"
    _manager: Any = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.distribution

    @property
    def module_name(self) -> str:
        """The import name of the plugin's module (of its class, for a plugin instance)."""
        return _module_name(self.module)

    def manager(self) -> Any:
        """An isolated :class:`~cultura.core.plugins.PluginManager` holding only this plugin
        (and the built-in ``und`` plugin), with entry-point discovery off; hook failures are
        collected (not raised) so the checks can report them."""
        if self._manager is None:
            from cultura.core.plugins import PluginManager

            pm = PluginManager(entry_points=False, strict=False, disabled=(), allowed=None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pm.register(
                    self.module, name=self.name, distribution=self.distribution, version=self.version
                )
            self._manager = pm
        return self._manager

    def record(self) -> Any:
        return self.manager().record(self.name)

    def implements(self, hook: str) -> bool:
        func = getattr(self.module, hook, None)
        return callable(func) and hasattr(func, "cultura_impl")

    @cached_property
    def cultures(self) -> tuple[str, ...]:
        """Tags this plugin declares (canonical), in declaration order."""
        if not self.implements("cultura_cultures"):
            return ()
        infos = self.module.cultura_cultures() or []
        return tuple(dict.fromkeys(getattr(i, "tag", str(i)) for i in infos))

    def results(self, hook: str) -> list[tuple[str, Any]]:
        """``(culture, registration)`` for every declared culture (only this plugin's own
        contributions at that level); raises AssertionError when the hook failed."""
        from cultura.core.tags import Culture

        out: list[tuple[str, Any]] = []
        pm = self.manager()
        for tag in self.cultures:
            got, failures = pm.call(hook, tag)
            if failures:
                raise AssertionError(
                    f"{hook}({tag}) failed: " + "; ".join(f.message for f in failures)
                )
            level = Culture.parse(tag).tag
            out.extend(
                (tag, r.value) for r in got if r.provenance.plugin == self.name and r.level == level
            )
        return out

    def normalizers(self) -> list[tuple[str, Any]]:
        return [
            (tag, n) for tag, tweaks in self.results("cultura_tokenizer_tweaks") for n in tweaks.normalizers
        ]

    def vocabularies(self) -> list[tuple[str, Any]]:
        return [
            (tag, v) for tag, tweaks in self.results("cultura_tokenizer_tweaks") for v in tweaks.vocabulary
        ]

    @property
    def probe_file(self) -> Path | None:
        """The plugin's probe file (its ``CULTURA_PROBES`` attribute), or ``None``.

        Raises AssertionError when the attribute is set but is no path.
        """
        value = getattr(self.module, PROBES_ATTRIBUTE, None)
        if value is None:
            return None
        assert isinstance(value, (str, os.PathLike)), (
            f"{self.module_name}.{PROBES_ATTRIBUTE} must be the path of a probe file, got "
            f"{value!r:.80}; set it to cultura.core.plugin_data.data_file('{self.module_name}', "
            "'probes.txt') (a declarative plugin declares probes = 'probes.txt')"
        )
        return Path(value)

    @cached_property
    def probes(self) -> tuple[str, ...]:
        """The probes of the plugin's probe file (none without one); raises
        :class:`~cultura.core.errors.DataError` on a malformed file."""
        path = self.probe_file
        return () if path is None else read_probes(path)

    @cached_property
    def sample_texts(self) -> tuple[str, ...]:
        """The texts the normalizer checks use: the built-in probes, the plugin's probes, the
        texts in the plugin's own languages gathered from its registrations, and seeded random
        mixes of the characters those texts use."""
        texts: list[str] = list(BUILTIN_PROBES)
        own: list[str] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                texts.extend(self.probes)
            except Exception:  # reported by check_probes
                pass
            for hook, collect in (
                ("cultura_knowledge", knowledge_texts),
                ("cultura_adapter_heads", head_texts),
                ("cultura_bias_checks", bias_texts),
            ):
                if self.implements(hook):
                    try:
                        for _, value in self.results(hook):
                            own.extend(collect(value))
                    except Exception:  # reported by the hook's own checks
                        pass
        own = [t for t in dict.fromkeys(own) if t.strip()][:400]
        texts.extend(own)
        texts.extend(fuzz(own, n=150, seed=len(own)))
        return tuple(dict.fromkeys(texts))


def _module_name(plugin: Any) -> str:
    return plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__


def _version(plugin: Any) -> str:
    """``__version__`` of the plugin's module (of its class's module, for an instance)."""
    module = plugin if isinstance(plugin, ModuleType) else sys.modules.get(_module_name(plugin))
    return str(getattr(module, "__version__", "0"))


def _dist_name(ep: metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else None


_REFERENCE = re.compile(r"[\w.]+(?::[\w.]+)?")


def _load(plugin: str, eps: list[metadata.EntryPoint]) -> tuple[Any, metadata.EntryPoint | None]:
    """The object ``plugin`` names, loaded as an entry point loads it, and its entry point."""
    match = next(
        (e for e in eps if plugin in (e.name, e.value, e.module) or _dist_name(e) == plugin), None
    )
    known = ", ".join(sorted(f"{e.name} ({e.value})" for e in eps)) or "none"
    how = (
        "Pass a plugin object, its import name ('module' or 'module:attr'), an entry-point name "
        f"or a distribution name; installed plugins: {known}"
    )
    if match is None and not _REFERENCE.fullmatch(plugin):
        raise CulturaError(f"cannot load plugin {plugin!r}: no installed plugin has that name. {how}")
    target = match or metadata.EntryPoint(name=plugin, value=plugin, group=ENTRY_POINT_GROUP)
    try:
        return target.load(), match
    except (ImportError, AttributeError) as exc:
        raise CulturaError(f"cannot load plugin {plugin!r}: {exc}. {how}") from None


def load_plugin(plugin: str | ModuleType | PluginUnderTest | Any) -> PluginUnderTest:
    """Resolve ``plugin`` to a :class:`PluginUnderTest`.

    ``plugin`` is a plugin object (a module, or a declarative plugin instance), a module name
    (``"cultura_zh"``), an object reference (``"cultura_zh:plugin"``), an entry-point name
    (``"zh"``) or a distribution name (``"cultura-zh"``). A name is loaded as its entry point
    loads it (a ``module:attr`` entry point gives the object it names), and the module name
    is taken from the loaded object.
    """
    if isinstance(plugin, PluginUnderTest):
        return plugin
    eps = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    if isinstance(plugin, str):
        loaded, match = _load(plugin, eps)
    else:
        loaded = plugin
        match = next((e for e in eps if e.module == _module_name(plugin)), None)
    if match is not None and getattr(match, "dist", None) is not None:
        return PluginUnderTest(loaded, match.name, match.dist.name, match.dist.version)
    module_name = _module_name(loaded)
    name = module_name.split(".")[0].removeprefix("cultura_")
    return PluginUnderTest(loaded, name, module_name.replace("_", "-"), _version(loaded))
