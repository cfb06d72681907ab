"""A plugin that calls sys.exit() while it is imported."""
import sys

CULTURA_API_VERSION = "1.0"

sys.exit(3)
