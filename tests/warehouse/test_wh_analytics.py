"""Derived views on the hand-made run of wh_data.py: every number computed by hand."""

from __future__ import annotations

import itertools
import math
import statistics
from pathlib import Path

import pytest
from wh_data import SYMBOL, VENUE

from warehouse.duck import Catalog

A = pytest.approx


@pytest.fixture(scope="module")
def cat(hand_run: Path) -> Catalog:
    c = Catalog(runs=[hand_run])
    yield c
    c.close()


def test_markouts_per_fill_in_bps_and_currency(cat: Catalog) -> None:
    rows = cat.rows("SELECT * FROM markouts ORDER BY seq")
    assert [r["client_id"] for r in rows] == ["c1", "c2", "c6"]
    f1, f2, f3 = rows
    # f1 BUY 1.0 @ 99.5; mids 100 / 100.5 / 99 / 101 / (data ended)
    assert f1["markout_0s"] == 0.5  # +1 x (100 - 99.5) x 1.0
    assert f1["markout_0s_bps"] == A((100 - 99.5) / 99.5 * 1e4, abs=1e-9)  # 50.2513 bps
    assert f1["markout_1s"] == 1.0  # (100.5 - 99.5) x 1.0
    assert f1["markout_1s_bps"] == A(100.50251256281408, abs=1e-9)
    assert f1["markout_5s"] == -0.5  # (99 - 99.5) x 1.0: the mid went against us
    assert f1["markout_5s_bps"] == A(-50.25125628140704, abs=1e-9)
    assert f1["markout_30s"] == 1.5
    assert f1["markout_30s_bps"] == A(150.7537688442211, abs=1e-9)
    assert f1["markout_60s"] is None and f1["markout_60s_bps"] is None  # NaN mid -> NULL
    # f2 SELL 0.5 @ 100.5; mids 100 / 100 / 101
    assert f2["markout_0s"] == 0.25  # -1 x (100 - 100.5) x 0.5
    assert f2["markout_1s_bps"] == A(0.5 / 100.5 * 1e4, abs=1e-9)  # 49.7512 bps
    assert f2["markout_5s"] == -0.25  # -1 x (101 - 100.5) x 0.5
    assert f2["markout_30s"] is None
    # f3 SELL 0.5 @ 100.5 taken while the mid was 101: paid half a unit of spread
    assert f3["markout_0s"] == -0.25
    assert f3["markout_0s_bps"] == A(-0.5 / 100.5 * 1e4, abs=1e-9)


def test_markout_curve_averages_by_side(cat: Catalog) -> None:
    rows = {(r["side"], r["horizon_s"]): r for r in cat.rows("SELECT * FROM markout_curve")}
    assert rows[(1, 1)]["avg_bps"] == A(100.50251256281408, abs=1e-9)
    # sells at 5 s: both -0.5 / 100.5 x 1e4
    assert rows[(-1, 5)]["avg_bps"] == A(-49.75124378109453, abs=1e-9)
    assert rows[(-1, 5)]["total_pnl"] == -0.5
    # all fills at 0 s: (50.2513 + 49.7512 - 49.7512) / 3
    assert rows[(0, 0)]["avg_bps"] == A(50.25125628140704 / 3, abs=1e-9)
    assert rows[(0, 0)]["fills"] == 3
    assert rows[(0, 30)]["fills"] == 1  # only f1 lived 30 s before the data ended
    assert rows[(0, 60)]["fills"] == 0 and rows[(0, 60)]["avg_bps"] is None


def test_fill_rates_per_quote_second(cat: Catalog) -> None:
    rows = {(r["side"], r["level"]): r for r in cat.rows("SELECT * FROM fill_rates")}
    # L0 quoted 0-10 s (seq1) and 10-20 s (seq2): 20 s each side; L1 only in seq1: 10 s;
    # seq3 (20-30 s) quotes nothing.
    assert rows[(1, 0)]["quote_seconds"] == 20.0
    assert rows[(1, 0)]["fills"] == 1
    assert rows[(1, 0)]["fills_per_quote_second"] == 0.05  # 1 / 20
    assert rows[(1, 0)]["fills_per_quote_minute"] == 3.0
    assert rows[(-1, 0)]["fills_per_quote_second"] == 0.05
    assert rows[(1, 1)]["quote_seconds"] == 10.0 and rows[(1, 1)]["fills"] == 0
    assert rows[(1, 1)]["fills_per_quote_second"] == 0.0
    assert rows[(-1, 1)]["quote_seconds"] == 10.0
    # the flatten order (level -1) filled without being quoted
    assert rows[(-1, -1)]["fills"] == 1 and rows[(-1, -1)]["quote_seconds"] == 0.0
    assert rows[(-1, -1)]["fills_per_quote_second"] is None
    assert len(rows) == 5


def test_maker_share(cat: Catalog) -> None:
    (r,) = cat.rows("SELECT * FROM maker_share")
    assert (r["fills"], r["maker_fills"]) == (3, 2)
    assert r["maker_share"] == A(2 / 3, abs=1e-12)
    assert r["maker_qty_share"] == 0.75  # (1.0 + 0.5) / 2.0
    assert r["maker_notional_share"] == A((99.5 + 50.25) / 200.0, abs=1e-12)


def test_cancel_ratio(cat: Catalog) -> None:
    (r,) = cat.rows("SELECT * FROM cancel_ratio")
    # placed c1 c2 c3 c4 c5 c7 c6; cancels c3 c4 (t=10) c2 c5 (t=20); c7 rejected
    assert (r["placed"], r["cancels"], r["canceled"], r["amends"], r["rejects"]) == (7, 4, 4, 1, 1)
    assert r["cancel_ratio"] == A(4 / 7, abs=1e-12)
    assert r["filled_orders"] == 3  # c1, c2 (partially), c6
    assert r["order_fill_ratio"] == A(3 / 7, abs=1e-12)
    assert r["cancels_per_fill"] == A(4 / 3, abs=1e-12)


def test_spread_capture_by_side(cat: Catalog) -> None:
    rows = {r["side"]: r for r in cat.rows("SELECT * FROM spread_capture")}
    assert rows[1]["spread_capture"] == 0.5  # bought 1.0 at 99.5 with the mid at 100
    assert rows[1]["capture_bps"] == A(0.5 / 99.5 * 1e4, abs=1e-9)
    assert rows[-1]["spread_capture"] == 0.0  # +0.25 (maker) - 0.25 (taker flatten)
    assert rows[0]["spread_capture"] == 0.5
    assert rows[0]["notional"] == 200.0  # 99.5 + 50.25 + 50.25
    assert rows[0]["capture_bps"] == 25.0  # 0.5 / 200 x 1e4


def test_inventory_time_weighted(cat: Catalog) -> None:
    (r,) = cat.rows("SELECT * FROM inventory")
    # |position| 1.0 for 2 s (2-4), 0.5 for 8 s (4-12), flat for 20 of 30 s
    assert r["seconds"] == 30.0
    assert r["avg_abs_position"] == A(6 / 30, abs=1e-12)
    assert r["avg_position"] == A(6 / 30, abs=1e-12)
    # |inventory value|: 100 x 1 + 100.5 x 1 + 50 x 1 + 49.5 x 5 + 50.5 x 2 = 599 over 30 s
    assert r["avg_abs_inventory_usd"] == A(599 / 30, abs=1e-9)
    assert r["max_abs_position"] == 1.0 and r["max_abs_inventory_usd"] == 100.5
    assert r["time_flat"] == A(20 / 30, abs=1e-12)
    assert r["time_long"] == A(10 / 30, abs=1e-12) and r["time_short"] == 0.0
    assert r["final_position"] == 0.0


def test_daily_summary(cat: Catalog) -> None:
    (r,) = cat.rows("SELECT * FROM daily_summary")
    assert (r["run"], r["venue"], r["symbol"], str(r["date"])) == (
        "runA",
        VENUE,
        SYMBOL,
        "2024-08-08",
    )
    assert r["pnl"] == 0.96875
    assert r["fees"] == A(0.03125, abs=1e-12)
    assert r["gross_pnl"] == A(1.0, abs=1e-12)
    assert r["max_drawdown"] == 0.74375  # peak 1.0125 (t=3) -> 0.26875 (t=5)
    assert r["volume"] == 200.0 and r["fills"] == 3
    assert r["end_position"] == 0.0
    # last total in each 1 s bucket with rows: 0 1 2 3 4 5 10 12 20 30
    totals = [0, 0, 0.5125, 1.0125, 0.76875, 0.26875, 1.26875, 0.96875, 0.96875, 0.96875]
    d = [b - a for a, b in itertools.pairwise(totals)]
    sharpe = statistics.mean(d) / statistics.stdev(d) * math.sqrt(365 * 86400)
    assert r["sharpe"] == A(sharpe, rel=1e-9)


def test_views_carry_float_prices_from_the_instrument(cat: Catalog) -> None:
    (o,) = cat.rows("SELECT price_f, qty_f, filled_f FROM orders WHERE event = 'partially_filled'")
    assert o == {"price_f": 100.5, "qty_f": 1.0, "filled_f": 0.5}  # 201 x 0.5, 4 / 2 x 0.25
    (i,) = cat.rows("SELECT source, tick_size, lot_size, tick, lot FROM instruments")
    assert i == {"source": "runA", "tick_size": "0.5", "lot_size": "0.25", "tick": 0.5, "lot": 0.25}
