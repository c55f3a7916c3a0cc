"""Hyperliquid user channels as a Bytewax source: own orders and fills (as Bybit's).

One websocket for the account, subscribed to ``orderUpdates``, ``userFills`` and
``userEvents`` for the account address (public data: no signature needed). Items are
``(instrument id, record)`` with records of the same types the Bybit private source
produces: core.events.OrderUpdate / Fill and connectors.bybit.records
PrivateReady / PrivateDown / PrivateReset. Only this run's orders (by cloid,
signing.ClientIds) become records; other orders on the account are not ours to trade.

``userFills`` opens with a snapshot (``isSnapshot``) of recent fills. On the first
connect those predate this run: their trade ids are remembered and nothing is emitted
(the start-up position comes from clearinghouseState). After a reconnect the snapshot
is how fills missed while disconnected are found: each trade id not seen before is
emitted, and only then the PrivateReset, so the trader books the missed fills before
its reconcile (cancel-all, then the venue's position) compares positions. Fills also
arrive in ``userEvents``; trade ids de-duplicate them.

Orders that ended while disconnected: after the snapshot, each order last seen open
whose fills now cover it is reported FILLED; any other is looked up with
``orderStatus`` (``/info``) and reported as the venue says (CANCELED, FILLED).

A ``batchModify`` replaces the order under the same cloid with a new oid; a
"canceled" report for an oid older than the cloid's current one is the replaced
order, not ours to forget.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bytewax.inputs import FixedPartitionedSource

from connectors.bybit.codec import fee_units
from connectors.bybit.private import _PrivatePartition
from connectors.bybit.records import session_down, session_up
from connectors.capture import ms_to_ns
from connectors.hyperliquid.config import HyperliquidConfig, load_hyperliquid_config
from connectors.hyperliquid.rest import HyperliquidRest
from connectors.hyperliquid.signing import ClientIds
from connectors.hyperliquid.ws import HyperliquidWs
from connectors.ws import SessionFailed, WsSettings, drain_queue
from core.errors import MalformedLine, MMError
from core.events import BUY, SELL, Fill, OrderStatus, OrderUpdate
from core.instruments import InstrumentSpec
from core.log import event, get_logger
from monitoring.metrics import current as current_metrics

log = get_logger(__name__)
VENUE = "hyperliquid"
PrivateItem = tuple[str, Any]
CHANNELS = ("orderUpdates", "userFills", "userEvents")
SNAPSHOT_WAIT_S = 5.0
ORDER_STATUS = {
    "open": OrderStatus.NEW,
    "filled": OrderStatus.FILLED,
    "rejected": OrderStatus.REJECTED,
}  # any other "...Canceled" / "canceled" status is CANCELED; "triggered" is not ours


class HyperliquidPrivateFeed(HyperliquidWs):
    name = "private"
    data_channels = ("orderUpdates", "userFills", "user")

    def __init__(
        self,
        url: str,
        settings: WsSettings,
        user: str,
        specs: dict[str, InstrumentSpec],
        ids: ClientIds,
        ack_timeout_s: float = 10.0,
        order_status: Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(url, settings)
        self.user = user
        self.specs = {s.symbol: s for s in specs.values()}  # by coin
        self.ids = ids
        self.ack_timeout_s = ack_timeout_s
        self.queue: deque[PrivateItem] = deque()
        self.known_tids: set[int] = set()
        self.latest_oid: dict[str, int] = {}  # cloid -> its current oid
        self.open: dict[str, OrderUpdate] = {}  # cloid -> last report, while open
        self.order_status = order_status  # cloid -> the /info orderStatus answer
        self.bad_items = 0
        self.ready = False
        self._acks: dict[str, asyncio.Future[bool]] = {}
        self._snapshot: asyncio.Event | None = None
        self._replaying = False  # the first snapshot: remember, do not emit

    def __repr__(self) -> str:
        return f"HyperliquidPrivateFeed(url={self.url!r})"

    def drain(self, limit: int = 10_000) -> list[PrivateItem]:
        return drain_queue(self.queue, limit)

    # -- protocol -------------------------------------------------------------------------
    def _sub(self, kind: str) -> dict[str, Any]:
        return {"type": kind, "user": self.user}

    async def on_open(self, first: bool) -> None:
        loop = asyncio.get_running_loop()
        self._acks = {k: loop.create_future() for k in CHANNELS}
        self._snapshot = asyncio.Event()
        self._replaying = not self.ready
        for kind in CHANNELS:
            await self.send(self.subscription("subscribe", self._sub(kind)))
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*self._acks.values()), self.ack_timeout_s
            )
        except TimeoutError:
            raise SessionFailed("no subscription answer") from None
        if not all(results):
            raise SessionFailed("a user channel subscription was refused")
        try:  # missed fills first, then the reset (see the module docstring)
            await asyncio.wait_for(self._snapshot.wait(), SNAPSHOT_WAIT_S)
        except TimeoutError:
            event(log, logging.WARNING, "fills_snapshot_missing", venue=VENUE)
        self._replaying = False
        if self.ready:
            await self._settle_vanished()
        self.queue.extend(
            session_up((s.id for s in self.specs.values()), self.ready, time.time_ns())
        )
        self.ready = True

    async def _settle_vanished(self) -> None:
        """Orders last seen open that are not open any more (filled or cancelled unseen)."""
        for cloid, u in list(self.open.items()):
            if u.filled >= u.qty:
                self._emit_final(cloid, OrderStatus.FILLED, "filled while disconnected")
                continue
            if self.order_status is None:
                continue
            try:
                answer = await asyncio.to_thread(self.order_status, cloid)
            except Exception as exc:  # the trader's reconcile cancels it anyway
                event(log, logging.WARNING, "order_status_failed", venue=VENUE, error=str(exc))
                continue
            raw = str(((answer or {}).get("order") or {}).get("status") or "")
            if raw and raw != "open":
                status = ORDER_STATUS.get(raw, OrderStatus.CANCELED)
                self._emit_final(cloid, status, f"{raw} while disconnected")

    def _emit_final(self, cloid: str, status: OrderStatus, reason: str) -> None:
        u = self.open.pop(cloid)
        now = time.time_ns()
        self.queue.append((u.inst, OrderUpdate(u.inst, u.client_id, status, u.side, u.price,
                                               u.qty, u.filled if status != OrderStatus.FILLED else u.qty,
                                               now, now, u.venue_order_id, reason)))  # fmt: skip

    def on_close(self, reason: str) -> None:
        if self.ready and not self._stopping:
            insts = (s.id for s in self.specs.values())
            self.queue.extend(session_down(insts, reason, time.time_ns()))

    def on_control(self, msg: dict[str, Any]) -> None:
        channel = msg.get("channel")
        data = msg.get("data")
        if channel == "subscriptionResponse" and isinstance(data, dict):
            kind = str((data.get("subscription") or {}).get("type"))
            fut = self._acks.get(kind)
            if fut is not None and not fut.done():
                fut.set_result(True)
        elif channel == "error":
            text = str(data)
            for kind, fut in self._acks.items():
                if kind in text and not fut.done():
                    fut.set_result(False)
            super().on_control(msg)

    def on_message(self, msg: dict[str, Any], recv_ns: int) -> None:
        channel = msg.get("channel")
        data = msg.get("data")
        try:
            if channel == "orderUpdates" and isinstance(data, list):
                for item in data:
                    self._on_order(item, recv_ns)
            elif channel == "userFills" and isinstance(data, dict):
                snapshot = bool(data.get("isSnapshot"))
                for f in data.get("fills") or []:
                    self._on_fill(f, recv_ns, remember_only=snapshot and self._replaying)
                if snapshot and self._snapshot is not None:
                    self._snapshot.set()
            elif channel == "user" and isinstance(data, dict):
                for f in data.get("fills") or []:
                    self._on_fill(f, recv_ns)
                for c in data.get("nonUserCancel") or []:
                    self._on_order({"order": c, "status": "nonUserCanceled"}, recv_ns)
        except (MalformedLine, MMError, KeyError, ArithmeticError, ValueError) as exc:
            self.bad_items += 1
            event(log, logging.ERROR, "private_bad_item", venue=VENUE, channel=channel,
                  error=str(exc)[:200])  # fmt: skip

    # -- records --------------------------------------------------------------------------
    def _on_order(self, item: dict[str, Any], recv_ns: int) -> None:
        o = item.get("order") or {}
        spec = self.specs.get(str(o.get("coin")))
        cloid = str(o.get("cloid") or "").lower()
        cid = self.ids.client_id(cloid)
        if spec is None or not cid:
            return
        raw = str(item.get("status") or "")
        oid = int(o.get("oid") or 0)
        if raw == "triggered":
            return
        status = ORDER_STATUS.get(raw, OrderStatus.CANCELED)
        if status == OrderStatus.NEW:
            self.latest_oid[cloid] = max(oid, self.latest_oid.get(cloid, 0))
        elif oid < self.latest_oid.get(cloid, 0):
            return  # the order a batchModify replaced
        orig = spec.size_to_lots(str(o.get("origSz") or o.get("sz") or "0"))
        left = spec.size_to_lots(str(o.get("sz") or "0"))
        if status == OrderStatus.NEW and left < orig:
            status = OrderStatus.PARTIALLY_FILLED
        if status == OrderStatus.FILLED:
            left = 0
        side = BUY if o.get("side") == "B" else SELL
        u = OrderUpdate(
            spec.id, cid, status, side, spec.price_to_ticks(str(o.get("limitPx"))), orig,
            orig - left, ms_to_ns(item.get("statusTimestamp") or o.get("timestamp") or 0, "time"),
            recv_ns, str(oid), "" if status != OrderStatus.CANCELED else raw)  # fmt: skip
        if status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            self.open[cloid] = dataclasses.replace(u)  # ours to count fills on
        else:
            self.open.pop(cloid, None)
        self.queue.append((spec.id, u))

    def _on_fill(self, f: dict[str, Any], recv_ns: int, remember_only: bool = False) -> None:
        tid = int(f["tid"])
        if tid in self.known_tids:
            return
        self.known_tids.add(tid)
        spec = self.specs.get(str(f.get("coin")))
        cid = self.ids.client_id(f.get("cloid"))
        if remember_only or spec is None or not cid:
            return
        fee = Decimal(str(f.get("fee") or "0"))
        lots = spec.size_to_lots(str(f["sz"]))
        known = self.open.get(str(f.get("cloid") or "").lower())
        if known is not None:
            known.filled += lots
        self.queue.append((spec.id, Fill(
            spec.id, cid, BUY if f.get("side") == "B" else SELL,
            spec.price_to_ticks(str(f["px"])), spec.size_to_lots(str(f["sz"])),
            fee_units(spec, fee), not bool(f.get("crossed")), ms_to_ns(f["time"], "time"),
            recv_ns, str(tid))))  # fmt: skip


class HyperliquidPrivateSource(FixedPartitionedSource[PrivateItem, None]):
    """Own order updates and fills of this run (one partition, one websocket)."""

    PART = "hyperliquid-private"

    def __init__(
        self,
        specs: dict[str, InstrumentSpec],
        ids: ClientIds,
        config: HyperliquidConfig | None = None,
        poll_s: float = 0.002,
    ) -> None:
        self.config = config or load_hyperliquid_config()
        self.config.require_keys()
        self.specs = specs
        self.ids = ids
        self.poll_s = poll_s

    def list_parts(self) -> list[str]:
        return [self.PART]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _PrivatePartition:
        feed = self.feed()
        if (metrics := current_metrics()) is not None:
            metrics.watch_ws("hyperliquid", "private", "all", feed)
        return _PrivatePartition(feed, self.poll_s)  # type: ignore[arg-type]

    def feed(self) -> HyperliquidPrivateFeed:
        cfg = self.config
        _, account = cfg.require_keys()
        user = account.get_secret_value()
        rest = HyperliquidRest(cfg)

        def order_status(cloid: str) -> dict[str, Any]:
            return rest.info({"type": "orderStatus", "user": user, "oid": cloid})

        return HyperliquidPrivateFeed(cfg.ws_url, WsSettings.from_config(cfg), user, self.specs,
                                      self.ids, order_status=order_status)  # fmt: skip
