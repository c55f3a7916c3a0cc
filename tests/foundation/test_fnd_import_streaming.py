"""The streaming import on part of the Binance sample with small chunk, window and row-group
sizes, so 30k lines exercise what a day does: many chunks and runs, merge passes, windows
that cut across existing row groups, key buckets on disk, several date partitions.

Every lake is checked row for row against the independent json + Decimal reading.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fnd_helpers import Expected, expected_binance, lake_table

import warehouse.import_runs as import_runs
import warehouse.partition_merge as partition_merge
from core.timeutil import NS_PER_DAY
from warehouse.importer import import_file

V, S = "binance-usdm", "BTCUSDT"
BOOK_COLS = ("recv_ts", "kind", "side", "price", "qty")
TRADE_COLS = ("trade_id", "price", "qty", "side")
BBO_COLS = ("seq", "bid_price", "bid_qty", "ask_price", "ask_qty")


@pytest.fixture(scope="module")
def lines(binance_lines: list[bytes]) -> list[bytes]:
    return binance_lines[:30_000]


@pytest.fixture(scope="module")
def capture(lines: list[bytes], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("capture") / "head30k.txt", lines)


@pytest.fixture(scope="module")
def expected(lines: list[bytes]) -> Expected:
    return expected_binance(lines)


@pytest.fixture
def small_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_runs, "CHUNK_ROWS", 15_000)
    monkeypatch.setattr(partition_merge, "ROW_GROUP_ROWS", 20_000)
    monkeypatch.setattr(partition_merge, "WINDOW_ROWS", 10_000)
    monkeypatch.setattr(partition_merge, "FAN_IN", 3)
    monkeypatch.setattr(partition_merge, "BUCKET_ROWS", 5_000)


def _rows(t: pa.Table, cols: tuple[str, ...]) -> Counter:
    return Counter(zip(*(t.column(c).to_pylist() for c in cols), strict=True))


def assert_lake_is(lake: Path, exp: Expected) -> None:
    assert _rows(lake_table(lake, "book_deltas", V, S), BOOK_COLS) == Counter(exp.book)
    assert _rows(lake_table(lake, "trades", V, S), TRADE_COLS) == Counter(exp.trades)
    assert _rows(lake_table(lake, "bbo", V, S), BBO_COLS) == Counter(exp.bbo)


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _partition_files(lake: Path, table: str) -> list[Path]:
    return sorted((lake / table / f"venue={V}" / f"symbol={S}").rglob("*.parquet"))


def _assert_sorted_file(f: Path) -> None:
    t = pq.read_table(f)
    keys = list(zip(t.column("recv_ts").to_pylist(), t.column("ord").to_pylist(), strict=True))
    assert keys == sorted(keys), f


def test_one_sorted_file_per_partition_with_bounded_row_groups(
    small_sizes: None, tmp_path: Path, capture: Path, expected: Expected
) -> None:
    lake = tmp_path / "lake"
    report = import_file(capture, lake, progress=False)
    assert_lake_is(lake, expected)
    counts = (len(expected.book), len(expected.trades), len(expected.bbo))
    assert counts == (152_066, 4_565, 23_053)
    for table, rows in zip(("book_deltas", "trades", "bbo"), counts, strict=True):
        (f,) = _partition_files(lake, table)
        meta = pq.ParquetFile(f).metadata
        sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        assert sum(sizes) == rows == report.rows[f"{table} {V}:{S}"]["written"]
        assert all(n == 20_000 for n in sizes[:-1]) and 0 < sizes[-1] <= 20_000
        _assert_sorted_file(f)


def test_out_of_order_and_repeated_lines(
    small_sizes: None, tmp_path: Path, lines: list[bytes], expected: Expected
) -> None:
    """Blocks in reverse order make one run per chunk (merged in passes of 3); a block
    recorded twice is stored once, as its first occurrence."""
    blocks = [lines[i : i + 2_500] for i in range(0, len(lines), 2_500)]
    again = blocks[3]
    shuffled = [ln for b in reversed(blocks) for ln in b] + again
    lake = tmp_path / "lake"
    report = import_file(_write(tmp_path / "shuffled.txt", shuffled), lake, progress=False)
    assert_lake_is(lake, expected)
    dup = expected_binance(again)
    assert report.rows[f"trades {V}:{S}"]["duplicates"] == len(dup.trades)
    assert report.rows[f"book_deltas {V}:{S}"]["duplicates"] == len(dup.book)
    for table in ("book_deltas", "trades", "bbo"):
        (f,) = _partition_files(lake, table)
        _assert_sorted_file(f)
    # the kept copy of the repeated block is the first one (lower line numbers)
    trades = lake_table(lake, "trades", V, S)
    ids = set(re.findall(rb'"t":(\d+)', b"".join(again)))
    lines_of_repeat = {
        o >> 20
        for o, tid in zip(
            trades.column("ord").to_pylist(), trades.column("trade_id").to_pylist(), strict=True
        )
        if tid.encode() in ids
    }
    assert max(lines_of_repeat) <= len(shuffled) - len(again)


def test_overlapping_imports_write_exactly_the_missing_rows(
    small_sizes: None, tmp_path: Path, lines: list[bytes], capture: Path, expected: Expected
) -> None:
    head, tail = lines[:20_000], lines[10_000:]
    lake = tmp_path / "lake"
    import_file(_write(tmp_path / "head.txt", head), lake, progress=False)
    report = import_file(_write(tmp_path / "tail.txt", tail), lake, progress=False)
    exp_tail, exp_overlap = expected_binance(tail), expected_binance(lines[10_000:20_000])
    for table, name in (("book", "book_deltas"), ("trades", "trades"), ("bbo", "bbo")):
        n_tail, n_overlap = len(getattr(exp_tail, table)), len(getattr(exp_overlap, table))
        assert report.rows[f"{name} {V}:{S}"] == {
            "parsed": n_tail,
            "written": n_tail - n_overlap,
            "duplicates": n_overlap,
        }
    assert_lake_is(lake, expected)
    # and the whole file once more adds nothing
    again = import_file(capture, lake, progress=False)
    assert all(c["written"] == 0 for c in again.rows.values())
    assert len(_partition_files(lake, "book_deltas")) == 2


def test_existing_file_out_of_time_order_is_still_deduped(
    small_sizes: None, tmp_path: Path, lines: list[bytes], capture: Path, expected: Expected
) -> None:
    """A partition file another tool wrote unsorted: dedupe falls back to key buckets."""
    lake = tmp_path / "lake"
    import_file(_write(tmp_path / "head.txt", lines[:15_000]), lake, progress=False)
    for table in ("book_deltas", "bbo"):
        (f,) = _partition_files(lake, table)
        t = pq.read_table(f)
        perm = np.random.default_rng(7).permutation(t.num_rows)
        pq.write_table(t.take(pa.array(perm)), f)
    report = import_file(capture, lake, progress=False)
    head = expected_binance(lines[:15_000])
    assert report.rows[f"book_deltas {V}:{S}"]["duplicates"] == len(head.book)
    assert report.rows[f"bbo {V}:{S}"]["duplicates"] == len(head.bbo)
    assert_lake_is(lake, expected)


def _next_day(line: bytes) -> bytes:
    """The same line a day later, with its trade id moved out of the way."""
    recv, _, body = line.partition(b" ")
    body = re.sub(rb'"t":(\d+)', lambda m: b'"t":%d' % (int(m.group(1)) + 10**10), body)
    return b"%d " % (int(recv) + NS_PER_DAY) + body


def test_a_capture_across_midnight_fills_two_date_partitions(
    small_sizes: None, tmp_path: Path, binance_lines: list[bytes]
) -> None:
    first = binance_lines[-3_000:]  # 23:59 on 2024-08-08
    second = [_next_day(ln) for ln in first]
    lake = tmp_path / "lake"
    import_file(_write(tmp_path / "two_days.txt", first + second), lake, progress=False)
    for day, lines in (("2024-08-08", first), ("2024-08-09", second)):
        exp = expected_binance(lines)
        book = lake_table(lake, "book_deltas", V, S)
        book = book.filter(pa.compute.equal(book.column("date"), day))
        assert _rows(book, BOOK_COLS) == Counter(exp.book)
        trades = lake_table(lake, "trades", V, S)
        trades = trades.filter(pa.compute.equal(trades.column("date"), day))
        assert _rows(trades, TRADE_COLS) == Counter(exp.trades)
    assert [f.parent.name for f in _partition_files(lake, "bbo")] == [
        "date=2024-08-08",
        "date=2024-08-09",
    ]
