"""kafka-python clients with bounded waits, topic admin, and exact end offsets.

Every way of reaching the broker is bounded: the first contact retries with exponential
backoff for ``connect_timeout_s`` (tenacity) and then fails with one line saying what to
do; each attempt's own bootstrap, requests and blocking sends have timeouts too, so no
command hangs on a dead broker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from functools import lru_cache
from typing import Any, TypeVar

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka import errors as kerr
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError
from kafka.partitioner.default import murmur2
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from core.errors import MMError

T = TypeVar("T")
CLIENT_ID = "mm"
BROKER_HINT = (
    "start the broker, e.g. `docker compose up -d kafka`, or fix --bootstrap / MM_KAFKA_BOOTSTRAP"
)
# kafka-python 2.x raises NoBrokersAvailable where 3.x raises KafkaTimeoutError
_RETRYABLE: tuple[type[BaseException], ...] = (
    kerr.RetriableError,
    kerr.BrokerNotAvailableError,
    OSError,
    *((kerr.NoBrokersAvailable,) if hasattr(kerr, "NoBrokersAvailable") else ()),
)


class BrokerUnavailable(MMError):
    """The Kafka broker could not be reached within the retry budget."""


class KafkaTopicError(MMError):
    """A topic is missing or not what the command expects."""


def quiet_client_logs() -> None:
    """kafka-python logs every connection at INFO; flows keep only its warnings."""
    logging.getLogger("kafka").setLevel(logging.WARNING)


def _servers(bootstrap: str) -> list[str]:
    servers = [s.strip() for s in bootstrap.split(",") if s.strip()]
    if not servers:
        raise MMError("no Kafka bootstrap server given", "use HOST:PORT")
    return servers


def connect(
    make: Callable[[dict[str, Any]], T],
    bootstrap: str,
    connect_timeout_s: float = 12.0,
    request_timeout_ms: int = 10_000,
) -> T:
    """``make(config)`` until the broker answers; BrokerUnavailable after the budget.

    Backoff doubles from 0.25 s up to 4 s; each attempt's bootstrap is capped by what is
    left of the budget, so the total stays close to ``connect_timeout_s``.
    """
    servers = _servers(bootstrap)
    per_attempt_ms = int(min(2.0, max(0.25, connect_timeout_s / 4)) * 1000)
    t0 = time.monotonic()
    attempts = 0
    last: BaseException | None = None

    def attempt() -> T:
        nonlocal attempts, last
        attempts += 1
        left_ms = int((connect_timeout_s - (time.monotonic() - t0)) * 1000)
        config = {
            "bootstrap_servers": servers,
            "client_id": CLIENT_ID,
            "request_timeout_ms": request_timeout_ms,
            "bootstrap_timeout_ms": max(250, min(per_attempt_ms, left_ms)),
            "reconnect_backoff_max_ms": 2000,
        }
        try:
            return make(config)
        except _RETRYABLE as exc:
            last = exc
            raise

    retrying = Retrying(
        stop=stop_after_delay(connect_timeout_s),
        wait=wait_exponential(multiplier=0.25, max=4.0),
        retry=retry_if_exception_type(_RETRYABLE),
        reraise=False,
    )
    try:
        return retrying(attempt)
    except RetryError:
        elapsed = time.monotonic() - t0
        why = (str(last) or type(last).__name__) if last is not None else "no answer"
        raise BrokerUnavailable(
            f"cannot reach Kafka at {bootstrap} "
            f"({attempts} attempt{'s' if attempts != 1 else ''} in {elapsed:.1f} s; {why})",
            BROKER_HINT,
        ) from None


def admin(
    bootstrap: str, connect_timeout_s: float = 12.0, request_timeout_ms: int = 10_000
) -> KafkaAdminClient:
    return connect(
        lambda c: KafkaAdminClient(**c), bootstrap, connect_timeout_s, request_timeout_ms
    )


def producer(
    bootstrap: str,
    connect_timeout_s: float = 12.0,
    request_timeout_ms: int = 10_000,
    compression: str = "none",
    linger_ms: int = 5,
) -> KafkaProducer:
    """acks=all, in order; sends block at most ``request_timeout_ms`` when the broker is gone."""

    def make(c: dict[str, Any]) -> KafkaProducer:
        return KafkaProducer(
            **c,
            acks="all",
            linger_ms=linger_ms,
            batch_size=256 * 1024,
            max_in_flight_requests_per_connection=1,  # a retry must not reorder messages
            max_block_ms=request_timeout_ms,
            delivery_timeout_ms=request_timeout_ms * 3,
            compression_type=None if compression == "none" else compression,
            allow_auto_create_topics=False,
        )

    return connect(make, bootstrap, connect_timeout_s, request_timeout_ms)


def consumer(
    bootstrap: str,
    connect_timeout_s: float = 12.0,
    request_timeout_ms: int = 10_000,
    **extra: Any,
) -> KafkaConsumer:
    """A group-less consumer for ``assign()``: offsets live in Bytewax snapshots."""

    def make(c: dict[str, Any]) -> KafkaConsumer:
        return KafkaConsumer(
            **c,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            allow_auto_create_topics=False,
            **extra,
        )

    return connect(make, bootstrap, connect_timeout_s, request_timeout_ms)


# ---- topics -------------------------------------------------------------------------


def raw_topic(venue: str, prefix: str = "mm") -> str:
    """Raw capture lines of one venue's public streams."""
    return f"{prefix}.raw.{venue}"


def events_topic(venue: str, prefix: str = "mm") -> str:
    """Normalised event messages of one venue, published from the lake for replay."""
    return f"{prefix}.events.{venue}"


@lru_cache(maxsize=4096)
def partition_for(key: bytes, partitions: int) -> int:
    """Java client's default partitioner (murmur2), so every client agrees where a key is.

    Cached: keys are instrument ids, few, and murmur2 here is pure Python."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def ensure_topic(
    client: KafkaAdminClient, topic: str, partitions: int, replication: int = 1
) -> None:
    """Create ``topic`` unless it exists (an existing topic keeps its partition count)."""
    if topic in set(client.list_topics()):
        return
    with suppress(TopicAlreadyExistsError):  # created concurrently by another recorder
        client.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=replication)]
        )


def topic_partitions(c: KafkaConsumer, topic: str, wait_s: float = 1.0) -> list[int]:
    """Partition ids of ``topic``; KafkaTopicError if the broker does not know it."""
    deadline = time.monotonic() + wait_s
    while True:
        parts = c.partitions_for_topic(topic)
        if parts:
            return sorted(parts)
        if time.monotonic() >= deadline:
            raise KafkaTopicError(
                f"Kafka topic {topic!r} does not exist",
                "publish into it first (`mm publish`, or the record flow for raw topics); "
                "topic names start with MM_KAFKA_TOPIC_PREFIX",
            )
        time.sleep(0.1)


def end_offsets(
    c: KafkaConsumer, tps: list[TopicPartition], wait_s: float = 10.0
) -> dict[TopicPartition, int]:
    """Offset one past the last message of each partition, now.

    The ListOffsets answer is checked against the high watermark of a fetch of the last
    batch: some Kafka-compatible brokers (Tansu 0.6) answer ListOffsets with the last
    batch's base offset + 1, which would cut a bounded read short. ``c`` is reassigned.
    """
    listed = c.end_offsets(tps)
    begin = c.beginning_offsets(tps)
    probe = [tp for tp in tps if listed[tp] > begin[tp]]
    result = dict(listed)
    if not probe:
        return result
    c.assign(probe)
    for tp in probe:
        c.seek(tp, listed[tp] - 1)
    deadline = time.monotonic() + wait_s
    pending = set(probe)
    while pending and time.monotonic() < deadline:
        c.poll(timeout_ms=100, max_records=1, update_offsets=False)
        for tp in list(pending):
            hw = c.highwater(tp)
            if hw is not None:
                result[tp] = max(result[tp], hw)
                pending.discard(tp)
    if pending:
        raise BrokerUnavailable(
            f"Kafka did not answer a fetch on {sorted(str(tp) for tp in pending)} within {wait_s} s",
            BROKER_HINT,
        )
    return result
