"""Bybit private stream as a Bytewax source: own orders, fills, positions, DCP state.

One authenticated websocket for the account (one partition). Items are
``(instrument id, record)`` with record one of core.events.OrderUpdate / Fill,
connectors.bybit.records.PositionUpdate / DcpStatus / PrivateReset. Fill prices and
sizes are ticks and lots, fees exact fee units (connectors/bybit/codec.py).

Subscribes to ``order``, ``execution``, ``position`` and, when Disconnected-Cancel-All
is used, ``dcp.future`` (``dcp.spot`` for spot): Bybit only triggers DCP for accounts
whose private connections subscribe to it. After a reconnect, messages may have been
missed, so a PrivateReset per instrument asks the trader to reconcile through REST.

The trader must not quote while its own fills could go unseen, so the stream says when
it can see them: PrivateReady once the first subscription is confirmed, PrivateDown the
moment a connection is lost, PrivateReset once a new one is subscribed again (all per
instrument). Orders placed before the venue confirmed the subscription could fill with
nobody listening.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from pydantic import SecretStr

from connectors.bybit import codec
from connectors.bybit.auth import ws_auth_message
from connectors.bybit.config import BybitConfig, load_bybit_config
from connectors.bybit.instruments import BybitInstruments
from connectors.bybit.records import session_down, session_up
from connectors.bybit.rest import BybitRest
from connectors.bybit.ws import ReconnectingWs, SessionFailed, WsSettings
from connectors.ws import drain_queue
from core.errors import MalformedLine
from core.instruments import InstrumentSpec
from core.log import event, get_logger, protect
from monitoring.metrics import current as current_metrics

log = get_logger(__name__)

PrivateItem = tuple[str, Any]
TOPICS = ["order", "execution", "position"]
DCP_TOPIC = {"linear": "dcp.future", "spot": "dcp.spot"}
AUTH_EXPIRES_MS = 10_000  # signature validity; covers modest clock skew


class PrivateFeed(ReconnectingWs):
    name = "private"

    def __init__(
        self,
        url: str,
        settings: WsSettings,
        api_key: SecretStr,
        api_secret: SecretStr,
        specs: dict[str, InstrumentSpec],
        dcp_topic: str | None = "dcp.future",
        auth_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(url, settings)
        protect(api_key, api_secret)
        self._key = api_key
        self._secret = api_secret
        self.specs = {s.upper(): spec for s, spec in specs.items()}
        self.dcp_topic = dcp_topic
        self.auth_timeout_s = auth_timeout_s
        self.queue: deque[PrivateItem] = deque()
        self.authenticated = False
        self.auth_failures = 0
        self.bad_items = 0
        self._auth: asyncio.Future[tuple[bool, str]] | None = None
        self._sub: asyncio.Future[tuple[bool, str]] | None = None
        self.ready = False  # a subscription was confirmed once (PrivateReady sent)

    def __repr__(self) -> str:
        return f"PrivateFeed(url={self.url!r})"

    def drain(self, limit: int = 10_000) -> list[PrivateItem]:
        return drain_queue(self.queue, limit)

    async def on_open(self, first: bool) -> None:
        self.authenticated = False
        self._auth = asyncio.get_running_loop().create_future()
        expires = int(time.time() * 1000) + AUTH_EXPIRES_MS
        await self.send(ws_auth_message(self._key, self._secret, expires))
        try:
            ok, ret_msg = await asyncio.wait_for(self._auth, self.auth_timeout_s)
        except TimeoutError:
            raise SessionFailed("no auth answer") from None
        if not ok:
            self.auth_failures += 1
            event(log, logging.ERROR, "ws_auth_failed", venue="bybit", stream=self.name,
                  ret_msg=ret_msg)  # fmt: skip
            raise SessionFailed(f"auth failed: {ret_msg}")
        self.authenticated = True
        self._sub = asyncio.get_running_loop().create_future()
        await self.send({"req_id": self.next_req_id(), "op": "subscribe", "args": TOPICS})
        try:
            ok, ret_msg = await asyncio.wait_for(self._sub, self.auth_timeout_s)
        except TimeoutError:
            raise SessionFailed("no subscribe answer") from None
        if not ok:
            raise SessionFailed(f"subscribe failed: {ret_msg}")
        if self.dcp_topic:
            await self.send(
                {"req_id": self.next_req_id(), "op": "subscribe", "args": [self.dcp_topic]}
            )
        self.queue.extend(
            session_up((s.id for s in self.specs.values()), self.ready, time.time_ns())
        )
        self.ready = True

    def on_close(self, reason: str) -> None:
        if self.ready and not self._stopping:
            insts = (s.id for s in self.specs.values())
            self.queue.extend(session_down(insts, reason, time.time_ns()))

    def on_control(self, msg: dict[str, Any]) -> None:
        if msg.get("op") == "auth" and self._auth is not None and not self._auth.done():
            self._auth.set_result((bool(msg.get("success")), str(msg.get("ret_msg") or "")))
            return
        if msg.get("op") == "subscribe" and self._sub is not None and not self._sub.done():
            self._sub.set_result((bool(msg.get("success")), str(msg.get("ret_msg") or "")))
        super().on_control(msg)

    def on_message(self, msg: dict[str, Any], recv_ns: int) -> None:
        topic = msg.get("topic")
        kind = codec.private_topic(topic)
        if kind is None:
            return
        for item in msg.get("data") or []:
            if not isinstance(item, dict):
                continue
            try:
                self._on_item(kind, str(topic), item, recv_ns)
            except MalformedLine as exc:
                self.bad_items += 1
                event(log, logging.ERROR, "private_bad_item", venue="bybit", topic=topic,
                      symbol=item.get("symbol"), error=exc.reason)  # fmt: skip

    def _on_item(self, kind: str, topic: str, item: dict[str, Any], recv_ns: int) -> None:
        if kind == "dcp":
            status = codec.dcp_status(topic, item, recv_ns)
            for spec in self.specs.values():
                self.queue.append((spec.id, status))
            return
        spec = self.specs.get(str(item.get("symbol", "")).upper())
        if spec is None:
            return  # another symbol on the same account: not ours to trade
        if kind == "order":
            rec: Any = codec.order_update(spec, item, recv_ns)
        elif kind == "execution":
            rec = codec.fill(spec, item, recv_ns)
        else:
            rec = codec.position_update(spec, item, recv_ns)
        if rec is not None:
            self.queue.append((spec.id, rec))


class _PrivatePartition(StatefulSourcePartition[PrivateItem, None]):
    def __init__(self, feed: PrivateFeed, poll_s: float) -> None:
        self.feed = feed
        self.poll = timedelta(seconds=poll_s)
        feed.start()

    def next_batch(self) -> list[PrivateItem]:
        return self.feed.drain()

    def next_awake(self) -> datetime | None:
        return None if self.feed.queue else datetime.now(UTC) + self.poll

    def snapshot(self) -> None:
        return None

    def close(self) -> None:
        self.feed.stop()


class BybitPrivateSource(FixedPartitionedSource[PrivateItem, None]):
    """Own order updates, fills and positions of ``symbols`` from the private stream."""

    PART = "bybit-private"

    def __init__(
        self,
        symbols: list[str],
        config: BybitConfig | None = None,
        specs: dict[str, InstrumentSpec] | None = None,
        dcp: bool = True,
        poll_s: float = 0.002,
    ) -> None:
        self.config = config or load_bybit_config()
        self.config.require_keys()
        self.symbols = [s.upper() for s in symbols]
        self.specs = specs
        self.dcp = dcp
        self.poll_s = poll_s

    def list_parts(self) -> list[str]:
        return [self.PART]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _PrivatePartition:
        cfg = self.config
        key, secret = cfg.require_keys()
        specs = dict(self.specs or {})
        missing = [s for s in self.symbols if s not in specs]
        if missing:
            specs.update(BybitInstruments(BybitRest(cfg), missing, cfg.category).load())
        assert cfg.ws_private_url is not None
        feed = PrivateFeed(
            cfg.ws_private_url,
            WsSettings.from_config(cfg),
            key,
            secret,
            specs,
            DCP_TOPIC[cfg.category] if self.dcp else None,
        )
        if (metrics := current_metrics()) is not None:
            metrics.watch_ws("bybit", "private", "all", feed)
        return _PrivatePartition(feed, self.poll_s)
