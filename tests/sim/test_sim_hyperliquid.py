"""Hyperliquid's venue model: cancel-replace modifies, snapshot-only books, ALO rejects.

Timing as in test_sim_queue (5 ms order / response / market-data latency): an order sent
at local t reaches the venue at t + 5; a message received at T happened at T - 5.
Instrument: tick 0.1, lot 1, min notional 10, at most 5 significant figures (1000 ticks
is 100.0, a valid price).
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from sim_harness import ASK, BID, SELL, Harness

from connectors.sim.config import SimConfig, SimConfigError
from connectors.sim.venue import R_CROSS_HL, SimVenue
from core.config import load_params_file
from core.errors import ConfigError
from core.events import Fill, OrderStatus, OrderUpdate
from core.instruments import InstrumentSpec
from core.orders import ActionType
from core.params import OrderParams, QuoteParams
from core.reasons import R
from operators.orders.kernel import CompiledOrderManager, flags_for_code, reason_says
from operators.orders.manager import OrderManager, OrderState
from operators.quoting.engine import QuoteLevel, QuoteSet

HL = InstrumentSpec(
    "hyperliquid", "TEST", Decimal("0.1"), Decimal("1"), Decimal("10"),
    price_sig_figs=5, quote_currency="USDC",
)  # fmt: skip


# -- the setting --------------------------------------------------------------------------
def test_modify_model_follows_the_venue_unless_set() -> None:
    auto = SimConfig()
    assert auto.modify_model == "auto"
    assert auto.modify_model_for("hyperliquid") == "cancel_replace"
    assert auto.modify_model_for("bybit") == "keep_priority"
    assert auto.modify_model_for("binance-usdm") == "keep_priority"
    assert SimConfig(modify_model="keep_priority").modify_model_for("hyperliquid") == (
        "keep_priority"
    )
    assert SimConfig(modify_model="cancel_replace").modify_model_for("bybit") == "cancel_replace"


def test_bad_modify_model_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SimConfigError) as bad:
        SimConfig(modify_model="fifo")  # type: ignore[arg-type]
    assert bad.value.message == (
        "sim config: modify_model must be one of auto, keep_priority, cancel_replace, got 'fifo'"
    )
    f = tmp_path / "p.yaml"
    f.write_text("sim:\n  modify_model: fifo\n")
    with pytest.raises(ConfigError) as info:
        load_params_file(f)
    msg = info.value.message
    assert "\n" not in msg and msg.startswith("invalid config: params.sim.modify_model: ")
    assert "'auto', 'keep_priority' or 'cancel_replace'" in msg and "got 'fifo'" in msg


# -- cancel-replace: hand-computed queue positions and fills ------------------------------
def _amend_down_then_trade(model: str, impl: str) -> tuple[list, list, float]:
    """Our bid 1000 x 5 joins behind 10; a sell of 6 leaves 4 ahead; the level shows 7
    (3 joined behind us); we amend to 4 lots; then a sell of 8 at our price.

    keep_priority: still 4 ahead -> 4 eaten, 4 fill us (FILLED).
    cancel_replace: back of the queue behind all 7 displayed -> 7 eaten, 1 fills us.
    """
    h = Harness(HL, impl, modify_model=model)
    book = [(1000, 10), (999, 20)], [(1002, 10), (1003, 20)]
    h.snapshot(0, *book)
    h.place(1, "a", BID, 1000, 5)
    h.snapshot(11, *book)  # venue 6: the order (arrived at 6) joins first, 10 ahead
    h.trade(12, SELL, 1000, 6)  # 6 of the 10 ahead traded: 4 ahead
    h.snapshot(13, [(1000, 7), (999, 20)], book[1])  # 4 left + 3 new behind us
    assert h.ahead("a") == 4
    h.amend(14, "a", qty=4)  # arrives 19
    h.snapshot(30, [(1000, 7), (999, 20)], book[1])  # venue 25: the amend is processed
    ahead = h.ahead("a")
    h.trade(31, SELL, 1000, 8)
    got = h.poll(100)
    fills = [(f.price, f.qty) for f in got if isinstance(f, Fill)]
    updates = [(u.status, u.qty, u.filled, u.venue_order_id) for u in got
               if isinstance(u, OrderUpdate)]  # fmt: skip
    return fills, updates, ahead


def test_keep_priority_amend_down_keeps_place_and_id(impl: str) -> None:
    fills, updates, ahead = _amend_down_then_trade("keep_priority", impl)
    assert ahead == 4
    assert fills == [(1000, 4)]
    assert updates == [
        (OrderStatus.NEW, 5, 0, "sim-1"),
        (OrderStatus.AMENDED, 4, 0, "sim-1"),
        (OrderStatus.FILLED, 4, 4, "sim-1"),
    ]


def test_cancel_replace_amend_down_goes_to_the_back_with_a_new_id(impl: str) -> None:
    # "auto" on a hyperliquid instrument is cancel_replace
    for model in ("cancel_replace", "auto"):
        fills, updates, ahead = _amend_down_then_trade(model, impl)
        assert ahead == 7
        assert fills == [(1000, 1)]
        assert updates == [
            (OrderStatus.NEW, 5, 0, "sim-1"),
            (OrderStatus.AMENDED, 4, 0, "sim-2"),
            (OrderStatus.PARTIALLY_FILLED, 4, 1, "sim-2"),
        ]


def test_cancel_replaced_order_is_the_newest_for_cancel_all(impl: str) -> None:
    h = Harness(HL, impl)
    h.snapshot(0, [(1000, 10)], [(1002, 10)])
    h.place(1, "a", BID, 1000, 5)
    h.place(1, "b", BID, 999, 5)
    h.amend(2, "a", qty=4)
    h.cancel_all(3)
    h.venue.advance(h_ns(20), h.book)
    got = [(u.client_id, u.status, u.venue_order_id) for u in h.poll(100)]
    assert got == [
        ("a", OrderStatus.NEW, "sim-1"),
        ("b", OrderStatus.NEW, "sim-2"),
        ("a", OrderStatus.AMENDED, "sim-3"),
        ("b", OrderStatus.CANCELED, "sim-2"),  # placement order: b is now the older one
        ("a", OrderStatus.CANCELED, "sim-3"),
    ]


def h_ns(t_ms: float) -> int:
    return round(t_ms * 1_000_000)


@pytest.mark.parametrize("Manager", [OrderManager, CompiledOrderManager],
                         ids=["reference", "compiled"])  # fmt: skip
def test_order_manager_tracks_a_cancel_replaced_order_by_client_id(
    Manager: type[OrderManager],
) -> None:
    """The manager's amend -> a new venue order id -> its fill still lands on the order."""
    venue = SimVenue(HL, SimConfig())
    h = Harness(HL)
    h.venue = venue
    m = Manager(HL.id, HL, OrderParams(), QuoteParams())  # type: ignore[arg-type]
    h.snapshot(0, [(1000, 10)], [(1002, 10)])
    t = h_ns(1)
    want = QuoteSet(bids=[QuoteLevel(BID, 0, 1000, 5)])
    for a in m.reconcile(want, t, 1001.0)[0]:
        venue.send(a, t)
    h.snapshot(11, [(1000, 10)], [(1002, 10)])
    for u in h.poll(11):
        m.on_update(u)  # type: ignore[arg-type]
    cid = next(iter(m.orders))
    t = h_ns(12)
    acts = m.reconcile(QuoteSet(bids=[QuoteLevel(BID, 0, 999, 5)]), t, 1001.0)[0]
    assert [(a.type, a.client_id, a.price) for a in acts] == [(ActionType.AMEND, cid, 999)]
    venue.send(acts[0], t)
    h.snapshot(30, [(1000, 10), (999, 3)], [(1002, 10)])  # venue 25: amended at 17
    (u,) = h.poll(30)
    assert (u.status, u.client_id, u.venue_order_id, u.price) == (
        OrderStatus.AMENDED, cid, "sim-2", 999,
    )  # fmt: skip
    assert m.on_update(u) == "amended"  # type: ignore[arg-type]
    assert m.orders[cid].state == OrderState.LIVE and m.orders[cid].price == 999
    h.trade(31, SELL, 999, 8)  # 3 ahead, then all 5 of ours
    fill, done = h.poll(100)
    assert isinstance(fill, Fill) and (fill.client_id, fill.qty) == (cid, 5)
    m.on_fill(fill)
    assert m.on_update(done) == "done"  # type: ignore[arg-type]
    assert cid not in m.orders


# -- ALO: crossing post-only orders are rejected in Hyperliquid's words -------------------
def test_alo_cross_rejected_with_hyperliquid_text(impl: str) -> None:
    h = Harness(HL, impl)
    h.snapshot(0, [(1000, 10)], [(1002, 10)])
    h.place(1, "x", BID, 1002, 5)  # at the best ask: would take
    h.place(1, "y", ASK, 1001, 5)
    h.amend(2, "y", price=1000)  # amended onto the best bid: rejected, and ends
    h.venue.advance(h_ns(20), h.book)
    got = [(u.client_id, u.status, u.reason) for u in h.poll(100)]
    assert got == [
        ("x", OrderStatus.REJECTED, R_CROSS_HL),
        ("y", OrderStatus.NEW, ""),
        ("y", OrderStatus.REJECTED, R_CROSS_HL),
    ]
    assert R_CROSS_HL.startswith("post-only would cross: Post only order would have")
    assert h.venue.open_orders() == {}
    assert h.venue.stats.rejected == {R_CROSS_HL: 2}
    # both order managers end the order and do not count it as an error
    assert reason_says(R_CROSS_HL) == (True, False) == flags_for_code(R.SIM_CROSS_HL)


# -- snapshots act as the level deltas they amount to --------------------------------------
def _snapshots(seed: int) -> list[tuple[float, str, object]]:
    """A scripted feed: full snapshots (depth 4-6 a side), trades at our prices, one
    amend; levels often unchanged between snapshots, sometimes gone, once crossing."""
    rng = random.Random(seed)
    bids = {1000: 10, 999: 12, 998: 9, 997: 20, 996: 8, 995: 30}
    asks = {1002: 10, 1003: 12, 1004: 9, 1005: 20, 1006: 8, 1007: 30}
    out: list[tuple[float, str, object]] = []
    t = 11.0
    for k in range(80):
        t += 1.0
        if k == 30:
            out.append((t, "amend", None))
            continue
        if rng.random() < 0.35:
            out.append((t, "trade", (SELL, rng.choice((1000, 999)), rng.randint(1, 5))))
            continue
        for book in (bids, asks):
            for p in book:
                r = rng.random()
                if r < 0.15:
                    book[p] = 0
                elif r < 0.4:
                    book[p] = rng.randint(1, 25)
        depth = rng.randint(4, 6)
        snap_b = [(p, q) for p, q in sorted(bids.items(), reverse=True) if q][:depth]
        snap_a = [(p, q) for p, q in sorted(asks.items()) if q][:depth]
        if k == 50:  # an ask at our bid: crossing liquidity, shown twice
            snap_a = [(1000, 2), *snap_a]
        if k == 51:
            snap_a = [(1000, 2), *snap_a]
        out.append((t, "snapshot", (snap_b, snap_a)))
    return out


def _diff(prev: dict, bids: list, asks: list) -> list[tuple[int, int, int]]:
    """The level deltas from ``prev`` (side, price) -> qty to this snapshot: changed
    levels, and levels gone within its depth (beyond its depth nothing is known)."""
    new = {(BID, p): q for p, q in bids} | {(ASK, p): q for p, q in asks}
    rows = [(s, p, q) for (s, p), q in new.items() if prev.get((s, p)) != q]
    lo = min((p for p, _ in bids), default=None)
    hi = max((p for p, _ in asks), default=None)
    for (s, p), q in prev.items():
        if (s, p) in new or not q:
            continue
        if (s == BID and lo is not None and p < lo) or (s == ASK and hi is not None and p > hi):
            continue
        rows.append((s, p, 0))
    return rows


def _run(impl: str, queue_model: str, as_deltas: bool, seed: int) -> list:
    h = Harness(HL, impl, queue_model=queue_model)
    first = ([(1000, 10), (999, 12), (998, 9), (997, 20)], [(1002, 10), (1003, 12), (1004, 9)])
    h.snapshot(0, *first)
    known = {(BID, p): q for p, q in first[0]} | {(ASK, p): q for p, q in first[1]}
    h.place(1, "b1", BID, 1000, 3)
    h.place(1, "b2", BID, 999, 4)
    h.place(1, "b3", BID, 1000, 6)
    trace: list = []
    for t, what, x in _snapshots(seed):
        if what == "amend":
            h.amend(t, "b3", qty=5)
        elif what == "trade":
            h.trade(t, *x)  # type: ignore[misc]
        else:
            bids, asks = x  # type: ignore[misc]
            if as_deltas:
                h.delta(t, _diff(known, bids, asks))
                for s, p, q in _diff(known, bids, asks):
                    known[(s, p)] = q
            else:
                h.snapshot(t, bids, asks)
        trace.append((t, h.venue.open_orders(), h.poll(t)))
    h.venue.advance(h_ns(500), h.book)
    trace.append(h.poll(1000))
    return trace


@pytest.mark.parametrize("queue_model", ["risk_averse", "power", "log"])
def test_snapshots_fill_exactly_as_their_diffed_deltas(queue_model: str) -> None:
    for seed in (1, 2):
        runs = {(impl, d): _run(impl, queue_model, d, seed)
                for impl in ("reference", "compiled") for d in (False, True)}  # fmt: skip
        want = runs[("reference", True)]
        assert any(isinstance(r, Fill) for _, _, got in want[:-1] for r in got)
        for key, trace in runs.items():
            assert trace == want, key


def test_unchanged_snapshot_level_is_no_news_to_the_queue(impl: str) -> None:
    """Power model: a sell of 4 at our level, then a snapshot showing the level unchanged
    (4 joined behind), then one showing it 2 lower. The traded 4 are still unexplained
    when the decrease comes, so the decrease of 2 is taken as covered by trades (it grew
    net of them: no cancel ahead of us); ahead stays 10 - 4 = 6.

    Had the unchanged snapshot reset the traded count, the 2 would count as cancels
    split front/back (6 ahead, 4 behind, f(x) = x**2): p = 16 / 52, ahead
    6 - 2 x (1 - p) = 60 / 13 = 4.615...
    """
    h = Harness(HL, impl, queue_model="power")
    h.snapshot(0, [(1000, 10)], [(1002, 10)])
    h.place(1, "a", BID, 1000, 5)
    h.snapshot(11, [(1000, 10)], [(1002, 10)])  # joins: 10 ahead, level 10
    h.trade(12, SELL, 1000, 4)
    assert h.ahead("a") == 6
    h.snapshot(13, [(1000, 10)], [(1002, 10)])  # 4 traded + 4 joined: unchanged
    h.snapshot(14, [(1000, 8)], [(1002, 10)])
    assert h.ahead("a") == 6
    assert h.venue.open_orders()["a"].cum_trade == 0
