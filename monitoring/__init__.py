"""Prometheus metrics of the live/paper flows and the recorder (docs/monitoring.md)."""
