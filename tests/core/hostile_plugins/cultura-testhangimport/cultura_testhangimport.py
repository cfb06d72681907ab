"""A plugin whose import never finishes (sleeping, so it costs no CPU)."""
import time

CULTURA_API_VERSION = "1.0"

while True:
    time.sleep(0.05)
