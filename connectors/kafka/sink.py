"""Bytewax sink producing ``(key, value bytes)`` items to one Kafka topic.

Keys are instrument ids; the partition is chosen with the Java default partitioner
(``client.partition_for``), so an instrument always lands in the same partition and
keeps its order. Each batch is flushed and every send checked before the batch counts
as written: at-least-once (a recovered flow may re-send its last epoch).
"""

from __future__ import annotations

from contextlib import suppress

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError

from connectors.kafka import client as kc
from core.errors import MMError
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
        if items:
            send_checked(self.producer, self.topic, self.partitions, items, self.timeout_s)
            heartbeat(f"recorder {self.topic}")  # silence past a bound: "recorder down"

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
