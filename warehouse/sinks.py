"""Bytewax sinks into the Parquet lake, one partition per instrument.

Rows are buffered and written in large files; every write goes through the
idempotent lake writer, so a replayed or recovered flow never duplicates a row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from core.instruments import split_instrument_id
from warehouse.lake_writer import write_rows


class _LakeSinkPartition(StatefulSinkPartition[np.ndarray, None]):
    def __init__(self, lake: Path, table: str, inst: str, flush_rows: int) -> None:
        self.lake = lake
        self.table = table
        self.venue, self.symbol = split_instrument_id(inst)
        self.flush_rows = flush_rows
        self._chunks: list[np.ndarray] = []
        self._rows = 0

    def write_batch(self, values: list[np.ndarray]) -> None:
        for v in values:
            if len(v):
                self._chunks.append(v)
                self._rows += len(v)
        if self._rows >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        if not self._chunks:
            return
        rows = np.concatenate(self._chunks)
        self._chunks, self._rows = [], 0
        frame = pl.DataFrame({name: rows[name] for name in rows.dtype.names})
        write_rows(self.lake, self.table, self.venue, self.symbol, frame)

    def snapshot(self) -> None:
        self.flush()  # everything before a recovery snapshot is durable
        return None

    def close(self) -> None:
        self.flush()


class InstrumentSink(FixedPartitionedSink[Any, None]):
    """A sink with one partition per instrument id, items routed by their key.

    Sorted: Bytewax indexes part_fn's result into the *sorted* global partition set,
    so an unsorted list would write one instrument's rows under another's path.
    """

    def __init__(self, instruments: list[str]) -> None:
        self.instruments = sorted(set(instruments))

    def list_parts(self) -> list[str]:
        return self.instruments

    def part_fn(self, item_key: str) -> int:
        return self.instruments.index(item_key)


class LakeSink(InstrumentSink):
    """Items ``(instrument id, structured array)`` -> ``{lake}/{table}/venue=/symbol=/date=/``."""

    def __init__(
        self, lake: str | Path, table: str, instruments: list[str], flush_rows: int = 500_000
    ) -> None:
        super().__init__(instruments)
        self.lake = Path(lake)
        self.table = table
        self.flush_rows = flush_rows

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _LakeSinkPartition:
        return _LakeSinkPartition(self.lake, self.table, for_part, self.flush_rows)
