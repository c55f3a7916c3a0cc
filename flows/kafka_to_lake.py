"""Kafka raw topics -> the Parquet lake (the importers' tables), at least once, no duplicates.

    python -m bytewax.recovery state/kafka_to_lake 1        # once: recovery store
    MM_KAFKA_BOOTSTRAP=127.0.0.1:9092 MM_LAKE=data/lake MM_VENUE=bybit \\
        python -m bytewax.run flows.kafka_to_lake -r state/kafka_to_lake -s 1 -b 0

Settings: MM_KAFKA_BOOTSTRAP, MM_KAFKA_TOPICS (default ``{prefix}.raw.{MM_VENUE}``),
MM_KAFKA_UNTIL_END=1 to stop at the end offsets seen at start (a backfill), MM_LAKE.

Why nothing is lost or doubled: the source's snapshot is the next Kafka offset, and the
sink flushes every buffered row to the lake when it snapshots, so a restart resumes at
an offset whose earlier rows are all on disk. Messages after it are read again and give
byte-identical rows (``ord`` comes from partition/offset), which the lake writer drops
on the natural key.
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from connectors.binance.loader import BinanceCoinMLoader, BinanceFuturesLoader
from connectors.bybit.loader import BybitLoader
from connectors.capture import SpecResolver
from connectors.hyperliquid.loader import HyperliquidLoader
from connectors.kafka import client as kc
from connectors.kafka.config import KafkaSettings, load_kafka_settings
from connectors.kafka.raw import LoaderFactory, RawDecoder, Rows
from connectors.kafka.source import Conn, KafkaRecordSource
from core.config import load_settings
from core.instruments import InstrumentSpec, split_instrument_id
from core.log import setup_logging
from flows.entry import lazy_flow
from warehouse.importer import SpecOverrides, make_resolver
from warehouse.lake_writer import write_instrument, write_rows
from warehouse.run_sink import rows_to_frame

LOADERS: dict[str, LoaderFactory] = {
    "bybit": lambda resolve, symbol: BybitLoader(resolve),
    "binance-usdm": lambda resolve, symbol: BinanceFuturesLoader(resolve, symbol=symbol),
    "binance-coinm": lambda resolve, symbol: BinanceCoinMLoader(resolve, symbol=symbol),
    "hyperliquid": lambda resolve, symbol: HyperliquidLoader(resolve),
}
TABLES = ("book_deltas", "trades", "bbo")


def spec_resolver(lake: Path) -> SpecResolver:
    """The lake's spec of an instrument if it has one, else the built-in table (as import does)."""
    return make_resolver(lake, SpecOverrides())


class _ShardPartition(StatefulSinkPartition[Rows, None]):
    """Buffers rows per (table, instrument); flushes when large, old, or snapshotting."""

    def __init__(self, lake: Path, flush_rows: int, flush_s: float) -> None:
        self.lake = lake
        self.flush_rows = flush_rows
        self.flush_s = flush_s
        self.buffers: dict[tuple[str, str], list[tuple]] = {}
        self.specs: dict[str, InstrumentSpec] = {}
        self.known: set[str] = set()
        self.pending = 0
        self.last_flush = time.monotonic()

    def write_batch(self, values: list[Rows]) -> None:
        for rows in values:
            inst = rows.spec.id
            self.specs[inst] = rows.spec
            for table, part in zip(TABLES, (rows.book, rows.trades, rows.bbo), strict=True):
                if part:
                    self.buffers.setdefault((table, inst), []).extend(part)
                    self.pending += len(part)
        if self.pending >= self.flush_rows or time.monotonic() - self.last_flush >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        for inst, spec in self.specs.items():
            if inst not in self.known:
                write_instrument(self.lake, spec)
                self.known.add(inst)
        for (table, inst), rows in self.buffers.items():
            if rows:
                venue, symbol = split_instrument_id(inst)
                write_rows(self.lake, table, venue, symbol, rows_to_frame(table, rows))
                rows.clear()
        self.pending = 0

    def snapshot(self) -> None:
        self.flush()  # every row before this snapshot's offsets is on disk
        return None

    def close(self) -> None:
        self.flush()


class LakeRowsSink(FixedPartitionedSink[Rows, None]):
    """Items ``(instrument id, Rows)``; an instrument always goes to the same shard, so
    one writer at a time touches its partitions (the dedupe is not safe concurrently)."""

    def __init__(
        self, lake: Path, shards: int = 8, flush_rows: int = 200_000, flush_s: float = 5.0
    ) -> None:
        self.lake = Path(lake)
        self.shards = shards
        self.flush_rows = flush_rows
        self.flush_s = flush_s

    def list_parts(self) -> list[str]:
        return [f"shard-{i}" for i in range(self.shards)]

    def part_fn(self, item_key: str) -> int:
        return zlib.crc32(item_key.encode()) % self.shards  # stable across processes

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _ShardPartition:
        return _ShardPartition(self.lake, self.flush_rows, self.flush_s)


def prepare_topics(conn: Conn, topics: list[str], create_partitions: int | None) -> None:
    """Fail before the run, in one line, if the broker is down or a topic is missing; a
    tailing flow creates missing topics instead (it may start before the recorder)."""
    adm = kc.admin(conn.bootstrap, conn.connect_timeout_s, conn.request_timeout_ms)
    try:
        have = set(adm.list_topics())
        for topic in topics:
            if topic in have:
                continue
            if create_partitions is None:
                raise kc.KafkaTopicError(
                    f"Kafka topic {topic!r} does not exist", "check MM_KAFKA_TOPICS / MM_VENUE"
                )
            kc.ensure_topic(adm, topic, create_partitions)
    finally:
        adm.close()


def build_flow(
    conn: Conn,
    topics: list[str],
    lake: Path,
    until_end: bool = False,
    flush_rows: int = 200_000,
    flush_s: float = 5.0,
    partitions: int = 6,
) -> tuple[Dataflow, RawDecoder]:
    """The dataflow and its decoder (whose ``stats`` count messages and malformed ones)."""
    prepare_topics(conn, topics, None if until_end else partitions)
    lake = Path(lake)
    lake.mkdir(parents=True, exist_ok=True)
    decoder = RawDecoder(LOADERS, spec_resolver(lake))
    flow = Dataflow("kafka_to_lake")
    records = op.input("kafka", flow, KafkaRecordSource(conn, topics, until_end))
    rows = op.flat_map("decode", records, lambda kv: decoder.decode(kv[0], kv[1]))
    op.output("lake", rows, LakeRowsSink(lake, flush_rows=flush_rows, flush_s=flush_s))
    return flow, decoder


def conn_from(ks: KafkaSettings) -> Conn:
    return Conn(ks.bootstrap, ks.connect_timeout_s, ks.request_timeout_ms, ks.stall_timeout_s)


def flow_from_settings() -> Dataflow:
    setup_logging()
    kc.quiet_client_logs()
    settings = load_settings()
    ks = load_kafka_settings()
    topics = ks.topics or [kc.raw_topic(settings.venue, ks.topic_prefix)]
    flow, _ = build_flow(
        conn_from(ks), topics, settings.lake, ks.until_end, ks.flush_rows, ks.flush_s, ks.partitions
    )
    return flow


__getattr__ = lazy_flow("kafka_to_lake", flow_from_settings)
