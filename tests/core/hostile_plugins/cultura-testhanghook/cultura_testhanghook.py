"""A plugin whose tokenizer hook never returns; its knowledge hook must then not be called."""
import time

import cultura
from cultura import CultureInfo

CULTURA_API_VERSION = "1.0"


@cultura.hookimpl
def cultura_cultures():
    return [CultureInfo("qab", english_name="Test B")]


@cultura.hookimpl
def cultura_tokenizer_tweaks(culture):
    while True:
        time.sleep(0.05)


@cultura.hookimpl
def cultura_knowledge(culture):
    raise AssertionError("cultura_knowledge was called after the plugin hung")
