"""Core: hook specs, registrations, culture tags, plugin manager and profiles (no torch)."""
