"""Run a dataflow in this process (the CLI's way; `python -m bytewax.run` is the other)."""

from __future__ import annotations

from bytewax._bytewax import cli_main, run_main
from bytewax.dataflow import Dataflow


def run_flow(flow: Dataflow, workers: int = 1) -> None:
    """Run to completion: one worker on this thread, or N worker threads."""
    if workers <= 1:
        run_main(flow)
    else:
        cli_main(flow, workers_per_process=workers)
