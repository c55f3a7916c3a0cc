"""Raw capture-line messages from Kafka -> lake rows, through the venue loaders.

The loaders are the importers' own, so a topic and a recording file of the same data
give the same rows, with one difference by design: the message number behind ``ord``
is ``(partition << 32) | offset``, so re-reading a message (a restarted consumer, a
replayed topic) produces identical rows and the lake writer's natural-key dedupe drops
them. Malformed messages are counted, logged with their offset, and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from connectors.capture import Loader, SpecResolver
from connectors.kafka.codec import decode_capture_line
from connectors.kafka.source import Record
from connectors.rows import BboRow, BookRow, TradeRow
from core.errors import MalformedLine, MMError
from core.instruments import InstrumentSpec, split_instrument_id
from core.log import event, get_logger

log = get_logger(__name__)

OFFSET_BITS = 32
MAX_PARTITION = 1 << (63 - 20 - OFFSET_BITS)  # ord = msg_no << ROW_BITS(20) must fit int64

# venue -> loader factory(resolver, symbol)
LoaderFactory = Callable[[SpecResolver, str], Loader]


class Rows(NamedTuple):
    """Lake rows of one message for one instrument."""

    spec: InstrumentSpec
    book: list[BookRow]
    trades: list[TradeRow]
    bbo: list[BboRow]


@dataclass
class DecodeStats:
    messages: int = 0
    ignored: int = 0
    malformed: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)  # malformed per topic


def message_number(partition: int, offset: int) -> int:
    if not 0 <= partition < MAX_PARTITION or not 0 <= offset < (1 << OFFSET_BITS):
        raise MalformedLine(f"partition {partition} / offset {offset} out of the ord range")
    return (partition << OFFSET_BITS) | offset


class RawDecoder:
    """One per worker; keeps a loader per instrument (some loaders hold per-file state)."""

    def __init__(self, loaders: dict[str, LoaderFactory], resolve: SpecResolver) -> None:
        self.factories = loaders
        self.resolve = resolve
        self.loaders: dict[str, Loader] = {}
        self.stats = DecodeStats()

    def _loader(self, inst: str) -> tuple[Loader, str]:
        try:
            venue, symbol = split_instrument_id(inst)
        except MMError:
            raise MalformedLine(f"message key {inst!r} is not VENUE:SYMBOL") from None
        loader = self.loaders.get(inst)
        if loader is None:
            factory = self.factories.get(venue)
            if factory is None:
                raise MalformedLine(f"no loader for venue {venue!r}")
            loader = self.loaders[inst] = factory(self.resolve, symbol)
        return loader, symbol

    def decode(self, inst: str, rec: Record) -> list[tuple[str, Rows]]:
        """``[(instrument id, Rows)]`` of one message; [] for control or malformed ones."""
        try:
            loader, symbol = self._loader(inst)
            recv, payload = decode_capture_line(rec.value)
            try:
                msg = orjson.loads(payload)
            except orjson.JSONDecodeError:
                raise MalformedLine("not valid JSON") from None
            parsed = loader.parse(message_number(rec.partition, rec.offset), recv, msg)
            if parsed is None:
                self.stats.ignored += 1
                return []
            out = []
            for p in parsed:
                if p.symbol != symbol:
                    raise MalformedLine(f"message for {p.symbol} under key {inst}")
                out.append((inst, Rows(loader.spec(symbol), p.book, p.trades, p.bbo)))
        except MalformedLine as exc:
            self._malformed(rec, inst, exc.reason)
            return []
        except MMError as exc:  # e.g. an instrument whose tick/lot size is unknown
            self._malformed(rec, inst, str(exc))
            return []
        self.stats.messages += 1
        return out

    def _malformed(self, rec: Record, inst: str, reason: str) -> None:
        s = self.stats
        s.malformed += 1
        s.by_topic[rec.topic] = s.by_topic.get(rec.topic, 0) + 1
        event(
            log,
            logging.WARNING,
            "kafka_malformed",
            topic=rec.topic,
            partition=rec.partition,
            offset=rec.offset,
            key=inst,
            reason=reason,
            count=s.malformed,
        )
