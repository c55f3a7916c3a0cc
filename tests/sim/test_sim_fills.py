"""Maker fills: trades at and through our price, depth crossing us, races with cancels.

Book used throughout: bids 1000 x 10, 999 x 20 / asks 1002 x 10, 1003 x 20. Our orders
are sent at t = 1 and reach the venue at 6; the first message after them is at t = 11
(venue time 6). Maker fee -0.00015 = -15_000 per 1e8: fee = price x lots x -15_000.
"""

from __future__ import annotations

from sim_harness import ASK, BID, BUY, SELL, Harness

from core.events import Fill, Kind, OrderStatus, OrderUpdate


def _setup(h: Harness, orders: list[tuple[str, int, int, int]]) -> None:
    h.snapshot(0, bids=[(1000, 10), (999, 20)], asks=[(1002, 10), (1003, 20)])
    for cid, side, price, qty in orders:
        h.place(1, cid, side, price, qty)
    h.delta(11, [(ASK, 1010, 1)])
    assert [r.status for r in h.poll(11)] == [OrderStatus.NEW] * len(orders)


def _fills(h: Harness) -> list[tuple[str, int, int, bool, int]]:
    return [(f.client_id, f.price, f.qty, f.is_maker, f.fee) for f in h.fills(1_000)]


def test_partial_then_full_fill_with_cumulative_updates(h: Harness) -> None:
    # our ask 1002 x 5 behind 10: buy trades 12 (10 ahead, 2 for us) then 7 (3 for us)
    _setup(h, [("a", ASK, 1002, 5)])
    h.trade(12, BUY, 1002, 12)
    h.trade(13, BUY, 1002, 7)
    got = h.poll(100)
    assert [(type(r).__name__, r.qty, getattr(r, "filled", None)) for r in got] == [
        ("Fill", 2, None),
        ("OrderUpdate", 5, 2),
        ("Fill", 3, None),
        ("OrderUpdate", 5, 5),
    ]
    assert [r.status for r in got if isinstance(r, OrderUpdate)] == [
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
    ]
    fills = [r for r in got if isinstance(r, Fill)]
    # exact maker rebates: 1002 x 2 x -15_000 = -30_060_000; 1002 x 3 x -15_000 = -45_090_000
    assert [f.fee for f in fills] == [-30_060_000, -45_090_000]
    assert all(f.is_maker and f.price == 1002 and f.side == ASK for f in fills)
    # venue times 7 and 8 ms, seen 5 ms later; exec ids unique
    assert [(f.exch_ts, f.recv_ts) for f in fills] == [
        (7_000_000, 12_000_000),
        (8_000_000, 13_000_000),
    ]
    assert len({f.exec_id for f in fills}) == 2
    st = h.venue.stats
    assert (st.fills, st.maker_fills, st.maker_qty, st.filled_qty) == (2, 2, 5, 5)
    assert st.fee_units == -75_150_000
    assert h.venue.position == -5


def test_trade_through_fills_up_to_trade_size(h: Harness) -> None:
    # our bids 1001 x 4 (inside the spread, nobody ahead) and 1000 x 4 (10 ahead).
    # A sell trade of 6 at 999 went through both prices: 1001 fills 4, then 1000 fills the
    # remaining 2 (queue ahead at 1000 is irrelevant: the seller reached below it).
    _setup(h, [("hi", BID, 1001, 4), ("lo", BID, 1000, 4)])
    h.trade(12, SELL, 999, 6)
    assert _fills(h) == [
        ("hi", 1001, 4, True, 1001 * 4 * -15_000),
        ("lo", 1000, 2, True, 1000 * 2 * -15_000),
    ]


def test_trade_at_better_price_than_ours_fills_nothing(h: Harness) -> None:
    _setup(h, [("b", BID, 999, 3)])
    h.trade(12, SELL, 1000, 50)  # the seller stopped at 1000, above our bid
    assert _fills(h) == []
    assert h.ahead("b") == 20  # trades at another price do not move our queue


def test_two_orders_one_price_one_trade_never_exceed_trade_size(h: Harness) -> None:
    # A (3 lots) joins behind 10, B (4 lots) joins later also behind the displayed 10.
    # Sell trade 12 at 1000: 10 to the market ahead of A, 2 fill A, nothing left for B.
    _setup(h, [("A", BID, 1000, 3), ("B", BID, 1000, 4)])
    assert (h.ahead("A"), h.ahead("B")) == (10, 10)
    h.trade(12, SELL, 1000, 12)
    assert _fills(h) == [("A", 1000, 2, True, 1000 * 2 * -15_000)]
    # sell trade 3: A's last lot, then 2 for B (its market ahead is gone too)
    h.trade(13, SELL, 1000, 3)
    got = [(c, q) for c, _p, q, _m, _f in _fills(h)]
    assert got == [("A", 1), ("B", 2)]
    assert sum(q for _c, q in got) <= 3


def test_trade_through_and_queue_share_one_trade(h: Harness) -> None:
    # bid 1001 x 2 (front, inside spread) and bid 1000 x 5 behind 10.
    # Sell trade 13 at 1000: 2 fill the 1001 bid (through), 10 of the 11 left go to the
    # queue ahead at 1000, 1 fills us. Total ours 3 <= 13.
    _setup(h, [("hi", BID, 1001, 2), ("lo", BID, 1000, 5)])
    h.trade(12, SELL, 1000, 13)
    assert [(c, q) for c, _p, q, _m, _f in _fills(h)] == [("hi", 2), ("lo", 1)]


def test_depth_crossing_fills_from_that_liquidity_once(h: Harness) -> None:
    # our bid 1001 x 5 (front of its own level). An ask appears at 1001 x 3 without a
    # trade: it would have matched us, so 3 fill us at our price (maker).
    _setup(h, [("b", BID, 1001, 5)])
    h.delta(12, [(ASK, 1001, 3)])
    assert _fills(h) == [("b", 1001, 3, True, 1001 * 3 * -15_000)]
    # the same 3 lots shown again (another level in the message changed) fill nothing
    h.delta(13, [(ASK, 1001, 3), (ASK, 1003, 25)])
    assert _fills(h) == []
    # 4 more lots join that ask level: 2 of them complete our order
    h.delta(14, [(ASK, 1001, 7)])
    assert _fills(h) == [("b", 1001, 2, True, 1001 * 2 * -15_000)]
    assert h.venue.open_orders() == {}


def test_depth_crossing_through_our_price(h: Harness) -> None:
    # asks appear at 999 x 1 and 1000 x 6 while we bid 1000 x 5: both cross us;
    # the lower first: 1 + 4 = 5, filled at our price 1000
    _setup(h, [("b", BID, 1000, 5)])
    h.delta(12, [(ASK, 1000, 6), (ASK, 999, 1)])
    assert [(p, q) for _c, p, q, _m, _f in _fills(h)] == [(1000, 1), (1000, 4)]


def test_snapshot_crossing_our_ask(h: Harness) -> None:
    # our ask 1002 x 3; a snapshot shows bids 1003 x 1 and 1002 x 5: 1 + 2 fill us
    _setup(h, [("a", ASK, 1002, 3)])
    h.snapshot(12, bids=[(1003, 1), (1002, 5), (1001, 9)], asks=[(1004, 5)])
    assert [(p, q) for _c, p, q, _m, _f in _fills(h)] == [(1002, 1), (1002, 2)]


def test_bbo_crossing_and_the_same_liquidity_in_depth(h: Harness) -> None:
    # BBO (id 10) shows the best ask at 1001 x 2 through our bid 1001 x 5: fill 2.
    # The depth diff (id 11) then shows the same 2 lots: no second fill.
    _setup(h, [("b", BID, 1001, 5)])
    h.bbo(12, (1000, 10), (1001, 2), seq=10)
    assert [(p, q) for _c, p, q, _m, _f in _fills(h)] == [(1001, 2)]
    h.delta(13, [(ASK, 1001, 2)], seq=11)
    assert _fills(h) == []


def test_depth_older_than_bbo_does_not_cross(h: Harness) -> None:
    # BBO id 20 says best ask 1002. A depth diff with id 18 (older) shows an ask at 1001,
    # which the BBO already knows to be gone: no fill. A newer diff (id 21) does fill.
    _setup(h, [("b", BID, 1001, 5)])
    h.bbo(12, (1000, 10), (1002, 10), seq=20)
    h.delta(13, [(ASK, 1001, 4)], seq=18)
    assert _fills(h) == []
    h.delta(14, [(ASK, 1001, 4)], seq=21)
    assert [(p, q) for _c, p, q, _m, _f in _fills(h)] == [(1001, 4)]


def test_bbo_older_than_book_is_ignored(h: Harness) -> None:
    _setup(h, [("b", BID, 1001, 5)])
    h.delta(12, [(ASK, 1010, 2)], seq=30)
    h.bbo(13, (1000, 10), (1001, 3), seq=29)  # older than the book: ignored
    assert _fills(h) == []


def test_cancel_race_fill_stands(h: Harness) -> None:
    # cancel sent at 20 reaches the venue at 25; a trade at venue time 23 fills us first
    _setup(h, [("b", BID, 1001, 2)])
    h.cancel(20, "b")
    h.trade(28, SELL, 1001, 5)  # venue time 23 < 25
    h.delta(31, [(ASK, 1010, 2)])  # venue time 26: the cancel is processed
    got = h.poll(100)
    assert [
        (type(r).__name__, getattr(r, "status", None), getattr(r, "reason", "")) for r in got
    ] == [
        ("Fill", None, ""),
        ("OrderUpdate", OrderStatus.FILLED, ""),
        ("OrderUpdate", OrderStatus.REJECTED, "order not found"),
    ]
    assert h.venue.position == 2


def test_cancel_arrives_before_trade(h: Harness) -> None:
    _setup(h, [("b", BID, 1001, 2)])
    h.cancel(20, "b")
    h.trade(30, SELL, 1001, 5)  # venue time 25 >= 25: the cancel came first
    assert [(r.status, r.reason) for r in h.poll(100) if isinstance(r, OrderUpdate)] == [
        (OrderStatus.CANCELED, "canceled")
    ]
    assert h.venue.position == 0


def test_amend_race_with_partial_fill(h: Harness) -> None:
    # bid 1001 x 5 at the front; amend to qty 3 sent at 20 (arrives 25); a sell trade of
    # 2 at venue time 23 fills 2 first. The amend then leaves qty 3 (filled 2, 1 open).
    _setup(h, [("b", BID, 1001, 5)])
    h.amend(20, "b", 1001, 3)
    h.trade(28, SELL, 1001, 2)
    h.delta(31, [(ASK, 1010, 2)])
    got = [r for r in h.poll(100) if isinstance(r, OrderUpdate)]
    assert [(r.status, r.qty, r.filled) for r in got] == [
        (OrderStatus.PARTIALLY_FILLED, 5, 2),
        (OrderStatus.AMENDED, 3, 2),
    ]
    assert h.venue.open_orders()["b"].leaves == 1
    h.trade(32, SELL, 1001, 5)
    assert [f.qty for f in h.fills(100)] == [1]


def test_amend_of_filled_order_rejected(h: Harness) -> None:
    _setup(h, [("b", BID, 1001, 2)])
    h.amend(20, "b", 1000, 2)
    h.trade(28, SELL, 1001, 2)
    h.delta(31, [(ASK, 1010, 2)])
    got = [(r.status, r.reason) for r in h.poll(100) if isinstance(r, OrderUpdate)]
    assert got == [(OrderStatus.FILLED, ""), (OrderStatus.REJECTED, "order not found")]


def test_feed_reset_forgets_bbo(h: Harness) -> None:
    h.snapshot(0, bids=[(1000, 10)], asks=[(1002, 10)])
    h.bbo(1, (1000, 10), (1001, 3))
    h.feed(Kind.FEED_RESET, 2, [(0, 0, 0)])  # the trader's book is empty until a snapshot
    h.place(3, "b", BID, 1001, 1)  # would cross the forgotten BBO ask 1001
    h.delta(13, [(ASK, 1010, 2)])
    assert [r.status for r in h.poll(100)] == [OrderStatus.NEW]
