"""Bybit public market data as a Bytewax source: one partition (and websocket) per symbol.

Items are ``("bybit:SYMBOL", EVENT_DTYPE batch)``, one venue message per batch, built by
the same codec as the replay path (connectors/bybit/codec.py -> rows_to_events), with
local receive timestamps (``time.time_ns()``).

Book continuity is guarded here, before anything reaches the trader:

* the first connect, and every disconnect the moment it is noticed, emit a one-row
  FEED_RESET batch (the book is stale from then until a fresh snapshot); every connect
  subscribes, and Bybit answers with a fresh snapshot;
* a delta whose ``u`` is not the previous ``u`` + 1 is a gap: FEED_RESET, drop it,
  unsubscribe + subscribe (a fresh snapshot follows); deltas before that snapshot drop;
* a book message that does not parse (a NaN, inf or negative size, a missing ``u``) is a
  bad message: FEED_RESET, resubscribe (a snapshot is Bybit's only way back: it sends
  none unasked);
* ``u == 1`` is Bybit's full re-send after a service restart: it goes out as a snapshot;
* no book message for ``stale_after_s``: FEED_RESET and resubscribe;
* an hourly instruments-info refresh that changes tick or lot: FEED_RESET, resubscribe;
* the trader's resync request (``request_resync``, from any thread: its book stayed
  unusable, e.g. crossed or lagging, see operators/book/resync.py): FEED_RESET,
  resubscribe.

Each FEED_RESET row carries its ``ResetReason`` code in ``qty``. Resubscribes go one at a
time with exponential backoff while no good snapshot comes back (the first at once, then
``backoff_initial_s`` doubling up to ``backoff_max_s``), so a venue answering with bad
snapshots is not hammered; a resubscribe that brings no snapshot at all within
``resync_timeout_s`` drops the connection (the reconnect subscribes afresh). Every
resubscribe is one ``book_resubscribe`` log line.

The websocket runs in a background thread; ``next_batch`` only drains a queue (and hands
the trader's resync requests, from a process-local bus, to the feed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Coroutine
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from connectors.bybit import codec
from connectors.bybit.config import BybitConfig, load_bybit_config
from connectors.bybit.instruments import BybitInstruments
from connectors.bybit.rest import BybitRest
from connectors.bybit.ws import ReconnectingWs, WsSettings
from connectors.feedback import bus
from connectors.rows import ROW_BITS, rows_to_events
from connectors.ws import drain_queue
from core.errors import ConfigError, MalformedLine
from core.events import EVENT_DTYPE, FIRST, LAST, Kind, ResetReason, ResyncRequest
from core.instruments import InstrumentSpec
from core.log import event, get_logger
from monitoring.metrics import current as current_metrics

log = get_logger(__name__)

Item = tuple[str, np.ndarray]
DEPTHS = {"linear": (1, 50, 200, 500), "spot": (1, 50, 200)}


def check_depth(category: str, depth: int, setting: str = "the depth") -> None:
    """Bybit offers a few order book depths per category; anything else is a config error."""
    allowed = DEPTHS[category]
    if depth not in allowed:
        raise ConfigError(
            f"Bybit {category} order book depth {depth} is not offered",
            f"set {setting} to one of {', '.join(map(str, allowed))}",
        )


SNAPSHOT = int(Kind.BOOK_SNAPSHOT)


def feed_reset_batch(
    recv_ns: int, msg_no: int, reason: ResetReason = ResetReason.UNKNOWN
) -> np.ndarray:
    """One FEED_RESET row: the book is invalid until the next snapshot (``qty`` = why)."""
    ev = np.zeros(1, dtype=EVENT_DTYPE)
    ev[0] = (Kind.FEED_RESET, 0, FIRST | LAST, recv_ns, recv_ns, 0, int(reason), -1, -1, -1,
             msg_no << ROW_BITS)  # fmt: skip
    return ev


@dataclass
class FeedStats:
    messages: int = 0
    resets: int = 0
    gaps: int = 0
    full_resends: int = 0
    stale: int = 0
    resubscribes: int = 0
    dropped: int = 0  # deltas while waiting for a snapshot, duplicates
    bad_messages: int = 0  # book messages that did not parse
    resync_requests: int = 0  # from the trader
    resubscribe_timeouts: int = 0  # resubscribes answered by no snapshot: reconnected


class PublicFeed(ReconnectingWs):
    """``orderbook.{depth}.{symbol}`` (+ ``publicTrade.{symbol}``) of one symbol."""

    name = "public"

    def __init__(
        self,
        url: str,
        settings: WsSettings,
        spec: InstrumentSpec,
        depth: int = 50,
        trades: bool = True,
        stale_after_s: float = 20.0,
        instruments: BybitInstruments | None = None,
        refresh_s: float = 3600.0,
        resync_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(url, settings)
        self.spec = spec
        self.inst = spec.id
        self.book_topic = f"orderbook.{depth}.{spec.symbol}"
        self.trade_topic = f"publicTrade.{spec.symbol}" if trades else None
        self.stale_after_s = stale_after_s
        self.instruments = instruments
        self.refresh_s = refresh_s
        self.resync_timeout_s = resync_timeout_s
        self.queue: deque[Item] = deque()
        self.stats = FeedStats()
        self.last_u: int | None = None  # None: waiting for a snapshot
        self._last_book = time.monotonic()
        self._msg_no = 0
        self.name = f"public:{spec.symbol}"
        # resubscribes: one at a time, backed off while no good snapshot comes back
        self._resub_fails = 0  # resubscribes since the last good snapshot
        self._resub_pending = False  # a resubscribe is waiting for its snapshot
        self._resub_task: asyncio.Task | None = None
        self._snapshot_seen: asyncio.Event | None = None

    # -- queue ----------------------------------------------------------------------------
    def drain(self, limit: int = 10_000) -> list[Item]:
        return drain_queue(self.queue, limit)

    def _next_no(self) -> int:
        self._msg_no += 1
        return self._msg_no

    def _reset(self, code: ResetReason, reason: str) -> None:
        self.last_u = None
        self._last_book = time.monotonic()
        self.stats.resets += 1
        batch = feed_reset_batch(time.time_ns(), self._next_no(), code)
        self.queue.append((self.inst, batch))
        event(log, logging.WARNING, "feed_reset", venue=self.venue, inst=self.inst, reason=reason)

    # -- session --------------------------------------------------------------------------
    async def on_open(self, first: bool) -> None:
        if first or self.last_u is not None:  # a reconnect after a disconnect is reset already
            if first:
                self._reset(ResetReason.CONNECT, "connect")
            else:
                self._reset(ResetReason.DISCONNECT, "reconnect")
        self._snapshot_seen = asyncio.Event()
        args = [self.book_topic] + ([self.trade_topic] if self.trade_topic else [])
        await self.send({"req_id": self.next_req_id(), "op": "subscribe", "args": args})

    def on_close(self, reason: str) -> None:
        self._cancel_resubscribe()  # the reconnect subscribes afresh
        if self.last_u is not None and not self._stopping:  # stale from now on
            self._reset(ResetReason.DISCONNECT, f"disconnected: {reason}")

    # -- resubscribe (gap, bad message, stale, spec change, trader's request) -------------
    def request_resync(self, reason: str) -> None:
        """The trader's book stayed unusable: resubscribe (thread-safe, returns at once)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with suppress(RuntimeError):  # the loop closed meanwhile: stopping
                loop.call_soon_threadsafe(self._on_resync_request, reason)

    def _on_resync_request(self, reason: str) -> None:
        self.stats.resync_requests += 1
        if self._ws is None:
            event(log, logging.INFO, "resync_skipped", venue=self.venue, inst=self.inst,
                  reason=reason, why="not connected: the reconnect subscribes afresh")  # fmt: skip
            return
        self._schedule_resubscribe(ResetReason.RESYNC, f"resync requested: {reason}")

    def _schedule_resubscribe(self, code: ResetReason, reason: str) -> None:
        """FEED_RESET now, then unsubscribe + subscribe (after a backoff if the previous
        resubscribe brought no good snapshot). One at a time: a request while one waits
        for its snapshot is part of it."""
        if self._resub_pending:
            return
        self._reset(code, reason)
        s = self.settings
        fails = self._resub_fails
        delay = 0.0 if fails == 0 else min(s.backoff_initial_s * 2 ** (fails - 1), s.backoff_max_s)
        self._resub_fails += 1
        self._resub_pending = True
        assert self._loop is not None
        self._resub_task = self._loop.create_task(self._resubscribe(reason, delay, fails + 1))
        self._resub_task.add_done_callback(self._log_task_error)

    def _cancel_resubscribe(self) -> None:
        self._resub_pending = False
        task, self._resub_task = self._resub_task, None
        if task is not None and not task.done():
            task.cancel()

    async def _resubscribe(self, reason: str, delay: float, attempt: int) -> None:
        event(log, logging.WARNING, "book_resubscribe", venue=self.venue, inst=self.inst,
              reason=reason, attempt=attempt, delay_s=round(delay, 3))  # fmt: skip
        if delay:
            await asyncio.sleep(delay)
        seen = self._snapshot_seen = asyncio.Event()
        self.stats.resubscribes += 1
        await self.send_resubscribe()
        try:
            await asyncio.wait_for(seen.wait(), self.resync_timeout_s)
        except TimeoutError:
            self._resub_pending = False
            self.stats.resubscribe_timeouts += 1
            event(log, logging.WARNING, "book_resubscribe_timeout", venue=self.venue,
                  inst=self.inst, timeout_s=self.resync_timeout_s)  # fmt: skip
            await self._drop(f"no snapshot within {self.resync_timeout_s}s of a resubscribe")

    async def send_resubscribe(self) -> None:
        """Unsubscribe + subscribe the book: the venue answers with a fresh snapshot."""
        await self.send(
            {"req_id": self.next_req_id(), "op": "unsubscribe", "args": [self.book_topic]}
        )
        await self.send(
            {"req_id": self.next_req_id(), "op": "subscribe", "args": [self.book_topic]}
        )

    def session_tasks(self) -> list[Coroutine[Any, Any, None]]:
        tasks = [self._watchdog()]
        if self.instruments is not None:
            tasks.append(self._refresher())
        return tasks

    async def _watchdog(self) -> None:
        period = min(1.0, self.stale_after_s / 4)
        while True:
            await asyncio.sleep(period)
            idle = time.monotonic() - self._last_book
            if idle > self.stale_after_s:
                self.stats.stale += 1
                self._schedule_resubscribe(
                    ResetReason.STALE, f"stale: no book message for {idle:.1f}s"
                )
                self._last_book = time.monotonic()  # the next check waits a full period

    async def _refresher(self) -> None:
        assert self.instruments is not None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(self.refresh_s, 60.0))
            changed = await loop.run_in_executor(None, self.instruments.refresh_if_due)
            if self.spec.symbol in changed:
                self.spec = self.instruments.get(self.spec.symbol)
                self._cancel_resubscribe()  # the book must be re-read in the new units
                self._schedule_resubscribe(ResetReason.SPEC_CHANGE, "instrument spec changed")

    # -- messages -------------------------------------------------------------------------
    def on_message(self, msg: dict[str, Any], recv_ns: int) -> None:
        topic = msg.get("topic")
        self.stats.messages += 1
        if topic == self.book_topic:
            self._on_book(msg, recv_ns)
        elif topic == self.trade_topic:
            parsed = codec.public_trades(self.spec, recv_ns, self._next_no(), msg)
            if parsed.trades:
                self.queue.append((self.inst, rows_to_events([], parsed.trades, [])))

    def _on_book(self, msg: dict[str, Any], recv_ns: int) -> None:
        self._last_book = time.monotonic()
        data = msg.get("data")
        u = data.get("u") if isinstance(data, dict) else None
        full = msg.get("type") == "snapshot" or u == 1
        if full:  # the venue answered: a pending resubscribe is over (good snapshot or not)
            self._resub_pending = False
            if self._snapshot_seen is not None:
                self._snapshot_seen.set()
        if isinstance(u, bool) or not isinstance(u, int):
            self._bad_message(msg, "no integer update id 'u'")
            return
        if not full:
            last = self.last_u
            if last is None or u <= last:
                self.stats.dropped += 1
                return
            if u != last + 1:
                self.stats.gaps += 1
                self._schedule_resubscribe(ResetReason.GAP, f"update id gap: {last} -> {u}")
                return
        try:
            parsed = codec.orderbook(self.spec, recv_ns, self._next_no(), msg)
        except MalformedLine as exc:
            self._bad_message(msg, exc.reason)
            return
        if full and u == 1 and self.last_u is not None:
            self.stats.full_resends += 1
            event(log, logging.WARNING, "book_full_resend", venue=self.venue, inst=self.inst)
        rows = parsed.book
        if full and rows and rows[0][6] != SNAPSHOT:  # u == 1 sent as a delta
            rows = [(*r[:6], SNAPSHOT, *r[7:]) for r in rows]
        if full:
            self._resub_fails = 0  # a good snapshot: the next resubscribe goes at once
        self.last_u = u
        self.queue.append((self.inst, rows_to_events(rows, [], [])))

    def _bad_message(self, msg: dict[str, Any], error: str) -> None:
        """A book message we cannot apply: the book is unknown until a fresh snapshot."""
        self.stats.bad_messages += 1
        what = "snapshot" if msg.get("type") == "snapshot" else "delta"
        event(log, logging.WARNING, "book_bad_message", venue=self.venue, inst=self.inst,
              type=what, error=error[:200])  # fmt: skip
        self._schedule_resubscribe(ResetReason.BAD_MESSAGE, f"bad book {what}: {error[:120]}")


class _PublicPartition(StatefulSourcePartition[Item, None]):
    def __init__(
        self, feed: PublicFeed, poll_s: float, max_items: int, resync_bus: str | None = None
    ) -> None:
        self.feed = feed
        self.poll = timedelta(seconds=poll_s)
        self.max_items = max_items
        self.resync_bus = bus(resync_bus) if resync_bus else None
        feed.start()

    def next_batch(self) -> list[Item]:
        if self.resync_bus is not None:
            for req in self.resync_bus.drain(self.feed.inst):
                if isinstance(req, ResyncRequest):
                    self.feed.request_resync(req.reason)
        return self.feed.drain(self.max_items)

    def next_awake(self) -> datetime | None:
        return None if self.feed.queue else datetime.now(UTC) + self.poll

    def snapshot(self) -> None:
        return None  # live data cannot be re-read: nothing to resume

    def close(self) -> None:
        self.feed.stop()


class BybitPublicSource(FixedPartitionedSource[Item, None]):
    """Live Bybit order book (+ trades) per symbol, as EVENT_DTYPE batches."""

    def __init__(
        self,
        symbols: list[str],
        depth: int = 50,
        trades: bool = True,
        config: BybitConfig | None = None,
        specs: dict[str, InstrumentSpec] | None = None,
        poll_s: float = 0.002,
        max_items: int = 1000,
        resync_bus: str | None = None,
    ) -> None:
        """``resync_bus``: the name of the process-local bus (connectors.feedback) the
        trader's ResyncRequests arrive on, keyed by instrument (None: no requests)."""
        self.config = config or load_bybit_config()
        check_depth(self.config.category, depth, "MM_DEPTH")
        self.symbols = [s.upper() for s in symbols]
        self.depth = depth
        self.trades = trades
        self.specs = specs
        self.poll_s = poll_s
        self.max_items = max_items
        self.resync_bus = resync_bus

    def list_parts(self) -> list[str]:
        return list(self.symbols)

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _PublicPartition:
        cfg = self.config
        instruments = BybitInstruments(
            BybitRest(cfg), [for_part], cfg.category, refresh_s=cfg.instruments_refresh_s
        )
        if self.specs and for_part in self.specs:
            spec = self.specs[for_part]
            instruments.specs = {for_part: spec}
            instruments.loaded_at = instruments.clock()
        else:
            spec = instruments.get(for_part)
        assert cfg.ws_public_url is not None
        feed = PublicFeed(
            cfg.ws_public_url,
            WsSettings.from_config(cfg),
            spec,
            self.depth,
            self.trades,
            cfg.stale_after_s,
            instruments,
            cfg.instruments_refresh_s,
            cfg.resync_timeout_s,
        )
        if (metrics := current_metrics()) is not None:
            metrics.watch_book_feed("bybit", for_part, feed.stats)
            metrics.watch_ws("bybit", "public", for_part, feed)
        return _PublicPartition(feed, self.poll_s, self.max_items, self.resync_bus)
