"""A constant feed latency on data without a receive time (Bybit history: recv_ts is the
exchange time) delays when the trader sees the market, on both venue implementations."""

from __future__ import annotations

from collections.abc import Callable

from sim_harness import BID, SELL, Harness

from cli.cmd_backtest import with_feed_latency
from connectors.sim.config import SimConfig
from core.params import StrategyParams


def _run(h: Harness) -> list[int]:
    # as imported from a file without receive times: recv == exch for every message
    h.snapshot(0, bids=[(1000, 10)], asks=[(1002, 10)], exch=0)
    h.place(10, "b", BID, 1001, 3)  # sent at 10, at the venue at 15
    h.trade(30, SELL, 1001, 1, exch=30)  # the trade happened at 30
    return [f.qty for f in h.fills(1_000)]


def test_feed_latency_delays_what_the_trader_sees(make: Callable[..., Harness]) -> None:
    # no feed latency: the trade at 30 comes after the order reached the venue: a fill
    assert _run(make(md_latency_ms=0.0)) == [1]
    # 20 ms feed latency: the trade the trader sees at 30 happened at 10, before the
    # order arrived: no fill (the trader saw the market 20 ms late)
    assert _run(make(md_latency_ms=20.0)) == []
    # the boundary: 15 ms puts the trade at venue time 15, after the order (processed first)
    assert _run(make(md_latency_ms=15.0)) == [1]


def test_backtest_option_sets_a_constant_latency() -> None:
    params = StrategyParams(sim={"md_latency": "recorded", "md_latency_ms": 1.0})
    config = SimConfig.from_params(with_feed_latency(params, 40))
    assert (config.md_latency, config.md_latency_ms) == ("constant", 40)
    assert (config.order_latency_ms, config.response_latency_ms) == (5.0, 5.0)  # untouched
    assert params.sim.md_latency == "recorded"  # the original is not changed
