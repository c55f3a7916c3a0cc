"""Watching a running system: Prometheus metrics (docs/monitoring.md) and operator
notifications (docs/notifications.md)."""
