"""A plugin with a misspelled hook implementation."""
import cultura

CULTURA_API_VERSION = "1.0"


@cultura.hookimpl
def cultura_cultres():
    return []
