"""Plugin discovery and safe hook calls.

Plugins are found through the ``cultura`` entry-point group; each is loaded in its own ``try``
so a broken plugin is reported (by name, with its error) while the others keep working. Hooks
are called plugin by plugin in a deterministic order (the built-in ``und`` plugin first, then
by plugin name), never relying on pluggy's registration order, and every result is validated
and stamped with the plugin's provenance.

Environment variables (read when a manager is created):

* ``CULTURA_DISABLE_PLUGINS=zh,ar`` — block-list (entry-point or distribution names);
* ``CULTURA_LOAD_PLUGINS=zh`` — allow-list: only these (plus the built-in) load;
* ``CULTURA_NO_PLUGINS=1`` — built-in plugin only;
* ``CULTURA_STRICT_PLUGINS=1`` — plugin errors raise instead of warning (for plugin authors);
* ``CULTURA_TRACE_PLUGINS=1`` — print every hook call and its timing to stderr.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any, Literal

import pluggy

from cultura.core import hookspecs
from cultura.core.errors import CulturaError, PluginError, RegistrationError
from cultura.core.tags import Culture
from cultura.core.types import (
    AdapterHeadSpec,
    BiasCheck,
    CultureInfo,
    KnowledgeSource,
    Provenance,
    TokenizerTweaks,
)

ENTRY_POINT_GROUP = "cultura"
BUILTIN = "und"
Status = Literal["active", "disabled", "error", "incompatible"]

#: What each hook must return (a single registration, or a list of them).
_RESULT_TYPES: dict[str, tuple[type, bool]] = {
    "cultura_cultures": (CultureInfo, True),
    "cultura_tokenizer_tweaks": (TokenizerTweaks, False),
    "cultura_knowledge": (KnowledgeSource, True),
    "cultura_adapter_heads": (AdapterHeadSpec, True),
    "cultura_bias_checks": (BiasCheck, True),
}


class PluginWarning(UserWarning):
    """A plugin was skipped or one of its hooks failed (see the message for which)."""


@dataclass(frozen=True)
class PluginRecord:
    """What the manager knows about one plugin (shown by ``cultura plugins``)."""

    name: str
    distribution: str
    version: str
    module: str
    status: Status
    error: str | None = None
    api_version: str | None = None
    hooks: tuple[str, ...] = ()
    cultures: tuple[str, ...] = ()
    builtin: bool = False

    @property
    def provenance(self) -> Provenance:
        return Provenance(self.name, self.distribution, self.version)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "status": self.status,
            "error": self.error,
            "api_version": self.api_version,
            "hooks": list(self.hooks),
            "cultures": list(self.cultures),
            "builtin": self.builtin,
        }


@dataclass(frozen=True)
class HookResult:
    """One plugin's validated contribution to one hook call."""

    provenance: Provenance
    level: str
    value: Any


@dataclass
class HookFailure:
    """A hook that raised or returned something invalid; reported, never fatal."""

    plugin: str
    hook: str
    message: str

    def __str__(self) -> str:
        return str(PluginError(self.plugin, self.message, hook=self.hook))


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.replace(";", ",").split(",") if part.strip()}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def _api_compatible(declared: str) -> bool:
    try:
        major, minor = (int(p) for p in declared.split(".")[:2])
        core_major, core_minor = (int(p) for p in hookspecs.API_VERSION.split("."))
    except ValueError:
        return False
    return major == core_major and minor <= core_minor


class _BadReturn(CulturaError, TypeError):
    """A hook returned a value of the wrong type."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _BadReturn):
        return str(exc)
    if isinstance(exc, RegistrationError):
        return f"invalid registration: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


@dataclass
class _Loaded:
    record: PluginRecord
    plugin: object | None
    culture_infos: tuple[CultureInfo, ...] = ()
    served: frozenset[str] = field(default_factory=frozenset)


class PluginManager:
    """Discovers plugins and calls their hooks safely and deterministically.

    Args:
        entry_points: discover installed plugins (``False``: only the built-in and those
            passed to :meth:`register`).
        disabled: names to skip (default: ``CULTURA_DISABLE_PLUGINS``).
        allowed: if given, only these load (default: ``CULTURA_LOAD_PLUGINS``).
        strict: raise :class:`PluginError` instead of warning (default:
            ``CULTURA_STRICT_PLUGINS``).
    """

    def __init__(
        self,
        *,
        entry_points: bool = True,
        disabled: Iterable[str] | None = None,
        allowed: Iterable[str] | None = None,
        strict: bool | None = None,
    ) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._disabled = set(disabled) if disabled is not None else (
            _env_list("CULTURA_DISABLE_PLUGINS") or set()
        )
        self._allowed = set(allowed) if allowed is not None else _env_list("CULTURA_LOAD_PLUGINS")
        if _env_flag("CULTURA_NO_PLUGINS"):
            entry_points = False
        self.strict = _env_flag("CULTURA_STRICT_PLUGINS") if strict is None else strict
        self.trace = _env_flag("CULTURA_TRACE_PLUGINS")
        self._plugins: dict[str, _Loaded] = {}
        #: merged profiles by canonical tag (see :func:`cultura.culture`); cleared on changes.
        self.profile_cache: dict[str, Any] = {}
        self._lock = threading.RLock()
        from cultura.core import builtin

        self.register(
            builtin,
            name=BUILTIN,
            distribution="cultura",
            version=_version("cultura"),
            builtin=True,
        )
        if entry_points:
            self._discover()

    # ----------------------------------------------------------------- discovery
    def _discover(self) -> None:
        eps = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
        for ep in eps:
            dist = getattr(ep, "dist", None)
            dist_name = dist.name if dist is not None else ep.value.split(".")[0]
            version = dist.version if dist is not None else "0"
            self._load_entry_point(ep, dist_name, version)

    def _load_entry_point(self, ep: metadata.EntryPoint, dist_name: str, version: str) -> None:
        base = dict(name=ep.name, distribution=dist_name, version=version, module=ep.value)
        if ep.name in self._plugins:
            other = self._plugins[ep.name].record
            self._fail_load(
                PluginRecord(**base, status="error"),
                f"plugin name {ep.name!r} is already used by {other.distribution} "
                f"{other.version}; uninstall one of the two distributions",
            )
            return
        if not self._wanted(ep.name, dist_name):
            self._plugins[ep.name] = _Loaded(PluginRecord(**base, status="disabled"), None)
            return
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not break the others
            self._fail_load(
                PluginRecord(**base, status="error"),
                f"failed to import {ep.value!r}: {_describe(exc)}. "
                f"Reinstall or disable it (CULTURA_DISABLE_PLUGINS={ep.name})",
            )
            return
        self.register(plugin, name=ep.name, distribution=dist_name, version=version)

    def _wanted(self, name: str, distribution: str) -> bool:
        names = {name, distribution}
        if names & self._disabled:
            return False
        return self._allowed is None or bool(names & self._allowed)

    def _fail_load(self, record: PluginRecord, message: str) -> None:
        from dataclasses import replace

        status = "incompatible" if record.status == "incompatible" else "error"
        self._plugins[record.name] = _Loaded(replace(record, status=status, error=message), None)
        self._report(PluginError(record.name, message))

    def _report(self, error: PluginError) -> None:
        if self.strict:
            raise error
        warnings.warn(str(error), PluginWarning, stacklevel=3)

    def register(
        self,
        plugin: ModuleType | object,
        *,
        name: str,
        distribution: str | None = None,
        version: str = "0",
        builtin: bool = False,
    ) -> PluginRecord:
        """Register a plugin object (a module or any object with hook implementations).

        Used for the entry points found at start-up and by tests or applications that build
        plugins in code. Returns the plugin's record (status ``error`` when it is invalid).
        """
        with self._lock:
            self.profile_cache.clear()
            module = getattr(plugin, "__name__", type(plugin).__name__)
            base = dict(
                name=name,
                distribution=distribution or name,
                version=version,
                module=module,
                builtin=builtin,
            )
            if name in self._plugins and self._plugins[name].plugin is not None:
                raise PluginError(name, "a plugin with this name is already registered")
            declared = getattr(plugin, "CULTURA_API_VERSION", None)
            if not builtin:
                if not isinstance(declared, str):
                    self._fail_load(
                        PluginRecord(**base, status="incompatible"),
                        "does not declare the cultura plugin API it targets; add "
                        f'CULTURA_API_VERSION = "{hookspecs.API_VERSION}" to module {module}',
                    )
                    return self._plugins[name].record
                if not _api_compatible(declared):
                    self._fail_load(
                        PluginRecord(**base, status="incompatible", api_version=declared),
                        f"targets cultura plugin API {declared}, but this core implements "
                        f"{hookspecs.API_VERSION}; install a release of {base['distribution']} "
                        f"built for cultura API {hookspecs.API_VERSION.split('.')[0]}.x",
                    )
                    return self._plugins[name].record
            try:
                self._pm.register(plugin, name=name)
                self._pm.check_pending()
            except Exception as exc:
                if self._pm.is_registered(plugin):
                    self._pm.unregister(plugin)
                self._fail_load(
                    PluginRecord(**base, status="error", api_version=declared),
                    f"invalid hook implementation: {exc}",
                )
                return self._plugins[name].record
            hooks = tuple(
                h for h in hookspecs.ALL_HOOKS if self._impl(plugin, h) is not None
            )
            loaded = _Loaded(
                PluginRecord(**base, status="active", api_version=declared, hooks=hooks), plugin
            )
            self._plugins[name] = loaded
            infos = self._collect_cultures(loaded)
            from dataclasses import replace

            loaded.culture_infos = infos
            loaded.served = frozenset(i.tag for i in infos) | (
                {"und"} if builtin else frozenset()
            )
            loaded.record = replace(loaded.record, cultures=tuple(sorted(loaded.served)))
            return loaded.record

    def disable(self, name: str) -> None:
        """Disable a plugin for this manager (its hooks are no longer called)."""
        with self._lock:
            self.profile_cache.clear()
            loaded = self._get(name)
            if loaded.record.builtin:
                raise PluginError(name, "the built-in plugin cannot be disabled")
            from dataclasses import replace

            if loaded.plugin is not None and self._pm.is_registered(loaded.plugin):
                self._pm.unregister(loaded.plugin)
            loaded.record = replace(loaded.record, status="disabled")
            loaded.plugin = None
            loaded.served = frozenset()

    def _get(self, name: str) -> _Loaded:
        for loaded in self._plugins.values():
            if name in (loaded.record.name, loaded.record.distribution):
                return loaded
        known = ", ".join(sorted(self._plugins)) or "none"
        raise PluginError(name, f"no such plugin; installed plugins: {known}")

    # ----------------------------------------------------------------- queries
    def records(self) -> list[PluginRecord]:
        """Every known plugin (active, disabled, broken), built-in first, then by name."""
        return [p.record for p in self._ordered(active_only=False)]

    def record(self, name: str) -> PluginRecord:
        return self._get(name).record

    def _ordered(self, *, active_only: bool = True) -> list[_Loaded]:
        items = sorted(
            self._plugins.values(), key=lambda p: (not p.record.builtin, p.record.name)
        )
        return [p for p in items if not active_only or p.record.status == "active"]

    def cultures(self) -> dict[str, list[tuple[CultureInfo, Provenance]]]:
        """Served culture tag -> the declarations of the plugins serving it."""
        out: dict[str, list[tuple[CultureInfo, Provenance]]] = {}
        for loaded in self._ordered():
            for info in loaded.culture_infos:
                out.setdefault(info.tag, []).append((info, loaded.record.provenance))
        return dict(sorted(out.items()))

    def served_tags(self) -> set[str]:
        return {tag for p in self._ordered() for tag in p.served}

    # ----------------------------------------------------------------- hook calls
    @staticmethod
    def _impl(plugin: object, hook: str) -> Any:
        func = getattr(plugin, hook, None)
        if func is None or not callable(func):
            return None
        return func if hasattr(func, f"{hookspecs.PROJECT}_impl") else None

    def _collect_cultures(self, loaded: _Loaded) -> tuple[CultureInfo, ...]:
        if "cultura_cultures" not in loaded.record.hooks:
            return ()
        results, failures = self._call_one(loaded, "cultura_cultures", {}, level="")
        for failure in failures:
            self._report(PluginError(failure.plugin, failure.message, hook=failure.hook))
        return tuple(r.value for r in results)

    def call(
        self, hook: str, culture: str | Culture
    ) -> tuple[list[HookResult], list[HookFailure]]:
        """Call a culture hook along the fallback chain of ``culture``.

        Returns the validated results — least specific level first (``und``), then by plugin
        order — and the failures (also warned about, or raised in strict mode).
        """
        if hook not in hookspecs.CULTURE_HOOKS:
            raise CulturaError(f"unknown culture hook {hook!r}; hooks: {hookspecs.CULTURE_HOOKS}")
        requested = Culture.parse(culture)
        results: list[HookResult] = []
        failures: list[HookFailure] = []
        for level in reversed(requested.chain()):
            level_culture = Culture.parse(level)
            for loaded in self._ordered():
                if level not in loaded.served or hook not in loaded.record.hooks:
                    continue
                got, failed = self._call_one(
                    loaded, hook, {"culture": level_culture, "requested": requested}, level=level
                )
                results.extend(got)
                failures.extend(failed)
        for failure in failures:
            self._report(PluginError(failure.plugin, failure.message, hook=failure.hook))
        return results, failures

    def _call_one(
        self, loaded: _Loaded, hook: str, kwargs: dict[str, Any], *, level: str
    ) -> tuple[list[HookResult], list[HookFailure]]:
        record = loaded.record
        impl = self._impl(loaded.plugin, hook)
        hookimpls = [i for i in getattr(self._pm.hook, hook).get_hookimpls() if i.plugin is loaded.plugin]
        argnames = hookimpls[0].argnames if hookimpls else ()
        started = time.perf_counter()
        try:
            raw = impl(**{a: kwargs[a] for a in argnames})
            values = self._validate(hook, raw)
        except Exception as exc:
            message = _describe(exc)
            self._trace(record.name, hook, level, f"raised {message}", started)
            return [], [HookFailure(record.name, hook, message)]
        self._trace(record.name, hook, level, f"{len(values)} registration(s)", started)
        prov = record.provenance
        return [HookResult(prov, level, v) for v in values], []

    @staticmethod
    def _validate(hook: str, raw: object) -> list[Any]:
        kind, many = _RESULT_TYPES[hook]
        if raw is None:
            return []
        if isinstance(raw, kind):
            return [raw]
        if many and isinstance(raw, Sequence) and not isinstance(raw, (str, bytes)):
            bad = [type(v).__name__ for v in raw if not isinstance(v, kind)]
            if not bad:
                return list(raw)
            got = f"a list holding {', '.join(sorted(set(bad)))}"
        else:
            got = type(raw).__name__
        expected = f"a list of {kind.__name__}" if many else kind.__name__
        raise _BadReturn(f"returned {got}; expected {expected} or None (see cultura.core.types)")

    def _trace(self, plugin: str, hook: str, level: str, outcome: str, started: float) -> None:
        if self.trace:
            ms = (time.perf_counter() - started) * 1000
            at = f"(culture={level})" if level else "()"
            print(f"cultura: {plugin}.{hook}{at} -> {outcome} [{ms:.1f} ms]", file=sys.stderr)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "0+unknown"


_default: PluginManager | None = None
_default_lock = threading.Lock()


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, created on first use from the environment."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PluginManager()
        return _default


def reset_plugin_manager(manager: PluginManager | None = None) -> None:
    """Replace (or drop, so it is rebuilt from the environment) the process-wide manager."""
    global _default
    with _default_lock:
        _default = manager
