"""Lake -> Kafka: publish one instrument's recorded events for replay.

One Kafka message per venue message (rows FIRST..LAST), in replay order (receive time,
then arrival order), keyed by instrument id, preceded by one instrument-spec message so
the topic can be replayed without the lake. Encoding: ``codec.encode_events``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from connectors.kafka import client as kc
from connectors.kafka.codec import encode_events, encode_spec
from connectors.kafka.sink import producer_partitions, send_checked
from core.events import LAST
from core.instruments import instrument_id
from core.lake import (
    MARKET_TABLES,
    data_files,
    event_days,
    iter_events,
    partition_dir,
    read_instrument,
)
from core.progress import Progress

CHUNK = 20_000  # messages per flush: bounds memory and the cost of a failed flush


@dataclass
class PublishReport:
    topic: str
    instrument: str
    partition: int
    messages: int = 0
    events: int = 0
    bytes: int = 0
    seconds: float = 0.0

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "seconds": round(self.seconds, 3),
            "messages_per_s": round(self.messages_per_s),
        }


def _estimate_events(lake: Path, venue: str, symbol: str, days: list) -> int:
    """Rows in the selected days from Parquet footers (a progress total, not exact)."""
    total = 0
    for table in MARKET_TABLES:
        for day in days:
            for f in data_files(partition_dir(lake, table, venue, symbol, day)):
                n = pq.read_metadata(f).num_rows
                total += 2 * n if table == "bbo" else n
    return total


def publish(
    lake: str | Path,
    venue: str,
    symbol: str,
    bootstrap: str,
    topic: str | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    partitions: int = 6,
    replication: int = 1,
    connect_timeout_s: float = 12.0,
    request_timeout_ms: int = 10_000,
    compression: str = "none",
    progress: bool = True,
) -> PublishReport:
    lake = Path(lake)
    spec = read_instrument(lake, venue, symbol)  # LakeError with a hint if it is not there
    inst = instrument_id(venue, symbol)
    topic = topic or kc.events_topic(venue)
    adm = kc.admin(bootstrap, connect_timeout_s, request_timeout_ms)
    try:
        kc.ensure_topic(adm, topic, partitions, replication)
    finally:
        adm.close()
    prod = kc.producer(bootstrap, connect_timeout_s, request_timeout_ms, compression, linger_ms=20)
    timeout_s = request_timeout_ms / 1000 * 3
    try:
        n = producer_partitions(prod, topic)
        key = inst.encode()
        report = PublishReport(topic, inst, kc.partition_for(key, n))
        days = event_days(lake, venue, symbol, start_ns, end_ns)
        t0 = time.monotonic()
        with Progress(
            f"publish {inst} -> {topic}",
            _estimate_events(lake, venue, symbol, days),
            enabled=progress,
        ) as bar:
            report.bytes += send_checked(prod, topic, n, [(inst, encode_spec(spec))], timeout_s)
            pending: list[tuple[str, bytes]] = []
            for ev in iter_events(lake, venue, symbol, start_ns, end_ns):
                ends = np.flatnonzero(ev["flags"] & LAST) + 1
                if len(ends) == 0 or ends[-1] != len(ev):
                    ends = np.append(ends, len(ev))  # a cut-off last message stays whole
                start = 0
                for stop in ends.tolist():
                    pending.append((inst, encode_events(ev[start:stop])))
                    start = stop
                    if len(pending) >= CHUNK:
                        report.bytes += send_checked(prod, topic, n, pending, timeout_s)
                        report.messages += len(pending)
                        pending = []
                        bar.update(report.events + stop, f"{report.messages:,} messages")
                report.events += len(ev)
                bar.update(report.events, f"{report.messages + len(pending):,} messages")
            if pending:
                report.bytes += send_checked(prod, topic, n, pending, timeout_s)
                report.messages += len(pending)
            bar.update(bar.total or report.events, f"{report.messages:,} messages")
        report.seconds = time.monotonic() - t0
    finally:
        prod.close(timeout=timeout_s)
    return report
