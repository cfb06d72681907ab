"""A plugin whose import never finishes and burns a CPU (only run in a child process)."""
CULTURA_API_VERSION = "1.0"

while True:
    pass
