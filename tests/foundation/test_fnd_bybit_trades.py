"""Bybit's official trade history (``csv.gz``) and order-book downloads carry no local
receive time: rows are exact, recv_ts is the exchange time, and the import report says
so, pointing at the feed latency a backtest then needs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from fnd_helpers import BYBIT_SAMPLE, json_output, lake_table, run_mm

from core.events import BUY, SELL

HEADER = "timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,homeNotional,foreignNotional"
ROWS = [
    "1723075200.0474,BTCUSDT,Sell,0.001,56950.10,ZeroMinusTick,d4d8a5e9-1b5e-5b0e-9f3b-0f6a,5.69501e+09,0.001,56.9501",
    "1723075200.1,BTCUSDT,Buy,0.250,56950.20,PlusTick,7c1f04a2-8a9e-5a39-a3a7-99d1,1.4237550e+12,0.25,14237.55",
    "1723075201.0000000001,BTCUSDT,Buy,0.001,56950.20,ZeroPlusTick,0f0f,5.69502e+09,0.001,56.9502",
    "1723075201.5,BTCUSDT,Buy,0.0005,56950.20,ZeroPlusTick,1e1e,5.69502e+09,0.001,56.9502",
]
NOTE = (
    "recv_ts = exchange time (the file has no receive time): "
    "set a feed latency for backtests (mm backtest --feed-latency-ms)"
)


def test_trades_csv_rows_exact_and_report_says_no_receive_time(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT2024-08-08.csv.gz"
    path.write_bytes(gzip.compress(("\n".join([HEADER, *ROWS]) + "\n").encode()))
    lake = tmp_path / "lake"
    proc = run_mm("import", str(path), "--lake", str(lake), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "imported" in out and "as bybit-trades" in out
    assert f"note: bybit-trades: {NOTE}" in out
    assert "line 4: column 'timestamp' ('1723075201.0000000001') is not a whole-ns time" in out
    assert "line 5: column 'size':" in out and "lot size 0.001" in out  # 0.0005: inexact
    t = lake_table(lake, "trades", "bybit", "BTCUSDT").sort_by("exch_ts").to_pylist()
    cols = ("recv_ts", "exch_ts", "trade_id", "price", "qty", "side")
    assert [tuple(r[c] for c in cols) for r in t] == [
        (1723075200047400000, 1723075200047400000, "d4d8a5e9-1b5e-5b0e-9f3b-0f6a", 569501, 1, SELL),
        (
            1723075200100000000,
            1723075200100000000,
            "7c1f04a2-8a9e-5a39-a3a7-99d1",
            569502,
            250,
            BUY,
        ),
    ]


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER.replace(",trdMatchID", "") + "\n")
    proc = run_mm("import", str(path), "--lake", str(tmp_path / "lake"), cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "mm import: error: t.csv: Bybit trades header lacks column(s) trdMatchID "
        "(a Bybit trades file has columns timestamp,symbol,side,size,price,trdMatchID,...)"
    )


def test_orderbook_download_report_says_no_receive_time(tmp_path: Path) -> None:
    proc = run_mm(
        "import", str(BYBIT_SAMPLE), "--lake", str(tmp_path / "lake"), "--json", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    report = json_output(proc)
    assert report["notes"] == [f"{BYBIT_SAMPLE.name}: {NOTE}"]
    assert report["files"][0]["no_recv_time"] is True


def test_backtest_applies_the_feed_latency_option(sample_lake: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ("backtest", "--lake", str(sample_lake), "--venue", "bybit", "--symbol", "XRPUSDT")
    proc = run_mm(*args, "--out", str(out), "--feed-latency-ms", "40", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json_output(proc)["book"]["gaps"] == 0
    sim = json.loads((out / "run.json").read_text())["params"]["bybit:XRPUSDT"]["sim"]
    assert (sim["md_latency"], sim["md_latency_ms"]) == ("constant", 40.0)
    bad = run_mm(*args, "--out", str(tmp_path / "bad"), "--feed-latency-ms", "-1", cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "mm backtest: error: --feed-latency-ms -1.0 must be a number >= 0"
    assert not (tmp_path / "bad").exists()
