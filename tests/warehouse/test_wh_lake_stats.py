"""`mm lake stats`: sizes, events, spans and bytes per symbol-day match the files themselves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner
from wh_data import SPEC, T0, frame

from cli.main import app
from core.errors import LakeError
from core.lake import MARKET_TABLES, data_files
from warehouse.lake_stats import MIB, lake_stats
from warehouse.lake_writer import write_instrument, write_rows

S = 10**9
DAY = 86_400 * S


def _expected(lake: Path, table: str, venue: str, symbol: str) -> dict[str, int]:
    """Bytes, rows and span of a table read the slow way: file sizes and every time value."""
    base = lake / table / f"venue={venue}" / f"symbol={symbol}"
    size = rows = span = 0
    for d in sorted(base.glob("date=*")):
        files = data_files(d)
        size += sum(os.path.getsize(f) for f in files)
        times = [pq.read_table(f, columns=["recv_ts"])["recv_ts"] for f in files]
        rows += sum(len(t) for t in times)
        lo = min(pc.min(t).as_py() for t in times)
        hi = max(pc.max(t).as_py() for t in times)
        span += hi - lo
    return {"bytes": size, "rows": rows, "span": span}


def test_sample_lake_arithmetic(sample_lake: Path) -> None:
    stats = lake_stats(sample_lake)
    found = {(t.table, t.instrument) for t in stats.tables}
    assert len(found) == len(stats.tables)
    instruments = {"binance-usdm:BTCUSDT", "bybit:XRPUSDT", "hyperliquid:BTC"}
    assert {t.instrument for t in stats.tables} == instruments
    for t in stats.tables:
        want = _expected(sample_lake, t.table, t.venue, t.symbol)
        assert (t.bytes, t.rows, t.span_ns) == (want["bytes"], want["rows"], want["span"])
        per_row = 2 if t.table == "bbo" else 1
        assert t.events == t.rows * per_row
        assert t.bytes_per_row == t.bytes / t.rows
        assert t.bytes_per_event == t.bytes / (t.rows * per_row)
        assert t.bytes_per_day == t.bytes * 86_400 * S / t.span_ns
    btc = {t.table: t for t in stats.tables if t.instrument == "binance-usdm:BTCUSDT"}
    assert set(btc) == set(MARKET_TABLES)
    # the import report of the sample: 445,521 book rows, 21,313 trades, 66,089 bbo rows
    assert [btc[n].rows for n in MARKET_TABLES] == [445_521, 21_313, 66_089]
    assert btc["bbo"].events == 132_178
    total = next(s for s in stats.totals() if s.instrument == "binance-usdm:BTCUSDT")
    assert total.bytes == sum(t.bytes for t in btc.values())
    assert total.events == 599_012
    assert total.bytes_per_day == pytest.approx(sum(t.bytes_per_day for t in btc.values()))
    assert total.bytes_per_day is not None and total.bytes_per_day < 600 * MIB


def test_span_is_summed_over_date_partitions(tmp_path: Path) -> None:
    """Two 10 s captures a day apart cover 20 s, not a day: per day is bytes x 86,400 / 20."""
    lake = tmp_path / "lake"
    write_instrument(lake, SPEC)
    for day in (0, 1):
        rows = [
            {"recv_ts": T0 + day * DAY + i * S, "exch_ts": T0 + day * DAY + i * S, "ord": i,
             "trade_id": f"{day}-{i}", "price": 100 + i, "qty": 1, "side": 1}
            for i in range(11)
        ]  # fmt: skip
        write_rows(lake, "trades", SPEC.venue, SPEC.symbol, frame("trades", rows))
    (t,) = lake_stats(lake).tables
    assert (t.partitions, t.files, t.rows, t.span_ns) == (2, 2, 22, 20 * S)
    assert (t.first_ns, t.last_ns) == (T0, T0 + DAY + 10 * S)
    assert t.bytes_per_day == t.bytes * 86_400 / 20


def test_row_groups_without_statistics_are_read(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    d = lake / "trades" / "venue=v" / "symbol=S" / "date=2024-08-08"
    d.mkdir(parents=True)
    rows = [
        {"recv_ts": T0 + i * S, "exch_ts": T0, "ord": i, "trade_id": str(i), "price": 1,
         "qty": 1, "side": 1}
        for i in (3, 1, 7)
    ]  # fmt: skip
    pq.write_table(frame("trades", rows).to_arrow(), d / "part-0.parquet", write_statistics=False)
    assert pq.read_metadata(d / "part-0.parquet").row_group(0).column(0).statistics is None
    (t,) = lake_stats(lake).tables
    assert (t.rows, t.span_ns, t.first_ns) == (3, 6 * S, T0 + S)


def test_run_tables_have_no_events(sample_run: Path) -> None:
    stats = lake_stats(sample_run)
    assert {t.table for t in stats.tables} <= {"quotes", "orders", "fills", "pnl"}
    assert all(t.events is None and t.bytes_per_event is None for t in stats.tables)
    (total,) = stats.totals()
    assert total.events is None
    assert total.bytes == sum(t.bytes for t in stats.tables)


def test_empty_or_missing_lake_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="does not exist"):
        lake_stats(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LakeError, match="holds no table data") as e:
        lake_stats(tmp_path / "empty")
    assert e.value.hint == "import data first with `mm import`"


def test_cli(sample_lake: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["lake", "stats", "--lake", str(sample_lake), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == json.loads(json.dumps(lake_stats(sample_lake).to_dict()))
    res = runner.invoke(app, ["lake", "stats", "--lake", str(sample_lake)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == f"lake {sample_lake}"
    assert lines[1].split() == [
        "table", "instrument", "files", "rows", "events", "bytes", "B/row", "B/event", "span",
        "MiB/day",
    ]  # fmt: skip
    btc = next(s for s in lake_stats(sample_lake).totals() if s.instrument.endswith("BTCUSDT"))
    total = next(c for c in map(str.split, lines) if c[:2] == ["total", "binance-usdm:BTCUSDT"])
    assert total[2:6] == [f"{btc.files:,}", f"{btc.rows:,}", "599,012", f"{btc.bytes:,}"]
    assert btc.bytes_per_day is not None
    assert total[-1] == f"{btc.bytes_per_day / MIB:,.1f}"
    res = runner.invoke(app, ["lake", "stats", "--lake", str(tmp_path / "nope")])
    assert res.exit_code == 1
    assert res.output.strip() == (
        f"mm lake stats: error: lake {tmp_path / 'nope'} does not exist "
        "(pass the lake directory with --lake)"
    )
