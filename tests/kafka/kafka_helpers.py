"""Helpers for the Kafka tests: fill topics, read sample lines, flow subprocess env."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from kafka import TopicPartition

from connectors.kafka import client as kc
from connectors.kafka.sink import send_checked

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "sample"
BINANCE = SAMPLES / "binance-usdm_btcusdt_20240808.gz"
BYBIT = SAMPLES / "bybit_xrpusdt_ob500_2024-12-01.data.gz"


def produce(
    bootstrap: str, topic: str, items: list[tuple[str, bytes]], partitions: int = 1
) -> None:
    """Create ``topic`` and write ``(key, value)`` items in order, acknowledged."""
    adm = kc.admin(bootstrap, 5)
    try:
        kc.ensure_topic(adm, topic, partitions)
    finally:
        adm.close()
    prod = kc.producer(bootstrap, 5)
    try:
        for i in range(0, len(items), 5000):
            send_checked(prod, topic, partitions, items[i : i + 5000], 30)
    finally:
        prod.close()


def sample_lines(path: Path, limit: int | None = None) -> list[bytes]:
    with gzip.open(path, "rb") as fh:
        lines = [line.strip() for line in fh if line.strip()]
    return lines[:limit] if limit else lines


def clean_env() -> dict[str, str]:
    """The process environment without MM_* but the test MM_HOME (for flow subprocesses)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MM_") or k == "MM_HOME"}


def topic_values(bootstrap: str, topic: str) -> list[tuple[int, bytes, bytes]]:
    """Every message of ``topic`` as (partition, key, value), each partition in order
    (partitions assigned, not joined through a group: nothing is committed)."""
    c = kc.consumer(bootstrap, 5)
    try:
        tps = [TopicPartition(topic, p) for p in kc.topic_partitions(c, topic)]
        ends = kc.end_offsets(c, tps)
        c.assign(tps)
        c.seek_to_beginning()
        out = []
        while sum(c.position(tp) for tp in tps) < sum(ends.values()):
            for tp, msgs in c.poll(timeout_ms=200).items():
                out += [(tp.partition, m.key, m.value) for m in msgs if m.offset < ends[tp]]
        return out
    finally:
        c.close()
