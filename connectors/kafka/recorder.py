"""Recording sources: venue public streams as raw capture lines, keyed by instrument.

Items are ``("venue:SYMBOL", b"<recv ns> <raw json>")`` exactly as received, stamped with
the local receive time. The websocket (heartbeat, reconnect with backoff, resubscribe)
is the Bybit connector's ``ReconnectingWs``; every (re)connect subscribes again and Bybit
answers with fresh book snapshots. An update-id gap resubscribes that book, so the
recording gets a new snapshot instead of a hole the replay cannot repair. Hyperliquid's
recorder (``HyperliquidRecordSource``) is the same on its own protocol.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from connectors import ws
from connectors.bybit import codec
from connectors.bybit.config import BybitConfig, load_bybit_config
from connectors.bybit.data import check_depth
from connectors.bybit.ws import ReconnectingWs, WsSettings
from connectors.hyperliquid.config import HyperliquidConfig, load_hyperliquid_config
from connectors.hyperliquid.instruments import VENUE as HL_VENUE
from connectors.hyperliquid.instruments import coin_for_symbol
from connectors.hyperliquid.ws import HyperliquidWs
from connectors.kafka.codec import encode_capture_line
from core.errors import ConfigError
from core.instruments import instrument_id
from core.log import event, get_logger

log = get_logger(__name__)

VENUE = "bybit"
SUBSCRIBE_CHUNK = 10  # Bybit takes at most 10 topics per subscribe request
Item = tuple[str, bytes]


@dataclass
class RecordStats:
    messages: int = 0
    gaps: int = 0
    unknown: int = 0


class KeepsRaw(ws.ReconnectingWs):
    """Hands ``on_message`` the frame's bytes as received (``self._raw``), not re-encoded."""

    _raw: str | bytes | None = None

    def _dispatch(self, raw: str | bytes, recv_ns: int) -> None:
        self._raw = raw  # keep the bytes as received; on_message sees only the parsed dict
        try:
            super()._dispatch(raw, recv_ns)
        finally:
            self._raw = None

    def raw_line(self, msg: dict[str, Any], recv_ns: int) -> bytes:
        raw = self._raw if self._raw is not None else orjson.dumps(msg)
        return encode_capture_line(recv_ns, raw)


class RawBybitFeed(KeepsRaw, ReconnectingWs):
    """All recorded topics of one venue connection; raw messages go to ``queue``."""

    name = "record"

    def __init__(
        self, url: str, settings: WsSettings, symbols: list[str], depth: int, trades: bool
    ) -> None:
        super().__init__(url, settings)
        self.book_topics = {f"orderbook.{depth}.{s}": s for s in symbols}
        self.topics = list(self.book_topics) + (
            [f"publicTrade.{s}" for s in symbols] if trades else []
        )
        self.queue: deque[Item] = deque()
        self.stats = RecordStats()
        self.last_u: dict[str, int | None] = {}

    async def on_open(self, first: bool) -> None:
        self.last_u = {}
        for i in range(0, len(self.topics), SUBSCRIBE_CHUNK):
            args = self.topics[i : i + SUBSCRIBE_CHUNK]
            await self.send({"req_id": self.next_req_id(), "op": "subscribe", "args": args})

    def on_message(self, msg: dict[str, Any], recv_ns: int) -> None:
        topic = msg.get("topic")
        kind = codec.topic_kind(topic)
        if kind is None:
            self.stats.unknown += 1
            return
        self.queue.append((instrument_id(VENUE, kind[1]), self.raw_line(msg, recv_ns)))
        self.stats.messages += 1
        if kind[0] == "orderbook":
            self._check_gap(str(topic), msg)

    def _check_gap(self, topic: str, msg: dict[str, Any]) -> None:
        data = msg.get("data")
        u = data.get("u") if isinstance(data, dict) else None
        if not isinstance(u, int):
            return
        if msg.get("type") == "snapshot" or u == 1:
            self.last_u[topic] = u
            return
        last = self.last_u.get(topic)
        if last is None:
            return  # waiting for the snapshot of a resubscribe
        if u != last + 1:
            self.stats.gaps += 1
            self.last_u[topic] = None
            event(log, logging.WARNING, "record_gap", venue=VENUE, topic=topic, last_u=last, u=u)
            self.spawn(self._resubscribe(topic))
        else:
            self.last_u[topic] = u

    async def _resubscribe(self, topic: str) -> None:
        await self.send({"req_id": self.next_req_id(), "op": "unsubscribe", "args": [topic]})
        await self.send({"req_id": self.next_req_id(), "op": "subscribe", "args": [topic]})


class _RecordPartition(StatefulSourcePartition[Item, None]):
    def __init__(
        self, feed: ws.ReconnectingWs, max_messages: int | None, seconds: float | None
    ) -> None:
        self.feed = feed
        self.left = max_messages
        self.deadline = time.monotonic() + seconds if seconds is not None else None
        feed.start()

    def next_batch(self) -> list[Item]:
        if self.left is not None and self.left <= 0:
            raise StopIteration
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise StopIteration
        q = self.feed.queue
        n = len(q) if self.left is None else min(len(q), self.left)
        out = [q.popleft() for _ in range(min(n, 5000))]
        if self.left is not None:
            self.left -= len(out)
        return out

    def next_awake(self) -> datetime | None:
        return None if self.feed.queue else datetime.now(UTC) + timedelta(milliseconds=5)

    def snapshot(self) -> None:
        return None  # a live stream cannot be re-read

    def close(self) -> None:
        self.feed.stop()
        stats = self.feed.stats  # type: ignore[attr-defined]
        event(log, logging.INFO, "record_closed", venue=self.feed.venue, **vars(stats))


class BybitRecordSource(FixedPartitionedSource[Item, None]):
    """One websocket for all symbols (Bybit multiplexes topics on a connection)."""

    def __init__(
        self,
        symbols: list[str],
        depth: int = 50,
        trades: bool = True,
        config: BybitConfig | None = None,
        max_messages: int | None = None,
        seconds: float | None = None,
    ) -> None:
        if not symbols:
            raise ConfigError("no symbols to record", "set MM_SYMBOLS, e.g. MM_SYMBOLS=XRPUSDT")
        self.config = config or load_bybit_config()
        check_depth(self.config.category, depth, "MM_RECORD_DEPTH")
        self.symbols = [s.upper() for s in symbols]
        self.depth = depth
        self.trades = trades
        self.max_messages = max_messages
        self.seconds = seconds

    def list_parts(self) -> list[str]:
        return [VENUE]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _RecordPartition:
        assert self.config.ws_public_url is not None
        feed = RawBybitFeed(
            self.config.ws_public_url,
            WsSettings.from_config(self.config),
            self.symbols,
            self.depth,
            self.trades,
        )
        return _RecordPartition(feed, self.max_messages, self.seconds)


class RawHyperliquidFeed(KeepsRaw, HyperliquidWs):
    """``l2Book`` (+ ``trades``) of every recorded coin on one connection, raw.

    Every (re)connect subscribes again, and Hyperliquid answers each l2Book subscribe
    with a full snapshot; every push is a full snapshot too, so a recording has no hole a
    replay cannot cross. Snapshots are kept as received, stale ones included: the
    importer applies the live source's rule (connectors/hyperliquid/loader.py).
    """

    name = "record"

    def __init__(self, url: str, settings: WsSettings, coins: list[str], trades: bool) -> None:
        super().__init__(url, settings)
        self.subscriptions = [{"type": "l2Book", "coin": c} for c in coins] + (
            [{"type": "trades", "coin": c} for c in coins] if trades else []
        )
        self.queue: deque[Item] = deque()
        self.stats = RecordStats()

    async def on_open(self, first: bool) -> None:
        for sub in self.subscriptions:
            await self.send(self.subscription("subscribe", sub))

    def on_message(self, msg: dict[str, Any], recv_ns: int) -> None:
        data = msg.get("data")
        if isinstance(data, dict):
            coin = data.get("coin")
        elif isinstance(data, list) and data and isinstance(data[0], dict):
            coin = data[0].get("coin")
        else:
            coin = None
        if not isinstance(coin, str) or not coin:
            self.stats.unknown += 1
            return
        self.queue.append((instrument_id(HL_VENUE, coin), self.raw_line(msg, recv_ns)))
        self.stats.messages += 1


class HyperliquidRecordSource(FixedPartitionedSource[Item, None]):
    """One websocket for all coins; MM_SYMBOLS may use any name coin_for_symbol maps."""

    def __init__(
        self,
        symbols: list[str],
        depth: int = 50,
        trades: bool = True,
        config: HyperliquidConfig | None = None,
        max_messages: int | None = None,
        seconds: float | None = None,
    ) -> None:
        """``depth`` is not used: Hyperliquid's l2Book has one depth (20 levels a side)."""
        if not symbols:
            raise ConfigError("no symbols to record", "set MM_SYMBOLS, e.g. MM_SYMBOLS=BTC")
        self.config = config or load_hyperliquid_config()
        self.coins = [coin_for_symbol(s) for s in symbols]
        self.trades = trades
        self.max_messages = max_messages
        self.seconds = seconds

    def list_parts(self) -> list[str]:
        return [HL_VENUE]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _RecordPartition:
        feed = RawHyperliquidFeed(
            self.config.ws_url, WsSettings.from_config(self.config), self.coins, self.trades
        )
        return _RecordPartition(feed, self.max_messages, self.seconds)
