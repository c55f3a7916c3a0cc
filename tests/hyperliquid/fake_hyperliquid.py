"""A small fake Hyperliquid on one 127.0.0.1 port for tests: real message formats.

* ``POST /info``: ``meta`` (BTC, ETH, SOL with different ``szDecimals``), ``l2Book``
  (the current replayed book) and ``allMids``; every other type goes to
  ``ExchangeHooks.info`` (openOrders, clearinghouseState, userFills, ...), and one it
  does not handle either is answered 422 as the real server answers a type it does not
  know. ``POST /exchange`` is logged and handed to ``ExchangeHooks.exchange`` (default:
  an error answer), so a paper run can assert it made none.
* Websocket ``/ws``: ``{"method": "subscribe", "subscription": {...}}`` is acked with a
  ``subscriptionResponse`` like the real server; an ``l2Book`` subscription also gets the
  current snapshot at once; ``{"method": "ping"}`` gets ``{"channel": "pong"}``. A
  connection the client sends nothing on for ``idle_timeout_s`` is closed (the real
  limit is 60 s; ping is how a client keeps a quiet link). User channels (orderUpdates,
  userFills, userEvents, webData2, ...) are accepted or refused by
  ``ExchangeHooks.user_subscribe``; the hooks push to them with ``FakeHyperliquid.publish``.
  ``{"method": "post", ...}`` (an info or action request over the websocket) goes the
  same way as its HTTP twin and is answered on the ``post`` channel.
* Market data: the ``<recv ns> <json>`` capture (default the bundled
  data/sample/hyperliquid_btc_20250126.gz) is replayed in a loop, one message every
  ``interval_s``, as ``l2Book`` / ``trades`` pushes restamped with the current time (so
  ``time`` only grows, as it does on the venue). Every replayed message also goes to
  ``ExchangeHooks.on_market`` so an exchange core can match resting orders.
* Faults from Python: ``drop_connections``, ``stale_next`` (snapshots with an older
  ``time``), ``freeze`` / ``thaw`` (the book stops changing, snapshots keep coming),
  ``stall`` (no market pushes at all), ``mute_pongs``, ``kill`` / ``restart`` (the port
  goes away and comes back), ``set_asset`` (a meta change).
* Timelines for assertions: ``ws_log`` (connect, subscribe, unsubscribe, ping, pong,
  drop, idle_close, kill, restart, ...), ``http_log`` (every POST with its answer status),
  ``sent`` (every market push, exact text, per connection), ``exchange_calls``.

``with FakeHyperliquid() as fake:`` then point a client at ``fake.base_url`` /
``fake.ws_url`` or ``fake.env()``.
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "hyperliquid_btc_20250126.gz"
MARKET_TYPES = ("l2Book", "trades", "bbo", "allMids")
# the wire channel of a subscription type where the two differ
CHANNEL_OF = {"userEvents": "user"}
NOT_HANDLED: Any = object()  # ExchangeHooks.info: "not mine", the fake answers 422

DEFAULT_UNIVERSE: list[dict[str, Any]] = [
    {"name": "BTC", "szDecimals": 5, "maxLeverage": 40},
    {"name": "ETH", "szDecimals": 4, "maxLeverage": 25},
    {"name": "SOL", "szDecimals": 2, "maxLeverage": 20},
]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def dumps(msg: Any) -> str:
    return json.dumps(msg, separators=(",", ":"))


def load_capture(path: Path) -> list[dict[str, Any]]:
    """``<recv ns> <json>`` lines (or bare JSON lines) -> messages, control lines dropped."""
    out = []
    with gzip.open(path, "rb") as f:
        for ln in f:
            ln = ln.strip()
            if not ln:
                continue
            if ln[:1].isdigit():
                ln = ln.partition(b" ")[2]
            msg = json.loads(ln)
            if msg.get("channel") in ("l2Book", "trades"):
                out.append(msg)
    return out


class ExchangeHooks:
    """What the fake asks an exchange core (the private side) to do; no-op defaults.

    The server calls ``attach`` once with itself, so hooks can ``self.server.publish``.
    Hooks run on the server's event loop thread: keep them quick and non-blocking.
    """

    server: FakeHyperliquid | None = None

    def attach(self, server: FakeHyperliquid) -> None:
        self.server = server

    def info(self, body: dict[str, Any]) -> Any:
        """An ``/info`` request the market side does not answer: the answer, or NOT_HANDLED."""
        return NOT_HANDLED

    def exchange(self, body: dict[str, Any]) -> tuple[int, Any]:
        """``POST /exchange`` -> (HTTP status, JSON answer)."""
        return 200, {"status": "err", "response": "fake Hyperliquid: /exchange is not handled"}

    def user_subscribe(self, conn: FakeConn, subscription: dict[str, Any]) -> bool:
        """Accept (True: acked, then ``publish`` reaches it) or refuse a user channel."""
        return False

    def on_market(
        self,
        coin: str,
        book_levels: list[list[dict[str, Any]]],
        trades: list[dict[str, Any]],
        time_ms: int,
    ) -> None:
        """Every replayed market message: the coin's book after it, its trades (if any)."""


@dataclass
class FakeConn:
    """One websocket client as the fake sees it."""

    id: int
    ws: WebSocket
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    last_recv: float = field(default_factory=time.monotonic)

    def subscribed(self, type_: str, coin: str | None = None) -> bool:
        return any(
            s.get("type") == type_ and (coin is None or s.get("coin") == coin)
            for s in self.subscriptions
        )


@dataclass
class HttpCall:
    t_ns: int
    path: str
    body: Any
    status: int = 0


class FakeHyperliquid:
    """Hyperliquid's public API (and a hook point for its private one) on 127.0.0.1."""

    def __init__(
        self,
        hooks: ExchangeHooks | None = None,
        *,
        capture: Path = SAMPLE,
        interval_s: float = 0.05,
        idle_timeout_s: float = 60.0,
        universe: list[dict[str, Any]] | None = None,
        loop: bool = True,
    ) -> None:
        self.hooks = hooks or ExchangeHooks()
        self.hooks.attach(self)
        self.interval_s = interval_s
        self.idle_timeout_s = idle_timeout_s
        self.loop_replay = loop
        self.universe = copy.deepcopy(universe or DEFAULT_UNIVERSE)
        self._messages = load_capture(capture)
        if not any(m["channel"] == "l2Book" for m in self._messages):
            raise ValueError(f"{capture} has no l2Book message")
        first = next(m for m in self._messages if m["channel"] == "l2Book")["data"]
        # the current state per coin: what /info l2Book answers and a subscribe snapshot gets
        self.books: dict[str, dict[str, Any]] = {first["coin"]: {**first, "time": now_ms()}}
        self._prev_books: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()
        # faults
        self.mute_pongs = False
        self._stale_n = 0
        self._frozen = False
        self._stalled = False
        self.down = False
        # records for assertions
        self.ws_log: list[tuple[int, str, dict[str, Any]]] = []
        self.http_log: list[HttpCall] = []
        self.sent: list[tuple[int, int, str]] = []  # (t_ns, conn id, text) market pushes
        self.exchange_calls: list[dict[str, Any]] = []
        self.conns: list[FakeConn] = []
        self.connections = 0
        self.replayed = 0
        self._ids = itertools.count(1)
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._ready = threading.Event()  # serving
        self._closed = threading.Event()  # the port is closed (killed)
        self._stop_evt: asyncio.Event | None = None
        self._restart_evt: asyncio.Event | None = None
        self.port = 0
        self.app = Starlette(
            routes=[
                Route("/info", self._info, methods=["POST"]),
                Route("/exchange", self._exchange, methods=["POST"]),
                WebSocketRoute("/ws", self._ws),
            ]
        )

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> FakeHyperliquid:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("fake Hyperliquid did not start")

    def stop(self) -> None:
        if self._aloop is not None and self._stop_evt is not None:
            self._aloop.call_soon_threadsafe(self._stop_evt.set)
            self._call(self._shutdown_server)
        if self._thread is not None:
            self._thread.join(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def env(self) -> dict[str, str]:
        """Environment for a client process (testnet network, the fake's URL, no keys)."""
        return {"MM_NETWORK": "testnet", "HYPERLIQUID_API_URL": self.base_url}

    def _listen(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        return sock

    async def _main(self) -> None:
        self._aloop = asyncio.get_running_loop()
        self._stop_evt = asyncio.Event()
        self._restart_evt = asyncio.Event()
        replay = asyncio.create_task(self._replay())  # the market moves on while down
        while not self._stop_evt.is_set():
            sock = self._listen()
            config = uvicorn.Config(
                self.app,
                lifespan="off",
                log_level="warning",
                ws="websockets-sansio",
                ws_ping_interval=None,
                timeout_graceful_shutdown=1,
            )
            self._server = uvicorn.Server(config)
            self._aloop.call_soon(self._ready.set)
            await self._server.serve(sockets=[sock])
            sock.close()
            self._ready.clear()
            self._closed.set()
            if self._stop_evt.is_set():
                break
            self._restart_evt.clear()
            await self._restart_evt.wait()
            self.down = False
        replay.cancel()

    def _shutdown_server(self) -> None:
        for c in list(self.conns):
            c.queue.put_nowait(None)
        if self._server is not None:
            self._server.should_exit = True

    def _call(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the server loop, from any thread."""
        assert self._aloop is not None
        self._aloop.call_soon_threadsafe(fn)

    def _log(self, what: str, **details: Any) -> None:
        self.ws_log.append((time.time_ns(), what, details))

    # -- faults ---------------------------------------------------------------------------
    def drop_connections(self) -> None:
        """Close every websocket connection (the client must reconnect and resubscribe)."""

        def drop() -> None:
            self._log("drop", connections=len(self.conns))
            for c in list(self.conns):
                c.queue.put_nowait(None)

        self._call(drop)

    def kill(self) -> None:
        """The venue goes away: connections closed, the port closed, until ``restart``.
        Returns once the port is closed."""

        def go() -> None:
            self.down = True
            self._log("kill")
            self._shutdown_server()

        self._closed.clear()
        self._call(go)
        if not self._closed.wait(10):
            raise RuntimeError("fake Hyperliquid did not stop serving")

    def restart(self) -> None:
        """The venue is back on the same port; returns once it serves again."""

        def go() -> None:
            self._log("restart")
            assert self._restart_evt is not None
            self._restart_evt.set()

        self._call(go)
        if not self._ready.wait(10):
            raise RuntimeError("fake Hyperliquid did not restart")

    def stale_next(self, n: int = 1) -> None:
        """The next ``n`` l2Book pushes a client gets are the previous book with an older
        ``time`` (a lagging server node)."""
        with self.lock:
            self._stale_n += n

    def freeze(self) -> None:
        """The book stops changing: snapshots keep coming (new ``time``, same levels)."""
        with self.lock:
            self._frozen = True
            self._log("freeze")

    def thaw(self) -> None:
        with self.lock:
            self._frozen = False
            self._log("thaw")

    def stall(self, on: bool = True) -> None:
        """No market pushes at all (links stay open, pongs still answered)."""
        with self.lock:
            self._stalled = on
            self._log("stall", on=on)

    def set_asset(self, name: str, **fields: Any) -> None:
        """Change (or add) a ``meta`` universe entry, e.g. ``szDecimals=4``."""
        with self.lock:
            for a in self.universe:
                if a["name"] == name:
                    a.update(fields)
                    break
            else:
                self.universe.append({"name": name, **fields})
            self._log("meta_change", name=name, **fields)

    # -- pushes ---------------------------------------------------------------------------
    def publish(self, channel: str, user: str | None, data: Any) -> None:
        """Push ``{"channel": channel, "data": data}`` to every connection subscribed to a
        user channel that sends ``channel`` for ``user`` (None: any user). Any thread."""
        text = dumps({"channel": channel, "data": data})

        def fanout() -> None:
            for c in self.conns:
                for s in c.subscriptions:
                    if CHANNEL_OF.get(s.get("type", ""), s.get("type")) != channel:
                        continue
                    if user is None or str(s.get("user", "")).lower() == user.lower():
                        c.queue.put_nowait(text)
                        break

        self._call(fanout)

    def _push_market(self, channel: str, coin: str, data: Any) -> None:
        text = dumps({"channel": channel, "data": data})
        for c in self.conns:
            if c.subscribed(channel, coin):
                self.sent.append((time.time_ns(), c.id, text))
                c.queue.put_nowait(text)

    async def _replay(self) -> None:
        for loop_no in itertools.count():
            for msg in self._messages:
                await asyncio.sleep(self.interval_s)
                with self.lock:
                    if self._stalled:
                        continue
                    self._replay_one(msg, loop_no)
            if not self.loop_replay:
                return

    def _replay_one(self, msg: dict[str, Any], loop_no: int) -> None:
        self.replayed += 1
        t = now_ms()
        if msg["channel"] == "l2Book":
            coin = msg["data"]["coin"]
            cur = self.books.get(coin)
            t = max(t, (cur["time"] + 1) if cur else t)
            subscribed = any(c.subscribed("l2Book", coin) for c in self.conns)
            if self._stale_n and cur is not None and subscribed:
                self._stale_n -= 1
                old = self._prev_books.get(coin, cur)
                data = {**old, "time": min(old["time"], cur["time"]) - 1}
                self._log("stale_sent", coin=coin, time=data["time"], last=cur["time"])
                self._push_market("l2Book", coin, data)
                return
            levels = cur["levels"] if self._frozen and cur else msg["data"]["levels"]
            data = {"coin": coin, "time": t, "levels": levels}
            if cur is not None:
                self._prev_books[coin] = cur
            self.books[coin] = data
            self._push_market("l2Book", coin, data)
            self.hooks.on_market(coin, data["levels"], [], t)
            return
        if self._frozen:
            return
        trades = [{**tr, "time": t, "tid": int(tr["tid"]) + loop_no} for tr in msg["data"]]
        if not trades:
            return
        coin = trades[0]["coin"]
        self._push_market("trades", coin, trades)
        book = self.books.get(coin)
        self.hooks.on_market(coin, book["levels"] if book else [[], []], trades, t)

    # -- HTTP -----------------------------------------------------------------------------
    async def _body(self, request: Request, path: str) -> tuple[HttpCall, Any]:
        call = HttpCall(time.time_ns(), path, None)
        self.http_log.append(call)
        try:
            call.body = json.loads(await request.body())
        except ValueError:
            call.body = None
        return call, call.body

    async def _info(self, request: Request) -> Response:
        call, body = await self._body(request, "/info")
        answer = self.answer_info(body) if isinstance(body, dict) else NOT_HANDLED
        if answer is NOT_HANDLED:
            answer = self.hooks.info(body) if isinstance(body, dict) else NOT_HANDLED
        if answer is NOT_HANDLED:
            call.status = 422
            return PlainTextResponse(
                "Failed to deserialize the JSON body into the target type", 422
            )
        call.status = 200
        return JSONResponse(answer)

    def answer_info(self, body: dict[str, Any]) -> Any:
        kind = body.get("type")
        with self.lock:
            if kind == "meta":
                return {"universe": copy.deepcopy(self.universe), "marginTables": []}
            if kind == "l2Book":
                book = self.books.get(str(body.get("coin")))
                return copy.deepcopy(book) if book else None
            if kind == "allMids":
                return {c: self.mid(c) for c in self.books}
        return NOT_HANDLED

    def mid(self, coin: str) -> str:
        bids, asks = self.books[coin]["levels"]
        return format((Decimal(bids[0]["px"]) + Decimal(asks[0]["px"])) / 2, "f")

    async def _exchange(self, request: Request) -> Response:
        call, body = await self._body(request, "/exchange")
        self.exchange_calls.append(body)
        status, answer = self.hooks.exchange(body)
        call.status = status
        return JSONResponse(answer, status)

    # -- websocket ------------------------------------------------------------------------
    async def _ws(self, ws: WebSocket) -> None:
        await ws.accept()
        conn = FakeConn(next(self._ids), ws)
        self.conns.append(conn)
        self.connections += 1
        self._log("connect", conn=conn.id)
        sender = asyncio.create_task(self._sender(conn))
        try:
            while True:
                try:
                    text = await asyncio.wait_for(ws.receive_text(), self.idle_timeout_s)
                except TimeoutError:
                    self._log("idle_close", conn=conn.id)
                    conn.queue.put_nowait(None)
                    break
                conn.last_recv = time.monotonic()
                self._on_client(conn, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            if conn in self.conns:
                self.conns.remove(conn)
            self._log("disconnect", conn=conn.id)
            conn.queue.put_nowait(None)  # the sender sends what is queued, then stops
            await asyncio.wait({sender}, timeout=1)
            sender.cancel()

    async def _sender(self, conn: FakeConn) -> None:
        try:
            while True:
                text = await conn.queue.get()
                if text is None:
                    await conn.ws.close(1001)
                    return
                await conn.ws.send_text(text)
        except Exception:  # the client went away first
            return

    def _on_client(self, conn: FakeConn, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            conn.queue.put_nowait(dumps({"channel": "error", "data": f"Invalid JSON: {text}"}))
            return
        method = msg.get("method") if isinstance(msg, dict) else None
        if method == "ping":
            self._log("ping", conn=conn.id)
            if not self.mute_pongs:
                conn.queue.put_nowait(dumps({"channel": "pong"}))
                self._log("pong", conn=conn.id)
            return
        if method == "post":
            self._on_post(conn, msg)
            return
        sub = msg.get("subscription") if isinstance(msg, dict) else None
        if method not in ("subscribe", "unsubscribe") or not isinstance(sub, dict):
            conn.queue.put_nowait(dumps({"channel": "error", "data": f"Invalid request: {text}"}))
            return
        ack = dumps(
            {"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}}
        )
        self._log(method, conn=conn.id, subscription=sub)
        if method == "unsubscribe":
            if sub in conn.subscriptions:
                conn.subscriptions.remove(sub)
            conn.queue.put_nowait(ack)
            return
        kind = sub.get("type")
        if kind not in MARKET_TYPES and not self.hooks.user_subscribe(conn, sub):
            conn.queue.put_nowait(
                dumps({"channel": "error", "data": f"Invalid subscription {dumps(sub)}"})
            )
            return
        if sub not in conn.subscriptions:
            conn.subscriptions.append(sub)
        conn.queue.put_nowait(ack)
        if kind == "l2Book":
            with self.lock:
                book = self.books.get(str(sub.get("coin")))
                if book is not None:
                    text = dumps({"channel": "l2Book", "data": book})
                    self.sent.append((time.time_ns(), conn.id, text))
                    conn.queue.put_nowait(text)
                    self._log("snapshot", conn=conn.id, coin=sub.get("coin"), time=book["time"])

    def _on_post(self, conn: FakeConn, msg: dict[str, Any]) -> None:
        """``{"method": "post", "id": n, "request": {"type": "info"|"action", "payload": ...}}``:
        the websocket way to make an /info or /exchange request, answered on ``post``."""
        req = msg.get("request") if isinstance(msg.get("request"), dict) else {}
        kind, payload = req.get("type"), req.get("payload")
        self._log("post", conn=conn.id, type=kind)
        if kind == "action" and isinstance(payload, dict):
            self.exchange_calls.append(payload)
            _status, answer = self.hooks.exchange(payload)
            response = {"type": "action", "payload": answer}
        elif kind == "info" and isinstance(payload, dict):
            answer = self.answer_info(payload)
            if answer is NOT_HANDLED:
                answer = self.hooks.info(payload)
            response = (
                {"type": "error", "payload": "Failed to deserialize the JSON body"}
                if answer is NOT_HANDLED
                else {"type": "info", "payload": {"type": payload.get("type"), "data": answer}}
            )
        else:
            response = {"type": "error", "payload": f"Invalid post request: {dumps(msg)}"}
        conn.queue.put_nowait(
            dumps({"channel": "post", "data": {"id": msg.get("id"), "response": response}})
        )

    # -- helpers for tests ----------------------------------------------------------------
    def count(self, what: str, **match: Any) -> int:
        return sum(
            1
            for _, w, d in self.ws_log
            if w == what and all(d.get(k) == v for k, v in match.items())
        )


logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
