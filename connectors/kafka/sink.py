"""Bytewax sink producing ``(key, value bytes)`` items to one Kafka topic.

Keys are instrument ids; the partition is chosen with the Java default partitioner
(``client.partition_for``), so an instrument always lands in the same partition and
keeps its order. Each batch is flushed and every send checked before the batch counts
as written: at-least-once (a recovered flow may re-send its last epoch).
"""

from __future__ import annotations

import time
from contextlib import suppress

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError

from connectors.kafka import client as kc
from core.errors import MMError
from monitoring.metrics import MMMetrics, safe_label
from monitoring.metrics import current as current_metrics
from monitoring.notify import heartbeat


class KafkaWriteError(MMError):
    """The broker did not acknowledge a write in time."""


def send_checked(
    producer: KafkaProducer,
    topic: str,
    partitions: int,
    items: list[tuple[str, bytes]],
    timeout_s: float,
) -> int:
    """Send, flush, and raise unless every message was acknowledged; returns bytes sent."""
    futures = []
    size = 0
    for key, value in items:
        k = key.encode()
        futures.append(
            producer.send(topic, key=k, value=value, partition=kc.partition_for(k, partitions))
        )
        size += len(value)
    with suppress(KafkaTimeoutError):  # reported below, per message
        producer.flush(timeout=timeout_s)
    for f in futures:
        if not f.is_done:
            raise KafkaWriteError(
                f"Kafka did not acknowledge writes to {topic} within {timeout_s:.0f} s",
                kc.BROKER_HINT,
            )
        if f.failed():
            raise KafkaWriteError(f"writing to Kafka topic {topic} failed: {f.exception}")
    return size


def producer_partitions(producer: KafkaProducer, topic: str) -> int:
    try:
        parts = producer.partitions_for(topic)
    except KafkaTimeoutError:
        parts = None
    if not parts:
        raise kc.KafkaTopicError(
            f"Kafka topic {topic!r} does not exist", "create it first (ensure_topic)"
        )
    return len(parts)


class _ProducerPartition(StatelessSinkPartition[tuple[str, bytes]]):
    def __init__(self, sink: KafkaSink) -> None:
        self.topic = sink.topic
        self.timeout_s = sink.request_timeout_ms / 1000 * 3
        self.producer = kc.producer(
            sink.bootstrap, sink.connect_timeout_s, sink.request_timeout_ms, sink.compression
        )
        self.partitions = producer_partitions(self.producer, self.topic)

    def write_batch(self, items: list[tuple[str, bytes]]) -> None:
        if not items:
            return
        metrics = current_metrics()
        try:
            send_checked(self.producer, self.topic, self.partitions, items, self.timeout_s)
        except Exception:
            if metrics is not None:
                metrics.kafka_errors.labels(venue=_venue(items[0][0])).inc()
            raise
        heartbeat(f"recorder {self.topic}")  # silence past a bound: "recorder down"
        if metrics is not None:
            record_written(metrics, items)

    def close(self) -> None:
        self.producer.flush(timeout=self.timeout_s)
        self.producer.close(timeout=self.timeout_s)


class KafkaSink(DynamicSink[tuple[str, bytes]]):
    """Every worker writes its items to ``topic`` (which must exist: see ensure_topic)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        connect_timeout_s: float = 12.0,
        request_timeout_ms: int = 10_000,
        compression: str = "none",
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.connect_timeout_s = connect_timeout_s
        self.request_timeout_ms = request_timeout_ms
        self.compression = compression

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ProducerPartition:
        return _ProducerPartition(self)


def _venue(key: str) -> str:
    return safe_label(key.partition(":")[0])


def record_written(metrics: MMMetrics, items: list[tuple[str, bytes]]) -> None:
    """Messages acknowledged by Kafka, per ``venue:SYMBOL`` key, and their lag from the
    receive stamp that starts each capture line (``<recv ns> <raw json>``)."""
    now = time.time_ns()
    counts: dict[str, int] = {}
    for key, value in items:
        counts[key] = counts.get(key, 0) + 1
        stamp = value[: value.find(b" ")]
        if stamp.isdigit():
            metrics.recorder_lag.labels(venue=_venue(key)).observe(
                max(0.0, (now - int(stamp)) / 1e9)
            )
    for key, n in counts.items():
        venue, _, symbol = key.partition(":")
        metrics.recorded.labels(venue=safe_label(venue), symbol=safe_label(symbol or "all")).inc(n)
