"""Helpers for end-to-end backtests: a synthetic lake with hand-designed messages."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl

from core.events import FIRST, LAST
from core.instruments import InstrumentSpec
from core.lake import table_def
from warehouse.lake_writer import write_instrument, write_rows

T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
MS = 1_000_000
# tick 0.01, lot 1 unit, no minimum notional
SPEC = InstrumentSpec("bybit", "TESTUSDT", Decimal("0.01"), Decimal("1"), Decimal("0"))


def book_msg(
    ts: int, seq: int, kind: int, levels: list[tuple[int, int, int]], msg_no: int
) -> list[tuple]:
    rows = []
    for i, (side, price, qty) in enumerate(levels):
        flags = (FIRST if i == 0 else 0) | (LAST if i == len(levels) - 1 else 0)
        rows.append((ts, ts, (msg_no << 20) | i, seq, -1, -1, kind, side, price, qty, flags))
    return rows


def write_lake(lake: Path, book: list[tuple], trades: list[tuple]) -> None:
    write_instrument(lake, SPEC)
    for table, rows in (("book_deltas", book), ("trades", trades)):
        if rows:
            schema = table_def(table).schema
            frame = pl.DataFrame(rows, schema=[f.name for f in schema], orient="row")
            write_rows(
                lake,
                table,
                SPEC.venue,
                SPEC.symbol,
                frame.cast(pl.from_arrow(schema.empty_table()).schema),
            )
