"""One parameter set on one loaded window: the compiled trader with the simulated venue.

The same simulation as ``mm backtest`` (``flows.replay_backtest``: ``make_trader`` with a
``SimVenue`` of the params' sim settings, fed the replay's batches, then ``finish``),
without Bytewax or run tables: a trial needs the run summary, not the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.sim.config import SimConfig
from connectors.sim.venue import SimVenue
from core.params import StrategyParams
from engine.select import make_trader
from operators.trader import run_summary
from optimize.window import WindowData

# (step, partial summary) -> keep going?  (False = prune: stop the run)
Checkpoint = Callable[[int, dict[str, Any]], bool]


def run_params(
    data: WindowData,
    params: StrategyParams,
    checkpoints: int = 0,
    on_checkpoint: Checkpoint | None = None,
    engine: str | None = None,
) -> dict[str, Any] | None:
    """The run summary of ``params`` over ``data`` (the dict ``mm backtest`` writes).

    With ``checkpoints`` > 0, ``on_checkpoint(step, partial summary)`` is called that many
    times at even shares of the batches before the end; it returns False to stop early,
    and then the result is None.
    """
    venue = SimVenue(data.spec, SimConfig.from_params(params))
    trader = make_trader(data.spec, params, venue, engine=engine)
    n = len(data.batches)
    marks = {max(1, (n * (k + 1)) // (checkpoints + 1)): k for k in range(checkpoints)} if n else {}
    for i, batch in enumerate(data.batches, start=1):
        trader.on_market(batch)
        stop = on_checkpoint is not None and i in marks and i < n
        if stop and not on_checkpoint(marks[i], run_summary(trader)):
            return None
    out = trader.finish()
    return out.summary
