"""``python -m bytewax.run flows.live_mm`` end to end against the fake Bybit.

One live session (tests/live/live_scenarios.py) goes through quoting, a fill, a rejected
order, a dropped websocket, an update-id gap, a crossed book with a 10006 on the
re-placement, a ``u`` = 1 re-send and SIGTERM. Every assertion reads what the run left:
its JSON log lines, its lake (quotes, orders, fills, pnl) and the fake's REST and
websocket timelines. All times are this machine's ``time.time_ns()``.

"No quote from a stale book", made checkable: for each fault, ``t_reset`` is when the
trader learned its book was unusable (its empty quote set, recorded at the reset event's
receive time) and ``t_fresh`` is when the fake sent the fresh snapshot. Then
  * the trader decided nothing but cancels in [t_reset, t_fresh): no place/amend row, no
    non-empty quote set (its decisions carry the receive time of the tick they came from);
  * every place/amend request the fake received in [t_reset, t_fresh] was decided before
    t_reset (matched by orderLinkId and price to its decision row);
  * quoting resumes from the fresh book: the first non-empty quote set is stamped after
    t_fresh.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from live_helpers import (
    ORDER_AMEND,
    ORDER_CREATE,
    ORDER_PATHS,
    decimal_grid,
    order_items,
    quote_sets,
    read_table,
    ticks,
)
from live_scenarios import RATE_LIMIT_RESET_MS, REJECT_CODE, Session

pytestmark = pytest.mark.venue


def ok(session: Session, *names: str) -> None:
    for name in names:
        if name in session.errors:
            pytest.fail(f"scenario {name!r} did not run through:\n{session.errors[name]}")


def calls(session: Session, paths: tuple[str, ...], t0: int = 0, t1: int | None = None) -> list:
    return [
        c
        for c in session.fake.rest_log
        if c.path in paths and c.t_ns >= t0 and (t1 is None or c.t_ns <= t1)
    ]


@pytest.fixture(scope="module")
def tables(live_session: Session) -> dict[str, pl.DataFrame]:
    return {t: read_table(live_session.lake, t) for t in ("quotes", "orders", "fills", "pnl")}


# -- 1. quoting, rounding, fills ---------------------------------------------------------
def test_quoting_starts_with_rounded_post_only_orders_of_this_run(
    live_session: Session, tables: dict[str, pl.DataFrame]
) -> None:
    ok(live_session, "start")
    s = live_session
    creates = calls(s, ORDER_CREATE)
    assert creates, "no order reached the venue"
    items = [i for c in creates for i in order_items(c.params)]
    for i in items:
        assert decimal_grid(i["price"]), i  # a plain decimal string on the 0.0001 grid
        assert i["qty"].isdigit() and int(i["qty"]) >= 1, i  # whole XRP, as a string
        assert i["timeInForce"] == "PostOnly" and i["orderType"] == "Limit", i
        assert i["orderLinkId"].startswith(s.run_prefix), i
    amends = [i for c in calls(s, ORDER_AMEND) for i in order_items(c.params)]
    assert amends and all(decimal_grid(i["price"]) for i in amends if "price" in i)
    # the first batch is exactly the trader's first six decisions, tick for tick, and went
    # out only once the private stream listened for its fills
    first = creates[0]
    assert first.path == "/v5/order/create-batch" and first.ret_code == 0
    listening = next(
        ts
        for ts, what, info in s.fake.ws_log
        if what == "private_subscribed" and "execution" in info["topics"]
    )
    assert listening < first.t_ns
    places = tables["orders"].filter(pl.col("event") == "place").head(6)
    want = {
        (r["client_id"], "Buy" if r["side"] == 1 else "Sell", str(Decimal(r["price"]).scaleb(-4)), str(r["qty"]))
        for r in places.iter_rows(named=True)
    }  # fmt: skip
    got = {(i["orderLinkId"], i["side"], i["price"], i["qty"]) for i in order_items(first.params)}
    assert got == want
    # bids below asks, three levels a side, every one accepted by the venue
    bids = [ticks(i["price"]) for i in order_items(first.params) if i["side"] == "Buy"]
    asks = [ticks(i["price"]) for i in order_items(first.params) if i["side"] == "Sell"]
    assert len(bids) == len(asks) == 3 and max(bids) < min(asks)
    assert all(s.fake.order_by_link(link) is not None for link, *_ in got)


def test_a_venue_fill_reaches_the_trader_and_moves_position_and_pnl(
    live_session: Session, tables: dict[str, pl.DataFrame]
) -> None:
    ok(live_session, "start", "fill")
    s, m = live_session, live_session.marks["fill"]
    price, qty = m["price"], m["qty"]
    [line] = [e for e in s.proc.events("fill") if e["ts"] >= m["t"]]
    assert line["side"] == "buy" and line["maker"] is True
    assert Decimal(line["price"]) == price and Decimal(line["qty"]) == qty
    assert Decimal(line["position"]) == qty  # flat before: position = the fill
    fills = tables["fills"]
    assert fills.height == 1, fills  # written at shutdown at the latest (markouts pending)
    f = fills.row(0, named=True)
    assert f["exec_id"] == m["exec_id"] and f["client_id"] == m["link"]
    assert (f["side"], f["price"], f["qty"], f["is_maker"]) == (
        1,
        ticks(str(price)),
        int(qty),
        True,
    )
    assert f["position_after"] == int(qty)
    # the venue's fee, exactly: 0.02 % maker on price x qty (e.g. 1.9525 x 51 -> 0.0199155)
    assert Decimal(f["fee_units"]) * Decimal("0.0001") / Decimal(10**8) == m["fee"]
    pnl = tables["pnl"]
    at = pnl.filter(pl.col("recv_ts") == f["recv_ts"])
    assert at.height == 1 and at["position"][0] == int(qty)
    assert pnl.filter(pl.col("recv_ts") < f["recv_ts"])["position"].unique().to_list() == [0]
    # cash paid for the fill and the fee, in USDT: -(price x qty), fees as charged
    assert at["cash"][0] == pytest.approx(-float(price * qty), abs=1e-9)
    assert at["fees"][0] == pytest.approx(float(m["fee"]), abs=1e-12)
    assert at["total"][0] == pytest.approx(
        at["cash"][0] + int(qty) * at["mid"][0] - at["fees"][0], abs=1e-9
    )
    # a filled order is done: never amended or cancelled once the trader knows of its fill
    # (a request it sent before the private fill message reached it may still arrive: the
    # 200 ms slack covers a request in flight on loopback under a loaded CI machine)
    known = line["ts"] + 200_000_000
    after = [c for c in s.fake.rest_log if c.t_ns > known and c.path in ORDER_PATHS]
    assert all(i.get("orderLinkId") != m["link"] for c in after for i in order_items(c.params))


def test_a_rejected_order_is_dropped_and_replaced_under_a_new_id(
    live_session: Session, tables: dict[str, pl.DataFrame]
) -> None:
    ok(live_session, "start", "fill")
    s, t = live_session, live_session.marks["fill"]["t"]
    [rej] = [c for c in calls(s, ("/v5/order/create",), t) if c.ret_code == REJECT_CODE]
    lost = rej.params["orderLinkId"]
    orders = tables["orders"]
    mine = orders.filter(pl.col("client_id") == lost)
    assert mine["event"].to_list()[:2] == ["place", "rejected"]
    placed = mine.row(0, named=True)
    rejected = mine.filter(pl.col("event") == "rejected").row(0, named=True)
    assert rejected["reason"].startswith("reduce: ") and str(REJECT_CODE) in rejected["reason"]
    # the next place for the same slot has a new id, reaches the venue and rests there
    fresh = orders.filter(
        (pl.col("event") == "place")
        & (pl.col("recv_ts") >= rejected["recv_ts"])
        & (pl.col("side") == placed["side"])
        & (pl.col("level") == placed["level"])
    ).row(0, named=True)
    assert fresh["client_id"] != lost and fresh["client_id"].startswith(s.run_prefix)
    created = s.fake.order_by_link(fresh["client_id"])
    assert created is not None and created.side == ("Buy" if placed["side"] == 1 else "Sell")
    # the rejected id is never used again
    later = [c for c in s.fake.rest_log if c.t_ns > rej.t_ns and c.path in ORDER_PATHS]
    assert all(i.get("orderLinkId") != lost for c in later for i in order_items(c.params))
    assert s.fake.order_by_link(lost) is None


# -- 2. resyncs: no quote from a stale or crossed book ------------------------------------
FRESH = {"drop": "snapshot", "gap": "snapshot", "crossed": "loop_snapshot"}
REASON = {  # why the trader pulled its quotes (a drop takes both streams: either comes first)
    "drop": ("book unusable: feed reset", "private stream down: "),
    "gap": ("book unusable: feed reset",),
    "crossed": ("book unusable: crossed book",),
}


def window(s: Session, name: str, orders: pl.DataFrame) -> tuple[int, int]:
    """(t_reset, t_fresh) of a fault: the trader's first decision because of it (a cancel
    saying why), the fake's fresh snapshot."""
    t = s.marks[name]["t"]
    said = pl.any_horizontal([pl.col("reason").str.starts_with(r) for r in REASON[name]])
    why = orders.filter((pl.col("recv_ts") >= t) & said)
    t_reset = int(why["recv_ts"].min())
    t_fresh = next(ts for ts, what, _ in s.fake.ws_log if what == FRESH[name] and ts > t)
    return t_reset, t_fresh


def timeline(s: Session, t0: int, t1: int, tables: dict[str, pl.DataFrame]) -> str:
    """Everything recorded between t0 - 50 ms and t1, in ms from t0 (failure messages)."""
    lo, rows = t0 - 50_000_000, []
    for r in tables["orders"].filter(pl.col("recv_ts").is_between(lo, t1)).iter_rows(named=True):
        rows.append(
            (r["recv_ts"], f"order {r['client_id']} {r['event']} {r['price']} {r['reason']}")
        )
    rows += [
        (ts, f"quotes {lv}") for ts, _seq, lv in quote_sets(tables["quotes"]) if lo <= ts <= t1
    ]
    rows += [
        (c.t_ns, f"venue {c.path} {c.ret_code}") for c in s.fake.rest_log if lo <= c.t_ns <= t1
    ]
    rows += [(ts, f"fake {w} {i}") for ts, w, i in s.fake.ws_log if lo <= ts <= t1 and w != "delta"]
    rows += [
        (e["ts"], f"log {e}")
        for e in s.proc.events()
        if lo <= e["ts"] <= t1 and e["event"] != "quotes"
    ]
    return "\n".join(f"{(ts - t0) / 1e6:10.3f} {what}" for ts, what in sorted(rows))


@pytest.mark.parametrize("name", ["drop", "gap", "crossed"])
def test_a_fault_resyncs_and_nothing_is_quoted_from_the_stale_book(
    live_session: Session, tables: dict[str, pl.DataFrame], name: str
) -> None:
    ok(live_session, "start", name)
    s = live_session
    quotes, orders = tables["quotes"], tables["orders"]
    t_fault = s.marks[name]["t"]
    t_reset, t_fresh = window(s, name, orders)
    assert t_fault <= t_reset < t_fresh, timeline(s, t_fault, t_fresh, tables)
    # quoting nothing from then on: the empty quote set, recorded at that same moment
    assert [lv for ts, _seq, lv in quote_sets(quotes) if ts == t_reset] == [[]]
    # the reset stopped quoting at once: cancels for every order live then
    at_reset = orders.filter(pl.col("recv_ts") == t_reset)
    assert at_reset["event"].unique().to_list() == ["cancel"]
    assert all(r.startswith(REASON[name]) for r in at_reset["reason"]), at_reset["reason"]
    # every order resting on the venue before the fault got its cancel at the reset, and
    # is gone (an amend already on its way may meet the crossed book first: post-only)
    assert set(at_reset["client_id"]) >= s.marks[name]["open_before"]
    for link in s.marks[name]["open_before"]:
        o = s.fake.order_by_link(link)
        assert o is not None and o.status == "Cancelled"
        assert o.cancel_type == "CancelByUser" or o.reject_reason == "EC_PostOnlyWillTakeLiquidity"
    if name != "crossed":  # the feed said why, as soon as it knew
        resets = [e for e in s.proc.events("feed_reset") if t_fault <= e["ts"] <= t_fresh]
        assert resets and resets[0]["ts"] - t_reset < 50_000_000, resets
        why = "disconnected: " if name == "drop" else "update id gap: "
        assert resets[0]["reason"].startswith(why), resets
    if name == "drop":  # the reset came when the link died, before the reconnect
        [back] = [
            e
            for e in s.proc.events("ws_connected", stream="public:XRPUSDT", connects=2)
            if e["ts"] >= t_fault
        ]
        assert t_reset < back["ts"] < t_fresh
    # [t_reset, t_fresh): no decision but cancels, no quote
    inside = orders.filter((pl.col("recv_ts") >= t_reset) & (pl.col("recv_ts") < t_fresh))
    assert not set(inside["event"]) & {"place", "amend"}, timeline(s, t_fault, t_fresh, tables)
    sets = [(ts, lv) for ts, _seq, lv in quote_sets(quotes) if t_reset <= ts < t_fresh]
    assert [lv for _ts, lv in sets] == [[]], sets
    # what reached the venue in the window was decided before the reset
    decided = {
        (r["client_id"], r["price"]): r["recv_ts"]
        for r in orders.filter(pl.col("event").is_in(["place", "amend"])).iter_rows(named=True)
    }
    for c in calls(s, ORDER_CREATE + ORDER_AMEND, t_reset, t_fresh):
        for i in order_items(c.params):
            key = (i["orderLinkId"], ticks(i["price"]))
            assert decided.get(key, t_reset) < t_reset, f"{c.path} {i} sent in the stale window"
    # quoting resumes from the fresh book
    after = [ts for ts, _seq, lv in quote_sets(quotes) if ts >= t_reset and lv]
    assert after and after[0] >= t_fresh
    resumed = calls(s, ORDER_CREATE, t_fresh, s.marks[name]["t_end"])
    assert any(c.ret_code == 0 for c in resumed)


def test_u1_full_resend_is_taken_as_a_fresh_book(
    live_session: Session, tables: dict[str, pl.DataFrame]
) -> None:
    ok(live_session, "start", "resend")
    s, m = live_session, live_session.marks["resend"]
    t, t_end = m["t"], m["t_end"]
    [resent] = [ts for ts, w, _ in s.fake.ws_log if w == "full_resend" and ts >= t]
    assert (
        s.proc.events("book_full_resend") and s.proc.events("book_full_resend")[-1]["ts"] >= resent
    )
    # ids restart at 1: what follows is u = 2, 3, ... (the replay's own loop snapshot may
    # take one of them) and the feed takes them in order
    us = [
        i["u"]
        for ts, w, i in s.fake.ws_log
        if w in ("delta", "loop_snapshot") and resent < ts <= t_end
    ]
    assert us[:3] == [2, 3, 4]
    assert not [
        e for e in s.proc.events() if e["event"] in ("feed_reset", "book_stale") and e["ts"] >= t
    ]
    # the trader keeps quoting from the re-sent book and its deltas: no empty quote set,
    # the quotes keep moving
    sets = [lv for ts, _seq, lv in quote_sets(tables["quotes"]) if resent <= ts <= t_end]
    assert sets and all(sets) and len({tuple(lv) for lv in sets}) >= 3


# -- 3. rate limits --------------------------------------------------------------------------
def test_10006_waits_for_the_reset_then_places_the_same_orders(
    live_session: Session, tables: dict[str, pl.DataFrame]
) -> None:
    ok(live_session, "start", "crossed")
    s, t = live_session, live_session.marks["crossed"]["t"]
    [limited] = [c for c in s.fake.rest_log if c.ret_code == 10006 and c.t_ns >= t]
    assert limited.path in ORDER_CREATE
    [line] = [e for e in s.proc.events("rate_limited") if e["ts"] >= limited.t_ns]
    reset_ns = line["reset_ms"] * 1_000_000
    assert (
        line["group"] == "create"
        and reset_ns >= limited.t_ns + (RATE_LIMIT_RESET_MS - 5) * 1_000_000
    )
    # nothing is placed before the reset; then the very same orders go out
    early = calls(s, ORDER_CREATE, limited.t_ns + 1, reset_ns - 1)
    assert early == []
    retry = calls(s, ORDER_CREATE, limited.t_ns + 1)[0]
    assert retry.t_ns >= reset_ns and retry.ret_code == 0
    assert order_items(retry.params) == order_items(limited.params)
    for i in order_items(retry.params):  # accepted then (ms clock), none before
        o = s.fake.order_by_link(i["orderLinkId"])
        assert o is not None and o.created_ms >= line["reset_ms"]
    assert s.proc.events("rate_limited")[-1]["block_s"] > 0


# -- 4. graceful stop ----------------------------------------------------------------------
def test_sigterm_cancels_every_order_and_exits_within_5_s(live_session: Session) -> None:
    ok(live_session, "start", "stop")
    s, m = live_session, live_session.marks["stop"]
    assert len(m["open_before"]) == 6
    assert m["open_after"] == set()
    for link in m["open_before"]:  # cancelled by us, not by Disconnected-Cancel-All later
        o = s.fake.order_by_link(link)
        assert o is not None and (o.status, o.cancel_type) == ("Cancelled", "CancelByUser")
    assert s.fake.dcp_fired == 0
    assert m["exit_code"] == 0
    assert m["seconds"] < 5.0, f"exit took {m['seconds']:.2f} s"
    [done] = s.proc.events("shutdown_complete")
    assert done["cancelled_all"] is True
    assert [c for c in calls(s, ("/v5/order/cancel-all",), m["t"])]
    print(f"\nSIGTERM -> exit: {m['seconds']:.3f} s (flow's own count {done['seconds']} s)")
