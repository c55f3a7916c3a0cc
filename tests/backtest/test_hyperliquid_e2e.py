"""The bundled Hyperliquid capture end to end: ``mm import`` then ``mm backtest``.

46 full 20-level l2Book snapshots and 64 trades of BTC (25 s). The parameters quote at
the mid, 3 levels a side closer than a tick apart: each level is the previous one
-/+ 1 tick, which above 100,000 USDC is never a valid price (integers only), so every
level is rounded again. Both engines give the same summary; the simulated venue rejects
none of our prices (before the re-rounding it rejected 6 of the 8 orders placed as
"invalid price" and nothing filled); the one reject is a late amend that would have
crossed, in Hyperliquid's words. Fees are the Hyperliquid defaults: maker -0.015 % (a rebate).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli.main import app
from connectors.sim.venue import R_CROSS_HL

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "hyperliquid_btc_20250126.gz"
PARAMS = """\
quote:
  base_spread_bps: 0.0
  vol_multiplier: 0.0
  warmup_vol_bps: 0.0
  use_regimes: false
  levels: 3
  level_spacing_bps: 0.01
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hl_e2e")
    lake = d / "lake"
    cli = CliRunner()
    res = cli.invoke(app, ["import", str(SAMPLE), "--lake", str(lake)])
    assert res.exit_code == 0, res.output
    (d / "params.yaml").write_text(PARAMS)
    out = {}
    for engine in ("python", "compiled"):
        out[engine] = d / engine
        args = ["backtest", "--lake", str(lake), "--venue", "hyperliquid", "--symbol", "BTC",
                "--params", str(d / "params.yaml"), "--engine", engine, "--out", str(d / engine)]  # fmt: skip
        res = cli.invoke(app, args)
        assert res.exit_code == 0, res.output
    return out


def _summary(run: Path) -> dict:
    s = json.loads((run / "summary.json").read_text())
    return {k: v for k, v in s.items() if k not in ("wall_time_s", "events_per_s", "run_id")}


def test_both_engines_give_the_same_summary(runs: dict[str, Path]) -> None:
    assert _summary(runs["python"]) == _summary(runs["compiled"])


def test_fills_fees_and_rejects_are_pinned(runs: dict[str, Path]) -> None:
    s = _summary(runs["compiled"])
    assert (s["fills"], s["maker_fills"], s["rejects"]) == (5, 5, 1)
    assert s["net_pnl_exact"] == "0.0610755475"
    # the default maker rebate: volume 499.00365 USDC x -0.015 % = -0.0748505475 USDC
    assert (s["volume"], s["fees_exact"]) == (499.00365, "-0.0748505475")
    orders = pl.read_parquet(runs["compiled"] / "orders" / "**" / "*.parquet")
    rejected = orders.filter(pl.col("event") == "rejected")["reason"].to_list()
    assert rejected == [R_CROSS_HL]
