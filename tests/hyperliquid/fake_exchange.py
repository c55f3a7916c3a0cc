"""The exchange half of the fake Hyperliquid: signed actions, ALO matching, user channels.

Plugged into the fake server (fake_hyperliquid.py) as its ExchangeHooks:

* Every ``POST /exchange`` body's EIP-712 signature is checked the way the venue does:
  the signer is recovered from the action hash (hyperliquid.utils.signing: action_hash,
  construct_phantom_agent, l1_payload; eth_account) and must be an API wallet
  authorised for an account. A stranger's signature recovers to some other address and
  gets the venue's own answer ("User or API Wallet ... does not exist."). Nonces must
  be fresh (unique and within a day).
* ``order`` (ALO / GTC limits, grouping "na"): an ALO that would cross the replayed book
  is refused with the venue's text; a GTC that crosses fills at once at the touch.
  Resting orders fill when replayed trades or the book cross them (partial fills, price
  then time priority). ``batchModify`` is cancel-replace: a new oid, back of the queue.
  ``cancel`` (by oid) and ``cancelByCloid``. ``scheduleCancel`` cancels everything when
  its time passes (the fake clock is the market's) and counts the trigger.
* Pushes ``orderUpdates`` and ``userFills`` in the venue's formats to subscribed
  connections; info answers ``openOrders``, ``frontendOpenOrders``,
  ``clearinghouseState``, ``userFills``, ``orderStatus``, ``userRateLimit``.
* Faults: ``reject_next(text)``, ``rate_limit_next("ip" | "address")``, ``drop_users()``.

The ledger (``fills``, ``position``, ``realized``, ``fees``) is exact Decimal: tests
compare the bot's view against it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from fake_hyperliquid import NOT_HANDLED, ExchangeHooks, dumps
from hyperliquid.utils.signing import action_hash, construct_phantom_agent, l1_payload

MAKER_FEE = Decimal("0.00015")
TAKER_FEE = Decimal("0.00045")
NONCE_WINDOW_MS = 24 * 3600 * 1000
DAILY_TRIGGERS = 10


def _wire(d: Decimal) -> str:
    return format(d.normalize(), "f") if d else "0"


@dataclass
class FakeOrder:
    oid: int
    coin: str
    is_buy: bool
    px: Decimal
    sz: Decimal  # remaining
    orig: Decimal
    cloid: str | None
    tif: str
    reduce_only: bool
    ts: int

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "coin": self.coin, "side": "B" if self.is_buy else "A", "limitPx": _wire(self.px),
            "sz": _wire(self.sz), "oid": self.oid, "timestamp": self.ts, "origSz": _wire(self.orig),
        }  # fmt: skip
        if self.cloid:
            out["cloid"] = self.cloid
        return out


@dataclass
class Book:
    bid: Decimal | None = None
    ask: Decimal | None = None


@dataclass
class Fault:
    kind: str  # "reject" | "ip" | "address"
    text: str = ""


@dataclass
class Ledger:
    szi: Decimal = Decimal(0)
    entry: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)  # closedPnl summed (before fees)
    fees: Decimal = Decimal(0)


class FakeExchange(ExchangeHooks):
    """See the module docstring. ``clock_ms`` is injectable (tests move time by hand)."""

    def __init__(
        self,
        account: str,
        agent: str,
        coins: dict[str, int],
        *,
        is_mainnet: bool = False,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.account = account.lower()
        self.agents = {agent.lower(): self.account}  # API wallet -> the account it trades for
        self.coins = list(coins)  # asset index = position
        self.sz_decimals = dict(coins)
        self.is_mainnet = is_mainnet
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.lock = threading.RLock()
        self.orders: dict[int, FakeOrder] = {}
        self.done: dict[int, tuple[FakeOrder, str, int]] = {}  # oid -> (order, status, ms)
        self.books: dict[str, Book] = {c: Book() for c in coins}
        self.ledgers: dict[str, Ledger] = {c: Ledger() for c in coins}
        self.fills: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []  # accepted actions, in order
        self.refused: list[str] = []  # why each refused body was refused
        self.faults: list[Fault] = []
        self.nonces: set[int] = set()
        self.schedule_at: int | None = None
        self.triggers = 0
        self.requests_used = 0
        self._oid = 1000
        self._tid = 1
        self.pushed: list[tuple[str, Any]] = []

    # -- fault injection ------------------------------------------------------------------
    def reject_next(self, text: str) -> None:
        self.faults.append(Fault("reject", text))

    def rate_limit_next(self, kind: str) -> None:
        self.faults.append(Fault(kind))

    def drop_users(self) -> None:
        """Close every user-channel connection (the server's drop hook)."""
        if self.server is not None:
            self.server.drop_connections()

    # -- ExchangeHooks --------------------------------------------------------------------
    def exchange(self, body: dict[str, Any]) -> tuple[int, Any]:
        with self.lock:
            self._tick()
            fault = self.faults.pop(0) if self.faults else None
            if fault is not None and fault.kind == "ip":
                return 429, None
            if fault is not None and fault.kind == "address":
                used = self.requests_used
                return 200, {"status": "err", "response": f"Too many cumulative requests sent ({used} > {used - 1}) for cumulative volume traded $0. Place taker orders to free up 1 request per USDC traded."}  # fmt: skip
            who = self._verify(body)
            if who is None:
                return 200, {"status": "err", "response": self.refused[-1]}
            action = body["action"]
            self.requests_used += 1
            kind = action.get("type")
            if fault is not None and fault.kind == "reject":
                return 200, {"status": "err", "response": fault.text}
            self.actions.append(action)
            if kind == "order":
                data = {"statuses": [self._place(o) for o in action.get("orders") or []]}
            elif kind == "batchModify":
                data = {"statuses": [self._modify(m) for m in action.get("modifies") or []]}
            elif kind == "cancel":
                data = {"statuses": [self._cancel_oid(c.get("o")) for c in action.get("cancels") or []]}  # fmt: skip
            elif kind == "cancelByCloid":
                data = {"statuses": [self._cancel_cloid(c.get("cloid")) for c in action.get("cancels") or []]}  # fmt: skip
            elif kind == "scheduleCancel":
                return 200, self._schedule(action)
            else:
                return 200, {"status": "err", "response": f"Unknown action {kind}"}
            return 200, {"status": "ok", "response": {"type": kind if kind != "cancelByCloid" else "cancel", "data": data}}  # fmt: skip

    def info(self, body: dict[str, Any]) -> Any:
        kind = body.get("type")
        with self.lock:
            self._tick()
            user = str(body.get("user") or "").lower()
            if kind in ("openOrders", "frontendOpenOrders"):
                if user != self.account:
                    return []
                out = []
                for o in sorted(self.orders.values(), key=lambda o: o.oid):
                    w = o.wire()
                    if kind == "frontendOpenOrders":
                        w |= {"orderType": "Limit", "tif": o.tif, "reduceOnly": o.reduce_only,
                              "isTrigger": False, "triggerPx": "0.0", "isPositionTpsl": False}  # fmt: skip
                    out.append(w)
                return out
            if kind == "clearinghouseState":
                return self._clearinghouse(user)
            if kind == "userFills":
                return list(reversed(self.fills)) if user == self.account else []
            if kind == "orderStatus":
                return self._order_status(body.get("oid"))
            if kind == "userRateLimit":
                vlm = sum(Decimal(f["px"]) * Decimal(f["sz"]) for f in self.fills)
                return {"cumVlm": _wire(vlm), "nRequestsUsed": self.requests_used,
                        "nRequestsCap": 10_000 + int(vlm)}  # fmt: skip
        return NOT_HANDLED

    def user_subscribe(self, conn: Any, subscription: dict[str, Any]) -> bool:
        """Subscriptions this half owns; a userFills subscriber gets its snapshot first."""
        kind = subscription.get("type")
        if kind not in ("orderUpdates", "userFills", "userEvents"):
            return False
        if kind == "userFills":
            with self.lock:
                snap = {"isSnapshot": True, "user": self.account, "fills": list(self.fills)}
            text = dumps({"channel": "userFills", "data": snap})
            # we run on the server's loop before it queues the ack: the snapshot follows it
            asyncio.get_running_loop().call_soon(conn.queue.put_nowait, text)
        return True

    def on_market(self, coin: str, book_levels: Any, trades: Any, time_ms: int) -> None:
        """Every replayed market message: new touch, then fills of crossed resting orders."""
        with self.lock:
            self._tick(time_ms)
            book = self.books.setdefault(coin, Book())
            if book_levels:
                bids, asks = book_levels[0], book_levels[1]
                book.bid = Decimal(str(bids[0]["px"])) if bids else None
                book.ask = Decimal(str(asks[0]["px"])) if asks else None
                # the book moved through a resting order: it filled in full
                for o in self._resting(coin):
                    crossed = (o.is_buy and book.ask is not None and book.ask <= o.px) or (
                        not o.is_buy and book.bid is not None and book.bid >= o.px
                    )
                    if crossed:
                        self._fill(o, o.px, o.sz, False, time_ms)
            for t in trades or []:
                left = Decimal(str(t["sz"]))
                px = Decimal(str(t["px"]))
                seller_aggr = t.get("side") == "A"  # a selling taker hits bids at >= px
                for o in self._resting(coin):
                    if left <= 0:
                        break
                    if o.is_buy == seller_aggr and (o.px >= px if o.is_buy else o.px <= px):
                        q = min(left, o.sz)
                        self._fill(o, o.px, q, False, time_ms)
                        left -= q

    # -- verification ---------------------------------------------------------------------
    def _verify(self, body: dict[str, Any]) -> str | None:
        """The account this body acts for, or None (reason in ``self.refused``)."""
        try:
            action, nonce, sig = body["action"], int(body["nonce"]), body["signature"]
            h = action_hash(action, body.get("vaultAddress"), nonce, body.get("expiresAfter"))
            data = l1_payload(construct_phantom_agent(h, self.is_mainnet))
            signer = Account.recover_message(
                encode_typed_data(full_message=data), vrs=[sig["v"], sig["r"], sig["s"]]
            ).lower()
        except Exception as exc:
            self.refused.append(f"Invalid signature: {type(exc).__name__}")
            return None
        account = self.agents.get(signer) or (signer if signer == self.account else None)
        if account is None:
            self.refused.append(f"User or API Wallet {signer} does not exist.")
            return None
        now = self.clock_ms()
        if nonce in self.nonces or not now - NONCE_WINDOW_MS < nonce < now + NONCE_WINDOW_MS:
            self.refused.append(f"Invalid nonce: duplicate or out of window {nonce}")
            return None
        self.nonces.add(nonce)
        return account

    # -- matching -------------------------------------------------------------------------
    def _next_oid(self) -> int:
        self._oid += 1
        return self._oid

    def _resting(self, coin: str) -> list[FakeOrder]:
        mine = [o for o in self.orders.values() if o.coin == coin]
        return sorted(mine, key=lambda o: (-o.px if o.is_buy else o.px, o.oid))

    def _check_grid(self, coin: str, px: Decimal, sz: Decimal) -> str:
        d = self.sz_decimals[coin]
        if sz <= 0 or sz != sz.quantize(Decimal(1).scaleb(-d)):
            return "Order has invalid size."
        if px <= 0:
            return "Order has invalid price."
        if px != px.to_integral_value():
            digits = len(px.normalize().as_tuple().digits)
            if digits > 5 or -px.normalize().as_tuple().exponent > 6 - d:  # type: ignore[operator]
                return f"Price must be divisible by tick size. asset={self.coins.index(coin)}"
        return ""

    def _place(self, w: dict[str, Any], oid: int | None = None) -> dict[str, Any]:
        coin = self.coins[int(w["a"])]
        px, sz = Decimal(w["p"]), Decimal(w["s"])
        bad = self._check_grid(coin, px, sz)
        if bad:
            return {"error": bad}
        if px * sz < 10:
            return {"error": f"Order must have minimum value of $10. asset={w['a']}"}
        cloid = w.get("c")
        if cloid and any(o.cloid == cloid for o in self.orders.values()):
            return {"error": f"Duplicate cloid {cloid}"}
        book = self.books[coin]
        tif = w["t"]["limit"]["tif"]
        crosses = (w["b"] and book.ask is not None and px >= book.ask) or (
            not w["b"] and book.bid is not None and px <= book.bid
        )
        if crosses and tif == "Alo":
            return {"error": f"Post only order would have immediately matched, bbo was {_wire(book.bid or Decimal(0))}@{_wire(book.ask or Decimal(0))}. asset={w['a']}"}  # fmt: skip
        o = FakeOrder(oid or self._next_oid(), coin, bool(w["b"]), px, sz, sz, cloid, tif,
                      bool(w.get("r")), self.clock_ms())  # fmt: skip
        if crosses:
            touch = book.ask if o.is_buy else book.bid
            assert touch is not None
            self._fill(o, touch, sz, True, o.ts, resting=False)
            return {"filled": {"totalSz": _wire(sz), "avgPx": _wire(touch), "oid": o.oid}}
        self.orders[o.oid] = o
        self._push_order(o, "open")
        out: dict[str, Any] = {"resting": {"oid": o.oid}}
        if cloid:
            out["resting"]["cloid"] = cloid
        return out

    def _find(self, ref: Any) -> FakeOrder | None:
        if isinstance(ref, str) and ref.startswith("0x"):
            return next((o for o in self.orders.values() if o.cloid == ref), None)
        try:
            return self.orders.get(int(ref))
        except (TypeError, ValueError):
            return None

    def _modify(self, m: dict[str, Any]) -> dict[str, Any]:
        old = self._find(m.get("oid"))
        if old is None:
            return {"error": "Cannot modify canceled or filled order"}
        w = dict(m["order"])
        coin = self.coins[int(w["a"])]
        px, sz = Decimal(w["p"]), Decimal(w["s"])
        bad = self._check_grid(coin, px, sz)
        book = self.books[coin]
        crosses = (w["b"] and book.ask is not None and px >= book.ask) or (
            not w["b"] and book.bid is not None and px <= book.bid
        )
        if bad:
            return {"error": bad}
        if crosses and w["t"]["limit"]["tif"] == "Alo":
            # the venue keeps the original when a modify is refused
            return {"error": f"Post only order would have immediately matched, bbo was {_wire(book.bid or Decimal(0))}@{_wire(book.ask or Decimal(0))}. asset={w['a']}"}  # fmt: skip
        del self.orders[old.oid]
        # the replaced order: orderStatus says canceled; the push is the new order's "open"
        self.done[old.oid] = (old, "canceled", self.clock_ms())
        return self._place(w)

    def _cancel_oid(self, oid: Any) -> Any:
        o = self._find(oid)
        if o is None:
            return {"error": "Order was never placed, already canceled, or filled. asset=0"}
        del self.orders[o.oid]
        self._finish(o, "canceled")
        return "success"

    def _cancel_cloid(self, cloid: Any) -> Any:
        o = self._find(str(cloid))
        if o is None:
            return {"error": "Order was never placed, already canceled, or filled. asset=0"}
        return self._cancel_oid(o.oid)

    def _schedule(self, action: dict[str, Any]) -> dict[str, Any]:
        at = action.get("time")
        if at is None:
            self.schedule_at = None
        elif int(at) < self.clock_ms() + 5000:
            return {"status": "err", "response": "Scheduled cancel time too early, must be at least 5 seconds from now."}  # fmt: skip
        elif self.triggers >= DAILY_TRIGGERS:
            return {"status": "err", "response": "Too many cancel triggers today."}
        else:
            self.schedule_at = int(at)
        return {"status": "ok", "response": {"type": "default"}}

    def _tick(self, now_ms: int | None = None) -> None:
        """Fire the dead man's switch when its time has come."""
        now = self.clock_ms() if now_ms is None else max(now_ms, self.clock_ms())
        if self.schedule_at is not None and now >= self.schedule_at:
            self.schedule_at = None
            self.triggers += 1
            for o in list(self.orders.values()):
                del self.orders[o.oid]
                self._finish(o, "scheduledCancel")

    def _finish(self, o: FakeOrder, status: str) -> None:
        self.done[o.oid] = (o, status, self.clock_ms())
        self._push_order(o, status)

    def _fill(self, o: FakeOrder, px: Decimal, q: Decimal, crossed: bool, ms: int,
              resting: bool = True) -> None:  # fmt: skip
        led = self.ledgers[o.coin]
        signed = q if o.is_buy else -q
        start = led.szi
        closed = Decimal(0)
        if start and (start > 0) != (signed > 0):  # reduces (maybe flips)
            n = min(abs(start), q)
            closed = (px - led.entry) * n * (1 if start > 0 else -1)
            led.realized += closed
            rest = q - n
            led.szi = start + signed
            if rest:
                led.entry = px
            elif led.szi == 0:
                led.entry = Decimal(0)
        else:
            new = start + signed
            led.entry = (led.entry * abs(start) + px * q) / abs(new)
            led.szi = new
        fee = px * q * (TAKER_FEE if crossed else MAKER_FEE)
        led.fees += fee
        o.sz -= q
        self._tid += 1
        fill = {
            "coin": o.coin, "px": _wire(px), "sz": _wire(q), "side": "B" if o.is_buy else "A",
            "time": ms, "startPosition": _wire(start), "dir": _dir(start, signed),
            "closedPnl": _wire(closed), "hash": f"0x{self._tid:064x}", "oid": o.oid,
            "crossed": crossed, "fee": _wire(fee), "tid": self._tid, "feeToken": "USDC",
        }  # fmt: skip
        if o.cloid:
            fill["cloid"] = o.cloid
        self.fills.append(fill)
        self._publish("userFills", {"user": self.account, "fills": [fill]})
        if o.sz <= 0:
            self.orders.pop(o.oid, None)
            self._finish(o, "filled")
        elif resting:
            self._push_order(o, "open")

    # -- answers --------------------------------------------------------------------------
    def _push_order(self, o: FakeOrder, status: str) -> None:
        self._publish("orderUpdates", [{"order": o.wire(), "status": status,
                                        "statusTimestamp": self.clock_ms()}])  # fmt: skip

    def _publish(self, channel: str, data: Any) -> None:
        self.pushed.append((channel, data))
        if self.server is not None:
            self.server.publish(channel, self.account, data)

    def _clearinghouse(self, user: str) -> dict[str, Any]:
        positions = []
        for coin, led in self.ledgers.items():
            if user != self.account or not led.szi:
                continue
            b = self.books.get(coin) or Book()
            mark = (b.bid + b.ask) / 2 if b.bid is not None and b.ask is not None else led.entry
            positions.append({"type": "oneWay", "position": {
                "coin": coin, "szi": _wire(led.szi), "entryPx": _wire(led.entry),
                "positionValue": _wire(abs(led.szi) * mark),
                "unrealizedPnl": _wire((mark - led.entry) * led.szi), "leverage": {"type": "cross", "value": 20},
                "liquidationPx": None, "marginUsed": "0", "maxLeverage": 50,
                "cumFunding": {"allTime": "0", "sinceOpen": "0", "sinceChange": "0"}}})  # fmt: skip
        return {"assetPositions": positions, "marginSummary": {"accountValue": "100000"},
                "crossMarginSummary": {"accountValue": "100000"}, "withdrawable": "100000",
                "time": self.clock_ms()}  # fmt: skip

    def _order_status(self, ref: Any) -> dict[str, Any]:
        o = self._find(ref)
        if o is not None:
            return {"status": "order", "order": {"order": o.wire(), "status": "open",
                                                 "statusTimestamp": o.ts}}  # fmt: skip
        for old, status, ms in self.done.values():
            if old.oid == ref or (old.cloid and old.cloid == ref):
                return {"status": "order", "order": {"order": old.wire(), "status": status,
                                                     "statusTimestamp": ms}}  # fmt: skip
        return {"status": "unknownOid"}


def _dir(start: Decimal, signed: Decimal) -> str:
    if start == 0 or (start > 0) == (signed > 0):
        return "Open Long" if signed > 0 else "Open Short"
    return "Close Short" if signed > 0 else "Close Long"
