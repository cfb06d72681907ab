"""A plugin that calls sys.exit() in its cultura_cultures hook."""
import sys

import cultura

CULTURA_API_VERSION = "1.0"


@cultura.hookimpl
def cultura_cultures():
    sys.exit("bye from exithook")
