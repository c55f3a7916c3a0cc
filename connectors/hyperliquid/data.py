"""Hyperliquid public market data as a Bytewax source: one partition (and websocket) per coin.

Items are ``("hyperliquid:COIN", EVENT_DTYPE batch)``, one venue message per batch,
parsed by the import path's codec (connectors/hyperliquid/codec.py -> rows_to_events)
with local receive timestamps, so a live run sees exactly the rows an import of the
same messages makes.

The feed is Bybit's (connectors/bybit/data.py PublicFeed: FEED_RESET on connect and on
every disconnect, resubscribes one at a time with backoff, a reconnect when a
resubscribe brings no snapshot, the trader's ResyncRequests, the hourly spec refresh)
with Hyperliquid's protocol:

* subscribe ``{"method": "subscribe", "subscription": {"type": "l2Book"|"trades",
  "coin": C}}``; the server answers an l2Book subscribe with a full snapshot, and every
  l2Book push is a full snapshot too, so a FEED_RESET is always followed by a usable book;
* heartbeat ``{"method": "ping"}`` (answer ``{"channel": "pong"}``) every
  ``ping_interval_s``: the server closes a link that is quiet for 60 s;
* l2Book has no sequence numbers: a snapshot whose ``time`` is older than the last
  one's is dropped and counted (``stats.stale_dropped``), never applied;
* no l2Book for ``stale_after_s``, or snapshots whose levels have not changed for
  ``frozen_after_s`` (a stuck feed repeating itself), resubscribe (FEED_RESET first).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

import numpy as np
from bytewax.inputs import FixedPartitionedSource

from connectors.bybit.data import PublicFeed, _PublicPartition
from connectors.hyperliquid import codec
from connectors.hyperliquid.config import HyperliquidConfig, load_hyperliquid_config
from connectors.hyperliquid.instruments import VENUE, HyperliquidInstruments
from connectors.hyperliquid.rest import HyperliquidRest
from connectors.hyperliquid.ws import HyperliquidWs
from connectors.rows import rows_to_events
from connectors.ws import WsSettings
from core.errors import MalformedLine
from core.events import ResetReason
from core.instruments import InstrumentSpec
from core.log import event, get_logger
from monitoring.metrics import current as current_metrics

log = get_logger(__name__)

Item = tuple[str, np.ndarray]


class HyperliquidFeed(HyperliquidWs, PublicFeed):
    """``l2Book`` (+ ``trades``) of one coin on its own websocket (Hyperliquid's protocol
    from HyperliquidWs, the book guards from PublicFeed)."""

    def __init__(
        self,
        url: str,
        settings: WsSettings,
        spec: InstrumentSpec,
        trades: bool = True,
        stale_after_s: float = 20.0,
        frozen_after_s: float = 60.0,
        instruments: HyperliquidInstruments | None = None,
        refresh_s: float = 3600.0,
        resync_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(
            url, settings, spec, 0, trades, stale_after_s, instruments, refresh_s, resync_timeout_s
        )  # type: ignore[arg-type]
        self.coin = spec.symbol
        self.book_sub = {"type": "l2Book", "coin": self.coin}
        self.trade_sub = {"type": "trades", "coin": self.coin} if trades else None
        self.frozen_after_s = frozen_after_s
        self.last_time: int | None = None  # venue ms of the newest snapshot taken
        self._last_levels: Any = None
        self._last_change = time.monotonic()
        self.stale_dropped = 0
        self.frozen = 0
        self.name = f"public:{self.coin}"

    async def on_open(self, first: bool) -> None:
        if first or self.last_u is not None:  # a reconnect after a disconnect is reset already
            if first:
                self._reset(ResetReason.CONNECT, "connect")
            else:
                self._reset(ResetReason.DISCONNECT, "reconnect")
        self._snapshot_seen = asyncio.Event()
        self._last_change = time.monotonic()
        await self.send(self.subscription("subscribe", self.book_sub))
        if self.trade_sub is not None:
            await self.send(self.subscription("subscribe", self.trade_sub))

    async def send_resubscribe(self) -> None:
        self._last_change = time.monotonic()
        await self.send(self.subscription("unsubscribe", self.book_sub))
        await self.send(self.subscription("subscribe", self.book_sub))

    # -- watchdog: stale (nothing comes) and frozen (the same book keeps coming) ---------
    def session_tasks(self) -> list[Coroutine[Any, Any, None]]:
        return [*super().session_tasks(), self._frozen_watch()]

    async def _frozen_watch(self) -> None:
        period = min(1.0, self.frozen_after_s / 4)
        while True:
            await asyncio.sleep(period)
            still = time.monotonic() - self._last_change
            if still > self.frozen_after_s and self.last_u is not None:
                self.frozen += 1
                self.stats.stale += 1
                self._schedule_resubscribe(
                    ResetReason.STALE, f"frozen: the book has not changed for {still:.1f}s"
                )
                self._last_change = time.monotonic()

    # -- messages -------------------------------------------------------------------------
    def on_message(self, msg: dict[str, Any], recv_ns: int) -> None:
        self.stats.messages += 1
        data = msg.get("data")
        if msg.get("channel") == "l2Book":
            self._on_book(data, recv_ns)
            return
        if not isinstance(data, list):
            return
        mine = [t for t in data if isinstance(t, dict) and t.get("coin") == self.coin]
        if mine:
            parsed = codec.trades(self.spec, recv_ns, self._next_no(), mine)
            self.queue.append((self.inst, rows_to_events([], parsed.trades, [])))

    def _on_book(self, data: Any, recv_ns: int) -> None:
        self._last_book = time.monotonic()
        if not isinstance(data, dict) or data.get("coin") != self.coin:
            return
        # any snapshot answers a pending resubscribe (good or not)
        self._resub_pending = False
        if self._snapshot_seen is not None:
            self._snapshot_seen.set()
        t = data.get("time")
        if isinstance(t, int) and self.last_time is not None and t < self.last_time:
            self.stale_dropped += 1
            self.stats.dropped += 1
            event(log, logging.WARNING, "book_stale_snapshot", venue=VENUE, inst=self.inst,
                  time=t, last_time=self.last_time)  # fmt: skip
            return
        try:
            parsed = codec.l2book(self.spec, recv_ns, self._next_no(), data)
        except MalformedLine as exc:
            self._bad_message({"type": "snapshot"}, exc.reason)
            return
        levels = data.get("levels")
        if levels != self._last_levels:
            self._last_levels = levels
            self._last_change = time.monotonic()
        self._resub_fails = 0  # a good snapshot: the next resubscribe goes at once
        self.last_time = int(t) if isinstance(t, int) else self.last_time
        self.last_u = self.last_time or 0  # the base class's "a book is live" marker
        self.queue.append((self.inst, rows_to_events(parsed.book, [], [])))


class HyperliquidPublicSource(FixedPartitionedSource[Item, None]):
    """Live Hyperliquid order book (+ trades) per coin, as EVENT_DTYPE batches."""

    def __init__(
        self,
        coins: list[str],
        trades: bool = True,
        config: HyperliquidConfig | None = None,
        specs: dict[str, InstrumentSpec] | None = None,
        poll_s: float = 0.002,
        max_items: int = 1000,
        resync_bus: str | None = None,
    ) -> None:
        """``coins`` as Hyperliquid names them (see instruments.coin_for_symbol);
        ``resync_bus``: where the trader's ResyncRequests arrive (None: no requests)."""
        self.config = config or load_hyperliquid_config()
        self.coins = list(coins)
        self.trades = trades
        self.specs = specs
        self.poll_s = poll_s
        self.max_items = max_items
        self.resync_bus = resync_bus

    def list_parts(self) -> list[str]:
        return list(self.coins)

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _PublicPartition:
        feed = self.feed(for_part)
        if (metrics := current_metrics()) is not None:
            metrics.watch_book_feed("hyperliquid", for_part, feed.stats)
            metrics.watch_ws("hyperliquid", "public", for_part, feed)
        return _PublicPartition(feed, self.poll_s, self.max_items, self.resync_bus)

    def feed(self, coin: str) -> HyperliquidFeed:
        cfg = self.config
        instruments = HyperliquidInstruments(
            HyperliquidRest(cfg), [coin], refresh_s=cfg.meta_refresh_s
        )
        if self.specs and coin in self.specs:
            instruments.specs = {coin: self.specs[coin]}
            instruments.loaded_at = instruments.clock()
        spec = instruments.get(coin)
        return HyperliquidFeed(
            cfg.ws_url,
            WsSettings.from_config(cfg),
            spec,
            self.trades,
            cfg.stale_after_s,
            cfg.frozen_after_s,
            instruments,
            cfg.meta_refresh_s,
            cfg.resync_timeout_s,
        )
