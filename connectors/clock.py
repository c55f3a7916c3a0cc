"""A Bytewax source of timer ticks, one partition per instrument.

Live trading needs a heartbeat independent of market data: stale-book detection,
PnL sampling, order age and the periodic status line must happen in a quiet market too.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from core.events import Tick

Item = tuple[str, Tick]


class _ClockPartition(StatefulSourcePartition[Item, None]):
    def __init__(self, inst: str, interval: timedelta) -> None:
        self.inst = inst
        self.interval = interval
        self._next = datetime.now(UTC) + interval

    def next_batch(self) -> list[Item]:
        now = datetime.now(UTC)
        if now < self._next:
            return []
        self._next = now + self.interval
        return [(self.inst, Tick(time.time_ns()))]

    def next_awake(self) -> datetime | None:
        return self._next

    def snapshot(self) -> None:
        return None


class ClockSource(FixedPartitionedSource[Item, None]):
    def __init__(self, instruments: list[str], interval_ms: int = 1000) -> None:
        self.instruments = sorted(set(instruments))
        self.interval = timedelta(milliseconds=interval_ms)

    def list_parts(self) -> list[str]:
        return self.instruments

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _ClockPartition:
        return _ClockPartition(for_part, self.interval)
