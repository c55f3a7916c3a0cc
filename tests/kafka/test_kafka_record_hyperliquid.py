"""Record Hyperliquid -> Kafka -> lake against the fake Hyperliquid and a real broker: the
topic holds the bytes the venue sent, and the Kafka -> lake flow writes the rows an
import of those same bytes writes (the rows the live source makes, tests/hyperliquid)."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest
from kafka_helpers import REPO, topic_values

from connectors.hyperliquid.config import load_hyperliquid_config
from connectors.kafka.config import KafkaSettings, RecordSettings
from connectors.kafka.source import Conn
from core.lake import partition_dates, read_partition
from flows.kafka_to_lake import build_flow as kafka_to_lake_flow
from flows.record import build_flow as record_flow
from warehouse.importer import import_file
from warehouse.runner import run_flow

sys.path.insert(0, str(REPO / "tests" / "hyperliquid"))  # the fake Hyperliquid
from fake_hyperliquid import FakeHyperliquid

pytestmark = pytest.mark.kafka

INST = b"hyperliquid:BTC"
MESSAGES = 40


def _table(lake: Path, table: str) -> pl.DataFrame:
    days = partition_dates(lake, table, "hyperliquid", "BTC")
    frames = [pl.from_arrow(read_partition(lake, table, "hyperliquid", "BTC", d)) for d in days]
    return pl.concat(frames).sort("ord").drop("ord") if frames else pl.DataFrame()


def test_record_to_kafka_to_lake_equals_importing_what_the_venue_sent(
    kafka_broker: str, topic_prefix: str, tmp_path: Path
) -> None:
    ks = KafkaSettings(bootstrap=kafka_broker, topic_prefix=topic_prefix, partitions=3)
    topic = f"{topic_prefix}.raw.hyperliquid"
    with FakeHyperliquid(interval_s=0.01) as fake:
        fake.stale_next(1)  # one older snapshot on the wire: recorded, refused on import
        cfg = load_hyperliquid_config(api_url=fake.base_url)
        flow = record_flow(ks, "hyperliquid", ["BTC-PERP"], RecordSettings(max_messages=MESSAGES),
                           hyperliquid=cfg)  # fmt: skip
        run_flow(flow)
    assert fake.count("stale_sent") == 1
    subs = [d["subscription"] for _, w, d in fake.ws_log if w == "subscribe"]
    assert subs == [{"type": "l2Book", "coin": "BTC"}, {"type": "trades", "coin": "BTC"}]

    # the topic: the venue's bytes exactly, behind local receive times
    keyed = topic_values(kafka_broker, topic)
    assert {k for _, k, _ in keyed} == {INST}
    values = [v for _, _, v in keyed]
    sent = [text.encode() for _, conn, text in fake.sent if conn == 1][:MESSAGES]
    assert len(values) == MESSAGES
    assert [v.split(b" ", 1)[1] for v in values] == sent
    recv = [int(v.split(b" ", 1)[0]) for v in values]
    assert recv == sorted(recv)

    # Kafka -> lake writes what importing a dump of the same lines writes
    lake = tmp_path / "lake"
    flow, decoder = kafka_to_lake_flow(Conn(kafka_broker, 5), [topic], lake, until_end=True)
    run_flow(flow)
    assert (decoder.stats.messages, decoder.stats.malformed) == (MESSAGES - 1, 1)  # the stale one
    dump = tmp_path / "hyperliquid_btc.txt"
    dump.write_bytes(b"\n".join(values) + b"\n")
    report = import_file(dump, tmp_path / "direct", progress=False)
    assert (report.messages, report.malformed) == (MESSAGES - 1, 1)
    assert "older than the previous snapshot" in report.malformed_lines[0][1]
    for table in ("book_deltas", "trades"):
        got, want = _table(lake, table), _table(tmp_path / "direct", table)
        assert got.height > 0 and got.equals(want), table
