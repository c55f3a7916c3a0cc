"""Latency: order entry, responses and market data, in constant and recorded modes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sim_harness import ASK, BID, SELL, Harness, ns

from connectors.sim.kernel import CompiledMdClock
from connectors.sim.latency import MdClock
from core.events import Fill, OrderStatus, OrderUpdate


def _book(h: Harness) -> None:
    h.snapshot(0, bids=[(1000, 10)], asks=[(1002, 10)])


def test_order_does_not_see_trades_before_it_arrives(h: Harness) -> None:
    # bid 1001 x 3 (inside the spread, front of queue) sent at 10: reaches the venue at 15.
    # A sell trade at 1001 received at 19 happened at venue time 14: before the order.
    _book(h)
    h.place(10, "b", BID, 1001, 3)
    h.trade(19, SELL, 1001, 5)
    assert h.poll(1_000) == []
    assert h.venue.open_orders() == {}  # still in flight
    # the same trade received at 20 happened at 15: the order is there (processed first)
    h.trade(20, SELL, 1001, 5)
    got = h.poll(1_000)
    assert [(type(r).__name__, getattr(r, "status", None)) for r in got] == [
        ("OrderUpdate", OrderStatus.NEW),
        ("Fill", None),
        ("OrderUpdate", OrderStatus.FILLED),
    ]


def test_ack_visible_after_order_plus_response_latency(h: Harness) -> None:
    # sent at 10, processed at venue time 15, seen by the strategy at 20
    _book(h)
    h.place(10, "b", BID, 1000, 1)
    h.delta(20, [(ASK, 1003, 4)])  # venue time 15: the order is processed
    assert h.venue.poll(ns(20) - 1) == []
    (ack,) = h.poll(20)
    assert isinstance(ack, OrderUpdate)
    assert (ack.status, ack.exch_ts, ack.recv_ts) == (OrderStatus.NEW, ns(15), ns(20))
    assert ack.venue_order_id == "sim-1"
    assert h.poll(20) == []  # each response is delivered once


def test_fill_visible_after_response_latency(make: Callable[..., Harness]) -> None:
    # md latency 2 ms, response latency 7 ms: a trade received at 30 happened at 28; the
    # fill is seen at 28 + 7 = 35
    h = make(md_latency_ms=2.0, response_latency_ms=7.0)
    _book(h)
    h.place(10, "b", BID, 1001, 1)
    h.trade(30, SELL, 1001, 1)
    got = h.venue.poll(ns(35) - 1)
    assert [r.status for r in got if isinstance(r, OrderUpdate)] == [OrderStatus.NEW]
    (fill, done) = h.poll(35)
    assert isinstance(fill, Fill)
    assert (fill.exch_ts, fill.recv_ts) == (ns(28), ns(35))
    assert isinstance(done, OrderUpdate) and done.status == OrderStatus.FILLED


def test_md_latency_shifts_venue_time(make: Callable[..., Harness]) -> None:
    # md latency 20 ms: the order reaches the venue at 15; a trade received at 34 happened
    # at 14 (before), one received at 35 happened at 15 (after the order: fills)
    h = make(md_latency_ms=20.0)
    _book(h)
    h.place(10, "b", BID, 1001, 3)
    h.trade(34, SELL, 1001, 1)
    assert h.venue.open_orders() == {}
    h.trade(35, SELL, 1001, 1)
    assert [f.qty for f in h.fills(1_000)] == [1]


def test_zero_latency(make: Callable[..., Harness]) -> None:
    h = make(order_latency_ms=0.0, response_latency_ms=0.0, md_latency_ms=0.0)
    _book(h)
    h.place(10, "b", BID, 1001, 1)
    h.trade(10, SELL, 1001, 1)  # same instant: the order was sent first
    got = h.poll(10)
    assert [r.status for r in got if isinstance(r, OrderUpdate)] == [
        OrderStatus.NEW,
        OrderStatus.FILLED,
    ]


def test_recorded_md_latency_with_clock_offset(make: Callable[..., Harness]) -> None:
    # Local clock ~1.27 s behind the exchange (as in the Binance sample).
    # msg 1: recv 0, exch 1270 -> delivery -1270: offset -1270, latency 0, venue time 0
    # order sent at 100 reaches the venue at 105
    # trade recv 108, exch 1374 -> delivery -1266, latency 4 -> venue time 104: before it
    # trade recv 109, exch 1377 -> delivery -1268, latency 2 -> venue time 107: after it
    # (constant 5 ms mode would put that trade at 104 and miss it)
    h = make(md_latency="recorded")
    h.snapshot(0, bids=[(1000, 10)], asks=[(1002, 10)], exch=1270)
    h.place(100, "b", BID, 1001, 2)
    h.trade(108, SELL, 1001, 1, exch=1374)
    assert h.venue.open_orders() == {}
    h.trade(109, SELL, 1001, 1, exch=1377)
    fills = h.fills(1_000)
    assert [(f.qty, f.exch_ts, f.recv_ts) for f in fills] == [(1, ns(107), ns(112))]


@pytest.fixture(params=[MdClock, CompiledMdClock], ids=["reference", "compiled"])
def Clock(request: pytest.FixtureRequest) -> type[MdClock] | type[CompiledMdClock]:
    return request.param


def test_recorded_offset_follows_fastest_delivery(Clock: type[MdClock]) -> None:
    clock = Clock("recorded", 5.0)
    assert clock.venue_ts(ns(0), ns(1270)) == ns(0)  # first: latency 0 by definition
    assert clock.venue_ts(ns(100), ns(1368)) == ns(98)  # delivery -1268: 2 ms latency
    assert clock.venue_ts(ns(200), ns(1472)) == ns(200)  # -1272: new fastest, offset moves
    assert clock.clock_offset == -ns(1272)
    assert clock.venue_ts(ns(300), ns(1570)) == ns(298)  # -1270: 2 ms behind the fastest
    assert clock.venue_ts(ns(400), 0) == ns(398)  # no exchange time: last latency (2 ms)


def test_constant_clock_ignores_exchange_time(Clock: type[MdClock]) -> None:
    clock = Clock("constant", 5.0)
    assert clock.venue_ts(ns(100), ns(9_999)) == ns(95)


def test_venue_clock_never_runs_backwards(make: Callable[..., Harness]) -> None:
    # recorded mode: a slow message (venue time 90) after a fast one (venue time 200):
    # it is processed at the venue's current time and cannot fill an order that joined
    # after it happened
    h = make(md_latency="recorded")
    h.snapshot(0, bids=[(1000, 10)], asks=[(1002, 10)], exch=0)  # offset 0
    h.place(150, "b", BID, 1001, 1)  # arrives 155
    h.delta(200, [(ASK, 1003, 5)], seq=-1)  # venue time 200: order placed at 155
    h.trade(201, SELL, 1001, 1, exch=90)  # happened at 90, before the order joined
    assert h.fills(1_000) == []
    assert "b" in h.venue.open_orders()


def test_responses_come_out_in_order(h: Harness) -> None:
    _book(h)
    for i in range(5):
        h.place(10 + i, f"o{i}", BID, 990 + i, 1)
    h.cancel(20, "o2")
    h.delta(40, [(ASK, 1003, 5)])
    got = h.poll(1_000)
    assert [(r.client_id, r.status) for r in got if isinstance(r, OrderUpdate)] == [
        *[(f"o{i}", OrderStatus.NEW) for i in range(5)],
        ("o2", OrderStatus.CANCELED),
    ]
    assert [r.recv_ts for r in got] == sorted(r.recv_ts for r in got)


def test_advance_flushes_at_end_of_data(h: Harness) -> None:
    _book(h)
    h.place(10, "b", BID, 1000, 1)
    assert h.poll(1_000) == []  # no market message after it: not processed yet
    h.venue.advance(ns(14), h.book)  # the order arrives at 15
    assert h.poll(1_000) == []
    h.venue.advance(ns(20), h.book)
    got = h.poll(20)
    assert [(r.status, r.exch_ts, r.recv_ts) for r in got] == [(OrderStatus.NEW, ns(15), ns(20))]


def test_stats_count_messages_and_actions(h: Harness) -> None:
    _book(h)
    h.place(10, "b", BID, 1000, 1)
    h.cancel(11, "b")
    h.delta(30, [(ASK, 1003, 5)])
    st = h.venue.stats
    assert (st.messages, st.actions, st.placed, st.canceled) == (2, 2, 1, 1)
    d = st.to_dict()
    assert d["rejected_total"] == 0 and d["placed"] == 1
