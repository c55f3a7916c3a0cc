"""Record venue public streams into Kafka as raw capture lines.

    MM_KAFKA_BOOTSTRAP=127.0.0.1:9092 MM_VENUE=bybit MM_SYMBOLS=XRPUSDT,BTCUSDT \\
        python -m bytewax.run flows.record

Topic ``{MM_KAFKA_TOPIC_PREFIX}.raw.{venue}`` (created if missing, MM_KAFKA_PARTITIONS
partitions), key ``venue:SYMBOL``, value ``<recv ns> <raw json>`` — a dump of the topic is
a recording ``mm import`` reads. Endpoint: BYBIT_WS_PUBLIC_URL / HYPERLIQUID_API_URL
(testnet by default). MM_RECORD_DEPTH (50, Bybit), MM_RECORD_TRADES (true),
MM_RECORD_MAX_MESSAGES / MM_RECORD_SECONDS end a recording early. Venues: Bybit
(orderbook + publicTrade), Hyperliquid (l2Book + trades; MM_SYMBOLS=BTC,ETH).
"""

from __future__ import annotations

from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from connectors.bybit.config import BybitConfig
from connectors.hyperliquid.config import HyperliquidConfig
from connectors.kafka import client as kc
from connectors.kafka.config import (
    KafkaSettings,
    RecordSettings,
    load_kafka_settings,
    load_record_settings,
)
from connectors.kafka.recorder import BybitRecordSource, HyperliquidRecordSource
from connectors.kafka.sink import KafkaSink
from core.config import load_settings
from core.errors import ConfigError
from core.log import setup_logging
from flows.entry import lazy_flow

RECORDERS: dict[str, Any] = {"bybit": BybitRecordSource, "hyperliquid": HyperliquidRecordSource}


def build_flow(
    ks: KafkaSettings,
    venue: str,
    symbols: list[str],
    rs: RecordSettings | None = None,
    bybit: BybitConfig | None = None,
    hyperliquid: HyperliquidConfig | None = None,
) -> Dataflow:
    """Creates the venue's raw topic if needed (so the broker is checked before the run)."""
    rs = rs or RecordSettings()
    if venue not in RECORDERS:
        raise ConfigError(
            f"recording {venue!r} is not supported yet", f"use MM_VENUE={'|'.join(RECORDERS)}"
        )
    venue_config = hyperliquid if venue == "hyperliquid" else bybit
    source = RECORDERS[venue](
        symbols, rs.depth, rs.trades, venue_config, rs.max_messages, rs.seconds
    )
    topic = kc.raw_topic(venue, ks.topic_prefix)
    adm = kc.admin(ks.bootstrap, ks.connect_timeout_s, ks.request_timeout_ms)
    try:
        kc.ensure_topic(adm, topic, ks.partitions, ks.replication)
    finally:
        adm.close()
    flow = Dataflow("record")
    raw = op.input(f"{venue}_public", flow, source)
    op.output(
        "kafka",
        raw,
        KafkaSink(ks.bootstrap, topic, ks.connect_timeout_s, ks.request_timeout_ms, ks.compression),
    )
    return flow


def flow_from_settings() -> Dataflow:
    setup_logging()
    kc.quiet_client_logs()
    settings = load_settings()
    return build_flow(
        load_kafka_settings(), settings.venue, settings.symbols, load_record_settings()
    )


__getattr__ = lazy_flow("record", flow_from_settings)
