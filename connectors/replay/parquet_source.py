"""Bytewax source replaying the Parquet lake in receive-time order.

One partition per instrument, so a multi-worker cluster shards instruments across
workers. Items are ``(instrument id, EVENT_DTYPE batch)``; batches end on message
boundaries. The partition snapshot is the number of rows emitted, so a recovered
dataflow resumes exactly after the last batch it had processed.

Each day streams from the lake in bounded chunks (``core.lake.iter_events_day``), so
memory does not grow with the length of the data. Batches are cut per day exactly as
``message_batches`` would cut the whole day.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from core.errors import LakeError
from core.event_merge import drop_rows, stream_batches
from core.instruments import split_instrument_id
from core.lake import (
    day_event_count,
    day_window,
    event_days,
    iter_events_day,
    read_instrument,
)
from core.progress import Progress

Item = tuple[str, np.ndarray]


class _LakePartition(StatefulSourcePartition[Item, int]):
    def __init__(
        self,
        lake: Path,
        inst: str,
        start: int | None,
        end: int | None,
        rows: int,
        resume: int,
        progress: bool = False,
    ) -> None:
        self.inst = inst
        self.offset = resume
        self._batches = self._iterate(lake, inst, start, end, rows, resume)
        self._bar = Progress(f"replay {inst}", None, " events") if progress else None

    @staticmethod
    def _iterate(
        lake: Path, inst: str, start: int | None, end: int | None, rows: int, skip: int
    ) -> Iterator[np.ndarray]:
        venue, symbol = split_instrument_id(inst)
        for day in event_days(lake, venue, symbol, start, end):
            lo = day_window(day, start)
            if skip:
                n = day_event_count(lake, venue, symbol, day, lo, end)  # footers only
                if n is not None and skip >= n:
                    skip -= n
                    continue
            chunks = iter_events_day(lake, venue, symbol, day, lo, end)
            if skip:
                chunks, skip = drop_rows(chunks, skip)
            yield from stream_batches(chunks, rows)

    def next_batch(self) -> list[Item]:
        try:
            batch = next(self._batches)
        except StopIteration:
            if self._bar is not None:
                self._bar.update(self._bar.total or self.offset)
                self._bar.close()
            raise  # ends the partition
        self.offset += len(batch)
        if self._bar is not None:
            self._bar.update(self.offset, f"{self.offset:,} events")
        return [(self.inst, batch)]

    def next_awake(self) -> datetime | None:
        return None

    def snapshot(self) -> int:
        return self.offset


class LakeReplaySource(FixedPartitionedSource[Item, int]):
    def __init__(
        self,
        lake: str | Path,
        instruments: list[str],
        start_ns: int | None = None,
        end_ns: int | None = None,
        batch_rows: int = 16_384,
        progress: bool = False,
    ) -> None:
        self.lake = Path(lake)
        if not self.lake.is_dir():
            raise LakeError(
                f"lake {self.lake} does not exist", "import data first with `mm import`"
            )
        if not instruments:
            raise LakeError("no instruments to replay", "set MM_VENUE and MM_SYMBOLS")
        for inst in instruments:
            read_instrument(self.lake, *split_instrument_id(inst))  # fail early, with a hint
        self.instruments = list(instruments)
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.batch_rows = batch_rows
        self.progress = progress

    def list_parts(self) -> list[str]:
        return self.instruments

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _LakePartition:
        return _LakePartition(
            self.lake,
            for_part,
            self.start_ns,
            self.end_ns,
            self.batch_rows,
            resume_state or 0,
            self.progress,
        )
