"""A plugin built for a future major version of the plugin API."""
import cultura

CULTURA_API_VERSION = "2.0"


@cultura.hookimpl
def cultura_cultures():
    return [cultura.CultureInfo("eo")]
