"""``flows.live_mm`` against a fake Bybit that sends snapshots only on subscribe: every
guard that stops quoting finds its way back (tests/live/liveness_scenarios.py).

Before the fix each of these left the trader dark for good: a stall past the stale
guard (its later deltas dropped as unsynced), a NaN size in the first snapshot (no book
was ever built), a book that stayed crossed (never resynced); data lagging the exchange
clock was quoted from; a frame of any size was accepted.

For each fault: ``t_reset`` is the trader's first cancel saying why, ``t_fresh`` when the
book was good again (the fake's fresh snapshot, or the first fresh message); in between
the trader decided nothing but cancels and quoted nothing.
"""

from __future__ import annotations

import itertools

import polars as pl
import pytest
from live_helpers import ORDER_CREATE, quote_sets, read_table
from live_scenarios import Session
from liveness_scenarios import LAG_MS, STALL_S
from test_live_e2e import calls, ok

pytestmark = pytest.mark.venue
MS = 1_000_000


@pytest.fixture(scope="module")
def tables(liveness_session: Session) -> dict[str, pl.DataFrame]:
    return {t: read_table(liveness_session.lake, t) for t in ("quotes", "orders")}


def snapshots(s: Session, t0: int, t1: int | None = None) -> list[tuple[int, dict]]:
    return [
        (ts, i)
        for ts, w, i in list(s.fake.ws_log)
        if w == "snapshot" and ts >= t0 and (t1 is None or ts <= t1)
    ]


def events(s: Session, name: str, t0: int, t1: int | None = None) -> list[dict]:
    return [e for e in s.proc.events(name) if e["ts"] >= t0 and (t1 is None or e["ts"] <= t1)]


def first_cancel(orders: pl.DataFrame, t0: int, reason: str) -> int:
    why = orders.filter(
        (pl.col("recv_ts") >= t0)
        & (pl.col("event") == "cancel")
        & pl.col("reason").str.starts_with(reason)
    )
    assert why.height, f"no cancel {reason!r} after the fault"
    return int(why["recv_ts"].min())


def assert_dark(tables: dict[str, pl.DataFrame], t_reset: int, t_fresh: int) -> None:
    """Between the reset and the fresh book: no place or amend, no quote; after: quotes."""
    orders, quotes = tables["orders"], tables["quotes"]
    inside = orders.filter((pl.col("recv_ts") >= t_reset) & (pl.col("recv_ts") < t_fresh))
    assert not set(inside["event"]) & {"place", "amend"}, inside
    sets = [lv for ts, _seq, lv in quote_sets(quotes) if t_reset <= ts < t_fresh]
    assert sets and not any(sets), sets  # the empty set at the reset, nothing else
    after = [ts for ts, _seq, lv in quote_sets(quotes) if ts >= t_reset and lv]
    assert after and after[0] >= t_fresh


def test_a_nan_size_in_the_first_snapshot_resubscribes_and_quoting_starts(
    liveness_session: Session,
) -> None:
    ok(liveness_session, "start")
    s = liveness_session
    (t_bad, bad), (t_good, good) = snapshots(s, 0)[:2]
    assert bad["bad_size"] == "NaN" and "bad_size" not in good
    assert t_good - t_bad < 500 * MS  # the first resubscribe goes at once
    [line] = events(s, "book_bad_message", 0, t_good)
    assert line["type"] == "snapshot" and "NaN" in line["error"]
    resets = [e["reason"] for e in events(s, "feed_reset", 0, t_good)]
    assert resets[0] == "connect" and resets[1].startswith("bad book snapshot: ")
    first = calls(s, ORDER_CREATE)[0]
    assert first.t_ns > t_good and first.ret_code == 0  # quoted from the good book only


def test_a_stall_past_the_stale_guard_is_resynced_and_quoting_resumes(
    liveness_session: Session, tables: dict[str, pl.DataFrame]
) -> None:
    ok(liveness_session, "start", "stall")
    s, m = liveness_session, liveness_session.marks["stall"]
    t, t_end = m["t"], m["t_end"]
    [stale] = events(s, "book_stale", t, t_end)
    req = events(s, "resync_request", stale["ts"], t_end)[0]
    assert req["reason"].startswith("stale book: no update for ")
    [(t_fresh, _)] = snapshots(s, req["ts"], t_end)
    # the venue's answer came while it was still stalled: the trader asked, nobody else
    assert t_fresh < t + int(STALL_S * 1e9)
    assert not [e for e in events(s, "feed_reset", t, t_end) if e["reason"].startswith("stale:")]
    resub = [e for e in events(s, "book_resubscribe", req["ts"], t_fresh)]
    assert resub and resub[0]["reason"] == f"resync requested: {req['reason']}"
    t_reset = first_cancel(tables["orders"], t, "book unusable: stale book")
    assert abs(t_reset - stale["ts"]) < 50 * MS
    assert_dark(tables, t_reset, t_fresh)


def test_a_book_that_stays_crossed_is_resynced_until_it_is_not(
    liveness_session: Session, tables: dict[str, pl.DataFrame]
) -> None:
    ok(liveness_session, "start", "crossed")
    s, m = liveness_session, liveness_session.marks["crossed"]
    t, t_uncross, t_end = m["t"], m["t_uncross"], m["t_end"]
    t_reset = first_cancel(tables["orders"], t, "book unusable: crossed book")
    reqs = [e for e in events(s, "resync_request", t, t_end) if e["reason"] == "crossed book"]
    assert len(reqs) >= 2, reqs  # the first resync's snapshot was crossed still
    first = reqs[0]["attempt"]
    assert [e["attempt"] for e in reqs] == list(range(first, first + len(reqs)))
    gaps = [(b["ts"] - a["ts"]) / 1e9 for a, b in itertools.pairwise(reqs)]
    assert all(g > 0.9 for g in gaps), gaps  # one per tick at most, backing off
    assert snapshots(s, t, t_uncross)  # a resync before the venue uncrossed
    [(t_fresh, _)] = snapshots(s, t_uncross, t_end)[:1]  # the one that showed it
    ops = [o["op"] for o in s.fake.public_ops if o["op"] in ("subscribe", "unsubscribe")]
    assert ops.count("unsubscribe") >= 3  # the stall's resync and two for the crossed book
    assert_dark(tables, t_reset, t_fresh)


def test_data_lagging_the_exchange_clock_stops_quoting_until_it_is_fresh(
    liveness_session: Session, tables: dict[str, pl.DataFrame]
) -> None:
    ok(liveness_session, "start", "lag")
    s, m = liveness_session, liveness_session.marks["lag"]
    t, t_end = m["t"], m["t_end"]
    [lagging] = events(s, "book_lagging", t, t_end)
    assert lagging["lag_ms"] == pytest.approx(LAG_MS, abs=200) and lagging["max_ms"] == 1000.0
    t_reset = first_cancel(tables["orders"], t, "book unusable: stale data: exchange time lags 3")
    reqs = events(s, "resync_request", t, t_end)
    assert reqs and reqs[0]["reason"].startswith("stale data: exchange time lags ")
    [fresh] = events(s, "book_lag_ok", t, t_end)
    assert fresh["ts"] >= m["t_fresh"]
    # dark until the venue's stamps were fresh again (the log line is written a little
    # after the first fresh message's receive time, which its decisions carry)
    assert_dark(tables, t_reset, m["t_fresh"])


def test_an_oversized_frame_is_refused_and_the_feed_reconnects(liveness_session: Session) -> None:
    ok(liveness_session, "start", "oversize")
    s, m = liveness_session, liveness_session.marks["oversize"]
    [gone] = events(s, "ws_disconnected", m["t"], m["t_end"])
    assert gone["stream"] == "public:XRPUSDT" and "1009" in gone["reason"]
    assert events(s, "ws_connected", gone["ts"], m["t_end"])[0]["connects"] == 2
    assert calls(s, ORDER_CREATE, gone["ts"], m["t_end"])  # quoting again


def test_the_liveness_session_ends_with_no_order_left(liveness_session: Session) -> None:
    ok(liveness_session, "start", "stop")
    m = liveness_session.marks["stop"]
    assert m["exit_code"] == 0 and m["open_after"] == set()
    assert liveness_session.fake.dcp_fired == 0
