"""A plugin that declares a culture with a malformed tag."""
import cultura
from cultura import CultureInfo

CULTURA_API_VERSION = "1.0"


@cultura.hookimpl
def cultura_cultures():
    return [CultureInfo("not a tag!!")]
