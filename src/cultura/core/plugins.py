"""Plugin discovery and isolated, deterministic hook calls.

Plugins are found through the ``cultura`` entry-point group. Plugins are code, trusted like any
installed package, but they may be broken, so each one is isolated:

* every plugin import and every hook call runs in its own daemon thread and is waited for at
  most ``CULTURA_PLUGIN_TIMEOUT`` seconds. Whatever it raises (``sys.exit()``, a
  ``KeyboardInterrupt`` raised by the plugin, any ``BaseException``) is caught and attributed
  (plugin, distribution, hook); a plugin that runs past the limit is marked ``hung`` and its
  thread is abandoned (a daemon, so it never delays exit). The user's own Ctrl-C arrives in
  the calling thread and stops the program as usual;
* a plugin that fails to import, raises in a hook, exceeds the limit or returns a bad value
  (wrong type, invalid registration, malformed culture tag) is taken out: status ``error``
  (``hung`` for the time limit) with the reason, its hooks are not called again and the cached
  profiles are dropped. The other plugins keep working;
* two distributions registering the same entry-point name are both loaded, side by side, and
  each record names the other (:attr:`PluginRecord.conflicts`); neither replaces the other.
  Their contributions merge like any two plugins' (a key both give for the same culture level
  is a :class:`~cultura.core.errors.ConflictError` naming both). Looking a plugin up by that
  name finds the distribution named ``cultura-<name>`` first; disable one of them by its
  distribution name.

Hooks are called plugin by plugin in a deterministic order (the built-in ``und`` plugin first,
then by plugin name, then ``cultura-<name>`` before other distributions of that name, then by
distribution), never relying on pluggy's registration order, and every result is validated and
stamped with the plugin's provenance. Normalizers (the hot path) are not run in threads; a
failing one raises :class:`~cultura.core.errors.PluginError` naming its plugin (see
:class:`~cultura.core.types.Normalizer`).

Environment variables (read when a manager is created):

* ``CULTURA_DISABLE_PLUGINS=zh,ar`` — block-list (entry-point or distribution names);
* ``CULTURA_LOAD_PLUGINS=zh`` — allow-list: only these (plus the built-in) load;
* ``CULTURA_NO_PLUGINS=1`` — built-in plugin only;
* ``CULTURA_PLUGIN_TIMEOUT=10`` — seconds one plugin import or hook call may take (default
  10; ``0`` or ``none``: no limit);
* ``CULTURA_STRICT_PLUGINS=1`` — plugin errors raise instead of warning (for plugin authors);
* ``CULTURA_TRACE_PLUGINS=1`` — print every hook call and its timing to stderr.
"""

from __future__ import annotations

import contextvars
import math
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from types import ModuleType
from typing import Any, Literal

import pluggy

from cultura.core import hookspecs
from cultura.core.errors import (
    CulturaError,
    PluginError,
    RegistrationError,
    describe_exception,
)
from cultura.core.tags import Culture
from cultura.core.types import (
    AdapterHeadSpec,
    BiasCheck,
    CultureInfo,
    KnowledgeSource,
    Perturbation,
    Provenance,
    TokenizerTweaks,
    WordRules,
)

ENTRY_POINT_GROUP = "cultura"
BUILTIN = "und"
Status = Literal["active", "disabled", "error", "hung", "incompatible"]
#: seconds one plugin import or hook call may take when ``CULTURA_PLUGIN_TIMEOUT`` is not set
DEFAULT_TIMEOUT = 10.0
_TIMEOUT_VAR = "CULTURA_PLUGIN_TIMEOUT"

#: What each hook must return (a single registration, or a list of them).
_RESULT_TYPES: dict[str, tuple[type, bool]] = {
    "cultura_cultures": (CultureInfo, True),
    "cultura_tokenizer_tweaks": (TokenizerTweaks, False),
    "cultura_knowledge": (KnowledgeSource, True),
    "cultura_adapter_heads": (AdapterHeadSpec, True),
    "cultura_bias_checks": (BiasCheck, True),
    "cultura_word_rules": (WordRules, True),
    "cultura_perturbations": (Perturbation, True),
}


class PluginWarning(UserWarning):
    """A plugin was skipped or one of its hooks failed (see the message for which)."""


@dataclass(frozen=True)
class PluginRecord:
    """What the manager knows about one plugin (shown by ``cultura plugins``).

    ``status``: ``active``; ``disabled`` (by the environment or :meth:`PluginManager.disable`);
    ``incompatible`` (plugin API); ``error`` (failed to import, raised in a hook or returned a
    bad value); ``hung`` (an import or hook call exceeded the time limit). ``error`` says why.
    ``conflicts`` lists the other distributions (``"name version"``) registering the same
    entry-point name.
    """

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
    conflicts: tuple[str, ...] = ()

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
            "conflicts": list(self.conflicts),
        }


@dataclass(frozen=True)
class HookResult:
    """One plugin's validated contribution to one hook call."""

    provenance: Provenance
    level: str
    value: Any


@dataclass
class HookFailure:
    """A hook that raised, hung or returned something invalid; reported, never fatal.

    ``status`` is what the plugin became: ``error``, or ``hung`` past the time limit.
    """

    plugin: str
    hook: str
    message: str
    provenance: Provenance
    status: Status = "error"

    def __str__(self) -> str:
        prov = str(self.provenance)
        return str(PluginError(self.plugin, self.message, hook=self.hook, distribution=prov))


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.replace(";", ",").split(",") if part.strip()}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def _timeout_from_env() -> float | None:
    """``CULTURA_PLUGIN_TIMEOUT`` in seconds (``None``: no limit); a bad value is an error."""
    raw = os.environ.get(_TIMEOUT_VAR, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    if raw.lower() == "none":
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise CulturaError(
            f"{_TIMEOUT_VAR}={raw!r} is not a number of seconds; set it to e.g. "
            f"{DEFAULT_TIMEOUT:g} (the default), or to 0 or none for no time limit"
        )
    return seconds or None


def _api_compatible(declared: str) -> bool:
    try:
        major, minor = (int(p) for p in declared.split(".")[:2])
        core_major, core_minor = (int(p) for p in hookspecs.API_VERSION.split("."))
    except ValueError:
        return False
    return major == core_major and minor <= core_minor


class _BadReturn(CulturaError, TypeError):
    """A hook returned a value of the wrong type."""


def _hook_failure(exc: BaseException) -> str:
    """What a hook did wrong, as a phrase following the hook's name."""
    if isinstance(exc, _BadReturn):
        return str(exc)
    if isinstance(exc, RegistrationError):
        return f"built an invalid registration: {exc}"
    return f"raised {describe_exception(exc)}"


@dataclass(frozen=True)
class _Outcome:
    """How an isolated call ended: a value, an exception, or still running (``hung``)."""

    value: Any = None
    error: BaseException | None = None
    hung: bool = False


def _isolated(func: Callable[[], Any], timeout: float | None, label: str) -> _Outcome:
    """Run plugin code in a daemon thread and wait for it at most ``timeout`` seconds.

    Everything the code raises, ``SystemExit`` and ``KeyboardInterrupt`` included, belongs to
    the plugin and is returned; a Ctrl-C of the user arrives in the calling thread (inside
    ``join``) and propagates. A thread still running after ``timeout`` is abandoned: it is a
    daemon, so it never delays the exit of the process.
    """
    ended: list[_Outcome] = []

    def target() -> None:
        try:
            ended.append(_Outcome(value=func()))
        except BaseException as exc:  # the plugin's, whatever it is: reported by the caller
            ended.append(_Outcome(error=exc))

    context = contextvars.copy_context()
    worker = threading.Thread(
        target=context.run, args=(target,), name=f"cultura-plugin {label}", daemon=True
    )
    worker.start()
    worker.join(timeout)
    if worker.is_alive() or not ended:
        return _Outcome(hung=True)
    return ended[0]


def _too_slow(what: str, timeout: float | None) -> str:
    return f"{what} within {timeout:g} s ({_TIMEOUT_VAR}={timeout:g}); its thread is abandoned"


def _fix(distribution: str, status: Status) -> str:
    """How to get rid of a failing plugin (and, for a slow one, how to wait longer)."""
    slow = (
        f"if it is only slow, raise the limit (e.g. {_TIMEOUT_VAR}=60); otherwise "
        if status == "hung"
        else ""
    )
    return f"{slow}fix or update it, or disable it: CULTURA_DISABLE_PLUGINS={distribution}"


@dataclass
class _Loaded:
    record: PluginRecord
    plugin: object | None
    culture_infos: tuple[CultureInfo, ...] = ()
    served: frozenset[str] = field(default_factory=frozenset)

    @property
    def key(self) -> tuple[str, str]:
        return (self.record.name, self.record.distribution)

    @property
    def order(self) -> tuple[bool, str, bool, str]:
        r = self.record
        return (not r.builtin, r.name, r.distribution != f"cultura-{r.name}", r.distribution)


class PluginManager:
    """Discovers plugins and calls their hooks in isolation, in a deterministic order.

    Args:
        entry_points: discover installed plugins (``False``: only the built-in and those
            passed to :meth:`register`).
        disabled: names to skip (default: ``CULTURA_DISABLE_PLUGINS``).
        allowed: if given, only these load (default: ``CULTURA_LOAD_PLUGINS``).
        strict: raise :class:`PluginError` instead of warning (default:
            ``CULTURA_STRICT_PLUGINS``).
        timeout: seconds one plugin import or hook call may take, ``0`` for no limit
            (default: ``CULTURA_PLUGIN_TIMEOUT``, else :data:`DEFAULT_TIMEOUT`).
    """

    def __init__(
        self,
        *,
        entry_points: bool = True,
        disabled: Iterable[str] | None = None,
        allowed: Iterable[str] | None = None,
        strict: bool | None = None,
        timeout: float | None = None,
    ) -> None:
        if timeout is not None and not (math.isfinite(timeout) and timeout >= 0):
            raise CulturaError(
                f"timeout={timeout!r}: give the seconds a plugin call may take (0: no limit)"
            )
        self.timeout = _timeout_from_env() if timeout is None else (timeout or None)
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
        #: by (entry-point name, distribution): two distributions may share a name
        self._plugins: dict[tuple[str, str], _Loaded] = {}
        #: merged profiles by canonical tag (see :func:`cultura.culture`); cleared on changes.
        self.profile_cache: dict[str, Any] = {}
        #: guards the tables above; never held while plugin code runs
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
        found = []
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            dist_name = dist.name if dist is not None else ep.value.split(".")[0]
            found.append((ep, dist_name, dist.version if dist is not None else "0"))
        for ep, dist_name, version in sorted(found, key=lambda f: (f[0].name, f[1])):
            self._load_entry_point(ep, dist_name, version)
        self._report_shared_names()

    def _load_entry_point(self, ep: metadata.EntryPoint, dist_name: str, version: str) -> None:
        if (ep.name, dist_name) in self._plugins:
            return  # the same distribution twice on sys.path: the first one is imported
        base = dict(name=ep.name, distribution=dist_name, version=version, module=ep.value)
        if not self._wanted(ep.name, dist_name):
            loaded = _Loaded(PluginRecord(**base, status="disabled"), None)
            with self._lock:
                self._plugins[loaded.key] = loaded
            return
        outcome = _isolated(ep.load, self.timeout, f"{ep.name} import")
        if outcome.hung:
            self._fail_load(
                PluginRecord(**base, status="hung"),
                _too_slow(f"importing {ep.value!r} did not finish", self.timeout)
                + "; "
                + _fix(dist_name, "hung"),
            )
        elif outcome.error is not None:
            self._fail_load(
                PluginRecord(**base, status="error"),
                f"failed to import {ep.value!r}: {describe_exception(outcome.error)}; "
                + _fix(dist_name, "error"),
            )
        else:
            self.register(outcome.value, name=ep.name, distribution=dist_name, version=version)

    def _report_shared_names(self) -> None:
        by_name: dict[str, list[PluginRecord]] = {}
        for loaded in self._ordered(active_only=False):
            by_name.setdefault(loaded.record.name, []).append(loaded.record)
        for name, records in by_name.items():
            used = [r for r in records if r.status != "disabled"]
            if len(used) > 1:
                dists = " and ".join(f"{r.distribution} {r.version}" for r in used)
                self._report(PluginError(
                    name,
                    f"the entry-point name {name!r} is registered by {dists}; each is loaded, "
                    "neither replaces the other. Uninstall one, or disable it by its "
                    f"distribution name (CULTURA_DISABLE_PLUGINS={used[-1].distribution})",
                ))

    def _wanted(self, name: str, distribution: str) -> bool:
        names = {name, distribution}
        if names & self._disabled:
            return False
        return self._allowed is None or bool(names & self._allowed)

    def _fail_load(self, record: PluginRecord, message: str) -> None:
        loaded = _Loaded(replace(record, error=message), None)
        with self._lock:
            self._plugins[loaded.key] = loaded
        self._report(PluginError(record.name, message, distribution=str(record.provenance)))

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
        plugins in code. Returns the plugin's record (status ``error``, ``hung`` or
        ``incompatible`` when it cannot be used). Its ``cultura_cultures`` hook is called,
        in isolation, without holding the manager's lock.
        """
        module = getattr(plugin, "__name__", type(plugin).__name__)
        dist = distribution or name
        base = dict(name=name, distribution=dist, version=version, module=module, builtin=builtin)
        with self._lock:
            self.profile_cache.clear()
            existing = self._plugins.get((name, dist))
            if existing is not None and existing.plugin is not None:
                raise PluginError(name, "already registered", distribution=dist)
            declared = getattr(plugin, "CULTURA_API_VERSION", None)
            problem = None if builtin else self._api_problem(declared, module, dist)
            if problem is not None:
                self._fail_load(
                    PluginRecord(**base, status="incompatible", api_version=declared), problem
                )
                return self._plugins[(name, dist)].record
            holder = next((p for p in self._plugins.values() if p.plugin is plugin), None)
            if holder is not None:
                self._fail_load(
                    PluginRecord(**base, status="error", api_version=declared),
                    f"{module} is already loaded as plugin {holder.record.name!r} of "
                    f"{holder.record.distribution}; register each plugin object once",
                )
                return self._plugins[(name, dist)].record
            try:
                self._pm.register(plugin, name=f"{name}@{dist}")
                self._pm.check_pending()
            except Exception as exc:
                if self._pm.is_registered(plugin):
                    self._pm.unregister(plugin)
                self._fail_load(
                    PluginRecord(**base, status="error", api_version=declared),
                    f"invalid hook implementation: {exc}",
                )
                return self._plugins[(name, dist)].record
            hooks = tuple(h for h in hookspecs.ALL_HOOKS if self._impl(plugin, h) is not None)
            loaded = _Loaded(
                PluginRecord(**base, status="active", api_version=declared, hooks=hooks), plugin
            )
            self._plugins[loaded.key] = loaded
        infos = self._collect_cultures(loaded)
        with self._lock:
            if loaded.record.status == "active":
                self.profile_cache.clear()
                loaded.culture_infos = infos
                loaded.served = frozenset(i.tag for i in infos) | (
                    {BUILTIN} if builtin else frozenset()
                )
                loaded.record = replace(loaded.record, cultures=tuple(sorted(loaded.served)))
        return loaded.record

    @staticmethod
    def _api_problem(declared: object, module: str, distribution: str) -> str | None:
        if not isinstance(declared, str):
            return (
                "does not declare the cultura plugin API it targets; add "
                f'CULTURA_API_VERSION = "{hookspecs.API_VERSION}" to module {module}'
            )
        if not _api_compatible(declared):
            return (
                f"targets cultura plugin API {declared}, but this core implements "
                f"{hookspecs.API_VERSION}; install a release of {distribution} "
                f"built for cultura API {hookspecs.API_VERSION.split('.')[0]}.x"
            )
        return None

    def disable(self, name: str) -> None:
        """Disable the plugins with this entry-point or distribution name (their hooks are no
        longer called)."""
        with self._lock:
            matching = self._matching(name)
            if any(loaded.record.builtin for loaded in matching):
                raise PluginError(name, "the built-in plugin cannot be disabled")
            for loaded in matching:
                self._take_out(loaded, "disabled", None)

    def _take_out(self, loaded: _Loaded, status: Status, error: str | None) -> None:
        """Stop calling a plugin's hooks (disabled, or failed) and drop the cached profiles."""
        with self._lock:
            self.profile_cache.clear()
            if loaded.plugin is not None and self._pm.is_registered(loaded.plugin):
                self._pm.unregister(loaded.plugin)
            loaded.plugin = None
            loaded.served = frozenset()
            loaded.record = replace(loaded.record, status=status, error=error)

    def _matching(self, name: str) -> list[_Loaded]:
        matching = [
            p for p in self._ordered(active_only=False)
            if name in (p.record.name, p.record.distribution)
        ]
        if not matching:
            known = ", ".join(sorted({p.record.name for p in self._plugins.values()}))
            raise PluginError(name, f"no such plugin; installed plugins: {known or 'none'}")
        return matching

    # ----------------------------------------------------------------- queries
    def records(self) -> list[PluginRecord]:
        """Every known plugin (active, disabled, broken): built-in first, then by name."""
        everyone = self._ordered(active_only=False)
        return [self._public(p, everyone) for p in everyone]

    def record(self, name: str) -> PluginRecord:
        """The record of the plugin with this entry-point or distribution name (for a name
        that two distributions share: ``cultura-<name>`` first, else the first by
        distribution name)."""
        return self._public(self._matching(name)[0], self._ordered(active_only=False))

    @staticmethod
    def _public(loaded: _Loaded, everyone: list[_Loaded]) -> PluginRecord:
        conflicts = tuple(
            f"{p.record.distribution} {p.record.version}"
            for p in everyone
            if p is not loaded and p.record.name == loaded.record.name
        )
        return replace(loaded.record, conflicts=conflicts) if conflicts else loaded.record

    def _ordered(self, *, active_only: bool = True) -> list[_Loaded]:
        with self._lock:
            items = sorted(self._plugins.values(), key=lambda p: p.order)
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
            self._report_failure(failure)
        return tuple(r.value for r in results)

    def call(
        self, hook: str, culture: str | Culture
    ) -> tuple[list[HookResult], list[HookFailure]]:
        """Call a culture hook along the fallback chain of ``culture``.

        Returns the validated results — least specific level first (``und``), then by plugin
        order — and the failures (also warned about, or raised in strict mode). A plugin that
        fails is taken out (status ``error`` or ``hung``) before the next call.
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
            self._report_failure(failure)
        return results, failures

    def _call_one(
        self, loaded: _Loaded, hook: str, kwargs: dict[str, Any], *, level: str
    ) -> tuple[list[HookResult], list[HookFailure]]:
        plugin, record = loaded.plugin, loaded.record
        if plugin is None or record.status != "active":
            return [], []
        impl = self._impl(plugin, hook)
        hookimpls = getattr(self._pm.hook, hook).get_hookimpls()
        argnames = next((i.argnames for i in hookimpls if i.plugin is plugin), ())
        arguments = {a: kwargs[a] for a in argnames}
        started = time.perf_counter()
        outcome = _isolated(
            lambda: self._validate(hook, impl(**arguments)), self.timeout, f"{record.name}.{hook}"
        )
        if outcome.hung:
            status: Status = "hung"
            message = _too_slow("did not return", self.timeout)
        elif outcome.error is not None:
            status, message = "error", _hook_failure(outcome.error)
        else:
            values: list[Any] = outcome.value
            self._trace(record.name, hook, level, f"{len(values)} registration(s)", started)
            return [HookResult(record.provenance, level, v) for v in values], []
        self._trace(record.name, hook, level, f"{status}: {message}", started)
        fix = _fix(record.distribution, status)
        self._take_out(loaded, status, f"{hook}() {message}; {fix}")
        return [], [HookFailure(record.name, hook, message, record.provenance, status)]

    def _report_failure(self, failure: HookFailure) -> None:
        self._report(PluginError(
            failure.plugin,
            f"{failure.message}; the plugin is skipped from now on: "
            + _fix(failure.provenance.distribution, failure.status),
            hook=failure.hook,
            distribution=str(failure.provenance),
        ))

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
