"""A plugin that raises KeyboardInterrupt itself in a hook (not the user's Ctrl-C)."""
import cultura
from cultura import CultureInfo

CULTURA_API_VERSION = "1.0"


@cultura.hookimpl
def cultura_cultures():
    return [CultureInfo("qaa", english_name="Test A")]


@cultura.hookimpl
def cultura_tokenizer_tweaks(culture):
    raise KeyboardInterrupt
