"""Closing the loop from the order sink back into the trader, within one process.

A REST call's outcome (an immediate reject, a rate-limit wait, a reconciled position)
never appears on the venue's private stream, yet the trader must see it. The order sink
puts outcomes on a process-local bus; a Bytewax source drains it into the trader's
merged input, keyed by instrument. Live trading therefore runs as one process (any
number of worker threads): the bus is not shared across processes. The shutdown
sequence uses the same bus to tell each trader to stop (a Shutdown item).

The other direction uses a bus too: the trader's resync requests (its book stayed
unusable) go through a ``BusSink`` onto a bus the live public source drains, so the
source, which owns the connection, resubscribes.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition

Item = tuple[str, Any]


@dataclass(slots=True)
class Shutdown:
    """The process is stopping: the trader decides nothing more and hands over its
    last rows (the venue's orders are cancelled by the shutdown sequence itself)."""

    reason: str
    recv_ts: int


class FeedbackBus:
    """Thread-safe per-instrument queues (the gateway worker puts, the source drains)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Any]] = {}

    def put(self, inst: str, item: Any) -> None:
        with self._lock:
            self._queues.setdefault(inst, deque()).append(item)

    def drain(self, inst: str, limit: int = 1000) -> list[Any]:
        with self._lock:
            q = self._queues.get(inst)
            if not q:
                return []
            return [q.popleft() for _ in range(min(limit, len(q)))]

    def pending(self, inst: str) -> int:
        with self._lock:
            return len(self._queues.get(inst, ()))


BUSES: dict[str, FeedbackBus] = {}


def bus(name: str) -> FeedbackBus:
    """The process's bus for a flow (sources and sinks find it by name, not by pickling)."""
    return BUSES.setdefault(name, FeedbackBus())


class _FeedbackPartition(StatefulSourcePartition[Item, None]):
    def __init__(self, name: str, inst: str, poll: timedelta) -> None:
        self.bus = bus(name)
        self.inst = inst
        self.poll = poll

    def next_batch(self) -> list[Item]:
        return [(self.inst, item) for item in self.bus.drain(self.inst)]

    def next_awake(self) -> datetime | None:
        return None if self.bus.pending(self.inst) else datetime.now(UTC) + self.poll

    def snapshot(self) -> None:
        return None


class FeedbackSource(FixedPartitionedSource[Item, None]):
    def __init__(self, name: str, instruments: list[str], poll_ms: float = 2.0) -> None:
        self.name = name
        self.instruments = sorted(set(instruments))
        self.poll = timedelta(milliseconds=poll_ms)

    def list_parts(self) -> list[str]:
        return self.instruments

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _FeedbackPartition:
        return _FeedbackPartition(self.name, for_part, self.poll)


class _BusSinkPartition(StatelessSinkPartition[tuple[str, list[Any]]]):
    def __init__(self, name: str) -> None:
        self.bus = bus(name)

    def write_batch(self, items: list[tuple[str, list[Any]]]) -> None:
        for inst, values in items:
            for value in values:
                self.bus.put(inst, value)


class BusSink(DynamicSink[tuple[str, list[Any]]]):
    """Items ``(instrument, [value, ...])`` onto the named bus, keyed by instrument."""

    def __init__(self, name: str) -> None:
        self.name = name

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _BusSinkPartition:
        return _BusSinkPartition(self.name)
