"""Exceptions raised by cultura.

Every error a user can cause derives from :class:`CulturaError` and says what was wrong, where
(file, field, plugin) and how to fix it.
"""

from __future__ import annotations


class CulturaError(Exception):
    """Base class of every error cultura raises on purpose."""


class TagError(CulturaError, ValueError):
    """A culture tag is not a well-formed BCP-47 language tag."""


class UnknownCultureError(CulturaError, LookupError):
    """No installed plugin serves the requested culture (nor any tag on its fallback chain)."""


class RegistrationError(CulturaError, ValueError):
    """A registration dataclass was built with a bad field.

    Raised at construction time; the plugin manager re-raises it as :class:`PluginError`
    naming the plugin that built it.
    """

    def __init__(self, kind: str, field: str, message: str) -> None:
        self.kind = kind
        self.field = field
        self.message = message
        super().__init__(f"{kind}.{field}: {message}")


class PluginError(CulturaError):
    """A plugin failed: on import, inside a hook, by returning a bad registration, or in a
    normalizer it contributed. Names the plugin (and its distribution when known)."""

    def __init__(
        self,
        plugin: str,
        message: str,
        *,
        hook: str | None = None,
        distribution: str | None = None,
    ) -> None:
        self.plugin = plugin
        self.hook = hook
        self.distribution = distribution
        self.message = message
        where = f"plugin {plugin!r}"
        if distribution:
            where += f" ({distribution})"
        if hook:
            where += f" in hook {hook}()"
        super().__init__(f"{where}: {message}")


class ConflictError(CulturaError):
    """Two plugins contribute the same key for the same culture level."""


class DataError(CulturaError, ValueError):
    """A data file (training data, term groups, benchmark file) is malformed.

    The message names the file, the line (or record) and the field.
    """


def describe_exception(exc: BaseException) -> str:
    """``Type: message (at file:line)`` for an exception raised by someone else's code (a
    plugin's), pointing at the innermost frame; ``sys.exit(n)`` reads ``SystemExit: n``."""
    try:
        message = str(exc)
    except Exception:  # a plugin's exception class whose __str__ itself fails
        message = "(its message cannot be shown)"
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    import traceback  # only when a plugin failed: kept off the start-up path

    frames = traceback.extract_tb(exc.__traceback__)
    return text + (f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else "")
