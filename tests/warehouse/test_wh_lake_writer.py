"""The lake writer's dedupe reads only the row groups new rows could collide with.

A run sink appends a flush every 200k rows; reading every earlier file's keys at each
flush made a long backtest's memory and time grow with its length.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa

from core.lake import data_files, partition_dir, read_partition, table_def
from warehouse.lake_writer import _existing_keys, write_rows

VENUE, SYMBOL = "binance-usdm", "BTCUSDT"
T0 = 1_723_161_600_000_000_000  # 2024-08-09 00:00 UTC
DAY = date(2024, 8, 9)


def orders(seqs: range | list[int], reason: str = "") -> pl.DataFrame:
    seqs = list(seqs)
    schema = table_def("orders").schema
    n = len(seqs)
    cols = {
        "run_id": ["r1"] * n,
        "recv_ts": [T0 + s * 1_000 for s in seqs],
        "seq": seqs,
        "client_id": [f"c{s}" for s in seqs],
        "event": ["new"] * n,
        "side": [1] * n,
        "price": [600_000] * n,
        "qty": [10] * n,
        "filled": [0] * n,
        "level": [0] * n,
        "reason": [reason] * n,
    }
    return pl.from_arrow(pa.table(cols, schema=schema))


def test_appends_read_only_overlapping_row_groups(tmp_path: Path) -> None:
    for k in range(5):  # five flushes, seq 0..4999, one file each
        res = write_rows(
            tmp_path, "orders", VENUE, SYMBOL, orders(range(k * 1000, k * 1000 + 1000))
        )
        assert res.written == 1000
    d = partition_dir(tmp_path, "orders", VENUE, SYMBOL, DAY)
    assert len(data_files(d)) == 5
    assert _existing_keys(d, "orders", orders(range(5000, 6000))) is None  # nothing to compare
    near = _existing_keys(d, "orders", orders([10, 20]))
    assert near is not None and near["seq"].to_list() == list(range(1000))  # the first file
    both = _existing_keys(d, "orders", orders([999, 4000]))
    assert both is not None and both.height == 5000  # the range spans every file


def test_duplicates_in_any_earlier_file_are_still_dropped(tmp_path: Path) -> None:
    for k in range(5):
        write_rows(tmp_path, "orders", VENUE, SYMBOL, orders(range(k * 1000, (k + 1) * 1000)))
    again = orders([5, 2_500, 4_999, 5_000, 5_001], reason="rewritten")
    res = write_rows(tmp_path, "orders", VENUE, SYMBOL, again)
    assert (res.rows_in, res.written, res.duplicates) == (5, 2, 3)
    t = read_partition(tmp_path, "orders", VENUE, SYMBOL, DAY)
    seqs = t.column("seq").to_pylist()
    assert sorted(seqs) == list(range(5_002))  # every seq once
    kept = dict(zip(seqs, t.column("reason").to_pylist(), strict=True))
    assert kept[5] == "" and kept[5_000] == "rewritten"  # the first write of a key wins


def test_string_keys_are_pruned_and_deduped(tmp_path: Path) -> None:
    schema = table_def("trades").schema

    def trades(ids: list[int]) -> pl.DataFrame:
        n = len(ids)
        return pl.from_arrow(
            pa.table(
                {
                    "recv_ts": [T0 + i for i in ids],
                    "exch_ts": [T0 + i for i in ids],
                    "ord": [i << 20 for i in ids],
                    "trade_id": [f"{i:08d}" for i in ids],
                    "price": [600_000] * n,
                    "qty": [1] * n,
                    "side": [1] * n,
                },
                schema=schema,
            )
        )

    write_rows(tmp_path, "trades", VENUE, SYMBOL, trades(list(range(0, 100))))
    write_rows(tmp_path, "trades", VENUE, SYMBOL, trades(list(range(100, 200))))
    d = partition_dir(tmp_path, "trades", VENUE, SYMBOL, DAY)
    got = _existing_keys(d, "trades", trades([150, 160]))
    assert got is not None and got.height == 100  # only the second file's ids
    res = write_rows(tmp_path, "trades", VENUE, SYMBOL, trades([42, 150, 200]))
    assert (res.written, res.duplicates) == (1, 2)
