"""A venue websocket kept alive in a background thread: heartbeat, reconnect, backoff.

Shared by every venue (connectors/bybit/ws.py and connectors/hyperliquid/data.py set
the venue's heartbeat and message shapes by overriding ``ping_message`` / ``is_pong`` /
``is_data``).

* Heartbeat: ``ping_message()`` every ``ping_interval_s``; no pong within
  ``pong_timeout_s`` means the link is dead: close, reconnect.
* Reconnect with exponential backoff and jitter (tenacity). A session that lasted at
  least ``stable_after_s`` reconnects at once with a fresh backoff; one that died young
  (refused, auth failure, instant drop) counts as a failed attempt, so a flapping
  endpoint is not hammered.
* Frames above ``max_message_bytes`` are refused: the library closes the link with 1009
  (message too big) and the client reconnects, so a runaway frame cannot exhaust memory.
* Subclasses subscribe in ``on_open`` (run on every connect, so a reconnect always
  resubscribes and the venue sends fresh snapshots) and parse in ``on_message``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Coroutine
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from core.log import event, get_logger

Q = TypeVar("Q")


def drain_queue(q: deque[Q], limit: int = 10_000) -> list[Q]:
    """Up to ``limit`` items from the left of a feed's queue (the websocket thread appends,
    the source partition's thread drains: deque ends are thread-safe)."""
    out: list[Q] = []
    while q and len(out) < limit:
        out.append(q.popleft())
    return out


log = get_logger(__name__)
# websockets logs every frame at DEBUG, the auth frame (key, signature) included: give it
# a logger of its own that never goes below INFO.
wire_log = get_logger("connectors.wire")
wire_log.setLevel(logging.INFO)


class WsConfig(Protocol):
    """The settings a venue config (BybitConfig, HyperliquidConfig) carries for its links."""

    ping_interval_s: float
    pong_timeout_s: float
    reconnect_initial_s: float
    reconnect_max_s: float
    stable_after_s: float
    http_timeout_s: float
    ws_max_message_bytes: int


@dataclass(frozen=True, slots=True)
class WsSettings:
    ping_interval_s: float = 20.0
    pong_timeout_s: float = 10.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    stable_after_s: float = 5.0
    open_timeout_s: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024  # a bigger frame: close (1009), reconnect

    @classmethod
    def from_config(cls, cfg: WsConfig) -> WsSettings:
        return cls(
            cfg.ping_interval_s,
            cfg.pong_timeout_s,
            cfg.reconnect_initial_s,
            cfg.reconnect_max_s,
            cfg.stable_after_s,
            cfg.http_timeout_s,
            cfg.ws_max_message_bytes,
        )


class SessionFailed(Exception):
    """This connection attempt (or a short-lived session) failed: back off, then retry."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReconnectingWs:
    """Owns one websocket URL; ``start()`` runs it in a daemon thread until ``stop()``."""

    name = "ws"
    venue = "ws"

    def __init__(self, url: str, settings: WsSettings) -> None:
        self.url = url
        self.settings = settings
        self.connects = 0
        self.disconnects = 0
        self.last_close_reason = ""
        self._req = 0
        self._ws: ClientConnection | None = None
        self._pong: asyncio.Event | None = None
        self._close_reason: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._started = threading.Event()
        self.connected = threading.Event()

    # -- hooks for subclasses -------------------------------------------------------------
    async def on_open(self, first: bool) -> None:
        """Authenticate / subscribe. Raise SessionFailed to drop this session."""

    def on_message(self, msg: dict[str, Any], recv_ns: int) -> None:
        """A data message (``is_data``)."""

    def on_control(self, msg: dict[str, Any]) -> None:
        """Any other message (subscribe answers, errors)."""

    def ping_message(self) -> dict[str, Any]:
        """The venue's heartbeat request."""
        return {"op": "ping"}

    def is_pong(self, msg: dict[str, Any]) -> bool:
        return msg.get("op") == "pong"

    def is_data(self, msg: dict[str, Any]) -> bool:
        """A data message (for ``on_message``) rather than a control answer."""
        return "topic" in msg

    def on_close(self, reason: str) -> None:
        """The connection is gone (a reconnect follows unless stopping)."""

    def session_tasks(self) -> list[Coroutine[Any, Any, None]]:
        """Extra coroutines that live as long as one connection (watchdogs)."""
        return []

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._thread_main, name=f"{self.venue}-{self.name}", daemon=True
        )
        self._thread.start()
        self._started.wait(5.0)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        if self._thread is not None:
            self._thread.join(timeout)

    def drop(self, reason: str = "dropped by client") -> None:
        """Close the current connection from any thread (a reconnect follows)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            asyncio.run_coroutine_threadsafe(self._drop(reason), loop)

    async def _drop(self, reason: str) -> None:
        ws = self._ws
        if ws is not None:
            self._close_reason = reason
            await ws.close(code=4000, reason=reason[:100])

    # -- sending --------------------------------------------------------------------------
    def next_req_id(self) -> str:
        self._req += 1
        return str(self._req)

    async def send(self, msg: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            raise SessionFailed("send without a connection")
        await ws.send(orjson.dumps(msg).decode())

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Schedule a coroutine on this client's loop (call from the loop thread)."""
        assert self._loop is not None
        task = self._loop.create_task(coro)
        task.add_done_callback(self._log_task_error)

    def _log_task_error(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, ConnectionClosed | SessionFailed):
                event(log, logging.ERROR, "ws_task_error", venue=self.venue, stream=self.name,
                      error=repr(exc)[:200])  # fmt: skip

    # -- internals ------------------------------------------------------------------------
    def _thread_main(self) -> None:
        with suppress(asyncio.CancelledError):
            asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._started.set()
        s = self.settings
        while not self._stopping:
            retrying = AsyncRetrying(
                wait=wait_exponential_jitter(
                    initial=s.backoff_initial_s, max=s.backoff_max_s, jitter=s.backoff_initial_s
                ),
                retry=retry_if_exception_type(SessionFailed),
                stop=lambda _state: self._stopping,
                before_sleep=self._before_sleep,
                reraise=True,
            )
            try:
                async for attempt in retrying:
                    with attempt:
                        await self._session()
            except SessionFailed:
                pass  # only when stopping

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        event(log, logging.WARNING, "ws_reconnect_wait", venue=self.venue, stream=self.name,
              attempt=state.attempt_number, delay_s=round(delay, 3),
              reason=getattr(exc, "reason", str(exc)))  # fmt: skip

    async def _session(self) -> None:
        started = time.monotonic()
        try:
            ws = await connect(
                self.url,
                ping_interval=None,  # the venue's heartbeat is the JSON ping below
                open_timeout=self.settings.open_timeout_s,
                close_timeout=1.0,
                max_size=self.settings.max_message_bytes,
                logger=wire_log,
            )
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise SessionFailed(f"connect failed: {type(exc).__name__}: {exc}") from None
        self._ws = ws
        self.connects += 1
        first = self.connects == 1
        self._pong = asyncio.Event()
        self._close_reason = None
        self.connected.set()
        event(log, logging.INFO, "ws_connected", venue=self.venue, stream=self.name,
              url=self.url, connects=self.connects)  # fmt: skip
        reason = "closed"
        failed = False
        reader = asyncio.create_task(self._read(ws))  # reads during on_open (auth answers)
        tasks: list[asyncio.Task] = [reader]
        try:
            opening = asyncio.create_task(self.on_open(first))
            tasks.append(opening)
            await asyncio.wait({opening, reader}, return_when=asyncio.FIRST_COMPLETED)
            if opening.done():
                opening.result()  # raises SessionFailed / hook errors
                tasks.append(asyncio.create_task(self._pinger(ws)))
                tasks += [asyncio.create_task(c) for c in self.session_tasks()]
            await reader
            reason = f"closed by peer (code {ws.close_code})"
        except ConnectionClosed as exc:
            frame = exc.rcvd or exc.sent  # sent: we closed it (e.g. 1009, frame too big)
            why = f", {frame.reason}" if frame is not None and frame.reason else ""
            reason = f"connection lost (code {frame.code if frame else 'none'}{why})"
        except SessionFailed as exc:
            reason, failed = exc.reason, True
        except Exception as exc:  # a bug in a hook: log it, back off, keep the feed alive
            reason, failed = f"error: {exc!r}"[:200], True
            event(log, logging.ERROR, "ws_session_error", venue=self.venue, stream=self.name,
                  error=reason)  # fmt: skip
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._ws = None
            self.connected.clear()
            with suppress(Exception):
                await ws.close()
            if self._close_reason:
                reason = self._close_reason
            self.disconnects += 1
            self.last_close_reason = reason
            self.on_close(reason)
            if not self._stopping:
                event(log, logging.WARNING, "ws_disconnected", venue=self.venue,
                      stream=self.name, reason=reason)  # fmt: skip
        if self._stopping:
            return
        if failed or time.monotonic() - started < self.settings.stable_after_s:
            raise SessionFailed(reason)

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            self._dispatch(raw, time.time_ns())

    async def _pinger(self, ws: ClientConnection) -> None:
        s = self.settings
        pong = self._pong
        assert pong is not None
        while True:
            await asyncio.sleep(s.ping_interval_s)
            pong.clear()
            await ws.send(orjson.dumps(self.ping_message()).decode())
            try:
                await asyncio.wait_for(pong.wait(), s.pong_timeout_s)
            except TimeoutError:
                self._close_reason = f"no pong within {s.pong_timeout_s}s"
                event(log, logging.WARNING, "ws_pong_timeout", venue=self.venue,
                      stream=self.name, timeout_s=s.pong_timeout_s)  # fmt: skip
                await ws.close(code=4000, reason="pong timeout")
                return

    def _dispatch(self, raw: str | bytes, recv_ns: int) -> None:
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            event(log, logging.WARNING, "ws_bad_message", venue=self.venue, stream=self.name,
                  size=len(raw))  # fmt: skip
            return
        if not isinstance(msg, dict):
            return
        if self.is_pong(msg):
            if self._pong is not None:
                self._pong.set()
            return
        if not self.is_data(msg):
            self.on_control(msg)
            return
        try:
            self.on_message(msg, recv_ns)
        except Exception as exc:  # one bad message must not kill the feed
            event(log, logging.ERROR, "ws_message_error", venue=self.venue, stream=self.name,
                  topic=msg.get("topic", msg.get("channel")), error=repr(exc)[:200])  # fmt: skip
