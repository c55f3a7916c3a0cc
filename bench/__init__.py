"""Benchmarks: `python -m bench.<name>` prints numbers (never assertions)."""
