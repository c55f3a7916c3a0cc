"""The trader on an inverse contract (both engines): PnL rows in the coin, inventory in
USD contracts, and loss limits that see the coin PnL converted to USD at the mid."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from bt_helpers import MS, T0, book_msg

from core.events import EVENT_DTYPE
from core.instruments import known_instrument
from core.params import StrategyParams
from engine.select import make_trader
from operators.risk.manager import RiskState

pytestmark = pytest.mark.usefixtures("both_engines")

SPEC = known_instrument("binance-coinm", "BTCUSD_PERP")  # tick 0.1, 1 contract = 100 USD


def events(rows: list[tuple]) -> np.ndarray:
    ev = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, r in enumerate(rows):
        recv, exch, ord_, seq, prev, first, kind, side, price, qty, flags = r
        ev[i] = (kind, side, flags, exch, recv, price, qty, seq, prev, first, ord_)
    return ev


def book(t: int, seq: int, bid: int, ask: int) -> np.ndarray:
    """A Binance-style snapshot (its own update id) with one level a side."""
    return events(book_msg(T0 + t * MS, seq, 1, [(1, bid, 500), (-1, ask, 500)], seq))


def test_drawdown_in_usd_of_a_long_in_contracts() -> None:
    """Long 10 contracts (1,000 USD) from 60000.0; max_drawdown_usd 100. At 55000.0 the
    loss is 1000 (1/60000 - 1/55000) BTC = 83.33 USD at the mid: still trading. At
    50000.0 it is 1000 (1/60000 - 1/50000) = 0.00333 BTC = 166.67 USD: the kill switch
    trips (a linear reading of the coin PnL, 0.0033 "USD", never would)."""
    p = StrategyParams()
    risk = p.risk.model_copy(update={"max_drawdown_usd": 100.0, "daily_loss_limit_usd": 1e9})
    t = make_trader(SPEC, p.model_copy(update={"risk": risk}), venue=None, run_tag="t")
    t.seed_position(10, "60000.0")
    out = t.on_market(book(0, 1, 599_995, 600_005))  # mid 60000.0
    assert t.risk.state != RiskState.CIRCUIT_BREAK
    out = t.on_market(book(1000, 2, 549_995, 550_005))  # mid 55000.0
    assert not t.risk.killed
    row = out.pnl[-1]
    loss_55 = 1000 * (Fraction(1, 60000) - Fraction(1, 55000))
    assert row[2] == 10 and row[10] == 1000.0  # position (lots), inventory_usd: contracts
    assert row[9] == pytest.approx(float(loss_55), rel=1e-12)  # total, BTC
    assert row[7] == pytest.approx(float(loss_55), rel=1e-12)  # unrealized, BTC
    assert t.inventory.total_units(1_100_000) == loss_55
    assert float(loss_55) * 55000 == pytest.approx(-83.3333333, rel=1e-8)
    out = t.on_market(book(2000, 3, 499_995, 500_005))  # mid 50000.0
    assert t.risk.killed and t.risk.state == RiskState.CIRCUIT_BREAK
    s = t.summary()
    loss_50 = 1000 * (Fraction(1, 60000) - Fraction(1, 50000))
    assert (s["pnl_currency"], Fraction(s["net_pnl_exact"])) == ("BTC", loss_50)
    assert s["unrealized_pnl"] == pytest.approx(float(loss_50), rel=1e-12)
    assert s["avg_abs_inventory_usd"] == 1000.0
