"""Order entry: rejects, post-only crossing, taking orders, amend and cancel semantics.

Spec: tick 0.1, lot 1, min notional 10 (= 100 notional units of ticks x lots).
Fees: maker -0.00015 (-15_000 per 1e8), taker 0.00045 (45_000 per 1e8), so a fee is
price_ticks x lots x rate_e8 fee units.
"""

from __future__ import annotations

import pytest
from sim_harness import ASK, BID, SELL, Harness

from core.events import Fill, OrderStatus, OrderUpdate
from core.instruments import known_instrument
from core.orders import ActionType, OrderAction


def _book(h: Harness) -> None:
    h.snapshot(0, bids=[(1000, 10), (999, 20)], asks=[(1002, 2), (1003, 3), (1005, 10)])


def _flush(h: Harness, t: float = 11) -> list[OrderUpdate | Fill]:
    """A market message at t (venue time t - 5) lets the venue process earlier actions."""
    h.delta(t, [(ASK, 1010, 1)])
    return h.poll(1_000)


def _statuses(responses: list[OrderUpdate | Fill]) -> list[tuple[str, OrderStatus, str]]:
    return [(r.client_id, r.status, r.reason) for r in responses if isinstance(r, OrderUpdate)]


@pytest.mark.parametrize(
    ("side", "price", "qty", "reason"),
    [
        (BID, 1000, 0, "qty must be positive"),
        (BID, 1000, -3, "qty must be positive"),
        (BID, 0, 1, "invalid price"),
        (BID, -5, 1, "invalid price"),
        (BID, 49, 2, "notional below minimum"),  # 49 x 2 = 98 < 100 units (9.8 < 10)
        (0, 1000, 1, "invalid side"),
        (BID, 1002, 1, "post-only would cross"),  # bid at the best ask
        (BID, 1004, 1, "post-only would cross"),  # bid through the best ask
        (ASK, 1000, 1, "post-only would cross"),  # ask at the best bid
    ],
)
def test_place_rejects(h: Harness, side: int, price: int, qty: int, reason: str) -> None:
    _book(h)
    h.place(1, "x", side, price, qty)
    got = _flush(h)
    assert len(got) == 1
    r = got[0]
    assert isinstance(r, OrderUpdate)
    assert (r.client_id, r.status, r.reason) == ("x", OrderStatus.REJECTED, reason)
    assert (r.exch_ts, r.recv_ts) == (6_000_000, 11_000_000)
    assert h.venue.stats.rejected == {reason: 1}
    assert h.venue.open_orders() == {}


def test_min_notional_boundary_is_accepted(h: Harness) -> None:
    _book(h)
    h.place(1, "x", BID, 50, 2)  # 50 x 2 = 100 units = 10.0 exactly: allowed
    assert _statuses(_flush(h)) == [("x", OrderStatus.NEW, "")]


def test_price_off_significant_figures_rejected(impl: str) -> None:
    spec = known_instrument("hyperliquid", "BTC")  # tick 0.1, at most 5 significant figures
    assert spec is not None
    h = Harness(spec, impl)
    h.snapshot(0, bids=[(1_000_000, 5)], asks=[(1_000_100, 5)])  # 100000.0 / 100010.0
    # 20 lots (0.0002 BTC) keep the notional above the 10 USDC minimum
    h.place(1, "bad", BID, 999_991, 20)  # 99999.1 has 6 significant figures
    h.place(1, "ok", BID, 999_990, 20)  # 99999.0 has 5
    h.delta(11, [(ASK, 1_000_200, 1)])
    assert _statuses(h.poll(100)) == [
        ("bad", OrderStatus.REJECTED, "invalid price"),
        ("ok", OrderStatus.NEW, ""),
    ]


def test_duplicate_client_id_rejected_even_after_the_first_is_gone(h: Harness) -> None:
    _book(h)
    h.place(1, "a", BID, 1000, 1)
    h.place(1, "a", BID, 999, 1)
    h.cancel(2, "a")
    h.place(3, "a", BID, 998, 1)
    got = _statuses(_flush(h, 20))
    assert got == [
        ("a", OrderStatus.NEW, ""),
        ("a", OrderStatus.REJECTED, "duplicate client_id"),
        ("a", OrderStatus.CANCELED, "canceled"),
        ("a", OrderStatus.REJECTED, "duplicate client_id"),
    ]


def test_rejected_place_does_not_use_up_the_id(h: Harness) -> None:
    _book(h)
    h.place(1, "a", BID, 1002, 1)  # crosses: rejected
    h.place(2, "a", BID, 1001, 1)  # same id, now fine
    assert _statuses(_flush(h, 12)) == [
        ("a", OrderStatus.REJECTED, "post-only would cross"),
        ("a", OrderStatus.NEW, ""),
    ]


def test_other_instrument_rejected(h: Harness) -> None:
    _book(h)
    h.send(1, OrderAction(ActionType.PLACE, "sim:OTHER", "x", BID, 1000, 1))
    assert _statuses(_flush(h)) == [("x", OrderStatus.REJECTED, "unknown instrument")]


def test_post_only_cross_uses_fresher_bbo(h: Harness) -> None:
    # depth says best ask 1002; the newer BBO says 1001: a bid at 1001 would cross
    _book(h)
    h.bbo(1, (1000, 10), (1001, 4))
    h.place(2, "x", BID, 1001, 1)
    assert _statuses(_flush(h, 12)) == [("x", OrderStatus.REJECTED, "post-only would cross")]


def test_post_only_cross_against_own_resting_order(h: Harness) -> None:
    _book(h)
    h.place(1, "ask", ASK, 1001, 1)
    h.place(2, "bid", BID, 1001, 1)  # would trade with our own ask
    assert _statuses(_flush(h, 12)) == [
        ("ask", OrderStatus.NEW, ""),
        ("bid", OrderStatus.REJECTED, "post-only would cross"),
    ]


def test_taking_order_walks_levels_at_taker_fee(h: Harness) -> None:
    # asks 1002 x 2, 1003 x 3, 1005 x 10; buy 10 limit 1004 (not post-only):
    # 2 @ 1002 and 3 @ 1003, the 5 left are canceled (immediate-or-cancel)
    _book(h)
    h.place(1, "t", 1, 1004, 10, post_only=False)
    got = _flush(h)
    fills = [r for r in got if isinstance(r, Fill)]
    assert [(f.price, f.qty, f.is_maker, f.fee) for f in fills] == [
        (1002, 2, False, 1002 * 2 * 45_000),  # 90_180_000 fee units = 0.009018 quote
        (1003, 3, False, 1003 * 3 * 45_000),  # 135_405_000
    ]
    assert [(u.status, u.filled, u.reason) for u in got if isinstance(u, OrderUpdate)] == [
        (OrderStatus.PARTIALLY_FILLED, 2, ""),
        (OrderStatus.PARTIALLY_FILLED, 5, ""),
        (OrderStatus.CANCELED, 5, "immediate-or-cancel: remainder canceled"),
    ]
    st = h.venue.stats
    assert (st.taker_fills, st.taker_qty, st.maker_fills, st.expired) == (2, 5, 0, 1)
    assert st.fee_units == 90_180_000 + 135_405_000
    assert h.venue.position == 5
    assert h.venue.open_orders() == {}


def test_taken_liquidity_is_not_taken_twice(h: Harness) -> None:
    _book(h)
    h.place(1, "t1", 1, 1003, 5, post_only=False)  # takes 1002 x 2 and 1003 x 3
    h.place(2, "t2", 1, 1003, 1, post_only=False)  # nothing left up to 1003
    got = _flush(h, 12)
    assert [(r.client_id, r.qty) for r in got if isinstance(r, Fill)] == [("t1", 2), ("t1", 3)]
    assert ("t2", OrderStatus.CANCELED, "immediate-or-cancel: remainder canceled") in _statuses(got)
    # two more lots join 1003 (recorded 3 -> 5): only those 2 are new liquidity for us
    h.delta(12, [(ASK, 1003, 5)])
    h.place(13, "t3", 1, 1003, 4, post_only=False)
    got = _flush(h, 23)
    assert [(r.price, r.qty) for r in got if isinstance(r, Fill)] == [(1003, 2)]


def test_full_take_reports_filled(h: Harness) -> None:
    _book(h)
    h.place(1, "t", SELL, 999, 25, post_only=False)  # bids 1000 x 10, 999 x 20
    got = _flush(h)
    assert [(r.price, r.qty) for r in got if isinstance(r, Fill)] == [(1000, 10), (999, 15)]
    assert _statuses(got)[-1] == ("t", OrderStatus.FILLED, "")
    assert h.venue.position == -25


def test_reduce_only(h: Harness) -> None:
    _book(h)
    h.place(1, "r0", SELL, 999, 1, post_only=False, reduce_only=True)  # flat: cannot reduce
    h.place(2, "buy", 1, 1002, 2, post_only=False)  # long 2
    h.place(3, "r1", 1, 1003, 1, post_only=False, reduce_only=True)  # would add: rejected
    h.place(4, "r2", SELL, 999, 5, post_only=False, reduce_only=True)  # sells only 2
    got = _flush(h, 20)
    assert _statuses(got) == [
        ("r0", OrderStatus.REJECTED, "reduce-only would increase position"),
        ("buy", OrderStatus.FILLED, ""),
        ("r1", OrderStatus.REJECTED, "reduce-only would increase position"),
        ("r2", OrderStatus.PARTIALLY_FILLED, ""),
        ("r2", OrderStatus.CANCELED, "immediate-or-cancel: remainder canceled"),
    ]
    assert [(r.client_id, r.price, r.qty) for r in got if isinstance(r, Fill)] == [
        ("buy", 1002, 2),
        ("r2", 1000, 2),
    ]
    assert h.venue.position == 0


# -- amend ------------------------------------------------------------------------------


def _resting(h: Harness) -> None:
    """Our bid 1000 x 5 behind 10 lots."""
    _book(h)
    h.place(1, "a", BID, 1000, 5)
    _flush(h)
    assert h.ahead("a") == 10


def test_amend_qty_down_keeps_place_qty_up_loses_it(h: Harness) -> None:
    _resting(h)
    h.trade(12, SELL, 1000, 4)  # ahead 10 -> 6
    h.delta(13, [(BID, 1000, 9)])  # 10 - 4 traded + 3 joined behind: ahead min(6, 9) = 6
    h.amend(14, "a", 1000, 3)  # decrease: keeps 6 ahead
    h.delta(24, [(ASK, 1010, 2)])
    assert h.ahead("a") == 6
    assert h.venue.open_orders()["a"].qty == 3
    h.amend(25, "a", 1000, 4)  # increase: back of the queue, behind all 9 displayed
    h.delta(35, [(ASK, 1010, 3)])
    assert h.ahead("a") == 9
    assert _statuses(h.poll(100)) == [
        ("a", OrderStatus.AMENDED, ""),
        ("a", OrderStatus.AMENDED, ""),
    ]
    assert h.venue.stats.amended == 2


def test_amend_price_moves_to_back_of_new_level(h: Harness) -> None:
    _resting(h)
    h.amend(12, "a", 999, 0)  # qty 0 = unchanged
    h.delta(22, [(ASK, 1010, 2)])
    o = h.venue.open_orders()["a"]
    assert (o.price, o.qty, o.ahead) == (999, 5, 20)
    h.poll(100)
    # the old level no longer matters to us; the new one does
    h.trade(23, SELL, 1000, 50)
    assert h.fills(100) == []
    h.trade(24, SELL, 999, 22)  # 20 ahead, then 2 for us
    assert [f.qty for f in h.fills(100)] == [2]


def test_amend_that_would_cross_rejects_and_ends_the_order(h: Harness) -> None:
    # Bybit: a PostOnly order amended into a taker gets orderStatus=Rejected (it is gone)
    _resting(h)
    h.amend(12, "a", 1002, 5)
    h.delta(22, [(ASK, 1010, 2)])
    assert _statuses(h.poll(100)) == [("a", OrderStatus.REJECTED, "post-only would cross")]
    assert "a" not in h.venue.open_orders()
    h.cancel(30, "a")
    h.delta(40, [(ASK, 1010, 3)])
    assert _statuses(h.poll(100)) == [("a", OrderStatus.REJECTED, "order not found")]


def test_amend_qty_to_filled_cancels(h: Harness) -> None:
    _resting(h)
    h.trade(12, SELL, 1000, 12)  # 10 ahead, 2 fill us
    h.amend(13, "a", 1000, 2)  # qty <= filled (2): cancel
    h.delta(23, [(ASK, 1010, 2)])
    got = h.poll(100)
    assert _statuses(got) == [
        ("a", OrderStatus.PARTIALLY_FILLED, ""),
        ("a", OrderStatus.CANCELED, "amended qty <= filled"),
    ]
    assert h.venue.open_orders() == {}


def test_cancel_all(h: Harness) -> None:
    _book(h)
    h.place(1, "b1", BID, 1000, 1)
    h.place(1, "b2", BID, 999, 1)
    h.place(1, "a1", ASK, 1004, 1)
    h.cancel_all(2)
    got = _flush(h, 20)
    assert _statuses(got)[-3:] == [
        ("b1", OrderStatus.CANCELED, "cancel all"),
        ("b2", OrderStatus.CANCELED, "cancel all"),
        ("a1", OrderStatus.CANCELED, "cancel all"),
    ]
    assert h.venue.open_orders() == {}
    assert h.venue.stats.canceled == 3


def test_cancel_unknown_order(h: Harness) -> None:
    _book(h)
    h.cancel(1, "nope")
    h.amend(1, "nope", 1000, 1)
    assert _statuses(_flush(h)) == [
        ("nope", OrderStatus.REJECTED, "order not found"),
        ("nope", OrderStatus.REJECTED, "order not found"),
    ]


def test_open_orders_is_a_copy(h: Harness) -> None:
    _resting(h)
    h.venue.open_orders()["a"].qty = 99
    assert h.venue.open_orders()["a"].qty == 5


def test_action_mutated_after_send_does_not_change_the_order(h: Harness) -> None:
    _book(h)
    a = OrderAction(ActionType.PLACE, h.spec.id, "a", BID, 1000, 5)
    h.send(1, a)
    a.price, a.qty = 1500, 1
    _flush(h)
    o = h.venue.open_orders()["a"]
    assert (o.price, o.qty) == (1000, 5)


def test_send_backwards_in_time_is_an_error(h: Harness) -> None:
    h.place(10, "a", BID, 1000, 1)
    with pytest.raises(ValueError, match="before the previous send"):
        h.place(9, "b", BID, 1000, 1)
