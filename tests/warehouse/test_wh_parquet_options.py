"""The lake's Parquet encoding: every value round-trips, every writer uses it, and lakes
written with the encoding of before still read, dedupe and compact next to new files."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from wh_data import SPEC, T0, frame

from cli.main import SAMPLE_FILE as BINANCE_SAMPLE
from core.lake import (
    MARKET_TABLES,
    data_files,
    instrument_path,
    partition_dir,
    read_events_day,
    read_partition,
    table_def,
)
from warehouse.compact import compact_lake
from warehouse.duck import Catalog
from warehouse.importer import import_file
from warehouse.lake_writer import write_instrument, write_rows
from warehouse.parquet_options import (
    DICT,
    ENCODINGS,
    LEGACY_OPTIONS,
    PLAIN,
    ROW_GROUP_ROWS,
    write_options,
)

VENUE, SYMBOL = "binance-usdm", "BTCUSDT"
DAY = date(2024, 8, 8)
I64_EDGES = [-(2**63), 2**63 - 1, 0, -1, 1, 2**62 + 12345, -(2**40) - 7]
I8_EDGES = [-128, 127, 0, -1, 1, 3, -3]


def _edge_table(table: str) -> pa.Table:
    """Rows holding the extremes of every column type, sorted as the lake keeps them."""
    schema = table_def(table).schema
    n = len(I64_EDGES)
    cols = []
    for f in schema:
        if f.name == "recv_ts":
            cols.append(pa.array(sorted(I64_EDGES), f.type))
        elif f.name == "ord":
            cols.append(pa.array(range(n), f.type))
        elif pa.types.is_int64(f.type):
            cols.append(pa.array(I64_EDGES[::-1], f.type))
        elif pa.types.is_int8(f.type):
            cols.append(pa.array(I8_EDGES, f.type))
        else:
            cols.append(pa.array(["", "5266583935", "é-ü", "5266583936", "a" * 300, "0", "-"]))
    return pa.Table.from_arrays(cols, schema=schema)


@pytest.mark.parametrize("table", MARKET_TABLES)
def test_every_value_round_trips_bit_for_bit(table: str, tmp_path: Path) -> None:
    t = _edge_table(table)
    path = tmp_path / "t.parquet"
    pq.write_table(t, path, **write_options(table, t.schema))
    assert pq.read_table(path).equals(t)
    got = duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetch_arrow_table()
    assert got.schema == t.schema
    assert got.equals(t)


def _kind(encodings: tuple[str, ...]) -> str:
    if "RLE_DICTIONARY" in encodings or "PLAIN_DICTIONARY" in encodings:
        return DICT
    (enc,) = [e for e in encodings if e != "RLE"]
    return enc


def assert_tuned(path: Path, table: str) -> None:
    """``path`` is written with the lake's options for ``table``: encodings, zstd, row groups."""
    meta = pq.read_metadata(path)
    assert meta.num_row_groups >= 1
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        assert rg.num_rows <= ROW_GROUP_ROWS
        for i in range(rg.num_columns):
            col = rg.column(i)
            want = ENCODINGS[table].get(col.path_in_schema, DICT)
            got = _kind(col.encodings)
            # dictionary falls back to PLAIN when it outgrows its page: either is "default"
            assert got == want or (want == DICT and got == PLAIN), (path, col.path_in_schema)
            assert col.compression == "ZSTD"
    names = meta.schema.names
    sort = meta.row_group(0).sorting_columns
    assert [names[s.column_index] for s in sort] == list(table_def(table).order)


def test_every_writer_uses_the_shared_options(sample_lake: Path, tmp_path: Path) -> None:
    # the import's merge (warehouse.partition_merge)
    for table in MARKET_TABLES:
        (f,) = data_files(partition_dir(sample_lake, table, VENUE, SYMBOL, DAY))
        assert_tuned(f, table)
    # the lake writer (sinks, recorder, run tables) and compaction
    lake = tmp_path / "lake"
    write_instrument(lake, SPEC)
    for k in range(3):
        rows = [
            {"recv_ts": T0 + k * 10 + i, "exch_ts": T0 + i, "ord": i, "trade_id": f"{k}-{i}",
             "price": 100 + i, "qty": 1 + k, "side": 1}
            for i in range(5)
        ]  # fmt: skip
        write_rows(lake, "trades", SPEC.venue, SPEC.symbol, frame("trades", rows))
    d = partition_dir(lake, "trades", SPEC.venue, SPEC.symbol, DAY)
    for f in data_files(d):
        assert_tuned(f, "trades")
    assert compact_lake(lake).partitions_compacted == 1
    (f,) = data_files(d)
    assert_tuned(f, "trades")
    assert pq.read_metadata(f).num_rows == 15
    # bench.make_day (day-scale lakes for the replay benchmarks)
    from bench.make_day import PartitionWriter

    w = PartitionWriter(tmp_path / "made", "trades", SYMBOL, 4, 100)
    w.add(pq.read_table(f))
    w.close()
    (made,) = w.files
    assert_tuned(made, "trades")
    assert pq.read_table(made).equals(pq.read_table(f))


def _split_write(src: pa.Table, table: str, directory: Path) -> None:
    """The first half (by receive time, whole messages) in the old encoding, the rest new."""
    recv = src.column("recv_ts").to_numpy()
    cut = int(np.searchsorted(recv, recv[len(recv) // 2]))
    old, new = src.slice(0, cut), src.slice(cut)
    directory.mkdir(parents=True)
    first_old, first_new = int(recv[0]), int(recv[cut])
    pq.write_table(old, directory / f"part-{first_old:020d}-old.parquet", **LEGACY_OPTIONS)
    pq.write_table(
        new, directory / f"part-{first_new:020d}-new.parquet", **write_options(table, new.schema)
    )


@pytest.fixture
def mixed_lake(sample_lake: Path, tmp_path: Path) -> Path:
    """The sample's BTCUSDT tables, each partition one file of each encoding."""
    lake = tmp_path / "mixed"
    spec = instrument_path(lake, VENUE, SYMBOL)
    spec.parent.mkdir(parents=True)
    shutil.copy(instrument_path(sample_lake, VENUE, SYMBOL), spec)
    for table in MARKET_TABLES:
        src = read_partition(sample_lake, table, VENUE, SYMBOL, DAY)
        _split_write(src, table, partition_dir(lake, table, VENUE, SYMBOL, DAY))
    return lake


def _old_file(lake: Path, table: str) -> Path:
    (old,) = [
        f
        for f in data_files(partition_dir(lake, table, VENUE, SYMBOL, DAY))
        if f.name.endswith("-old.parquet")
    ]
    return old


def _duck_rows(lake: Path, table: str) -> pa.Table:
    cols = ", ".join(table_def(table).schema.names)
    with Catalog(lake) as cat:
        return cat.query(f"SELECT {cols} FROM {table} ORDER BY recv_ts, ord")


def test_old_and_new_files_read_together(sample_lake: Path, mixed_lake: Path) -> None:
    old = _old_file(mixed_lake, "bbo")
    assert _kind(pq.read_metadata(old).row_group(0).column(0).encodings) == DICT
    for table in MARKET_TABLES:
        want = read_partition(sample_lake, table, VENUE, SYMBOL, DAY)
        assert read_partition(mixed_lake, table, VENUE, SYMBOL, DAY).equals(want)
        got = _duck_rows(mixed_lake, table)
        assert got.cast(want.schema).equals(want)
        assert got.schema == want.schema  # DuckDB sees the same types in both files
    events = read_events_day(mixed_lake, VENUE, SYMBOL, DAY)
    assert np.array_equal(events, read_events_day(sample_lake, VENUE, SYMBOL, DAY))


def test_old_files_dedupe_and_compact(sample_lake: Path, mixed_lake: Path) -> None:
    want_events = read_events_day(sample_lake, VENUE, SYMBOL, DAY)
    report = import_file(BINANCE_SAMPLE, mixed_lake, progress=False)
    assert {k: v["written"] for k, v in report.rows.items()} == {
        f"{t} {VENUE}:{SYMBOL}": 0 for t in MARKET_TABLES
    }
    # the lake writer's dedupe reads the old file's keys too
    again = pl.from_arrow(pq.read_table(_old_file(mixed_lake, "trades")))
    assert isinstance(again, pl.DataFrame)
    assert write_rows(mixed_lake, "trades", VENUE, SYMBOL, again).written == 0
    r = compact_lake(mixed_lake)
    assert (r.partitions_compacted, r.files_before, r.files_after, r.duplicates) == (3, 6, 3, 0)
    for table in MARKET_TABLES:
        (f,) = data_files(partition_dir(mixed_lake, table, VENUE, SYMBOL, DAY))
        assert_tuned(f, table)
        want = read_partition(sample_lake, table, VENUE, SYMBOL, DAY)
        assert pq.read_table(f).equals(want)
    assert np.array_equal(read_events_day(mixed_lake, VENUE, SYMBOL, DAY), want_events)
    report = import_file(BINANCE_SAMPLE, mixed_lake, progress=False)
    assert sum(v["written"] for v in report.rows.values()) == 0


def _damage(path: Path, column: str) -> None:
    """Overwrite 32 bytes in the middle of ``column``'s data, footer intact."""
    rg = pq.read_metadata(path).row_group(0)
    (col,) = [rg.column(i) for i in range(rg.num_columns) if rg.column(i).path_in_schema == column]
    mid = col.data_page_offset + col.total_compressed_size // 2
    raw = bytearray(path.read_bytes())
    raw[mid : mid + 32] = bytes(255 - b for b in raw[mid : mid + 32])
    path.write_bytes(bytes(raw))


def test_a_damaged_page_is_an_error_not_wrong_numbers(sample_lake: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    spec = instrument_path(lake, VENUE, SYMBOL)
    spec.parent.mkdir(parents=True)
    shutil.copy(instrument_path(sample_lake, VENUE, SYMBOL), spec)
    src = read_partition(sample_lake, "trades", VENUE, SYMBOL, DAY)
    d = partition_dir(lake, "trades", VENUE, SYMBOL, DAY)
    _split_write(src, "trades", d)
    new = next(f for f in data_files(d) if f.name.endswith("-new.parquet"))
    _damage(new, "qty")  # byte-stream-split sizes: zstd stores their noisy bytes raw
    unchecked = pq.read_table(new)  # without verification: no error, other sizes
    tail = src.slice(src.num_rows - unchecked.num_rows)
    assert unchecked["trade_id"].equals(tail["trade_id"])
    assert not unchecked["qty"].equals(tail["qty"])
    crc = "CRC checksum verification failed"
    with pytest.raises(OSError, match=crc):
        read_partition(lake, "trades", VENUE, SYMBOL, DAY)
    with pytest.raises(OSError, match=crc):
        read_events_day(lake, VENUE, SYMBOL, DAY, tables=("trades",))
    before = {f.name: f.read_bytes() for f in data_files(d)}
    with pytest.raises(OSError, match=crc):
        compact_lake(lake)
    assert {f.name: f.read_bytes() for f in data_files(d)} == before
