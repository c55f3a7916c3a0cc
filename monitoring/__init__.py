"""Watching a running system: operator notifications (and metrics)."""
