"""The compiled loop in live mode (no venue bound) against the reference, bit for bit.

Each trader trades through its own simulated venue *outside* it, as a gateway and the
private stream would: its order actions go to the venue, the venue's reports come back
as OrderUpdate / Fill objects through ``on_own`` at their arrival times, and a timer
ticks every 250 ms. Everything both traders emit must be identical.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from diff_helpers import Collected, batches, head

from connectors.sim.config import SimConfig
from connectors.sim.venue import SimVenue
from core.events import Tick
from core.l2book import L2Book
from core.lake import iter_events, read_instrument
from core.params import StrategyParams
from core.walk import BOOK_KINDS, messages
from engine.trader import CompiledTrader
from operators.book.sync import book_sync_for
from operators.trader import Trader

TICK_NS = 250_000_000


def drive(trader: object, venue: SimVenue, ev: np.ndarray, spec: object) -> Collected:
    """Market data, timer ticks and venue reports into ``trader``; actions to ``venue``."""
    got = Collected()
    sync = book_sync_for(spec.venue)  # type: ignore[attr-defined]
    book: L2Book = sync.book
    next_tick = 0

    def deliver(until: int) -> None:
        while (t := venue.next_response_ts()) is not None and t < until:
            out = trader.on_own(venue.poll(t), t)  # type: ignore[attr-defined]
            send(out, t)

    def send(out: object, now: int) -> None:
        got.add(out)  # type: ignore[arg-type]
        for a in out.actions:  # type: ignore[attr-defined]
            venue.send(a, now)

    for batch in batches(ev, 1):
        now = int(batch[0]["recv_ts"])
        if not next_tick:
            next_tick = (now // TICK_NS + 1) * TICK_NS
        while next_tick <= now:
            deliver(next_tick)
            send(trader.on_item(Tick(next_tick)), next_tick)  # type: ignore[attr-defined]
            next_tick += TICK_NS
        deliver(now)
        for m in messages(batch):
            venue.on_market(m, book)
            if m.kind in BOOK_KINDS:
                sync.on_message(m.kind, m.seq, m.prev_seq, m.first_seq, m.levels)
        send(trader.on_market(batch), now)  # type: ignore[attr-defined]
    return got


def params(**updates: dict) -> StrategyParams:
    p = StrategyParams()
    return p.model_copy(update={k: getattr(p, k).model_copy(update=v) for k, v in updates.items()})


@pytest.mark.parametrize(
    "p",
    [
        params(),
        params(sim={"order_latency_ms": 30.0, "response_latency_ms": 30.0},
               orders={"replace_threshold_ticks": 0}),
        params(quote={"use_regimes": False, "levels": 3, "hanging_orders": True,
                      "order_size_usd": 2000.0},
               risk={"max_position_usd": 8000.0}, orders={"max_open_orders": 4}),
    ],
    ids=["default", "slow_venue", "big_hanging_pretrade"],
)  # fmt: skip
def test_live_mode_through_an_outside_venue(sample_lake: Path, p: StrategyParams) -> None:
    spec = read_instrument(sample_lake, "binance-usdm", "BTCUSDT")
    ev = head(np.concatenate(list(iter_events(sample_lake, "binance-usdm", "BTCUSDT"))), 150_000)
    ref = Trader(spec, p, None, "lv", log_quotes=True)
    fast = CompiledTrader(spec, p, None, "lv", log_quotes=True)
    a = drive(ref, SimVenue(spec, SimConfig.from_params(p)), ev, spec)
    b = drive(fast, SimVenue(spec, SimConfig.from_params(p)), ev, spec)
    assert a.orders and a.quotes
    a.assert_equal(b)
