"""PnL attribution on the hand-made run: components by hand, and they sum to total PnL."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from wh_data import FILLS, ORDERS, PNL, QUOTES, write_run

from warehouse.attribution import attribute
from warehouse.duck import Catalog, QueryError

A = pytest.approx

# per 1 s bucket with rows (t = 0 1 2 3 4 5 10 12 20 30), by hand from wh_data's timeline
PNL_CHANGE = [0, 0, 0.5125, 0.5, -0.24375, -0.5, 1.0, -0.3, 0, 0]
SPREAD = [0, 0, 0.5, 0, 0.25, 0, 0, -0.25, 0, 0]  # side x (mid_at_fill - price) x qty
INVENTORY = [0, 0, 0, 0.5, -0.5, -0.5, 1.0, 0, 0, 0]  # position_prev x (mid - mid_prev)
FEES = [0, 0, 0.0125, 0, 0.00625, 0, 0, -0.05, 0, 0]  # rebates +, taker fee -


def test_components_equal_hand_values_and_sum_to_total(hand_run: Path) -> None:
    with Catalog(runs=[hand_run]) as cat:
        (a,) = attribute(cat)
    assert a.total_pnl == 0.96875
    assert a.spread_capture == 0.5  # 0.5 + 0.25 - 0.25
    assert a.inventory == 0.5  # 0.5 - 0.5 - 0.5 + 1.0
    assert a.fees_rebates == A(-0.03125, abs=1e-12)  # 0.0125 + 0.00625 - 0.05
    assert a.residual == A(0.0, abs=1e-9)
    assert a.spread_capture + a.inventory + a.fees_rebates + a.residual == A(a.total_pnl, abs=1e-12)
    assert (a.intervals, a.fills) == (10, 3)
    assert a.variance_explained == A(1.0, abs=1e-9)


def test_intervals_and_variance_shares(hand_run: Path) -> None:
    with Catalog(runs=[hand_run]) as cat:
        rows = cat.rows("SELECT * FROM attribution_intervals ORDER BY start_ts")
        (a,) = attribute(cat)
    assert [r["pnl"] for r in rows] == A(PNL_CHANGE, abs=1e-12)
    assert [r["spread_capture"] for r in rows] == A(SPREAD, abs=1e-12)
    assert [r["inventory"] for r in rows] == A(INVENTORY, abs=1e-12)
    assert [r["fees_rebates"] for r in rows] == A(FEES, abs=1e-12)
    assert max(abs(r["residual"]) for r in rows) < 1e-9
    var = statistics.variance(PNL_CHANGE)
    assert a.spread_capture_var_share == A(
        statistics.covariance(SPREAD, PNL_CHANGE) / var, abs=1e-9
    )
    assert a.inventory_var_share == A(statistics.covariance(INVENTORY, PNL_CHANGE) / var, abs=1e-9)
    assert a.fees_rebates_var_share == A(statistics.covariance(FEES, PNL_CHANGE) / var, abs=1e-9)
    shares = [a.spread_capture_var_share, a.inventory_var_share, a.fees_rebates_var_share,
              a.residual_var_share]  # fmt: skip
    assert sum(shares) == A(1.0, abs=1e-9)


def test_coarser_buckets_keep_the_totals(hand_run: Path) -> None:
    with Catalog(runs=[hand_run]) as cat:
        (a,) = attribute(cat, bucket_ms=10_000)
    assert a.intervals == 4  # buckets 0-10, 10-20, 20-30, 30-40 s
    assert (a.spread_capture, a.inventory) == (0.5, 0.5)
    assert a.residual == A(0.0, abs=1e-9)


def test_a_fill_without_mid_lands_in_the_residual(tmp_path: Path) -> None:
    fills = [dict(f) for f in FILLS]
    fills[0]["mid_at_fill"] = float("nan")  # f1 happened before any mid was known
    run = write_run(
        tmp_path / "nomid", {"quotes": QUOTES, "orders": ORDERS, "fills": fills, "pnl": PNL}
    )
    with Catalog(runs=[run]) as cat:
        (a,) = attribute(cat)
        (cap,) = cat.rows("SELECT fills_without_mid FROM spread_capture WHERE side = 0")
    assert a.spread_capture == 0.0  # f1's 0.5 is unknown without its mid
    assert a.residual == A(0.5, abs=1e-9)
    assert a.spread_capture + a.inventory + a.fees_rebates + a.residual == A(0.96875, abs=1e-12)
    assert a.variance_explained < 1.0
    assert cap["fills_without_mid"] == 1


def test_several_runs_are_attributed_separately(hand_run: Path, tmp_path: Path) -> None:
    other = write_run(tmp_path / "runB", {"quotes": QUOTES, "orders": ORDERS, "fills": FILLS[:1],
                                          "pnl": PNL[:4]})  # fmt: skip
    with Catalog(runs=[hand_run, other]) as cat:
        res = {a.run: a for a in attribute(cat)}
        only_b = attribute(cat, run="runB")
    assert set(res) == {"runA", "runB"}
    assert res["runA"].total_pnl == 0.96875
    # runB stops at t=3: 1.0 bought at 99.5, mid 100 -> 100.5, rebate 0.0125
    assert res["runB"].total_pnl == 1.0125
    assert (res["runB"].spread_capture, res["runB"].inventory) == (0.5, 0.5)
    assert res["runB"].fees_rebates == A(0.0125, abs=1e-12)
    assert [a.run for a in only_b] == ["runB"]


def test_attribution_without_pnl_is_a_clear_error(tmp_path: Path) -> None:
    run = write_run(tmp_path / "quotes_only", {"quotes": QUOTES})
    with Catalog(runs=[run]) as cat:
        # a run directory always has run tables: absent ones are empty, not missing
        assert cat.rows("SELECT count(*) AS n FROM fills") == [{"n": 0}]
        assert attribute(cat) == []
    (tmp_path / "lake").mkdir()
    # a lake without trading: no run tables at all
    with (
        Catalog(tmp_path / "lake") as cat,
        pytest.raises(QueryError, match="cannot attribute PnL: needs pnl, fills, which have no"),
    ):
        attribute(cat)
