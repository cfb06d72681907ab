"""A plugin that fails on import."""
CULTURA_API_VERSION = "1.0"
raise RuntimeError("boom at import")
