"""A small fake Bybit V5 on 127.0.0.1 for tests: real message formats, real HMAC auth.

* REST (``http.server`` in a thread): instruments-info, server time, create / amend /
  cancel / cancel-all and their batch versions, open orders (paged), positions,
  Disconnected-Cancel-All. Private endpoints check ``X-BAPI-*`` headers exactly as Bybit
  does (timestamp + key + recv window + query string or body, HMAC-SHA256).
  Rate-limit headers are static (``X-Bapi-Limit`` = ``limits[group]``); 10006 comes
  only when a test asks for it, so tests can run the client on a fake clock.
* Public websocket ``/v5/public/linear``: ``orderbook.{1,50,200,500}.XRPUSDT``
  subscriptions get a snapshot of the current book, then the recorded deltas of
  data/sample/bybit_xrpusdt_ob500_2024-12-01.data.gz as the replay reaches them (the
  replay starts with the first book subscription, every ``interval_s``, then loops with
  a fresh snapshot or holds the last state); ``publicTrade.XRPUSDT``
  carries trades made by ``fill`` / ``publish_trade``. Depth 500 is exact; smaller depths
  get the same deltas (good enough for a client).
* Private websocket ``/v5/private``: ``auth`` op checked (``GET/realtime{expires}``),
  then ``order`` / ``execution`` / ``position`` / ``dcp.*`` pushes for everything the
  REST side and ``fill`` do. DCP fires (cancels all) when every dcp-subscribed private
  connection stays down for the configured window.
* Faults from Python: ``drop_connections``, ``inject_gap``, ``full_resend`` (``u``=1),
  ``rate_limit_next``, ``reject_next``, ``mute_pongs``, ``freeze_cancels``.
* Timelines for end-to-end assertions (``time.time_ns()``, the clock a client on this
  machine stamps its own events with): ``rest_log`` (every REST call with its arrival
  time and answer code) and ``ws_log`` (snapshots sent, faults executed).

Start it in a thread (``with FakeBybit() as fake:``) and point a client at
``fake.rest_url`` / ``fake.ws_public_url`` / ``fake.ws_private_url`` or ``fake.env()``.
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import hashlib
import hmac
import itertools
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import ServerConnection, serve

SAMPLE = (
    Path(__file__).resolve().parents[2]
    / "data"
    / "sample"
    / "bybit_xrpusdt_ob500_2024-12-01.data.gz"
)
SYMBOL = "XRPUSDT"
TICK = Decimal("0.0001")
STEP = Decimal("1")
MIN_QTY = Decimal("1")
MIN_NOTIONAL = Decimal("5")
BOOK_DEPTHS = (1, 50, 200, 500)
ORDER_PATHS = {
    "/v5/order/create": "create",
    "/v5/order/create-batch": "create",
    "/v5/order/amend": "amend",
    "/v5/order/amend-batch": "amend",
    "/v5/order/cancel": "cancel",
    "/v5/order/cancel-batch": "cancel",
    "/v5/order/cancel-all": "cancel_all",
}
ACTIVE = ("New", "PartiallyFilled")

INSTRUMENT = {
    "symbol": SYMBOL,
    "contractType": "LinearPerpetual",
    "status": "Trading",
    "baseCoin": "XRP",
    "quoteCoin": "USDT",
    "launchTime": "1585526400000",
    "deliveryTime": "0",
    "deliveryFeeRate": "",
    "priceScale": "4",
    "leverageFilter": {"minLeverage": "1", "maxLeverage": "75.00", "leverageStep": "0.01"},
    "priceFilter": {"minPrice": "0.0001", "maxPrice": "199.9998", "tickSize": "0.0001"},
    "lotSizeFilter": {
        "maxOrderQty": "1000000",
        "minOrderQty": "1",
        "qtyStep": "1",
        "postOnlyMaxOrderQty": "1000000",
        "maxMktOrderQty": "200000",
        "minNotionalValue": "5",
    },
    "unifiedMarginTrade": True,
    "fundingInterval": 480,
    "settleCoin": "USDT",
    "copyTrading": "both",
    "upperFundingRate": "0.01",
    "lowerFundingRate": "-0.01",
    "isPreListing": False,
    "preListingInfo": None,
}


def now_ms() -> int:
    return int(time.time() * 1000)


def fmt(d: Decimal, q: Decimal | None = None) -> str:
    return format(d.quantize(q) if q is not None else d.normalize(), "f")


def load_capture(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rb") as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    out = []
    for ln in lines:
        if ln[:1].isdigit():  # "<recv ns> {json}" capture line
            ln = ln.partition(b" ")[2]
        out.append(json.loads(ln))
    return out


@dataclass
class RestCall:
    """One REST request as the fake saw it: arrival time, route, parameters, answer code."""

    t_ns: int
    method: str
    path: str
    params: dict[str, Any]
    ret_code: int | None = None  # None until answered (or for a malformed request)


@dataclass
class FakeOrder:
    order_id: str
    link_id: str
    side: str
    price: Decimal
    qty: Decimal
    tif: str
    reduce_only: bool
    created_ms: int
    updated_ms: int
    status: str = "New"
    filled: Decimal = Decimal(0)
    cum_value: Decimal = Decimal(0)
    cum_fee: Decimal = Decimal(0)
    reject_reason: str = "EC_NoError"
    cancel_type: str = "UNKNOWN"
    symbol: str = SYMBOL

    def item(self) -> dict[str, Any]:
        active = self.status in ACTIVE
        leaves = self.qty - self.filled if active else Decimal(0)
        avg = self.cum_value / self.filled if self.filled else Decimal(0)
        return {
            "category": "linear", "symbol": self.symbol, "orderId": self.order_id,
            "side": self.side, "orderType": "Limit", "cancelType": self.cancel_type,
            "price": fmt(self.price, TICK), "qty": fmt(self.qty, STEP), "orderIv": "",
            "timeInForce": self.tif, "orderStatus": self.status, "orderLinkId": self.link_id,
            "lastPriceOnCreated": "", "reduceOnly": self.reduce_only,
            "leavesQty": fmt(leaves, STEP), "leavesValue": fmt(leaves * self.price),
            "cumExecQty": fmt(self.filled, STEP), "cumExecValue": fmt(self.cum_value),
            "avgPrice": fmt(avg) if self.filled else "", "blockTradeId": "", "positionIdx": 0,
            "cumExecFee": fmt(self.cum_fee), "closedPnl": "0",
            "createdTime": str(self.created_ms), "updatedTime": str(self.updated_ms),
            "rejectReason": self.reject_reason, "stopOrderType": "", "tpslMode": "",
            "triggerPrice": "", "takeProfit": "", "stopLoss": "", "tpTriggerBy": "",
            "slTriggerBy": "", "tpLimitPrice": "", "slLimitPrice": "", "triggerDirection": 0,
            "triggerBy": "", "closeOnTrigger": False, "placeType": "", "smpType": "None",
            "smpGroup": 0, "smpOrderId": "", "feeCurrency": "",
        }  # fmt: skip


@dataclass
class FakeBook:
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)

    def reset(self, data: dict[str, Any]) -> None:
        self.bids, self.asks = {}, {}
        self.apply(data)

    def apply(self, data: dict[str, Any]) -> None:
        for side, levels in ((self.bids, data.get("b", [])), (self.asks, data.get("a", []))):
            for p, s in levels:
                price, size = Decimal(p), Decimal(s)
                if size == 0:
                    side.pop(price, None)
                else:
                    side[price] = size

    def best_bid(self) -> Decimal | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> Decimal | None:
        return min(self.asks) if self.asks else None

    def levels(self, depth: int) -> dict[str, list[list[str]]]:
        b = sorted(self.bids.items(), reverse=True)[:depth]
        a = sorted(self.asks.items())[:depth]
        return {
            "b": [[fmt(p, TICK), fmt(s)] for p, s in b],
            "a": [[fmt(p, TICK), fmt(s)] for p, s in a],
        }


@dataclass
class _Conn:
    ws: ServerConnection
    conn_id: str
    topics: set[str] = field(default_factory=set)
    authed: bool = False
    out: asyncio.Queue[str] = field(default_factory=asyncio.Queue)  # sends, in order

    async def writer(self) -> None:
        while True:
            await self.ws.send(await self.out.get())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        body = ""
        if method == "POST":
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        status, payload, headers = self.server.fake.handle_rest(
            method, parts.path, parts.query, body, self.headers
        )
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeBybit


class FakeBybit:
    def __init__(
        self,
        api_key: str = "fake-api-key-7Kq2",
        api_secret: str = "fake-api-secret-9Zx4Wv",
        capture: Path = SAMPLE,
        interval_s: float = 0.02,
        loop: bool = True,
        fill_on_cross: bool = False,
        maker_fee: str = "0.0002",
        taker_fee: str = "0.00055",
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.interval_s = interval_s
        self.loop_replay = loop
        self.fill_on_cross = fill_on_cross
        self.maker_fee = Decimal(maker_fee)
        self.taker_fee = Decimal(taker_fee)
        msgs = load_capture(capture)
        snaps = [m for m in msgs if m.get("type") == "snapshot"]
        if not snaps:
            raise ValueError(f"{capture} has no snapshot")
        self._snapshot = snaps[0]
        self._deltas = [m for m in msgs if m.get("type") == "delta"]
        self.lock = threading.RLock()
        self.book = FakeBook()
        self.book.reset(self._snapshot["data"])
        self._u = int(self._snapshot["data"]["u"])  # capture u of the current state
        self._u_offset = 0  # sent u = capture u + offset
        self._cseq = int(self._snapshot["data"].get("seq", 0))
        self.orders: dict[str, FakeOrder] = {}  # by orderId, in creation order
        self.position = Decimal(0)
        self.entry_price = Decimal(0)
        self.realised = Decimal(0)
        self.instrument = copy.deepcopy(INSTRUMENT)  # tests may change the spec
        self.limits = {
            "create": 10,
            "amend": 10,
            "cancel": 10,
            "cancel_all": 10,
            "query": 50,
            "dcp": 5,
        }
        self.dcp: dict[str, int] = {}  # product -> window s
        self.dcp_fired = 0
        # fault injection
        self.mute_pongs = False
        self.freeze_cancels = False
        self._gap = 0
        self._rate_limit_n = 0
        self._rate_limit_reset_ms: int | None = None
        self._rate_limit_in_ms = 1000
        self._rate_limit_path: tuple[str, ...] | None = None
        self._reject: list[tuple[int, str, str | None]] = []
        # records for assertions
        self.rest_calls: list[tuple[str, str, dict[str, Any]]] = []
        self.rest_log: list[RestCall] = []
        # (time ns, what, details): "snapshot" (to one subscriber), "loop_snapshot",
        # "delta" (broadcast), "delta_skipped" (inject_gap), "full_resend", "drop",
        # "private_subscribed" (a private connection's topics after a subscribe)
        self.ws_log: list[tuple[int, str, dict[str, Any]]] = []
        self.public_ops: list[dict[str, Any]] = []
        self.private_ops: list[dict[str, Any]] = []
        self.signatures: list[str] = []
        self.public_conns: list[_Conn] = []
        self.private_conns: list[_Conn] = []
        self.connections = 0
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._http: _HttpServer | None = None
        self._http_thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop_evt: asyncio.Event | None = None
        self._subscribed: asyncio.Event | None = None
        self._dcp_timer: asyncio.TimerHandle | None = None
        self.ws_port = 0

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> FakeBybit:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._http = _HttpServer(("127.0.0.1", 0), _Handler)
        self._http.fake = self
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, args=(0.02,), daemon=True
        )
        self._http_thread.start()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake Bybit websocket server did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stop_evt is not None:
            self._loop.call_soon_threadsafe(self._stop_evt.set)
        if self._thread is not None:
            self._thread.join(5)
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    @property
    def rest_url(self) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def ws_public_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/v5/public/linear"

    @property
    def ws_private_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/v5/private"

    def env(self) -> dict[str, str]:
        """Environment for a client process (testnet network, fake endpoints and keys)."""
        return {
            "MM_NETWORK": "testnet",
            "BYBIT_REST_URL": self.rest_url,
            "BYBIT_WS_PUBLIC_URL": self.ws_public_url,
            "BYBIT_WS_PRIVATE_URL": self.ws_private_url,
            "BYBIT_API_KEY": self.api_key,
            "BYBIT_API_SECRET": self.api_secret,
        }

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_evt = asyncio.Event()
        self._subscribed = asyncio.Event()
        wire = logging.getLogger("fake_bybit.wire")  # frames at DEBUG would show test keys
        wire.setLevel(logging.INFO)
        async with serve(
            self._ws_handler, "127.0.0.1", 0, ping_interval=None, max_size=None, logger=wire
        ) as server:
            self.ws_port = next(iter(server.sockets)).getsockname()[1]
            replay = asyncio.create_task(self._replay())
            self._ready.set()
            await self._stop_evt.wait()
            replay.cancel()
            for c in self.public_conns + self.private_conns:
                c.ws.transport.abort()

    def _call(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` (which may schedule sends) on the server loop, from any thread."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn)

    # -- fault injection ------------------------------------------------------------------
    def drop_connections(self) -> None:
        """Abort every websocket connection (as a network failure would)."""

        def drop() -> None:
            self.ws_log.append(
                (
                    time.time_ns(),
                    "drop",
                    {"connections": len(self.public_conns) + len(self.private_conns)},
                )
            )
            for c in self.public_conns + self.private_conns:
                c.ws.transport.abort()

        self._call(drop)

    def inject_gap(self, n: int = 1) -> None:
        """Skip broadcasting the next ``n`` deltas (they still change the book)."""
        with self.lock:
            self._gap += n

    def full_resend(self, as_type: str = "snapshot") -> None:
        """Bybit's service-restart re-send: the whole book with ``u`` = 1, ids restart."""

        def send() -> None:
            with self.lock:
                self._u_offset = 1 - self._u
                data = {"s": SYMBOL, **self.book.levels(500), "u": 1, "seq": self._cseq}
                self.ws_log.append((time.time_ns(), "full_resend", {"u": 1, "type": as_type}))
            for depth in BOOK_DEPTHS:
                self._broadcast_public(
                    f"orderbook.{depth}.{SYMBOL}", self._book_msg(as_type, depth, data)
                )

        self._call(send)

    def rate_limit_next(
        self,
        n: int = 1,
        reset_ts_ms: int | None = None,
        reset_in_ms: int = 1000,
        path: str | tuple[str, ...] | None = None,
    ) -> None:
        """Answer the next ``n`` order calls (to ``path`` or one of the paths, if given)
        with 10006 and an X-Bapi-Limit-Reset-Timestamp."""
        with self.lock:
            self._rate_limit_n = n
            self._rate_limit_reset_ms = reset_ts_ms
            self._rate_limit_in_ms = reset_in_ms
            self._rate_limit_path = (path,) if isinstance(path, str) else path

    def reject_next(self, code: int, msg: str | None = None, path: str | None = None) -> None:
        """Answer the next order call (to ``path``, if given) with ``code``."""
        with self.lock:
            self._reject.append((code, msg or f"fake rejection {code}", path))

    def seed_order(self, link_id: str, side: str, price: str, qty: str) -> str:
        """An open order that exists before the client starts (e.g. a previous run's)."""
        with self.lock:
            t = now_ms()
            o = FakeOrder(
                self._new_id(), link_id, side, Decimal(price), Decimal(qty), "PostOnly", False, t, t
            )
            self.orders[o.order_id] = o
            return o.order_id

    def open_orders(self) -> list[FakeOrder]:
        with self.lock:
            return [o for o in self.orders.values() if o.status in ACTIVE]

    def order_by_link(self, link_id: str) -> FakeOrder | None:
        with self.lock:
            for o in reversed(list(self.orders.values())):
                if o.link_id == link_id:
                    return o
        return None

    def calls(self, path: str) -> list[dict[str, Any]]:
        return [p for _, pth, p in self.rest_calls if pth == path]

    # -- fills ----------------------------------------------------------------------------
    def fill(self, link_id: str, qty: str | int) -> str:
        """Fill ``qty`` of a resting order at its price as maker; returns the execId."""
        with self.lock:
            o = next(
                (o for o in self.orders.values() if o.link_id == link_id and o.status in ACTIVE),
                None,
            )
            if o is None:
                raise KeyError(f"no open order {link_id}")
            return self._execute(o, Decimal(str(qty)), o.price, True)

    def market_delta(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        """One more book delta, as if the replay had it next (resting orders it crosses
        fill when ``fill_on_cross``). Update ids stay contiguous: the replay's later
        deltas are renumbered after it."""

        def apply() -> None:
            with self.lock:
                u = self._u + 1
                self._replay_delta(
                    {"data": {"s": SYMBOL, "b": bids, "a": asks, "u": u, "seq": self._cseq + 1}}
                )
                self._u -= 1  # the capture's next delta keeps its own id ...
                self._u_offset += 1  # ... and is sent one id later

        self._call(apply)

    def publish_trade(self, price: str, qty: str, side: str) -> None:
        item = {"T": now_ms(), "s": SYMBOL, "S": side, "v": qty, "p": price, "L": "PlusTick",
                "i": str(uuid.uuid4()), "BT": False}  # fmt: skip
        msg = {"topic": f"publicTrade.{SYMBOL}", "type": "snapshot", "ts": now_ms(), "data": [item]}
        self._call(lambda: self._broadcast_public(msg["topic"], msg))

    def _execute(self, o: FakeOrder, qty: Decimal, price: Decimal, maker: bool) -> str:
        qty = min(qty, o.qty - o.filled)
        rate = self.maker_fee if maker else self.taker_fee
        value = price * qty
        fee = value * rate
        t = now_ms()
        o.filled += qty
        o.cum_value += value
        o.cum_fee += fee
        o.updated_ms = t
        o.status = "Filled" if o.filled >= o.qty else "PartiallyFilled"
        self._apply_position(1 if o.side == "Buy" else -1, qty, price)
        exec_id = str(uuid.uuid4())
        mid = self._mid()
        ex = {
            "category": "linear", "symbol": o.symbol, "execFee": fmt(fee), "execId": exec_id,
            "execPrice": fmt(price, TICK), "execQty": fmt(qty, STEP), "execType": "Trade",
            "execValue": fmt(value), "isMaker": maker, "feeRate": fmt(rate), "tradeIv": "",
            "markIv": "", "blockTradeId": "", "markPrice": fmt(mid, TICK), "indexPrice": "",
            "underlyingPrice": "", "leavesQty": fmt(o.qty - o.filled, STEP), "orderId": o.order_id,
            "orderLinkId": o.link_id, "orderPrice": fmt(o.price, TICK), "orderQty": fmt(o.qty, STEP),
            "orderType": "Limit", "stopOrderType": "UNKNOWN", "side": o.side, "execTime": str(t),
            "isLeverage": "0", "closedSize": "", "seq": next(self._seq),
        }  # fmt: skip
        self._push("execution", [ex])
        self._push("order", [o.item()])
        self._push("position", [self._position_item(ws=True)])
        taker = "Sell" if o.side == "Buy" else "Buy"
        self.publish_trade(fmt(price, TICK), fmt(qty, STEP), taker)
        return exec_id

    def _apply_position(self, sign: int, qty: Decimal, price: Decimal) -> None:
        pos = self.position
        if pos == 0 or (pos > 0) == (sign > 0):
            new = pos + sign * qty
            self.entry_price = (abs(pos) * self.entry_price + qty * price) / abs(new)
            self.position = new
            return
        closing = min(qty, abs(pos))
        self.realised += (price - self.entry_price) * closing * (1 if pos > 0 else -1)
        self.position = pos + sign * qty
        if self.position == 0:
            self.entry_price = Decimal(0)
        elif (self.position > 0) != (pos > 0):  # flipped: the rest opens at price
            self.entry_price = price

    def _mid(self) -> Decimal:
        bb, ba = self.book.best_bid(), self.book.best_ask()
        if bb is None or ba is None:
            return Decimal(0)
        return (bb + ba) / 2

    def _position_item(self, ws: bool) -> dict[str, Any]:
        side = "Buy" if self.position > 0 else "Sell" if self.position < 0 else ""
        t = str(now_ms())
        entry = fmt(self.entry_price.quantize(Decimal("0.00000001")))
        item = {
            "positionIdx": 0, "tradeMode": 0, "riskId": 1, "riskLimitValue": "200000",
            "symbol": SYMBOL, "side": side, "size": fmt(abs(self.position), STEP),
            "leverage": "10", "positionValue": fmt(abs(self.position) * self.entry_price),
            "positionBalance": "0", "markPrice": fmt(self._mid(), TICK), "positionIM": "0",
            "positionMM": "0", "takeProfit": "0", "stopLoss": "0", "trailingStop": "0",
            "unrealisedPnl": "0", "curRealisedPnl": fmt(self.realised),
            "cumRealisedPnl": fmt(self.realised), "sessionAvgPrice": "0", "createdTime": t,
            "updatedTime": t, "tpslMode": "Full", "liqPrice": "", "bustPrice": "",
            "category": "linear", "positionStatus": "Normal", "adlRankIndicator": 0,
            "autoAddMargin": 0, "leverageSysUpdatedTime": "", "mmrSysUpdatedTime": "",
            "seq": next(self._seq), "isReduceOnly": False,
        }  # fmt: skip
        item["entryPrice" if ws else "avgPrice"] = entry
        return item

    # -- REST -----------------------------------------------------------------------------
    def handle_rest(
        self, method: str, path: str, query: str, body: str, headers: Any
    ) -> tuple[int, dict, dict]:
        with self.lock:
            try:
                params = (
                    dict(parse_qsl(query))
                    if method == "GET"
                    else (json.loads(body) if body else {})
                )
            except ValueError:
                return 400, {"retCode": 10001, "retMsg": "bad json"}, {}
            self.rest_calls.append((method, path, params))
            call = RestCall(time.time_ns(), method, path, params)
            self.rest_log.append(call)
            status, payload, headers = self._handle_rest(method, path, query, body, headers, params)
            call.ret_code = payload.get("retCode")
            return status, payload, headers

    def _handle_rest(
        self, method: str, path: str, query: str, body: str, headers: Any, params: dict[str, Any]
    ) -> tuple[int, dict, dict]:
        with self.lock:
            limit_headers = self._limit_headers(path)
            if not path.startswith("/v5/market/"):
                err = self._check_auth(method, query, body, headers)
                if err is not None:
                    return 200, self._resp(*err), limit_headers
            route = self._routes().get((method, path))
            if route is None:
                return 404, {"retCode": 10017, "retMsg": "Route not found"}, {}
            if path in ORDER_PATHS:
                only = self._rate_limit_path
                if self._rate_limit_n > 0 and (only is None or path in only):
                    self._rate_limit_n -= 1
                    reset = self._rate_limit_reset_ms or now_ms() + self._rate_limit_in_ms
                    limit_headers |= {
                        "X-Bapi-Limit-Status": "0",
                        "X-Bapi-Limit-Reset-Timestamp": str(reset),
                    }
                    return 200, self._resp(10006, "Too many visits!"), limit_headers
                for i, (code, msg, only) in enumerate(self._reject):
                    if only is None or only == path:
                        del self._reject[i]
                        return 200, self._resp(code, msg), limit_headers
            code, msg, result, ext = route(params)
            return 200, self._resp(code, msg, result, ext), limit_headers

    def _routes(
        self,
    ) -> dict[tuple[str, str], Callable[[dict[str, Any]], tuple[int, str, dict, dict]]]:
        return {
            ("GET", "/v5/market/instruments-info"): self._instruments,
            ("GET", "/v5/market/tickers"): self._tickers,
            ("GET", "/v5/market/time"): lambda p: (0, "OK", {"timeSecond": str(int(time.time())), "timeNano": str(time.time_ns())}, {}),
            ("POST", "/v5/order/create"): lambda p: self._one(self._create, p),
            ("POST", "/v5/order/amend"): lambda p: self._one(self._amend, p),
            ("POST", "/v5/order/cancel"): lambda p: self._one(self._cancel, p),
            ("POST", "/v5/order/create-batch"): lambda p: self._batch(self._create, p),
            ("POST", "/v5/order/amend-batch"): lambda p: self._batch(self._amend, p),
            ("POST", "/v5/order/cancel-batch"): lambda p: self._batch(self._cancel, p),
            ("POST", "/v5/order/cancel-all"): self._cancel_all,
            ("GET", "/v5/order/realtime"): self._realtime,
            ("GET", "/v5/position/list"): lambda p: (0, "OK", {"list": [self._position_item(ws=False)], "nextPageCursor": "", "category": "linear"}, {}),
            ("POST", "/v5/order/disconnected-cancel-all"): self._set_dcp,
        }  # fmt: skip

    @staticmethod
    def _resp(code: int, msg: str, result: dict | None = None, ext: dict | None = None) -> dict:
        return {
            "retCode": code,
            "retMsg": msg,
            "result": result or {},
            "retExtInfo": ext or {},
            "time": now_ms(),
        }

    def _limit_headers(self, path: str) -> dict[str, str]:
        group = ORDER_PATHS.get(path) or ("dcp" if "disconnected" in path else "query")
        if path.startswith("/v5/market/"):
            return {}
        n = self.limits[group]
        return {
            "X-Bapi-Limit": str(n),
            "X-Bapi-Limit-Status": str(n - 1),
            "X-Bapi-Limit-Reset-Timestamp": str(now_ms()),
        }

    def _check_auth(
        self, method: str, query: str, body: str, headers: Any
    ) -> tuple[int, str] | None:
        key, sign = headers.get("X-BAPI-API-KEY"), headers.get("X-BAPI-SIGN")
        ts, window = headers.get("X-BAPI-TIMESTAMP"), headers.get("X-BAPI-RECV-WINDOW") or "5000"
        if not key or key != self.api_key:
            return 10003, "API key is invalid."
        if not sign or not ts or not ts.isdigit() or not window.isdigit():
            return 10004, "error sign!"
        t = now_ms()
        if not (t - int(window) <= int(ts) < t + 1000):
            return (
                10002,
                f"invalid request, please check your server timestamp or recv_window param. req_timestamp[{ts}],server_timestamp[{t}],recv_window[{window}]",
            )
        payload = query if method == "GET" else body
        expected = hmac.new(
            self.api_secret.encode(), f"{ts}{key}{window}{payload}".encode(), hashlib.sha256
        ).hexdigest()
        self.signatures.append(sign)
        if not hmac.compare_digest(sign, expected):
            return 10004, "error sign! origin_string[...]"
        return None

    def _instruments(self, p: dict[str, Any]) -> tuple[int, str, dict, dict]:
        if p.get("category") != "linear":
            return 10001, "params error: category only support linear in this fake", {}, {}
        items = [self.instrument] if p.get("symbol") in (None, SYMBOL) else []
        return 0, "OK", {"category": "linear", "list": items, "nextPageCursor": ""}, {}

    def _tickers(self, p: dict[str, Any]) -> tuple[int, str, dict, dict]:
        if p.get("category") != "linear":
            return 10001, "params error: category only support linear in this fake", {}, {}
        zero = Decimal(0)
        bb, ba, mid = self.book.best_bid() or zero, self.book.best_ask() or zero, self._mid()
        item = {"symbol": SYMBOL, "bid1Price": fmt(bb, TICK), "ask1Price": fmt(ba, TICK),
                "lastPrice": fmt(mid, TICK), "markPrice": fmt(mid, TICK)}  # fmt: skip
        items = [item] if p.get("symbol") in (None, SYMBOL) else []
        return 0, "OK", {"category": "linear", "list": items}, {}

    def _one(
        self, fn: Callable[[dict[str, Any]], tuple[int, str, dict]], p: dict[str, Any]
    ) -> tuple[int, str, dict, dict]:
        if p.get("category") != "linear":
            return 10001, "params error: category", {}, {}
        code, msg, result = fn(p)
        return code, msg, result if code == 0 else {}, {}

    def _batch(
        self, fn: Callable[[dict[str, Any]], tuple[int, str, dict]], p: dict[str, Any]
    ) -> tuple[int, str, dict, dict]:
        reqs = p.get("request")
        if p.get("category") != "linear" or not isinstance(reqs, list) or not reqs:
            return 10001, "params error: request", {}, {}
        if len(reqs) > 20:
            return 10001, "params error: batch size exceeds 20", {}, {}
        out, ext = [], []
        for r in reqs:
            code, msg, result = fn(r)
            item = {
                "category": "linear",
                "symbol": r.get("symbol", ""),
                "orderId": "",
                "orderLinkId": r.get("orderLinkId", ""),
            }
            if code == 0:
                item |= result
            out.append(item)
            ext.append({"code": code, "msg": msg if code else "OK"})
        return 0, "OK", {"list": out}, {"list": ext}

    def _new_id(self) -> str:
        return f"{next(self._ids):04d}-{uuid.uuid4()}"

    def _find(self, p: dict[str, Any]) -> FakeOrder | None:
        oid, link = p.get("orderId"), p.get("orderLinkId")
        for o in self.orders.values():
            if o.status in ACTIVE and ((oid and o.order_id == oid) or (link and o.link_id == link)):
                return o
        return None

    def _crosses(self, side: str, price: Decimal) -> bool:
        if side == "Buy":
            ba = self.book.best_ask()
            return ba is not None and price >= ba
        bb = self.book.best_bid()
        return bb is not None and price <= bb

    def _check_price_qty(self, price: Decimal, qty: Decimal) -> tuple[int, str] | None:
        if price <= 0 or price % TICK:
            return 10001, "params error: price invalid"
        if qty < MIN_QTY or qty % STEP:
            return 10001, "params error: qty invalid"
        if price * qty < MIN_NOTIONAL:
            return 110094, "Order does not meet minimum order value 5USDT"
        return None

    def _create(self, p: dict[str, Any]) -> tuple[int, str, dict]:
        if p.get("symbol") != SYMBOL:
            return 10001, "params error: symbol invalid", {}
        side, link, tif = (
            p.get("side"),
            str(p.get("orderLinkId") or ""),
            p.get("timeInForce", "GTC"),
        )
        if side not in ("Buy", "Sell") or p.get("orderType") != "Limit":
            return 10001, "params error: side or orderType", {}
        if tif not in ("GTC", "IOC", "FOK", "PostOnly"):
            return 10001, "params error: timeInForce", {}
        try:
            price, qty = Decimal(str(p["price"])), Decimal(str(p["qty"]))
        except (KeyError, ArithmeticError, ValueError):
            return 10001, "params error: price or qty", {}
        err = self._check_price_qty(price, qty)
        if err:
            return err[0], err[1], {}
        if len(link) > 36:
            return 10001, "params error: orderLinkId too long", {}
        if link and any(o.link_id == link for o in self.orders.values()):
            return 110072, "OrderLinkedID is duplicate", {}
        t = now_ms()
        o = FakeOrder(
            self._new_id(), link, side, price, qty, tif, bool(p.get("reduceOnly", False)), t, t
        )
        self.orders[o.order_id] = o
        if self._crosses(side, price):
            if tif == "PostOnly":
                o.status, o.reject_reason = "Cancelled", "EC_PostOnlyWillTakeLiquidity"
                self._push("order", [o.item()])
            else:
                best = self.book.best_ask() if side == "Buy" else self.book.best_bid()
                assert best is not None
                self._execute(o, qty, best, False)
        else:
            self._push("order", [o.item()])
        self._push("position", [self._position_item(ws=True)])
        return 0, "OK", {"orderId": o.order_id, "orderLinkId": link, "createAt": str(t)}

    def _amend(self, p: dict[str, Any]) -> tuple[int, str, dict]:
        o = self._find(p)
        if o is None:
            return 110001, "order not exists or too late to replace", {}
        price = Decimal(str(p["price"])) if p.get("price") not in (None, "") else o.price
        qty = Decimal(str(p["qty"])) if p.get("qty") not in (None, "") else o.qty
        err = self._check_price_qty(price, qty)
        if err:
            return err[0], err[1], {}
        if qty <= o.filled:
            return (
                110064,
                "The modified contract quantity cannot be less than or equal to the filled quantity",
                {},
            )
        o.price, o.qty, o.updated_ms = price, qty, now_ms()
        if o.tif == "PostOnly" and self._crosses(o.side, price):
            o.status, o.reject_reason = "Cancelled", "EC_PostOnlyWillTakeLiquidity"
        self._push("order", [o.item()])
        return 0, "OK", {"orderId": o.order_id, "orderLinkId": o.link_id}

    def _cancel(self, p: dict[str, Any]) -> tuple[int, str, dict]:
        o = self._find(p)
        if o is None:
            return 110001, "Order does not exist.", {}
        if not self.freeze_cancels:
            o.status, o.cancel_type, o.updated_ms = "Cancelled", "CancelByUser", now_ms()
            self._push("order", [o.item()])
        return 0, "OK", {"orderId": o.order_id, "orderLinkId": o.link_id}

    def _cancel_all(self, p: dict[str, Any]) -> tuple[int, str, dict, dict]:
        if p.get("category") != "linear" or not (
            p.get("symbol") or p.get("settleCoin") or p.get("baseCoin")
        ):
            return 10001, "params error: symbol or settleCoin or baseCoin required", {}, {}
        done = []
        for o in list(self.orders.values()):
            if o.status in ACTIVE and p.get("symbol") in (None, o.symbol):
                done.append({"orderId": o.order_id, "orderLinkId": o.link_id})
                if not self.freeze_cancels:
                    o.status, o.cancel_type, o.updated_ms = "Cancelled", "CancelByUser", now_ms()
                    self._push("order", [o.item()])
        return 0, "OK", {"list": done, "success": "1"}, {}

    def _realtime(self, p: dict[str, Any]) -> tuple[int, str, dict, dict]:
        if p.get("category") != "linear":
            return 10001, "params error: category", {}, {}
        link, oid = p.get("orderLinkId"), p.get("orderId")
        rows = sorted(self.orders.values(), key=lambda o: o.created_ms, reverse=True)
        if link or oid:
            rows = [o for o in rows if (link and o.link_id == link) or (oid and o.order_id == oid)]
        else:
            rows = [o for o in rows if o.status in ACTIVE and p.get("symbol") in (None, o.symbol)]
        limit = max(1, min(50, int(p.get("limit", 20))))
        start = int(p.get("cursor") or 0)
        page = rows[start : start + limit]
        cursor = str(start + limit) if start + limit < len(rows) else ""
        return (
            0,
            "OK",
            {"list": [o.item() for o in page], "nextPageCursor": cursor, "category": "linear"},
            {},
        )

    def _set_dcp(self, p: dict[str, Any]) -> tuple[int, str, dict, dict]:
        window, product = p.get("timeWindow"), p.get("product", "OPTIONS")
        if (
            not isinstance(window, int)
            or not 3 <= window <= 300
            or product not in ("OPTIONS", "DERIVATIVES", "SPOT")
        ):
            return 10001, "params error: timeWindow or product", {}, {}
        self.dcp[product] = window
        return 0, "success", {}, {}

    def _fire_dcp(self) -> None:
        with self.lock:
            self.dcp_fired += 1
            for o in self.orders.values():
                if o.status in ACTIVE:
                    o.status, o.cancel_type, o.updated_ms = "Cancelled", "CancelByDCP", now_ms()

    # -- websockets -----------------------------------------------------------------------
    async def _ws_handler(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        conn = _Conn(ws, f"fake-{uuid.uuid4().hex[:12]}")
        self.connections += 1
        writer = asyncio.create_task(conn.writer())
        try:
            if path.startswith("/v5/public/linear"):
                await self._serve_public(conn)
            elif path.startswith("/v5/private"):
                await self._serve_private(conn)
            else:
                await ws.close(1008, "unknown path")
        finally:
            writer.cancel()

    @staticmethod
    def _send(conn: _Conn, msg: dict[str, Any]) -> None:
        conn.out.put_nowait(json.dumps(msg))

    async def _serve_public(self, conn: _Conn) -> None:
        self.public_conns.append(conn)
        try:
            async for raw in conn.ws:
                msg = json.loads(raw)
                op, req = msg.get("op"), msg.get("req_id", "")
                self.public_ops.append(msg)
                if op == "ping":
                    if not self.mute_pongs:
                        self._send(
                            conn,
                            {
                                "success": True,
                                "ret_msg": "pong",
                                "conn_id": conn.conn_id,
                                "req_id": req,
                                "op": "ping",
                            },
                        )
                elif op in ("subscribe", "unsubscribe"):
                    self._public_sub(conn, op, msg.get("args") or [], req)
        except Exception:
            pass
        finally:
            self.public_conns.remove(conn)

    def _valid_public(self, topic: str) -> bool:
        parts = topic.split(".")
        if parts[0] == "orderbook" and len(parts) == 3:
            return parts[1].isdigit() and int(parts[1]) in BOOK_DEPTHS and parts[2] == SYMBOL
        return topic == f"publicTrade.{SYMBOL}"

    def _public_sub(self, conn: _Conn, op: str, args: list[str], req: str) -> None:
        bad = [t for t in args if not self._valid_public(t)]
        if op == "subscribe":
            bad += [t for t in args if t in conn.topics]
        if bad:
            self._send(
                conn,
                {
                    "success": False,
                    "ret_msg": f"error:handler not found,topic:{bad[0]}",
                    "conn_id": conn.conn_id,
                    "req_id": req,
                    "op": op,
                },
            )
            return
        self._send(
            conn, {"success": True, "ret_msg": op, "conn_id": conn.conn_id, "req_id": req, "op": op}
        )
        for t in args:
            if op == "unsubscribe":
                conn.topics.discard(t)
                continue
            conn.topics.add(t)
            if t.startswith("orderbook."):
                assert self._subscribed is not None
                self._subscribed.set()
                depth = int(t.split(".")[1])
                with self.lock:
                    data = {
                        "s": SYMBOL,
                        **self.book.levels(depth),
                        "u": self._u + self._u_offset,
                        "seq": self._cseq,
                    }
                    self.ws_log.append(
                        (time.time_ns(), "snapshot", {"conn": conn.conn_id, "u": data["u"]})
                    )
                self._send(conn, self._book_msg("snapshot", depth, data))

    @staticmethod
    def _book_msg(mtype: str, depth: int, data: dict[str, Any]) -> dict[str, Any]:
        t = now_ms()
        return {
            "topic": f"orderbook.{depth}.{SYMBOL}",
            "type": mtype,
            "ts": t,
            "data": data,
            "cts": t,
        }

    def _broadcast_public(self, topic: str, msg: dict[str, Any]) -> None:
        for c in list(self.public_conns):
            if topic in c.topics:
                self._send(c, msg)

    async def _replay(self) -> None:
        first_u = int(self._snapshot["data"]["u"])
        assert self._subscribed is not None
        await self._subscribed.wait()  # the market "opens" with the first book subscriber
        while True:
            for d in self._deltas:
                await asyncio.sleep(self.interval_s)
                self._replay_delta(d)
            if not self.loop_replay:
                return  # hold the last state
            await asyncio.sleep(self.interval_s)
            with self.lock:  # loop: back to the snapshot, ids keep increasing
                self._u_offset += self._u - first_u + 1
                self.book.reset(self._snapshot["data"])
                self._u = first_u
                data = {
                    "s": SYMBOL,
                    **self.book.levels(500),
                    "u": self._u + self._u_offset,
                    "seq": self._cseq,
                }
                self.ws_log.append((time.time_ns(), "loop_snapshot", {"u": data["u"]}))
            for depth in BOOK_DEPTHS:
                self._broadcast_public(
                    f"orderbook.{depth}.{SYMBOL}",
                    self._book_msg("snapshot", depth, {**data, **self.book.levels(depth)}),
                )

    def _replay_delta(self, d: dict[str, Any]) -> None:
        with self.lock:
            self.book.apply(d["data"])
            self._u = int(d["data"]["u"])
            self._cseq = int(d["data"].get("seq", self._cseq))
            data = {**d["data"], "u": self._u + self._u_offset}
            skip = self._gap > 0
            if skip:
                self._gap -= 1
            self.ws_log.append(
                (time.time_ns(), "delta_skipped" if skip else "delta", {"u": data["u"]})
            )
            if self.fill_on_cross:
                for o in list(self.orders.values()):
                    if o.status in ACTIVE and self._crosses(o.side, o.price):
                        self._execute(o, o.qty - o.filled, o.price, True)
        if skip:
            return
        for depth in BOOK_DEPTHS:
            self._broadcast_public(
                f"orderbook.{depth}.{SYMBOL}", self._book_msg("delta", depth, data)
            )

    async def _serve_private(self, conn: _Conn) -> None:
        self.private_conns.append(conn)
        try:
            async for raw in conn.ws:
                msg = json.loads(raw)
                op, req = msg.get("op"), msg.get("req_id", "")
                self.private_ops.append(
                    {k: v for k, v in msg.items() if k != "args"}
                    | {"nargs": len(msg.get("args") or [])}
                )
                if op == "ping":
                    if not self.mute_pongs:
                        self._send(
                            conn,
                            {
                                "req_id": req,
                                "op": "pong",
                                "args": [str(now_ms())],
                                "conn_id": conn.conn_id,
                            },
                        )
                elif op == "auth":
                    ok = self._check_ws_auth(msg.get("args") or [])
                    conn.authed = ok
                    self._send(
                        conn,
                        {
                            "success": ok,
                            "ret_msg": "" if ok else "Params Error",
                            "op": "auth",
                            "conn_id": conn.conn_id,
                            **({"req_id": req} if req else {}),
                        },
                    )
                elif op == "subscribe":
                    if not conn.authed:
                        self._send(
                            conn,
                            {
                                "success": False,
                                "ret_msg": "Request not authorized",
                                "op": "subscribe",
                                "conn_id": conn.conn_id,
                            },
                        )
                        continue
                    conn.topics.update(msg.get("args") or [])
                    self.ws_log.append(
                        (time.time_ns(), "private_subscribed", {"conn": conn.conn_id,
                         "topics": sorted(conn.topics)})
                    )  # fmt: skip
                    if (
                        any(t.startswith("dcp") for t in conn.topics)
                        and self._dcp_timer is not None
                    ):
                        self._dcp_timer.cancel()
                        self._dcp_timer = None
                    self._send(
                        conn,
                        {
                            "success": True,
                            "ret_msg": "",
                            "op": "subscribe",
                            "conn_id": conn.conn_id,
                            **({"req_id": req} if req else {}),
                        },
                    )
        except Exception:
            pass
        finally:
            self.private_conns.remove(conn)
            self._maybe_arm_dcp(conn)

    def _check_ws_auth(self, args: list[Any]) -> bool:
        if len(args) != 3:
            return False
        key, expires, sig = args
        self.signatures.append(str(sig))
        if key != self.api_key or not isinstance(expires, int) or expires <= now_ms():
            return False
        expected = hmac.new(
            self.api_secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(str(sig), expected)

    def _maybe_arm_dcp(self, gone: _Conn) -> None:
        window = self.dcp.get("DERIVATIVES")
        if not window or not any(t.startswith("dcp") for t in gone.topics):
            return
        if any(any(t.startswith("dcp") for t in c.topics) for c in self.private_conns):
            return
        assert self._loop is not None
        self._dcp_timer = self._loop.call_later(window, self._fire_dcp)

    def _push(self, topic: str, data: list[dict[str, Any]]) -> None:
        """Send a private-stream message to every authed connection subscribed to it."""
        msg = {"id": f"{uuid.uuid4().hex}", "topic": topic, "creationTime": now_ms(), "data": data}

        def send() -> None:
            for c in list(self.private_conns):
                if c.authed and topic in c.topics:
                    self._send(c, msg)

        self._call(send)


if __name__ == "__main__":  # a standalone fake for manual runs: prints the client env
    import sys

    with FakeBybit() as server:
        print(json.dumps(server.env()), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            sys.exit(0)
