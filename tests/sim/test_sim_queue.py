"""Queue position under each model, with the numbers worked out by hand.

Timing used throughout (5 ms order / response / market-data latency): an order sent at
local t reaches the venue at t + 5; a message received at T happened at T - 5, so it is
processed after the order when T >= t + 10.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from sim_harness import ASK, BID, BUY, SELL, Harness

from core.events import Fill, OrderStatus, OrderUpdate


def _resting_bid(h: Harness, level_qty: int = 10, qty: int = 5) -> None:
    """Book bid 1000 x level_qty / ask 1002 x 10; our bid 1000 x qty joins behind level_qty."""
    h.snapshot(0, bids=[(1000, level_qty), (999, 20)], asks=[(1002, 10), (1003, 20)])
    h.place(1, "a", BID, 1000, qty)
    h.delta(11, [(ASK, 1003, 21)])  # venue time 6 >= arrival 6: the order is placed first
    assert [(r.status, r.exch_ts, r.recv_ts) for r in h.poll(11)] == [
        (OrderStatus.NEW, 6_000_000, 11_000_000)
    ]


def test_joins_at_back_with_displayed_qty_ahead(h: Harness) -> None:
    _resting_bid(h, level_qty=10)
    assert h.ahead("a") == 10


def test_risk_averse_trades_4_then_8_fill_2(h: Harness) -> None:
    # 10 lots ahead. Sell trade 4 at our price: ahead 10 - 4 = 6, no fill.
    # Sell trade 8: 6 go to the queue ahead, the remaining 8 - 6 = 2 fill our 5-lot order.
    _resting_bid(h, level_qty=10, qty=5)
    h.trade(12, SELL, 1000, 4)
    assert h.ahead("a") == 6
    h.trade(13, SELL, 1000, 8)
    got = h.poll(100)
    fills = [r for r in got if isinstance(r, Fill)]
    assert [(f.price, f.qty, f.is_maker) for f in fills] == [(1000, 2, True)]
    upd = [r for r in got if isinstance(r, OrderUpdate)]
    assert [(u.status, u.filled, u.qty) for u in upd] == [(OrderStatus.PARTIALLY_FILLED, 2, 5)]
    assert h.ahead("a") == 0
    # next sell trade of 7 at our price: we are at the front, the 3 remaining lots fill
    h.trade(14, SELL, 1000, 7)
    got = h.poll(100)
    assert [(f.qty) for f in got if isinstance(f, Fill)] == [3]
    assert [u.status for u in got if isinstance(u, OrderUpdate)] == [OrderStatus.FILLED]
    assert h.venue.open_orders() == {}


def test_buy_aggressor_does_not_touch_our_bid(h: Harness) -> None:
    _resting_bid(h)
    h.trade(12, BUY, 1000, 50)  # a buyer lifting at 1000 trades with asks, not with bids
    assert h.ahead("a") == 10
    assert h.fills(100) == []


def test_risk_averse_level_decrease_only_caps(h: Harness) -> None:
    # ahead 10; the level shrinks to 7 by cancels: ahead min(10, 7) = 7; it grows to 15
    # (others join behind us): still 7; it shrinks to 9: min(7, 9) = 7
    _resting_bid(h, level_qty=10)
    h.delta(12, [(BID, 1000, 7)])
    assert h.ahead("a") == 7
    h.delta(13, [(BID, 1000, 15)])
    assert h.ahead("a") == 7
    h.delta(14, [(BID, 1000, 9)])
    assert h.ahead("a") == 7
    h.delta(15, [(BID, 1000, 0)])  # level gone (everyone ahead left): front of the queue
    assert h.ahead("a") == 0


def _prob_scenario(make: Callable[..., Harness], model: str) -> Harness:
    # join behind 10; the level grows to 16 (6 behind us), then shrinks to 8 by cancels
    h = make(queue_model=model)
    _resting_bid(h, level_qty=10, qty=5)
    h.delta(12, [(BID, 1000, 16)])
    assert h.ahead("a") == 10  # growth never moves us
    h.delta(13, [(BID, 1000, 8)])
    return h


def test_power_model_splits_cancels(make: Callable[..., Harness]) -> None:
    # chg = 16 - 8 - 0 = 8, front 10, back 16 - 10 = 6, p = 6^2 / (6^2 + 10^2) = 36/136
    # ahead = 10 - (1 - 36/136) * 8 + min(6 - 36/136 * 8, 0) = 10 - 100/136 * 8 = 4.117647
    h = _prob_scenario(make, "power")
    assert h.ahead("a") == pytest.approx(10 - 100 / 136 * 8)
    # sell trade 8: 4.1176 ahead consumed, 3.88 left -> 3 whole lots fill us
    h.trade(14, SELL, 1000, 8)
    assert [f.qty for f in h.fills(100)] == [3]


def test_power_model_exponent(make: Callable[..., Harness]) -> None:
    # n = 1: p = 6 / 16; ahead = 10 - 10/16 * 8 + min(6 - 6/16 * 8, 0) = 10 - 5 = 5
    h = make(queue_model="power", queue_power=1.0)
    _resting_bid(h, level_qty=10)
    h.delta(12, [(BID, 1000, 16)])
    h.delta(13, [(BID, 1000, 8)])
    assert h.ahead("a") == pytest.approx(5.0)


def test_log_model_splits_cancels(make: Callable[..., Harness]) -> None:
    # p = ln(1 + 6) / (ln(1 + 6) + ln(1 + 10)) = 1.9459101 / 4.3438054 = 0.4479736
    # ahead = 10 - (1 - p) * 8 + min(6 - 8p, 0) = 10 - 4.4162112 = 5.5837888
    h = _prob_scenario(make, "log")
    p = math.log(7) / (math.log(7) + math.log(11))
    assert h.ahead("a") == pytest.approx(10 - (1 - p) * 8)
    assert h.ahead("a") == pytest.approx(5.5837888, abs=1e-7)
    # sell trade 8: 8 - 5.5837888 = 2.416 -> 2 lots
    h.trade(14, SELL, 1000, 8)
    assert [f.qty for f in h.fills(100)] == [2]


def test_risk_averse_same_scenario_is_most_conservative(make: Callable[..., Harness]) -> None:
    # risk averse: ahead = min(10, 8) = 8; sell trade 8 eats it all: no fill
    h = _prob_scenario(make, "risk_averse")
    assert h.ahead("a") == 8
    h.trade(14, SELL, 1000, 8)
    assert h.fills(100) == []


def test_prob_model_decrease_excess_over_back_comes_from_front(
    make: Callable[..., Harness],
) -> None:
    # join behind 10 with nobody behind (back = 0): p = 0, a cancel of 4 is all ahead
    # of us: ahead = 10 - 4 + min(0 - 0, 0) = 6
    h = make(queue_model="power")
    _resting_bid(h, level_qty=10)
    h.delta(12, [(BID, 1000, 6)])
    assert h.ahead("a") == pytest.approx(6.0)


@pytest.mark.parametrize("model", ["risk_averse", "power", "log"])
def test_trade_then_matching_depth_decrease_not_double_counted(
    make: Callable[..., Harness], model: str
) -> None:
    # join behind 10, level grows to 14; sell trade 3 at our price: ahead 7, cum_trade 3.
    # The depth update 14 -> 11 is the trade itself: chg = 14 - 11 - 3 = 0, so ahead stays
    # 7 = front - 0 + min(back - 0, 0) (risk averse: min(7, 11) = 7).
    h = make(queue_model=model)
    _resting_bid(h, level_qty=10)
    h.delta(12, [(BID, 1000, 14)])
    h.trade(13, SELL, 1000, 3)
    assert h.ahead("a") == 7
    h.delta(14, [(BID, 1000, 11)])
    assert h.ahead("a") == pytest.approx(7.0)


def test_bbo_updates_queue_and_empty_level_above_best(h: Harness) -> None:
    # BBO says our level (1000) holds 4: ahead min(10, 4) = 4. Then the best bid is 999:
    # nothing is displayed at 1000 any more, so nobody is ahead of us.
    _resting_bid(h, level_qty=10)
    h.bbo(12, (1000, 4), (1002, 10))
    assert h.ahead("a") == 4
    h.bbo(13, (999, 20), (1002, 10))
    assert h.ahead("a") == 0
    h.trade(14, SELL, 1000, 2)  # a seller at 1000 now meets us first
    assert [f.qty for f in h.fills(100)] == [2]


def test_later_order_at_same_price_is_behind_the_earlier_one(h: Harness) -> None:
    # A (3 lots) joins behind 10; 4 more join behind A (level 14); B (4 lots) joins
    # behind 14. Sell trade 20 at 1000: 10 market lots ahead of A, 3 fill A, then the 4
    # market lots between A and B, then 3 fill B (20 = 10 + 3 + 4 + 3).
    h.snapshot(0, bids=[(1000, 10)], asks=[(1002, 10)])
    h.place(1, "A", BID, 1000, 3)
    h.delta(11, [(BID, 1000, 14)])
    h.place(12, "B", BID, 1000, 4)
    h.delta(22, [(ASK, 1003, 1)])
    assert (h.ahead("A"), h.ahead("B")) == (10, 14)
    h.trade(23, SELL, 1000, 20)
    assert [(f.client_id, f.qty) for f in h.fills(100)] == [("A", 3), ("B", 3)]


def test_depth_older_than_bbo_does_not_overwrite_level(h: Harness) -> None:
    # BBO id 20: our level 1000 holds 4. A depth diff id 18 (older) says 9: ignored, so a
    # second order joining now is behind 4, not 9. A newer diff (id 21) says 7.
    _resting_bid(h, level_qty=10)
    h.bbo(12, (1000, 4), (1002, 10), seq=20)
    h.delta(13, [(BID, 1000, 9)], seq=18)
    h.place(14, "b", BID, 1000, 1)
    h.delta(24, [(ASK, 1003, 22)], seq=21)
    assert (h.ahead("a"), h.ahead("b")) == (4, 4)
    h.delta(25, [(BID, 1000, 7)], seq=22)
    h.place(26, "c", BID, 1000, 1)
    h.delta(36, [(ASK, 1003, 23)], seq=23)
    assert h.ahead("c") == 7


def test_snapshot_empties_levels_only_within_its_depth(h: Harness) -> None:
    # our bids at 1000 (behind 10) and 990 (behind 3); a new snapshot shows bids 1001 and
    # 999 only: 1000 lies within its depth and is empty (ahead 0); 990 lies beyond its
    # last level (venues send 20 or 500 levels), so nothing is known there (ahead 3)
    h.snapshot(0, bids=[(1000, 10), (990, 3)], asks=[(1002, 10)])
    h.place(1, "near", BID, 1000, 1)
    h.place(1, "far", BID, 990, 1)
    h.delta(11, [(ASK, 1003, 1)])
    h.snapshot(12, bids=[(1001, 5), (999, 8)], asks=[(1002, 10)])
    assert (h.ahead("near"), h.ahead("far")) == (0, 3)
