"""End-to-end replay backtests through the real dataflow, simulated venue and run tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from bt_helpers import MS, SPEC, T0

from core.params import StrategyParams
from flows.replay_backtest import lake_backtest
from warehouse.runner import run_flow

pytestmark = pytest.mark.usefixtures("both_engines")  # the reference and the compiled loop

REPO = Path(__file__).resolve().parents[2]
INST = SPEC.id


def scenario_params(**risk: object) -> StrategyParams:
    p = StrategyParams()
    quote = p.quote.model_copy(
        update={
            "use_regimes": False,
            "base_spread_bps": 20.0,
            "warmup_vol_bps": 0.0,
            "order_size_usd": 1000.0,
        }
    )
    r = p.risk.model_copy(update={"max_position_usd": 5000.0, **risk})
    sim = p.sim.model_copy(
        update={"order_latency_ms": 1.0, "response_latency_ms": 1.0, "md_latency_ms": 0.0}
    )
    return p.model_copy(update={"quote": quote, "risk": r, "sim": sim})


def read(run: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(run / table / "**" / "*.parquet", hive_partitioning=False).sort(
        ["recv_ts", "seq"]
    )


def run_scenario(lake: Path, out: Path, params: StrategyParams) -> dict:
    run_flow(lake_backtest(lake, [INST], out, {INST: params}))
    return json.loads((out / "summary.json").read_text())


def test_hand_computed_fill_fee_and_pnl(scenario_lake: Path, tmp_path: Path) -> None:
    # mid 100.05 = 10005 ticks; half spread max(20/2, 0 x 1.5) = 10 bps = 10.005 ticks
    # bid 9994.995 -> floor 9994 (99.94); ask 10015.005 -> ceil 10016 (100.16)
    # sizes: 1000 / 99.94 = 10.006 -> 10 lots; 1000 / 100.16 = 9.98 -> 9 lots
    s = run_scenario(scenario_lake, tmp_path / "run", scenario_params())
    quotes = read(tmp_path / "run", "quotes")
    first = quotes.filter(pl.col("seq") == 1)
    assert sorted(zip(first["side"], first["price"], first["qty"], strict=True)) == [
        (-1, 10016, 9),
        (1, 9994, 10),
    ]

    # the sell trade of 4 at 99.94 (t0 + 20 ms) meets our bid, which joined an empty level at
    # t0 + 1 ms: queue ahead 0 -> we buy 4 of 10 as maker
    fills = read(tmp_path / "run", "fills")
    assert fills.height == 1
    f = fills.row(0, named=True)
    assert (f["side"], f["price"], f["qty"], f["is_maker"], f["position_after"]) == (
        1,
        9994,
        4,
        True,
        4,
    )
    assert f["recv_ts"] == T0 + 21 * MS  # trade at venue t0 + 20 ms, response latency 1 ms
    # maker fee -0.015 %: 9994 ticks x 4 lots x -15,000 = -599,640,000 fee units = -0.059964 USDT
    assert f["fee_units"] == -599_640_000
    assert f["fee"] == pytest.approx(-0.059964, abs=1e-15)
    assert f["mid_at_fill"] == pytest.approx(100.05)
    assert f["mid_1s"] == pytest.approx(100.05)  # first mid >= fill + 1 s (the t0 + 2 s message)

    # net = 4 x (100.05 - 99.94) + 0.059964 rebate = 0.44 + 0.059964
    assert Decimal(s["net_pnl_exact"]) == Decimal("0.499964")
    assert Decimal(s["fees_exact"]) == Decimal("-0.059964")
    assert s["fills"] == 1 and s["maker_share"] == 1.0 and s["final_position"] == 4.0
    assert s["markouts"]["1s"] == {"fills": 1, "avg_bps": round((100.05 - 99.94) / 99.94 * 1e4, 4)}
    pnl = read(tmp_path / "run", "pnl")
    assert pnl["total"][-1] == pytest.approx(0.499964, abs=1e-12)


def test_risk_breach_acts_on_the_same_event(scenario_lake: Path, tmp_path: Path) -> None:
    # max position 400 USD at mid 100.05 -> floor(3.998) = 3 lots: the bid is sized 3 lots, the
    # 4-lot trade fills all 3 -> position 3 = limit -> POSITION_LIMIT on that very event:
    # no bid is quoted from then on and the quotes table records it at the fill time
    s = run_scenario(scenario_lake, tmp_path / "run", scenario_params(max_position_usd=400.0))
    fills = read(tmp_path / "run", "fills")
    assert fills["qty"].to_list() == [3]
    fill_ts = fills["recv_ts"][0]
    quotes = read(tmp_path / "run", "quotes")
    after = quotes.filter(pl.col("recv_ts") == fill_ts)
    assert after.height > 0 and set(after["side"].to_list()) == {-1}
    assert set(after["risk_state"].to_list()) == {1}  # POSITION_LIMIT
    pnl = read(tmp_path / "run", "pnl")
    assert pnl.filter(pl.col("recv_ts") == fill_ts)["risk_state"].to_list()[-1] == 1
    assert s["final_position"] == 3.0


def test_sample_backtest_is_deterministic_and_complete(sample_lake: Path, tmp_path: Path) -> None:
    end = "2024-08-08T23:57:00Z"
    inst = "binance-usdm:BTCUSDT"
    params = StrategyParams()
    from core.timeutil import parse_time

    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        run_flow(lake_backtest(sample_lake, [inst], out, {inst: params}, end_ns=parse_time(end)))
        runs.append(out)
    sa, sb = (json.loads((r / "summary.json").read_text()) for r in runs)
    for key in ("wall_time_s", "events_per_s"):
        sa.pop(key), sb.pop(key)
    assert sa == sb
    ids = [json.loads((r / "run.json").read_text())["run_id"] for r in runs]
    assert ids[0] != ids[1]  # two runs; the same rows apart from the run id they carry
    for table in ("quotes", "orders", "fills", "pnl"):
        a, b = read(runs[0], table), read(runs[1], table)
        assert [set(t["run_id"]) for t in (a, b)] == [{ids[0]}, {ids[1]}], table
        assert a.drop("run_id").equals(b.drop("run_id")), table
    # the summary carries every figure the issue asks for
    for key in (
        "net_pnl",
        "fees",
        "return_pct",
        "sharpe_annualized",
        "max_drawdown",
        "fills",
        "maker_share",
        "fill_rate",
        "cancel_ratio",
        "avg_abs_inventory",
        "max_abs_inventory",
        "markouts",
        "events",
        "wall_time_s",
    ):
        assert key in json.loads((runs[0] / "summary.json").read_text()), key
    assert sa["events"] > 100_000 and sa["book"]["crossed"] == 0


def test_bytewax_run_matches_in_process_run(scenario_lake: Path, tmp_path: Path) -> None:
    params_file = tmp_path / "params.yaml"
    import yaml

    params_file.write_text(yaml.safe_dump(scenario_params().model_dump(mode="json")))
    env = {
        **os.environ,
        "MM_LAKE": str(scenario_lake),
        "MM_VENUE": SPEC.venue,
        "MM_SYMBOLS": SPEC.symbol,
        "MM_OUT": str(tmp_path / "cli"),
        "MM_PARAMS_FILE": str(params_file),
        "MM_PROGRESS": "0",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bytewax.run", "flows.replay_backtest"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    run_scenario(scenario_lake, tmp_path / "inproc", scenario_params())
    for table in ("fills", "orders"):  # two runs: the same rows, each under its own run id
        cli, inproc = (read(tmp_path / d, table).drop("run_id") for d in ("cli", "inproc"))
        assert cli.equals(inproc), table


def mm(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MM_PROGRESS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(proc: subprocess.CompletedProcess[str], command: str) -> str:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mm {command}: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_cli_backtest_bad_inputs(scenario_lake: Path, tmp_path: Path) -> None:
    line = one_line_error(
        mm("backtest", "--lake", str(tmp_path / "nope"), "--out", str(tmp_path / "r")), "backtest"
    )
    assert "does not exist" in line
    line = one_line_error(
        mm(
            "backtest",
            "--lake",
            str(scenario_lake),
            "--venue",
            "bybit",
            "--symbol",
            "NOPE",
            "--out",
            str(tmp_path / "r"),
        ),
        "backtest",
    )
    assert "no instrument bybit:NOPE" in line
    bad = tmp_path / "bad.yaml"
    bad.write_text("quote:\n  base_spread_bps: -1\n")
    line = one_line_error(
        mm(
            "backtest",
            "--lake",
            str(scenario_lake),
            "--venue",
            "bybit",
            "--symbol",
            "TESTUSDT",
            "--params",
            str(bad),
            "--out",
            str(tmp_path / "r"),
        ),
        "backtest",
    )
    assert "params.quote.base_spread_bps" in line
    ok = mm(
        "backtest",
        "--lake",
        str(scenario_lake),
        "--venue",
        "bybit",
        "--symbol",
        "TESTUSDT",
        "--out",
        str(tmp_path / "r"),
        "--json",
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["instrument"] == "bybit:TESTUSDT"
    line = one_line_error(
        mm(
            "backtest",
            "--lake",
            str(scenario_lake),
            "--venue",
            "bybit",
            "--symbol",
            "TESTUSDT",
            "--out",
            str(tmp_path / "r"),
        ),
        "backtest",
    )
    assert "already holds a run" in line and "--force" in line
