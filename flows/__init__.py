"""Dataflow definitions only: each module exposes `flow` for `python -m bytewax.run`."""
