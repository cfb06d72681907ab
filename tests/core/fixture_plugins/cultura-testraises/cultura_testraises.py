"""A plugin whose knowledge hook raises and whose bias hook returns the wrong type."""
import cultura
from cultura import CultureInfo

CULTURA_API_VERSION = "1.0"


@cultura.hookimpl
def cultura_cultures():
    return [CultureInfo("eo")]


@cultura.hookimpl
def cultura_knowledge(culture):
    raise ValueError("knowledge base unavailable")


@cultura.hookimpl
def cultura_bias_checks(culture):
    return "not a list of BiasCheck"
