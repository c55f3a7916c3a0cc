"""The Kafka replay source against the Parquet one, partition by partition: the same batches
(same boundaries), malformed messages skipped, and a resumed partition continues exactly."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from kafka_helpers import produce

from connectors.kafka.codec import HEADER, encode_events
from connectors.kafka.publisher import publish
from connectors.kafka.source import Conn, KafkaEventSource
from connectors.replay.parquet_source import LakeReplaySource
from core.events import EVENT_DTYPE, FIRST, LAST, Kind
from core.lake import iter_events

pytestmark = pytest.mark.kafka

INST = "hyperliquid:BTC"
ROWS = 100  # small batches, so the sample gives many of them


def _drain(part, timeout: float = 20.0) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    """All batches of a source partition (its snapshot after each one in ``part.snaps``)."""
    out, snaps = [], []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            items = part.next_batch()
        except StopIteration:
            part.close()
            part.snaps = snaps
            return out
        for inst, batch in items:
            assert inst == INST
            out.append(batch)
            snaps.append(part.snapshot())
        if not items:
            time.sleep(0.005)
    raise AssertionError("the partition did not end")


def test_kafka_partition_matches_parquet_partition(
    sample_lake: Path, kafka_broker: str, topic_prefix: str
) -> None:
    events = np.concatenate(list(iter_events(sample_lake, "hyperliquid", "BTC")))
    cut = int(events["recv_ts"][len(events) // 2])
    topic = f"{topic_prefix}.events.hyperliquid"
    first = publish(
        sample_lake, "hyperliquid", "BTC", kafka_broker, topic, end_ns=cut, progress=False
    )
    other = np.zeros(1, dtype=EVENT_DTYPE)
    other[0] = (Kind.TRADE, 1, FIRST | LAST, 1, 1, 1, 1, -1, -1, -1, 0)
    produce(
        kafka_broker,
        topic,
        [
            (INST, b"garbage"),
            (INST, HEADER.pack(b"MMEV", 2, 1, 67, 0)),  # a future version
            ("hyperliquid:ETH", encode_events(other)),  # another instrument: not ours, not counted
        ],
        partitions=6,
    )
    second = publish(
        sample_lake, "hyperliquid", "BTC", kafka_broker, topic, start_ns=cut, progress=False
    )
    assert first.events + second.events == len(events)

    parquet = _drain(
        LakeReplaySource(sample_lake, [INST], batch_rows=ROWS).build_part("replay", INST, None)
    )
    source = KafkaEventSource(Conn(kafka_broker, 5), topic, [INST], batch_rows=ROWS)
    part = source.build_part("replay", INST, None)
    kafka = _drain(part)
    assert len(kafka) == len(parquet) > 10
    for k, p in zip(kafka, parquet, strict=True):
        assert np.array_equal(k, p)
    assert np.array_equal(np.concatenate(kafka), events)
    s = part.stats
    assert (s.messages, s.events, s.malformed, s.duplicates) == (
        first.messages + second.messages,
        len(events),
        2,
        0,
    )

    # a partition rebuilt from the snapshot taken after batch 5 emits exactly batches 6...
    resumed = _drain(source.build_part("replay", INST, part.snaps[4]))
    assert len(resumed) == len(kafka) - 5
    for r, k in zip(resumed, kafka[5:], strict=True):
        assert np.array_equal(r, k)


def test_time_range_is_applied_per_message(
    sample_lake: Path, kafka_broker: str, topic_prefix: str
) -> None:
    events = np.concatenate(list(iter_events(sample_lake, "hyperliquid", "BTC")))
    lo, hi = int(events["recv_ts"][300]), int(events["recv_ts"][1500])
    topic = f"{topic_prefix}.events.hyperliquid"
    publish(sample_lake, "hyperliquid", "BTC", kafka_broker, topic, progress=False)
    kafka = _drain(
        KafkaEventSource(Conn(kafka_broker, 5), topic, [INST], lo, hi).build_part("r", INST, None)
    )
    want = np.concatenate(list(iter_events(sample_lake, "hyperliquid", "BTC", lo, hi)))
    got = np.concatenate(kafka)
    assert np.array_equal(got, want)
    assert got["recv_ts"].min() >= lo and got["recv_ts"].max() < hi
