"""The metrics endpoint of a paper run against the fake Bybit agrees with the run's own
lake: fills, filled volume, position, PnL, fees, order actions."""

from __future__ import annotations

import json

import polars as pl
import pytest
from live_helpers import read_table
from metrics_helpers import SECRET_ENV, MetricsRun

from monitoring.metrics import LABEL_VALUE

pytestmark = pytest.mark.venue
XRP = {"venue": "bybit", "symbol": "XRPUSDT"}


def test_fill_counters_equal_the_lakes_fills(metrics_paper_run: MetricsRun) -> None:
    s, lake = metrics_paper_run.scrape, metrics_paper_run.run.lake
    assert metrics_paper_run.run.proc.exit_code == 0
    fills = read_table(lake, "fills")
    assert fills.height >= 4
    for liq, maker in (("maker", True), ("taker", False)):
        mine = fills.filter(pl.col("is_maker") == maker)
        assert s.value("mm_fills_total", **XRP, liquidity=liq) == mine.height
        assert s.value("mm_filled_volume_total", **XRP, liquidity=liq) == float(
            mine["qty_f"].sum() if mine.height else 0.0
        )
        assert s.value("mm_filled_notional_total", **XRP, liquidity=liq) == pytest.approx(
            float((mine["price_f"] * mine["qty_f"]).sum() if mine.height else 0.0), rel=1e-12
        )
    [run_id] = set(fills["run_id"])
    summary = json.loads((lake / "runs" / run_id / "summary.json").read_text())
    assert s.value("mm_fills_total", **XRP) == summary["fills"]


def test_position_and_pnl_gauges_equal_the_lakes_pnl_rows(metrics_paper_run: MetricsRun) -> None:
    s, lake = metrics_paper_run.scrape, metrics_paper_run.run.lake
    pnl = read_table(lake, "pnl")
    last = pnl.row(-1, named=True)  # the shutdown's row: no fill since the scrape
    assert s.value("mm_position", **XRP) == last["position_f"]
    assert s.value("mm_realized_pnl", **XRP) == last["realized"]
    assert s.value("mm_fees", **XRP) == last["fees"]
    # the gauges are one PnL row, exactly (unrealized moves with the mid after the scrape)
    cols = ("position_f", "realized", "unrealized", "fees", "total", "drawdown", "risk_state")
    names = ("mm_position", "mm_realized_pnl", "mm_unrealized_pnl", "mm_fees", "mm_total_pnl",
             "mm_drawdown", "mm_risk_state")  # fmt: skip
    got = tuple(s.value(n, **XRP) for n in names)
    rows = {tuple(float(r[c]) for c in cols) for r in pnl.iter_rows(named=True)}
    assert got in rows
    [run_id] = set(pnl["run_id"])
    summary = json.loads((lake / "runs" / run_id / "summary.json").read_text())
    assert s.value("mm_realized_pnl", **XRP) == pytest.approx(summary["realized_pnl"], abs=1e-12)
    assert s.value("mm_position_limit_usd", **XRP) > 0


def test_order_actions_and_latency_are_counted(metrics_paper_run: MetricsRun) -> None:
    s, lake = metrics_paper_run.scrape, metrics_paper_run.run.lake
    orders = read_table(lake, "orders")
    for action in ("place", "amend", "cancel"):
        mine = orders.filter(pl.col("event") == action)
        before = mine.filter(pl.col("recv_ts") < s.t0_ns - 50_000_000).height  # surely counted
        upto = mine.filter(pl.col("recv_ts") <= s.t1_ns).height  # at most these
        assert before <= s.value("mm_order_actions_total", **XRP, action=action) <= upto, action
    assert s.value("mm_order_actions_total", **XRP, action="place") > 0
    decisions = s.value("mm_tick_to_decision_seconds_count", **XRP)
    assert decisions > 0 and s.value("mm_tick_to_decision_seconds_sum", **XRP) / decisions < 1.0
    assert s.value("mm_message_lag_seconds_count", **XRP) > 0
    assert s.value("mm_ws_reconnects_total", **XRP, stream="public") == 0
    assert s.value("mm_book_resyncs_total", **XRP) == 0


def test_no_config_value_in_any_label_or_value(metrics_paper_run: MetricsRun) -> None:
    s = metrics_paper_run.scrape
    fake = metrics_paper_run.run.fake
    for secret in (*SECRET_ENV.values(), fake.api_key, fake.api_secret, fake.rest_url):
        assert secret not in s.text
    proc = metrics_paper_run.run.proc
    assert proc.events("notifier_started")  # it ran (and failed against a refused port)
    logged = proc.text()
    for secret in ("hook-SECRET-abc", "telegram-SECRET-token"):
        assert secret not in logged
    for name, labels, _value in s.samples():
        assert name.startswith("mm_") or name.startswith(("python_", "process_")), name
        for key, value in labels.items():
            if key != "le":
                assert LABEL_VALUE.match(value), (name, key, value)
