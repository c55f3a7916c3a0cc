"""Bytewax sources reading Kafka partitions by assignment (no consumer group).

* :class:`KafkaRecordSource`: every partition of some topics, one Bytewax partition per
  Kafka partition, items ``(key, Record)``; tails forever or stops at the end offsets
  seen at start. The snapshot is the next offset to read.
* :class:`KafkaEventSource`: the replay source for backtests. Reads one instrument's
  event messages (``codec.encode_events``) from the beginning of its partition up to the
  end offset captured when the source is built, and emits ``(instrument id, EVENT_DTYPE
  batch)`` batches cut exactly like the Parquet replay's (per day, ~``batch_rows`` rows,
  whole messages), so a backtest sees identical input from either source.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from kafka import KafkaConsumer, TopicPartition

from connectors.kafka import client as kc
from connectors.kafka.codec import (
    TYPE_EVENTS,
    TYPE_SPEC,
    decode_spec,
    events_from_bodies,
    message_type,
    peek_events,
)
from core.errors import MalformedLine
from core.instruments import InstrumentSpec
from core.log import event, get_logger
from core.progress import Progress
from core.timeutil import NS_PER_DAY

log = get_logger(__name__)

IDLE = timedelta(milliseconds=20)
FETCH_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka message, with where it came from (offsets make lake rows deterministic)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Conn:
    """How to reach the broker (picklable: sources travel to every worker)."""

    bootstrap: str
    connect_timeout_s: float = 12.0
    request_timeout_ms: int = 10_000
    stall_timeout_s: float = 60.0

    def consumer(self) -> KafkaConsumer:
        return kc.consumer(
            self.bootstrap,
            self.connect_timeout_s,
            self.request_timeout_ms,
            max_partition_fetch_bytes=FETCH_BYTES,
        )


def _part_name(topic: str, partition: int) -> str:
    return f"{topic}#{partition}"


def _parse_part(name: str) -> tuple[str, int]:
    topic, _, idx = name.rpartition("#")
    return topic, int(idx)


class _Stall:
    """Raises when a bounded read makes no progress for ``limit_s`` (a broker gone mid-read)."""

    def __init__(self, limit_s: float, what: str) -> None:
        self.limit_s = limit_s
        self.what = what
        self.since = time.monotonic()

    def progressed(self) -> None:
        self.since = time.monotonic()

    def check(self, remaining: int) -> None:
        idle = time.monotonic() - self.since
        if idle > self.limit_s:
            raise kc.BrokerUnavailable(
                f"no data from Kafka {self.what} for {idle:.0f} s with {remaining:,} messages to go",
                kc.BROKER_HINT,
            )


# ---- raw records ----------------------------------------------------------------------


class _RecordPartition(StatefulSourcePartition[tuple[str, Record], int]):
    def __init__(
        self, conn: Conn, topic: str, partition: int, resume: int | None, stop_at: int | None
    ) -> None:
        self.tp = TopicPartition(topic, partition)
        self.consumer = conn.consumer()
        self.consumer.assign([self.tp])
        if resume is None:
            self.consumer.seek_to_beginning(self.tp)
            self.offset = self.consumer.position(self.tp)
        else:
            self.consumer.seek(self.tp, resume)
            self.offset = resume
        self.stop_at = stop_at
        self.idle = False
        self.stall = _Stall(conn.stall_timeout_s, f"topic {topic} partition {partition}")
        event(
            log,
            logging.INFO,
            "kafka_partition_open",
            topic=topic,
            partition=partition,
            offset=self.offset,
            resumed=resume is not None,
            stop_at=stop_at,
        )

    def next_batch(self) -> list[tuple[str, Record]]:
        if self.stop_at is not None and self.offset >= self.stop_at:
            raise StopIteration
        got = self.consumer.poll(timeout_ms=5, max_records=5000).get(self.tp, [])
        out = []
        for m in got:
            if self.stop_at is not None and m.offset >= self.stop_at:
                break
            key = m.key.decode("utf-8", "replace") if m.key is not None else ""
            out.append((key, Record(m.topic, m.partition, m.offset, m.key, m.value)))
            self.offset = m.offset + 1
        self.idle = not out
        if out:
            self.stall.progressed()
        elif self.stop_at is not None:
            self.stall.check(self.stop_at - self.offset)
        return out

    def next_awake(self) -> datetime | None:
        return datetime.now(UTC) + IDLE if self.idle else None

    def snapshot(self) -> int:
        return self.offset

    def close(self) -> None:
        self.consumer.close()


class KafkaRecordSource(FixedPartitionedSource[tuple[str, Record], int]):
    """All partitions of ``topics``; ``until_end`` stops at the end offsets seen at start."""

    def __init__(self, conn: Conn, topics: list[str], until_end: bool = False) -> None:
        if not topics:
            raise kc.KafkaTopicError("no Kafka topics to read", "set MM_KAFKA_TOPICS")
        self.conn = conn
        self.topics = list(topics)
        self.until_end = until_end
        self._ends: dict[str, int] | None = None

    def list_parts(self) -> list[str]:
        c = self.conn.consumer()
        try:
            tps = [TopicPartition(t, p) for t in self.topics for p in kc.topic_partitions(c, t)]
            if self.until_end and self._ends is None:
                ends = kc.end_offsets(c, tps)
                self._ends = {_part_name(tp.topic, tp.partition): o for tp, o in ends.items()}
        finally:
            c.close()
        return [_part_name(tp.topic, tp.partition) for tp in tps]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _RecordPartition:
        topic, partition = _parse_part(for_part)
        if self.until_end and self._ends is None:
            self.list_parts()
        stop = self._ends.get(for_part) if self._ends is not None else None
        if self.until_end and stop is None:
            stop = 0  # a partition that appeared after the start: nothing to read
        return _RecordPartition(self.conn, topic, partition, resume_state, stop)


# ---- replay events --------------------------------------------------------------------


@dataclass
class ReplayState:
    """Resume point of one instrument's replay: the first offset not yet emitted, and the
    (recv_ts, ord) of the last emitted message (later duplicates are dropped)."""

    offset: int
    last: tuple[int, int] | None = None


@dataclass
class ReplayStats:
    messages: int = 0
    events: int = 0
    duplicates: int = 0
    malformed: int = 0
    out_of_range: int = 0


class _EventPartition(StatefulSourcePartition[tuple[str, np.ndarray], ReplayState]):
    def __init__(
        self,
        conn: Conn,
        inst: str,
        topic: str,
        partition: int,
        begin: int,
        stop_at: int,
        resume: ReplayState | None,
        start_ns: int | None,
        end_ns: int | None,
        batch_rows: int,
        progress: bool,
    ) -> None:
        self.inst = inst
        self.key = inst.encode()
        self.tp = TopicPartition(topic, partition)
        self.stop_at = stop_at
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.batch_rows = max(1, batch_rows)
        self.state = resume or ReplayState(begin)
        self.read = self.state.offset  # next offset to read
        self.last = self.state.last  # dedup key of the last message taken (pending or emitted)
        self.pending: list[bytes] = []  # checked event messages of the batch being built
        self.pending_rows = 0
        self.pending_day = -1
        self.pending_offset = self.read
        self.pending_last: tuple[int, int] | None = None
        self.stats = ReplayStats()
        self.done = False
        self.idle = False
        self.stall = _Stall(conn.stall_timeout_s, f"topic {topic} partition {partition}")
        self.bar = Progress(f"replay {inst} from kafka", stop_at - begin, enabled=progress)
        self.begin = begin
        self.records: deque[Any] = deque()  # polled, not yet processed
        self.consumer = conn.consumer()
        self.consumer.assign([self.tp])
        self.consumer.seek(self.tp, self.read)

    def _emit(self, out: list[tuple[str, np.ndarray]]) -> None:
        if not self.pending:
            return
        batch = events_from_bodies(self.pending)
        out.append((self.inst, batch))
        self.stats.events += len(batch)
        self.pending, self.pending_rows = [], 0
        self.state = ReplayState(self.read, self.pending_last)

    def _take(self, offset: int, value: bytes | None, out: list[tuple[str, np.ndarray]]) -> None:
        try:
            if message_type(value) != TYPE_EVENTS:
                return  # the instrument spec
            rows, recv, ord_ = peek_events(value, checked=True)  # type: ignore[arg-type]
        except MalformedLine as exc:
            self.stats.malformed += 1
            event(
                log,
                logging.WARNING,
                "kafka_malformed",
                topic=self.tp.topic,
                partition=self.tp.partition,
                offset=offset,
                key=self.inst,
                reason=exc.reason,
                count=self.stats.malformed,
            )
            return
        if (self.start_ns is not None and recv < self.start_ns) or (
            self.end_ns is not None and recv >= self.end_ns
        ):
            self.stats.out_of_range += 1
            return
        key = (recv, ord_)
        if self.last is not None and key <= self.last:
            self.stats.duplicates += 1  # re-published or retried: already replayed
            return
        day = recv // NS_PER_DAY
        if self.pending and day != self.pending_day:
            self._emit(out)  # a batch never spans two days (as the Parquet replay)
        if not self.pending:
            self.pending_offset = offset
            self.pending_day = day
        self.pending.append(value)  # type: ignore[arg-type]
        self.pending_rows += rows
        self.pending_last = self.last = key
        self.stats.messages += 1
        if self.pending_rows >= self.batch_rows:
            self._emit_after(offset, out)

    def _emit_after(self, offset: int, out: list[tuple[str, np.ndarray]]) -> None:
        self.read = offset + 1
        self._emit(out)

    def next_batch(self) -> list[tuple[str, np.ndarray]]:
        """At most one batch per call (like the Parquet source), so snapshots fall between
        batches; records polled beyond it wait in ``self.records``."""
        if self.done:
            raise StopIteration
        out: list[tuple[str, np.ndarray]] = []
        if not self.records and self.read < self.stop_at:
            got = self.consumer.poll(timeout_ms=5, max_records=5000).get(self.tp, [])
            self.records.extend(got)
            self.idle = not got
            if got:
                self.stall.progressed()
            else:
                self.stall.check(self.stop_at - self.read)
        records = self.records
        while records and not out:
            m = records.popleft()
            if m.offset >= self.stop_at:
                records.clear()
                self.read = self.stop_at
                break
            if m.key == self.key:
                self._take(m.offset, m.value, out)
            self.read = m.offset + 1
            if not self.pending:
                self.state = ReplayState(self.read, self.last)
        if out or not records:
            self.bar.update(self.read - self.begin, f"{self.stats.events:,} events")
        if self.read >= self.stop_at and not records:
            self._emit(out)
            self.done = True
            self.bar.update(self.stop_at - self.begin, f"{self.stats.events:,} events")
            self.bar.close()
            event(log, logging.INFO, "kafka_replay_done", inst=self.inst, **vars(self.stats))
        return out

    def next_awake(self) -> datetime | None:
        return (
            datetime.now(UTC) + IDLE if self.idle and not self.records and not self.done else None
        )

    def snapshot(self) -> ReplayState:
        return self.state

    def close(self) -> None:
        self.consumer.close()


class KafkaEventSource(FixedPartitionedSource[tuple[str, np.ndarray], ReplayState]):
    """Replays instruments' event messages from ``topic``, bounded by the end offsets
    captured here (at construction), so the replay ends even if the topic keeps growing."""

    def __init__(
        self,
        conn: Conn,
        topic: str,
        instruments: list[str],
        start_ns: int | None = None,
        end_ns: int | None = None,
        batch_rows: int = 16_384,
        progress: bool = False,
    ) -> None:
        if not instruments:
            raise kc.KafkaTopicError("no instruments to replay", "set MM_VENUE and MM_SYMBOLS")
        self.conn = conn
        self.topic = topic
        self.instruments = list(instruments)
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.batch_rows = batch_rows
        self.progress = progress
        c = conn.consumer()
        try:
            n = len(kc.topic_partitions(c, topic))
            self.where = {i: kc.partition_for(i.encode(), n) for i in self.instruments}
            tps = sorted({TopicPartition(topic, p) for p in self.where.values()})
            self.begins = {tp.partition: o for tp, o in c.beginning_offsets(tps).items()}
            self.ends = {tp.partition: o for tp, o in kc.end_offsets(c, tps).items()}
        finally:
            c.close()

    def list_parts(self) -> list[str]:
        return self.instruments

    def build_part(
        self, step_id: str, for_part: str, resume_state: ReplayState | None
    ) -> _EventPartition:
        p = self.where[for_part]
        return _EventPartition(
            self.conn,
            for_part,
            self.topic,
            p,
            self.begins[p],
            self.ends[p],
            resume_state,
            self.start_ns,
            self.end_ns,
            self.batch_rows,
            self.progress,
        )


def topic_has_messages(conn: Conn, topic: str) -> dict[str, Any]:
    """Partition count and message count of a topic (for reports and checks)."""
    c = conn.consumer()
    try:
        parts = kc.topic_partitions(c, topic)
        tps = [TopicPartition(topic, p) for p in parts]
        begins = c.beginning_offsets(tps)
        ends = kc.end_offsets(c, tps)
        return {"partitions": len(parts), "messages": sum(ends[t] - begins[t] for t in tps)}
    finally:
        c.close()


def read_topic_spec(conn: Conn, topic: str, inst: str) -> InstrumentSpec | None:
    """The instrument spec ``mm publish`` put before an instrument's events, if any."""
    key = inst.encode()
    c = conn.consumer()
    try:
        tp = TopicPartition(topic, kc.partition_for(key, len(kc.topic_partitions(c, topic))))
        stop = kc.end_offsets(c, [tp])[tp]
        c.assign([tp])
        c.seek_to_beginning(tp)
        stall = _Stall(conn.stall_timeout_s, f"topic {topic} partition {tp.partition}")
        while c.position(tp) < stop:
            got = c.poll(timeout_ms=100, max_records=1000).get(tp, [])
            if not got:
                stall.check(stop - c.position(tp))
                continue
            stall.progressed()
            for m in got:
                if m.offset >= stop:
                    return None
                if m.key == key:
                    try:
                        if message_type(m.value) == TYPE_SPEC:
                            return decode_spec(m.value)
                    except MalformedLine:
                        continue
        return None
    finally:
        c.close()
