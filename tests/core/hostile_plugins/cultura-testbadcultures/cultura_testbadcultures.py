"""A plugin whose cultura_cultures returns a string and an int instead of CultureInfo."""
import cultura

CULTURA_API_VERSION = "1.0"


@cultura.hookimpl
def cultura_cultures():
    return ["yo", 5]
