"""Record -> Kafka -> lake: the recorded Bybit XRPUSDT capture served over a local websocket,
the record flow, a real broker and the Kafka -> lake flow, with exact row counts.

Two websockets: the full fake Bybit of tests/bybit (real protocol: ping/pong, subscribe
acks, snapshot then deltas) for the whole round trip, and a minimal replayer that sends
the capture's lines byte for byte, to show the recording keeps the raw JSON exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest
from kafka_fake_ws import FakeBybitPublic
from kafka_helpers import BYBIT, REPO, sample_lines, topic_values

from connectors.bybit.config import BybitConfig
from connectors.kafka import client as kc
from connectors.kafka.config import KafkaSettings, RecordSettings
from connectors.kafka.source import Conn
from core.lake import partition_dates, read_partition
from flows.kafka_to_lake import build_flow as kafka_to_lake_flow
from flows.record import build_flow as record_flow
from warehouse.importer import import_file
from warehouse.runner import run_flow

# the Bybit tests' fake venue; its folder is on sys.path only when its own tests run
sys.path.insert(0, str(REPO / "tests" / "bybit"))
from fake_bybit import FakeBybit

pytestmark = pytest.mark.kafka

INST = b"bybit:XRPUSDT"
BOOK_ROWS = 3_966  # 1 snapshot + 49 deltas of the bundled XRPUSDT orderbook.500 capture


def _record(ks: KafkaSettings, url: str) -> None:
    flow = record_flow(
        ks,
        "bybit",
        ["XRPUSDT"],
        RecordSettings(depth=500, max_messages=50),
        BybitConfig(ws_public_url=url),
    )
    run_flow(flow)


def _book(lake: Path) -> pl.DataFrame:
    days = partition_dates(lake, "book_deltas", "bybit", "XRPUSDT")
    frames = [
        pl.from_arrow(read_partition(lake, "book_deltas", "bybit", "XRPUSDT", d)) for d in days
    ]
    return pl.concat(frames).sort("ord") if frames else pl.DataFrame()


def test_record_to_kafka_to_lake_round_trip(
    kafka_broker: str, topic_prefix: str, tmp_path: Path
) -> None:
    ks = KafkaSettings(bootstrap=kafka_broker, topic_prefix=topic_prefix, partitions=3)
    topic = f"{topic_prefix}.raw.bybit"
    with FakeBybit(loop=False, interval_s=0.005) as fake:
        _record(ks, fake.ws_public_url)
    subs = [op for op in fake.public_ops if op.get("op") == "subscribe"]
    assert [op["args"] for op in subs] == [["orderbook.500.XRPUSDT", "publicTrade.XRPUSDT"]]

    # the topic: 50 messages, keyed by instrument, all in the key's partition, in order
    values = topic_values(kafka_broker, topic)
    assert len(values) == 50
    assert {(p, k) for p, k, _ in values} == {(kc.partition_for(INST, 3), INST)}
    recv = [int(v.split(b" ", 1)[0]) for _, _, v in values]
    assert recv == sorted(recv) and recv[0] > 1_700_000_000 * 10**9  # local ns receive times

    # Kafka -> lake: the same book as importing the capture file itself
    lake = tmp_path / "lake"
    flow, decoder = kafka_to_lake_flow(Conn(kafka_broker, 5), [topic], lake, until_end=True)
    run_flow(flow)
    assert (decoder.stats.messages, decoder.stats.malformed) == (50, 0)
    got = _book(lake)
    assert got.height == BOOK_ROWS
    direct = tmp_path / "direct"
    import_file(BYBIT, direct, progress=False)
    want = _book(direct)
    cols = ["seq", "kind", "side", "price", "qty"]
    assert got.select(cols).sort(cols).equals(want.select(cols).sort(cols))
    assert got.group_by("seq").len().sort("seq").equals(want.group_by("seq").len().sort("seq"))
    # ord = ((partition << 32 | offset) << 20) | row: offsets 0..49 of the key's partition
    msg_no = got["ord"].to_numpy() >> 20
    assert set((msg_no >> 32).tolist()) == {kc.partition_for(INST, 3)}
    assert sorted(set((msg_no & 0xFFFFFFFF).tolist())) == list(range(50))

    # reading the topic again (a replayed or restarted consumer) writes nothing twice
    files = sorted(lake.rglob("*.parquet"))
    flow, decoder = kafka_to_lake_flow(Conn(kafka_broker, 5), [topic], lake, until_end=True)
    run_flow(flow)
    assert decoder.stats.messages == 50
    assert _book(lake).height == BOOK_ROWS
    assert sorted(lake.rglob("*.parquet")) == files


def test_recording_keeps_raw_json_and_a_dump_is_importable(
    kafka_broker: str, topic_prefix: str, tmp_path: Path
) -> None:
    ks = KafkaSettings(bootstrap=kafka_broker, topic_prefix=topic_prefix, partitions=3)
    with FakeBybitPublic(BYBIT) as fake:
        _record(ks, fake.url)
    values = topic_values(kafka_broker, f"{topic_prefix}.raw.bybit")
    assert [v.split(b" ", 1)[1] for _, _, v in values] == sample_lines(BYBIT)

    dump = tmp_path / "dump.txt"
    dump.write_bytes(b"\n".join(v for _, _, v in values) + b"\n")
    report = import_file(dump, tmp_path / "dump_lake", progress=False)
    assert (report.messages, report.malformed) == (50, 0)
    assert report.rows["book_deltas bybit:XRPUSDT"]["written"] == BOOK_ROWS
