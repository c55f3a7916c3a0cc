"""A Binance COIN-M capture end to end through the real ``mm`` CLI: import with no flags,
verify the book, backtest with the default parameters, PnL in BTC equal to the fills'.

The capture is derived from the bundled USD-M recording by ``bench.derive_coinm`` (real
times, update ids and prices; sizes in whole 100 USD contracts), in a temporary dir.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import duckdb
import pytest

from bench.derive_coinm import SAMPLE, derive
from core.errors import LakeError
from core.instruments import InstrumentSpec, known_instrument
from core.lake import read_instrument
from warehouse.importer import SpecOverrides, detect_format, import_file
from warehouse.lake_writer import write_instrument

REPO = Path(__file__).resolve().parents[2]
SPEC = known_instrument("binance-coinm", "BTCUSD_PERP")
LINES = 40_000  # the first ~2.5 minutes of the sample: 6 fills with the default parameters
K = Fraction(SPEC.lot_size * SPEC.contract_size) / Fraction(SPEC.tick_size)  # coin per tick


def mm(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MM_")}
    env["MM_PROGRESS"] = "0"
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def coinm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the derived capture, a lake it was imported into by ``mm import FILE --lake L``)."""
    d = tmp_path_factory.mktemp("coinm")
    capture = d / "binance-coinm_btcusd_perp_20240808.gz"
    assert derive(SAMPLE, capture, lines=LINES) == LINES
    lake = d / "lake"
    proc = mm("import", str(capture), "--lake", str(lake))  # no --format, no --tick-size
    assert proc.returncode == 0, proc.stderr
    assert "imported" in proc.stdout and "binance-coinm" in proc.stdout
    return capture, lake


def test_import_detects_coinm_and_the_book_verifies(coinm: tuple[Path, Path]) -> None:
    capture, lake = coinm
    assert detect_format(capture) == "binance-coinm"
    assert detect_format(SAMPLE) == "binance-usdm"  # the USD-M loader still has its own
    proc = mm("verify-book", "--lake", str(lake), "--venue", "binance-coinm",
              "--symbol", "BTCUSD_PERP", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["crossed"] == 0 and report["gaps"] == 0
    # the Binance sync rules (diffs buffered until the snapshot, pu chaining) apply
    assert report["dropped_unsynced"] == 0 and report["final_state"] == "SYNCED"
    spec_file = lake / "instruments" / "venue=binance-coinm" / "symbol=BTCUSD_PERP" / "spec.parquet"
    row = (
        duckdb.connect()
        .execute(f"SELECT kind, contract_size, settle_currency FROM '{spec_file}'")
        .fetchone()
    )
    assert row == ("inverse", "100", "BTC")


def test_tick_and_lot_flags_keep_the_contract_inverse(coinm: tuple[Path, Path]) -> None:
    """--tick-size 0.1 --lot-size 1 (the issue's work-around) override the grid only: the
    contract stays the catalog's inverse one, so re-importing writes nothing new; a linear
    spec over the inverse data is refused."""
    capture, lake = coinm
    overrides = SpecOverrides(tick_size=SPEC.tick_size, lot_size=SPEC.lot_size)
    report = import_file(capture, lake, overrides=overrides, progress=False)
    assert report.rows and all(c["written"] == 0 for c in report.rows.values()), report.rows
    assert read_instrument(lake, "binance-coinm", "BTCUSD_PERP") == SPEC
    linear = InstrumentSpec("binance-coinm", "BTCUSD_PERP", SPEC.tick_size, SPEC.lot_size)
    with pytest.raises(LakeError, match="inverse contract 100 USD"):
        write_instrument(lake, linear)


ENGINES = ("compiled", "python")


@pytest.fixture(scope="module")
def runs(
    coinm: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """The default ``mm backtest`` of the capture on each engine: (run dir, process)."""
    _, lake = coinm
    out = {}
    for engine in ENGINES:
        run = tmp_path_factory.mktemp(f"run-{engine}")
        proc = mm("backtest", "--lake", str(lake), "--venue", "binance-coinm",
                  "--symbol", "BTCUSD_PERP", "--out", str(run), "--engine", engine, "--force")  # fmt: skip
        out[engine] = (run, proc)
    return out


def _table(run: Path, table: str) -> list[tuple]:
    return (
        duckdb.connect()
        .execute(
            f"SELECT * EXCLUDE (run_id) FROM read_parquet('{run}/{table}/**/*.parquet') "
            "ORDER BY recv_ts, seq"
        )
        .fetchall()
    )


def test_compiled_and_reference_runs_agree_bit_for_bit(runs: dict) -> None:
    """Every run table (floats by repr: NaN == NaN, -0.0 != 0.0) and the exact PnL."""
    for table in ("quotes", "orders", "fills", "pnl"):
        a, b = (_table(runs[e][0], table) for e in ENGINES)
        assert len(a) == len(b) > 0, table
        assert [tuple(map(repr, r)) for r in a] == [tuple(map(repr, r)) for r in b], table
    sa, sb = (json.loads((runs[e][0] / "summary.json").read_text()) for e in ENGINES)
    for key in ("net_pnl_exact", "fees_exact", "net_pnl", "realized_pnl", "max_drawdown"):
        assert sa[key] == sb[key], key


@pytest.mark.parametrize("engine", ENGINES)
def test_default_backtest_quotes_fills_and_reports_btc_pnl(
    coinm: tuple[Path, Path], runs: dict, engine: str
) -> None:
    _, lake = coinm
    out, proc = runs[engine]
    assert proc.returncode == 0, proc.stderr
    assert "can never quote" not in proc.stderr
    net_line = next(line for line in proc.stdout.splitlines() if "net PnL" in line)
    assert net_line.split()[3] == "BTC"
    s = json.loads((out / "summary.json").read_text())
    assert s["pnl_currency"] == "BTC" and s["kind"] == "inverse"
    assert s["orders_placed"] > 0 and s["fills"] > 0

    fills = (
        duckdb.connect()
        .execute(
            f"SELECT side, price, qty, fee_units, notional, fee FROM read_parquet('{out}/fills/**/*.parquet') "
            "ORDER BY recv_ts, seq"
        )
        .fetchall()
    )
    last_mid = (
        duckdb.connect()
        .execute(
            f"SELECT mid FROM read_parquet('{out}/pnl/**/*.parquet') ORDER BY recv_ts DESC, seq DESC LIMIT 1"
        )
        .fetchone()[0]
    )
    assert len(fills) == s["fills"]
    # by hand: cash = sum(side q K / p), fees = sum(fee_units K / (p 1e8)), marked at mid
    mid_x2 = round(last_mid * 2 / float(SPEC.tick_size))
    cash = sum(Fraction(side * qty) * K / price for side, price, qty, *_ in fills)
    fees = sum(Fraction(fu) * K / (price * 10**8) for _, price, _, fu, *_ in fills)
    position = sum(side * qty for side, _, qty, *_ in fills)
    net = cash - Fraction(2 * position) * K / mid_x2 - fees
    assert Fraction(s["net_pnl_exact"]) == net
    assert Fraction(s["fees_exact"]) == fees
    assert s["net_pnl"] == float(net) and s["fees"] == float(fees)  # correctly rounded
    assert s["volume"] == 100.0 * sum(f[2] for f in fills)  # USD notional traded
    for _side, price, qty, fu, notional, fee in fills:
        assert notional == qty * 100.0  # USD: contracts x contract size
        assert fee == pytest.approx(float(Fraction(fu) * K / (price * 10**8)), rel=1e-12)
    # the DuckDB instruments view names the PnL currency of the run
    proc = mm("sql", "SELECT kind, contract_size, settle_currency FROM instruments", "--lake",
              str(lake), "--run", str(out), "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    rows = rows["rows"] if isinstance(rows, dict) else rows
    assert {tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows} == {
        ("inverse", "100", "BTC")
    }
