"""Testing support shipped with cultura: tiny models, a local Hub-compatible server, and the
conformance suite plugin authors run on their plugins.

The conformance suite's entry points are re-exported here lazily (importing
``cultura.testing`` stays instant)::

    from cultura.testing import check_plugin, parametrize_with_plugin_checks
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CHECKS": "cultura.testing.conformance",
    "CheckSkipped": "cultura.testing.conformance",
    "ConformanceError": "cultura.testing.conformance",
    "ConformanceReport": "cultura.testing.conformance",
    "PluginUnderTest": "cultura.testing.conformance",
    "check_plugin": "cultura.testing.conformance",
    "load_plugin": "cultura.testing.conformance",
    "parametrize_with_plugin_checks": "cultura.testing.conformance",
    "tokenizer_efficacy": "cultura.testing.conformance",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cultura.testing' has no attribute {name!r}")
    return getattr(import_module(module), name)
