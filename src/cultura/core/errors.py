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
    """A plugin failed: on import, inside a hook, or by returning a bad registration."""

    def __init__(self, plugin: str, message: str, *, hook: str | None = None) -> None:
        self.plugin = plugin
        self.hook = hook
        self.message = message
        where = f"plugin {plugin!r}" + (f" in hook {hook}()" if hook else "")
        super().__init__(f"{where}: {message}")


class ConflictError(CulturaError):
    """Two plugins contribute the same key for the same culture level."""


class DataError(CulturaError, ValueError):
    """A data file (training data, term groups, benchmark file) is malformed.

    The message names the file, the line (or record) and the field.
    """
