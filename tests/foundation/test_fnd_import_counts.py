"""Each importer on the bundled recordings: exact rows, checked against the raw lines.

Expected rows come from conftest's plain-``json`` + ``Decimal`` reading of the same
files; the lake side is read straight from the Parquet files with pyarrow's hive
partitioning, not through the project's readers.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fnd_helpers import (
    expected_binance,
    expected_bybit,
    expected_hyperliquid,
    lake_table,
)


def book_multiset(t) -> Counter:  # type: ignore[no-untyped-def]
    cols = [t.column(c).to_pylist() for c in ("recv_ts", "kind", "side", "price", "qty")]
    return Counter(zip(*cols, strict=True))


def test_binance_rows_match_raw_lines(sample_lake: Path, binance_lines: list[bytes]) -> None:
    exp = expected_binance(binance_lines)
    # the numbers: 443,521 diff levels + the 2,000-level REST snapshot
    assert len(binance_lines) == 93_954
    assert (len(exp.book), len(exp.trades), len(exp.bbo)) == (445_521, 21_313, 66_089)
    assert exp.book_messages == 6_552  # 6,551 diffs + 1 snapshot

    book = lake_table(sample_lake, "book_deltas", "binance-usdm", "BTCUSDT")
    trades = lake_table(sample_lake, "trades", "binance-usdm", "BTCUSDT")
    bbo = lake_table(sample_lake, "bbo", "binance-usdm", "BTCUSDT")
    assert (book.num_rows, trades.num_rows, bbo.num_rows) == (445_521, 21_313, 66_089)

    # same rows, not just the same number of rows
    assert book_multiset(book) == Counter(exp.book)
    got_trades = sorted(
        zip(
            *(trades.column(c).to_pylist() for c in ("trade_id", "price", "qty", "side")),
            strict=True,
        )
    )
    assert got_trades == sorted(exp.trades)
    cols = ("seq", "bid_price", "bid_qty", "ask_price", "ask_qty")
    got_bbo = Counter(zip(*(bbo.column(c).to_pylist() for c in cols), strict=True))
    assert got_bbo == Counter(exp.bbo)

    # the snapshot is one message: 2,000 rows sharing its update id, kind 1
    snap = book.filter(book.column("kind").to_numpy() == 1)
    assert snap.num_rows == 2_000
    assert set(snap.column("seq").to_pylist()) == {5_123_107_852_948}
    # each message has exactly one FIRST (1) and one LAST (2) flag
    flags = Counter(book.column("flags").to_pylist())
    assert flags[1] + flags[3] == flags[2] + flags[3] == 6_552


def test_bybit_rows_match_raw_lines(sample_lake: Path, bybit_lines: list[bytes]) -> None:
    exp = expected_bybit(bybit_lines)
    assert len(bybit_lines) == 50 and exp.book_messages == 50
    assert len(exp.book) == 3_966
    book = lake_table(sample_lake, "book_deltas", "bybit", "XRPUSDT")
    assert book.num_rows == 3_966
    assert book_multiset(book) == Counter(exp.book)
    # contiguous update ids u = 20254869 .. 20254918, one per message
    assert sorted(set(book.column("seq").to_pylist())) == list(range(20_254_869, 20_254_919))
    assert lake_table(sample_lake, "trades", "bybit", "XRPUSDT").num_rows == 0


def test_hyperliquid_rows_match_raw_lines(
    sample_lake: Path, hyperliquid_lines: list[bytes]
) -> None:
    exp = expected_hyperliquid(hyperliquid_lines)
    assert exp.book_messages == 46
    assert (len(exp.book), len(exp.trades)) == (1_840, 64)
    book = lake_table(sample_lake, "book_deltas", "hyperliquid", "BTC")
    trades = lake_table(sample_lake, "trades", "hyperliquid", "BTC")
    assert (book.num_rows, trades.num_rows) == (1_840, 64)
    assert book_multiset(book) == Counter(exp.book)
    got = sorted(
        zip(
            *(trades.column(c).to_pylist() for c in ("trade_id", "price", "qty", "side")),
            strict=True,
        )
    )
    assert got == sorted(exp.trades)
    assert set(book.column("kind").to_pylist()) == {1}  # every l2Book is a full snapshot


def test_empty_book_message_keeps_one_sentinel_row(tmp_path: Path) -> None:
    """A Binance diff without level changes still advances the pu chain: one row, side 0."""
    from warehouse.importer import import_file

    lines = [
        b'1000000000000000000 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate",'
        b'"E":1000,"T":1000,"s":"BTCUSDT","U":10,"u":12,"pu":9,"b":[["100.0","1.000"]],"a":[]}}',
        b'1000000000000000001 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate",'
        b'"E":1001,"T":1001,"s":"BTCUSDT","U":13,"u":13,"pu":12,"b":[],"a":[]}}',
    ]
    src = tmp_path / "two.txt"
    src.write_bytes(b"\n".join(lines) + b"\n")
    exp = expected_binance(lines)
    assert len(exp.book) == 2
    import_file(src, tmp_path / "lake", progress=False)
    book = lake_table(tmp_path / "lake", "book_deltas", "binance-usdm", "BTCUSDT")
    assert book_multiset(book) == Counter(exp.book)
    sentinel = book.filter(book.column("seq").to_numpy() == 13).to_pylist()
    assert len(sentinel) == 1
    s = sentinel[0]
    assert (s["side"], s["price"], s["qty"], s["prev_seq"], s["flags"]) == (0, 0, 0, 12, 3)


def test_instrument_spec_table(sample_lake: Path) -> None:
    specs = {}
    for path in sorted((sample_lake / "instruments").glob("venue=*/symbol=*/spec.parquet")):
        row = pq.read_table(path).to_pylist()
        assert len(row) == 1
        venue = path.parent.parent.name.removeprefix("venue=")
        symbol = path.parent.name.removeprefix("symbol=")
        specs[f"{venue}:{symbol}"] = row[0]
    assert sorted(specs) == ["binance-usdm:BTCUSDT", "bybit:XRPUSDT", "hyperliquid:BTC"]
    b = specs["binance-usdm:BTCUSDT"]
    assert (Decimal(b["tick_size"]), Decimal(b["lot_size"])) == (Decimal("0.1"), Decimal("0.001"))
    assert b["price_sig_figs"] is None and b["quote_currency"] == "USDT"
    x = specs["bybit:XRPUSDT"]
    assert (Decimal(x["tick_size"]), Decimal(x["lot_size"])) == (Decimal("0.0001"), Decimal("1"))
    h = specs["hyperliquid:BTC"]
    assert (Decimal(h["tick_size"]), Decimal(h["lot_size"])) == (Decimal("0.1"), Decimal("0.00001"))
    assert h["price_sig_figs"] == 5 and h["quote_currency"] == "USDC"
    # partition values live in the path only
    assert "venue" not in h and "symbol" not in h


EXPECTED_PARTITIONS = {
    ("book_deltas", "binance-usdm", "BTCUSDT", "2024-08-08"),
    ("trades", "binance-usdm", "BTCUSDT", "2024-08-08"),
    ("bbo", "binance-usdm", "BTCUSDT", "2024-08-08"),
    ("book_deltas", "bybit", "XRPUSDT", "2024-12-01"),
    ("book_deltas", "hyperliquid", "BTC", "2025-01-26"),
    ("trades", "hyperliquid", "BTC", "2025-01-26"),
}


def test_hive_layout_and_zstd(sample_lake: Path) -> None:
    found = set()
    for f in sample_lake.rglob("*.parquet"):
        rel = f.relative_to(sample_lake).parts
        if rel[0] == "instruments":
            continue
        table, venue, symbol, day, name = rel
        assert venue.startswith("venue=") and symbol.startswith("symbol=")
        assert day.startswith("date=") and name.startswith("part-") and not name.startswith(".")
        found.add((table, venue[6:], symbol[7:], day[5:]))
        meta = pq.ParquetFile(f).metadata
        cols = {meta.schema.column(i).name for i in range(meta.num_columns)}
        assert not cols & {"venue", "symbol", "date"}, f  # partition columns: path only
        for rg in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                assert meta.row_group(rg).column(c).compression == "ZSTD", (f, c)
    assert found == EXPECTED_PARTITIONS
    # every row's recv_ts falls on its partition's UTC date
    for table, venue, symbol, day in EXPECTED_PARTITIONS:
        t = lake_table(sample_lake, table, venue, symbol)
        days = {
            str(d) for d in t.column("recv_ts").cast("timestamp[ns]").cast("date32").to_pylist()
        }
        assert days == {day}
    # no staging or temp files left behind
    assert not list(sample_lake.rglob(".*"))


@pytest.mark.parametrize(
    ("venue", "symbol"), [("binance-usdm", "BTCUSDT"), ("bybit", "XRPUSDT"), ("hyperliquid", "BTC")]
)
def test_rows_are_sorted_by_receive_time(sample_lake: Path, venue: str, symbol: str) -> None:
    for f in (sample_lake / "book_deltas" / f"venue={venue}" / f"symbol={symbol}").rglob(
        "*.parquet"
    ):
        t = pq.read_table(f)
        keys = list(zip(t.column("recv_ts").to_pylist(), t.column("ord").to_pylist(), strict=True))
        assert keys == sorted(keys)
        assert len(set(t.column("ord").to_pylist())) == t.num_rows  # ord is unique per row
