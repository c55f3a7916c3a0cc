"""The trader's liveness guards and its shutdown in paper mode, without a process.

Each test fails on the code before its fix (issue 10):
* item 2, a stall: the stale guard threw the book away and nothing ever asked for a new
  one (Bybit sends snapshots only on subscribe), so every later delta dropped for good;
* item 3: a FEED_RESET always read "feed reset (reconnect)", whatever the source said;
* item 4: a book that stayed crossed pulled the quotes but never asked for a resync;
* data lagging the exchange clock was quoted from;
* item 9: in paper mode the simulated orders stayed after Shutdown and filled: fills were
  logged that never reached the lake or the summary.
"""

from __future__ import annotations

import numpy as np
import pytest
from bybit_helpers import config_for
from fake_bybit import FakeBybit
from test_live_units import MS, SPEC, T0, book, trader

from connectors.bybit.rest import BybitRest
from connectors.feedback import Shutdown
from connectors.sim.config import SimConfig
from connectors.sim.venue import SimVenue
from core.events import (
    EVENT_DTYPE,
    FIRST,
    LAST,
    Kind,
    OrderStatus,
    OrderUpdate,
    ResetReason,
    Tick,
)
from core.instruments import ASK, BID
from core.orders import ActionType
from core.params import StrategyParams
from engine.select import make_trader
from flows.live_mm import measure_clock_offset
from operators.trader import Trader, TraderOutput

pytestmark = pytest.mark.usefixtures("both_engines")

S = 1_000 * MS
TOP = [(BID, 10000, 50), (ASK, 10010, 50)]


def at(ts: int, seq: int, levels: list, kind: int = Kind.BOOK_SNAPSHOT, lag: int = 0) -> np.ndarray:
    """A book message received at ``ts`` whose exchange time says ``ts - lag``."""
    ev = book(ts, seq, levels, kind)
    ev["exch_ts"] = ts - lag
    return ev


def feed_reset(ts: int, code: ResetReason) -> np.ndarray:
    ev = np.zeros(1, dtype=EVENT_DTYPE)
    ev[0] = (Kind.FEED_RESET, 0, FIRST | LAST, ts, ts, 0, int(code), -1, -1, -1, 0)
    return ev


def quoting(t: Trader, out: TraderOutput) -> list:
    """Acks every place of ``out`` (the venue took them); returns those places."""
    places = [a for a in out.actions if a.type == ActionType.PLACE]
    for a in places:
        t.on_item(OrderUpdate(t.inst, a.client_id, OrderStatus.NEW, a.side, a.price, a.qty, 0,
                              0, 0))  # fmt: skip
    return places


def requests(outs: list[tuple[int, TraderOutput]]) -> list[tuple[float, int, str]]:
    return [((ts - T0) / S, r.attempt, r.reason) for ts, o in outs for r in o.resync]


# -- item 2: a stall of the stream -----------------------------------------------------------
def test_a_stall_past_the_stale_guard_asks_for_a_fresh_book_and_quotes_again() -> None:
    t = trader()
    assert len(quoting(t, t.on_market(at(T0, 1, TOP)))) == 2
    t.on_market(at(T0 + 100 * MS, 2, [(BID, 10000, 40)], Kind.BOOK_DELTA))
    outs = [(T0 + k * S, t.on_item(Tick(T0 + k * S))) for k in range(1, 8)]
    stale = [(ts - T0) / S for ts, o in outs for lg in o.logs if lg["event"] == "book_stale"]
    assert stale == [6.0]  # 5.9 s without a book message > stale_book_ms 5 s
    assert sorted(a.type for _, o in outs for a in o.actions) == [ActionType.CANCEL] * 2
    # one second into the unusable spell: the first request, logged once
    assert requests(outs) == [(7.0, 1, "stale book: no update for 5.9 s")]
    [line] = [lg for _, o in outs for lg in o.logs if lg["event"] == "resync_request"]
    assert line == {"event": "resync_request", "inst": t.inst, "attempt": 1, "next_in_s": 2.0,
                    "reason": "stale book: no update for 5.9 s"}  # fmt: skip
    # the stream comes back (contiguous ids) but this book was thrown away: still dark ...
    back = t.on_market(at(T0 + 8 * S, 3, [(BID, 10001, 50)], Kind.BOOK_DELTA))
    assert back.actions == [] and not t.book_usable()
    assert t.sync.stats.dropped_unsynced == 1
    outs = [(T0 + k * S, t.on_item(Tick(T0 + k * S))) for k in (8, 9)]
    assert requests(outs) == [(9.0, 2, "stale book: no update for 5.9 s")]  # 2 s later
    # ... until the source's fresh snapshot: quoting again, the spell is over
    fresh = t.on_market(at(T0 + 9 * S + 50 * MS, 10, TOP))
    assert sorted(a.type for a in fresh.actions) == [ActionType.PLACE] * 2
    quoting(t, fresh)
    assert requests([(T0 + k * S, t.on_item(Tick(T0 + k * S))) for k in range(10, 14)]) == []


# -- item 3: the status line says why -------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "text"),
    [
        (ResetReason.BAD_MESSAGE, "feed reset (bad book message)"),
        (ResetReason.GAP, "feed reset (update id gap)"),
        (ResetReason.DISCONNECT, "feed reset (reconnect)"),
        (ResetReason.RESYNC, "feed reset (resync requested)"),
        (99, "feed reset"),
    ],
)
def test_a_feed_reset_is_reported_with_the_sources_reason(code: int, text: str) -> None:
    t = trader()
    quoting(t, t.on_market(at(T0, 1, TOP)))
    out = t.on_market(feed_reset(T0 + 10 * MS, code))
    assert {a.reason for a in out.actions} == {f"book unusable: {text}"}
    assert t.status(T0 + 20 * MS)["book"] == text


# -- item 4: a book that stays crossed ------------------------------------------------------------
def test_a_book_that_stays_crossed_asks_for_resyncs_with_backoff() -> None:
    t = trader()
    quoting(t, t.on_market(at(T0, 1, TOP)))
    out = t.on_market(at(T0 + 500 * MS, 2, [(BID, 10020, 5)], Kind.BOOK_DELTA))  # over the ask
    assert sorted(a.type for a in out.actions) == [ActionType.CANCEL] * 2
    outs = [(T0 + k * S, t.on_item(Tick(T0 + k * S))) for k in range(1, 70)]
    assert requests(outs) == [
        (2.0, 1, "crossed book"),  # the spell starts at the 1 s tick
        (4.0, 2, "crossed book"),
        (8.0, 3, "crossed book"),
        (16.0, 4, "crossed book"),
        (32.0, 5, "crossed book"),
        (62.0, 6, "crossed book"),  # capped at resync_backoff_max_ms = 30 s
    ]
    assert all(o.actions == [] for _, o in outs)  # nothing quoted meanwhile
    fresh = t.on_market(at(T0 + 70 * S, 9, TOP))  # the resubscribe's snapshot: uncrossed
    assert sorted(a.type for a in fresh.actions) == [ActionType.PLACE] * 2
    quoting(t, fresh)
    t.on_item(Tick(T0 + 71 * S))
    t.on_market(at(T0 + 71 * S + 500 * MS, 10, [(BID, 10020, 5)], Kind.BOOK_DELTA))
    outs = [(T0 + k * S, t.on_item(Tick(T0 + k * S))) for k in range(72, 75)]
    assert requests(outs) == [(73.0, 1, "crossed book")]  # a new spell: from 1 s again


# -- exchange timestamps that lag ---------------------------------------------------------------
def test_data_lagging_the_exchange_clock_is_not_quoted_from() -> None:
    t = trader()
    out = t.on_market(at(T0, 1, TOP, lag=3 * S))  # a constant 3 s delay
    assert out.actions == [] and not t.book_usable()
    [line] = [lg for lg in out.logs if lg["event"] == "book_lagging"]
    assert line["lag_ms"] == 3000.0 and line["max_ms"] == 2000.0
    assert t.status(T0)["book"] == "stale data: exchange time lags 3.0 s"
    outs = [(T0 + k * S, t.on_item(Tick(T0 + k * S))) for k in (1, 2)]
    assert requests(outs) == [(2.0, 1, "stale data: exchange time lags 3.0 s")]
    # a fresh message (its delta applied to the kept book) brings quoting back at once
    out = t.on_market(at(T0 + 2 * S + 500 * MS, 2, [(BID, 10000, 40)], Kind.BOOK_DELTA, 100 * MS))
    assert sorted(a.type for a in out.actions) == [ActionType.PLACE] * 2
    assert [lg["event"] for lg in out.logs if lg["event"].startswith("book_lag")] == ["book_lag_ok"]
    assert t.book_usable() and t.status(T0 + 3 * S)["book"] == "ok"


@pytest.mark.venue
@pytest.mark.parametrize("skew_ms", [-5000, 0, 4000])
def test_the_measured_clock_offset_keeps_a_skewed_venue_clock_from_reading_as_lag(
    skew_ms: int,
) -> None:
    with FakeBybit() as fake:
        fake.clock_skew_ms = skew_ms  # the venue's clock is off, its data is fresh
        offset = measure_clock_offset(BybitRest(config_for(fake)))
        assert offset == pytest.approx(-skew_ms * MS, abs=50 * MS)  # ours minus theirs
    t = trader()
    t.clock_offset_ns = offset
    # a message stamped by the skewed venue clock the moment we receive it: fresh
    assert len(t.on_market(at(T0, 1, TOP, lag=-skew_ms * MS)).actions) == 2
    assert t.book_usable()


def test_the_lag_bound_is_exclusive_and_a_known_clock_offset_is_not_lag() -> None:
    t = trader()
    assert len(t.on_market(at(T0, 1, TOP, lag=2 * S)).actions) == 2  # exactly 2 s: fine
    t = trader()
    t.clock_offset_ns = 3 * S  # our clock runs 3 s ahead of the venue's
    assert len(t.on_market(at(T0, 1, TOP, lag=3 * S)).actions) == 2
    assert t.on_market(at(T0 + MS, 2, [(BID, 10000, 9)], Kind.BOOK_DELTA, lag=5 * S + MS)).actions


# -- item 9: paper mode shutdown ----------------------------------------------------------------
def trade(ts: int, side: int, price: int, qty: int) -> np.ndarray:
    ev = np.zeros(1, dtype=EVENT_DTYPE)
    ev[0] = (Kind.TRADE, side, FIRST | LAST, ts, ts, price, qty, -1, -1, -1, 0)
    return ev


def paper_trader() -> Trader:
    base = trader()  # the same quoting parameters, with the simulated venue bound inside
    p: StrategyParams = base.params
    return make_trader(SPEC, p, SimVenue(SPEC, SimConfig.from_params(p)), "t", log_quotes=True)


def test_paper_shutdown_cancels_the_simulated_orders_before_its_last_rows() -> None:
    t = paper_trader()
    venue = t.venue
    assert venue is not None  # a SimVenue, or the compiled trader's view of its own
    outs = [t.on_market(at(T0, 1, TOP))]  # bid 99.94 x 10, ask 100.16 x 9 go out
    outs.append(t.on_market(at(T0 + 20 * MS, 2, [(BID, 10000, 45)], Kind.BOOK_DELTA)))
    assert sorted(o.side for o in venue.open_orders().values()) == [ASK, BID]  # resting
    outs.append(t.on_market(trade(T0 + 30 * MS, ASK, 9990, 4)))  # a seller hits our bid
    outs.append(t.on_market(at(T0 + 40 * MS, 3, [(BID, 10000, 44)], Kind.BOOK_DELTA)))
    assert t.inventory.position == 4
    last = t.on_item(Shutdown("signal SIGTERM", T0 + 50 * MS))
    outs.append(last)
    # cancels first: nothing rests at the simulated venue any more
    assert venue.open_orders() == {}
    assert sorted(r[3] for r in last.orders) == ["cancel", "cancel", "canceled", "canceled"]
    # the market goes on; a seller that would have hit the rest of our bid fills nothing
    later = [t.on_market(trade(T0 + 60 * MS, ASK, 9990, 50)), t.on_item(Tick(T0 + 2 * S))]
    later.append(t.on_market(at(T0 + 70 * MS, 4, [(BID, 10000, 43)], Kind.BOOK_DELTA)))
    assert all(o.empty() for o in later)
    assert t.inventory.position == 4
    logged = [lg for o in outs + later for lg in o.logs if lg["event"] == "fill"]
    stored = [row for o in outs + later for row in o.fills]
    assert last.summary is not None
    assert len(logged) == len(stored) == last.summary["fills"] == 1
