"""Hyperliquid order gateway: OrderActions in, immediate OrderUpdates out (as BybitGateway).

* Orders are ALO (add-liquidity-only = post-only) limits unless the action says
  otherwise. Places go as one ``order`` action (grouping "na"), amends as one
  ``batchModify``, cancels as one ``cancelByCloid``; each is signed (signing.py) and
  answered with one status per order.
* Client ids: the order manager's ``{prefix}{run_tag}-{n}`` becomes a 16-byte cloid
  (signing.ClientIds), so a resend carries the same cloid and start-up can tell this
  bot's earlier runs from other software on the account.
* Prices round onto the venue's grid away from the touch, sizes floor onto szDecimals,
  all in signing.py; the update reports the ticks actually sent.
* An ALO that would cross is REJECTED with "post-only" in the reason: the trader forgets
  the order and re-prices from the current book on its next decision; the gateway does
  not retry it (the book it was priced from is gone). An amend refused that way also
  cancels the original, so the venue holds what the trader believes: nothing.
* Failures act per connectors/hyperliquid/errors.py: a 429 or the address-limit error
  blocks the bucket and resends (``max_backoffs``), 5xx retries, RECONCILE / REDUCE /
  RESYNC reach the trader in the reason, HALT stops new places and amends.

Start-up: ``reconcile_start`` reads positions and open orders, cancels earlier runs'
leftovers (our prefix, another run tag), leaves other orders alone. The dead man's
switch is connectors/hyperliquid/heartbeat.py; shutdown is ``cancel_all_and_confirm``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.bybit.errors import ErrorAction
from connectors.bybit.execution import StartupReport
from connectors.bybit.records import PositionUpdate
from connectors.hyperliquid import signing
from connectors.hyperliquid.api import HyperliquidApi
from connectors.hyperliquid.errors import (
    HyperliquidTransportError,
    action_for,
    is_post_only_reject,
    reject_reason,
)
from connectors.hyperliquid.ratelimit import HyperliquidLimiter
from core.errors import MMError
from core.events import BUY, OrderStatus, OrderUpdate
from core.instruments import InstrumentSpec
from core.log import event, get_logger
from core.orders import ActionType, OrderAction

log = get_logger(__name__)
VENUE = "hyperliquid"
BATCH_MAX = 40  # one more IP weight per 40 orders: keep each action at weight 1
_KIND = {ActionType.PLACE: "place", ActionType.AMEND: "amend", ActionType.CANCEL: "cancel"}


@dataclass
class _Order:
    """What the gateway knows of one of this run's orders (amends need the whole order)."""

    inst: str
    cloid: str
    side: int
    price: int
    qty: int
    oid: int = 0
    post_only: bool = True
    reduce_only: bool = False


@dataclass
class _Outcome:
    ok: bool
    statuses: list[Any] = field(default_factory=list)
    error: str = ""


class HyperliquidGateway:
    """Sends OrderActions to ``POST /exchange``; see the module docstring for the rules."""

    venue = VENUE

    def __init__(
        self,
        api: HyperliquidApi,
        signer: signing.Signer,
        specs: Mapping[str, InstrumentSpec],
        account_address: str,
        *,
        run_tag: str,
        client_id_prefix: str = "mm",
        assets: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 3,
        max_backoffs: int = 5,
        retry_delay_s: float = 0.2,
    ) -> None:
        self.api = api
        self.signer = signer
        self.specs = {s.id: s for s in specs.values()}
        self.account = account_address
        self.ids = signing.ClientIds(client_id_prefix, run_tag)
        self.run_prefix = self.ids.run_prefix
        self.clock = clock
        self.sleep = sleep
        self.limiter: HyperliquidLimiter = api.limiter
        self.limiter.clock, self.limiter.sleep = clock, sleep
        self.max_retries = max_retries
        self.max_backoffs = max_backoffs
        self.retry_delay_s = retry_delay_s
        self.halted = ""
        self.orders: dict[str, _Order] = {}  # client id -> order (this run's, while open)
        self.heartbeat: Any = None  # the DeadMansSwitch: disarmed once cancel-all is confirmed
        self._assets = dict(assets) if assets is not None else self._load_assets()
        self._rng = random.Random()

    def __repr__(self) -> str:
        return f"HyperliquidGateway(api={self.api!r}, signer={self.signer!r})"

    def _load_assets(self) -> dict[str, int]:
        """Perp asset index = position in ``meta.universe``."""
        meta = self.api.info({"type": "meta"})
        return {str(a.get("name")): i for i, a in enumerate(meta.get("universe") or [])}

    def asset(self, inst: str) -> int:
        coin = self.specs[inst].symbol
        if coin not in self._assets:
            raise MMError(f"{coin} is not in Hyperliquid's meta universe")
        return self._assets[coin]

    # -- public API -----------------------------------------------------------------------
    def execute(self, actions: list[OrderAction]) -> list[OrderUpdate]:
        """Immediate outcomes, one per action, in the order sent: cancel-alls (one CANCELED
        per order cancelled), cancels, amends, places. Call it from one thread."""
        out: list[OrderUpdate] = []
        for a in actions:
            if a.type == ActionType.CANCEL_ALL:
                out += self.cancel_all(a.inst)
        for kind in ("cancel", "amend", "place"):
            group = [a for a in actions if _KIND.get(a.type) == kind]
            for start in range(0, len(group), BATCH_MAX):
                out += self._run(kind, group[start : start + BATCH_MAX])
        return out

    def cancel_all(self, inst: str) -> list[OrderUpdate]:
        """Cancel every open order of the instrument (by oid), ours or not, as Bybit's
        cancel-all does."""
        if inst not in self.specs:
            return []
        try:
            opened = self.open_orders(inst)
        except (MMError, OSError) as exc:
            event(log, logging.ERROR, "cancel_all_failed", venue=VENUE, inst=inst, error=str(exc))
            return []
        if not opened:
            return []
        asset = self.asset(inst)
        action = {"type": "cancel", "cancels": [{"a": asset, "o": int(o.venue_order_id)}
                                                for o in opened]}  # fmt: skip
        try:
            res = self._exchange(action, len(opened))
        except HyperliquidTransportError as exc:  # shutdown polls again; never raise here
            event(log, logging.ERROR, "cancel_all_failed", venue=VENUE, inst=inst, error=str(exc))
            return []
        out: list[OrderUpdate] = []
        for i, o in enumerate(opened):
            st = res.statuses[i] if res.ok and i < len(res.statuses) else None
            if st == "success":
                self.orders.pop(o.client_id, None)
                out.append(self._update(o.inst, o.client_id, OrderStatus.CANCELED, o.side,
                                        o.price, o.qty, o.venue_order_id, "cancel-all"))  # fmt: skip
        return out

    def open_orders(self, inst: str) -> list[OrderUpdate]:
        """The account's open orders of the instrument as NEW / PARTIALLY_FILLED updates
        (client id "" for orders that are not this run's)."""
        spec = self.specs[inst]
        rows = self._info({"type": "frontendOpenOrders", "user": self.account})
        now = time.time_ns()
        out: list[OrderUpdate] = []
        for o in rows if isinstance(rows, list) else []:
            if o.get("coin") != spec.symbol:
                continue
            try:
                orig = spec.size_to_lots(str(o.get("origSz", o.get("sz"))))
                left = spec.size_to_lots(str(o["sz"]))
                price = spec.price_to_ticks(str(o["limitPx"]))
            except (KeyError, ValueError, ArithmeticError, MMError):
                raise MMError(f"bad open order from Hyperliquid: {o!r}") from None
            status = OrderStatus.PARTIALLY_FILLED if left < orig else OrderStatus.NEW
            cid = self.ids.client_id(o.get("cloid"))
            u = OrderUpdate(inst, cid, status, BUY if o.get("side") == "B" else -1, price, orig,
                            orig - left, int(o.get("timestamp") or 0) * 1_000_000, now,
                            str(o.get("oid")), "leftover" if self.ids.is_leftover(o.get("cloid")) else "")  # fmt: skip
            out.append(u)
        return out

    def position(self, inst: str) -> PositionUpdate:
        spec = self.specs[inst]
        state = self._info({"type": "clearinghouseState", "user": self.account})
        exch = int(state.get("time") or 0) * 1_000_000
        for ap in state.get("assetPositions") or []:
            p = ap.get("position") or {}
            if p.get("coin") != spec.symbol:
                continue
            szi = Decimal(str(p.get("szi") or "0"))
            lots = spec.size_to_lots(abs(szi)) * (1 if szi >= 0 else -1)
            value = Decimal(str(p.get("positionValue") or "0"))
            mark = value / abs(szi) if szi else Decimal(0)
            return PositionUpdate(inst, lots, Decimal(str(p.get("entryPx") or "0")), mark,
                                  Decimal(str(p.get("unrealizedPnl") or "0")), Decimal(0),
                                  exch, time.time_ns())  # fmt: skip
        zero = Decimal(0)
        return PositionUpdate(inst, 0, zero, zero, zero, zero, exch, time.time_ns())

    def schedule_cancel(self, at_ms: int | None) -> bool:
        """Dead man's switch: the venue cancels all our orders at ``at_ms`` (>= now + 5 s)
        unless moved again; None unsets it."""
        action: dict[str, Any] = {"type": "scheduleCancel"}
        if at_ms is not None:
            action["time"] = int(at_ms)
        res = self._exchange(action, 1)
        if not res.ok:
            event(log, logging.WARNING, "schedule_cancel_failed", venue=VENUE, error=res.error)
        return res.ok

    def reconcile_start(self, insts: list[str]) -> StartupReport:
        """Positions and open orders; earlier runs' leftovers are cancelled by oid."""
        report = StartupReport()
        for inst in insts:
            report.positions[inst] = self.position(inst)
            leftovers = []
            for o in self.open_orders(inst):
                if o.client_id:
                    report.own.append(o.client_id)
                elif o.reason == "leftover":
                    leftovers.append(o)
                else:
                    report.foreign.append(o.venue_order_id)
            if leftovers:
                action = {"type": "cancel", "cancels": [{"a": self.asset(inst), "o": int(o.venue_order_id)}
                                                        for o in leftovers]}  # fmt: skip
                res = self._exchange(action, len(leftovers))
                for i, o in enumerate(leftovers):
                    st = res.statuses[i] if res.ok and i < len(res.statuses) else None
                    if st == "success" or (
                        isinstance(st, dict)
                        and action_for(str(st.get("error"))) == ErrorAction.RECONCILE
                    ):
                        report.cancelled.append(o.venue_order_id)  # fmt: skip
        event(log, logging.INFO, "startup_reconciled", venue=VENUE,
              cancelled=len(report.cancelled), foreign=len(report.foreign),
              positions={k: v.qty for k, v in report.positions.items()})  # fmt: skip
        return report

    def start(self, insts: list[str]) -> StartupReport:
        """Start-up: the venue's count of our address requests first (so the budget
        starts honest), then reconciliation."""
        self.sync_rate_limit()
        return self.reconcile_start(insts)

    def sync_rate_limit(self) -> None:
        """Adopt ``userRateLimit`` (requests used / cap) into the address bucket."""
        try:
            got = self._info({"type": "userRateLimit", "user": self.account})
            self.limiter.on_user_rate_limit(int(got["nRequestsUsed"]), int(got["nRequestsCap"]))
        except (MMError, OSError, KeyError, TypeError, ValueError) as exc:
            event(log, logging.WARNING, "rate_limit_unknown", venue=VENUE, error=str(exc)[:200])
            return
        event(log, logging.INFO, "rate_budget", venue=VENUE, **self.limiter.headroom())

    def cancel_all_and_confirm(
        self, timeout_s: float, insts: list[str] | None = None, poll_s: float = 0.25
    ) -> bool:
        """Graceful shutdown: cancel all, then poll open orders until none (True) or the
        timeout passes (False, logged)."""
        insts = list(insts or self.specs)
        deadline = self.clock() + timeout_s
        while True:
            for inst in insts:
                self.cancel_all(inst)
            left: dict[str, int] = {}
            for inst in insts:
                try:
                    n = len(self.open_orders(inst))
                except (MMError, OSError):
                    n = -1
                if n:
                    left[inst] = n
            if not left:
                event(log, logging.INFO, "cancel_all_confirmed", venue=VENUE, insts=insts)
                if self.heartbeat is not None:
                    self.heartbeat.stop(disarm=True)
                return True
            if self.clock() >= deadline:
                event(log, logging.ERROR, "cancel_all_unconfirmed", venue=VENUE,
                      open_orders=left, timeout_s=timeout_s)  # fmt: skip
                if self.heartbeat is not None:  # armed: the venue cancels what we could not
                    self.heartbeat.stop(disarm=False)
                return False
            self.sleep(min(poll_s, max(0.0, deadline - self.clock())) or poll_s)

    # -- requests -------------------------------------------------------------------------
    def _info(self, body: dict[str, Any]) -> Any:
        tries = 0
        while True:
            try:
                return self.api.info(body)
            except HyperliquidTransportError as exc:
                if exc.action not in (ErrorAction.RETRY, ErrorAction.BACKOFF):
                    raise
                tries += 1
                if tries > self.max_retries:
                    raise
                if exc.action == ErrorAction.BACKOFF:
                    self.limiter.on_rate_limited("ip")
                else:
                    self._pause(tries)

    def _pause(self, n: int) -> None:
        delay = min(5.0, self.retry_delay_s * 2 ** (n - 1)) * (0.5 + self._rng.random())
        event(log, logging.INFO, "rest_retry_wait", venue=VENUE, attempt=n, delay_s=round(delay, 3))
        self.sleep(delay)

    def _exchange(self, action: dict[str, Any], n: int) -> _Outcome:
        """Sign and send one action (a fresh nonce per attempt); rate limits and transient
        failures are resent here. Transport failures that remain raise."""
        retries = backoffs = 0
        resynced = False
        while True:
            try:
                resp = self.api.exchange(self.signer.payload(action), n)
            except HyperliquidTransportError as exc:
                if exc.action == ErrorAction.BACKOFF and backoffs < self.max_backoffs:
                    backoffs += 1
                    self.limiter.on_rate_limited("ip")
                    continue
                if exc.action == ErrorAction.RETRY and retries < self.max_retries:
                    retries += 1
                    self._pause(retries)
                    continue
                raise
            if resp.get("status") == "ok":
                body = resp.get("response") or {}
                data = body.get("data") if isinstance(body, dict) else None
                return _Outcome(True, list((data or {}).get("statuses") or []))
            text = str(resp.get("response") or resp)
            act = action_for(text)
            if act == ErrorAction.BACKOFF and backoffs < self.max_backoffs:
                backoffs += 1
                self.limiter.on_rate_limited("address")
                continue
            if act == ErrorAction.RESYNC and "nonce" in text.lower() and not resynced:
                resynced = True
                continue
            self._note_failure(text, "", "")
            return _Outcome(False, error=text)

    # -- actions -> wire ------------------------------------------------------------------
    def _validate(self, kind: str, a: OrderAction) -> str:
        if a.inst not in self.specs:
            return f"unknown instrument {a.inst}"
        if kind != "cancel" and self.halted:
            return f"halt: gateway halted ({self.halted})"
        if kind == "place":
            if not a.client_id.startswith(self.run_prefix):
                return f"client id {a.client_id!r} lacks this run's prefix {self.run_prefix!r}"
            if a.price <= 0 or a.qty <= 0 or a.side not in (1, -1):
                return f"invalid order: side {a.side} price {a.price} qty {a.qty}"
        elif a.client_id not in self.orders:
            return "reconcile: order not found (not open in this gateway)"
        if kind == "amend" and a.price <= 0 and a.qty <= 0:
            return "invalid amend: neither price nor qty"
        try:
            self.ids.cloid(a.client_id)
        except MMError as exc:
            return str(exc)
        return ""

    def _wire(self, o: _Order) -> dict[str, Any]:
        spec = self.specs[o.inst]
        return {
            "a": self.asset(o.inst),
            "b": o.side == BUY,
            "p": signing.price_wire(spec, o.price, o.side),
            "s": signing.size_wire(spec, o.qty),
            "r": bool(o.reduce_only),
            "t": signing.ALO if o.post_only else signing.GTC,
            "c": o.cloid,
        }  # the SDK's order_request_to_order_wire key order: the venue hashes it

    def _sent(self, o: _Order) -> _Order:
        """The order as the venue will hold it: price and size after rounding."""
        spec = self.specs[o.inst]
        d = signing.sz_decimals(spec)
        price = spec.price_to_ticks(signing.round_price(spec.ticks_to_price(o.price), o.side, d))
        qty = spec.size_to_lots(signing.round_size(spec.lots_to_size(o.qty), d))
        return _Order(o.inst, o.cloid, o.side, price, qty, o.oid, o.post_only, o.reduce_only)

    def _run(self, kind: str, actions: list[OrderAction]) -> list[OrderUpdate]:
        results: dict[int, OrderUpdate] = {}
        todo: list[tuple[int, OrderAction, _Order]] = []
        for i, a in enumerate(actions):
            why = self._validate(kind, a)
            o: _Order | None = None
            if not why:
                try:
                    o = self._target(kind, a)
                except MMError as exc:
                    why = f"invalid order: {exc}"
            if why or o is None:
                results[i] = self._reject(a, why)
                event(log, logging.WARNING, "order_refused", venue=VENUE, kind=kind,
                      client_id=a.client_id, reason=why)  # fmt: skip
            else:
                todo.append((i, a, o))
        if todo:
            try:
                results.update(self._send(kind, todo))
            except HyperliquidTransportError as exc:
                act = ErrorAction.HALT if exc.action == ErrorAction.HALT else ErrorAction.RECONCILE
                if act == ErrorAction.HALT:
                    self._halt(f"HTTP {exc.status}")
                for i, a, _ in todo:
                    results[i] = self._reject(a, f"{act.value}: {exc.message}")
        return [results[i] for i in range(len(actions))]

    def _target(self, kind: str, a: OrderAction) -> _Order:
        cloid = self.ids.cloid(a.client_id)
        if kind == "place":
            return self._sent(_Order(a.inst, cloid, a.side, a.price, a.qty, 0, a.post_only,
                                     a.reduce_only))  # fmt: skip
        cur = self.orders[a.client_id]
        if kind == "cancel":
            return cur
        return self._sent(_Order(cur.inst, cloid, cur.side, a.price if a.price > 0 else cur.price,
                                 a.qty if a.qty > 0 else cur.qty, cur.oid, cur.post_only,
                                 cur.reduce_only))  # fmt: skip

    def _send(
        self, kind: str, todo: list[tuple[int, OrderAction, _Order]]
    ) -> dict[int, OrderUpdate]:
        if kind == "place":
            action: dict[str, Any] = {"type": "order", "orders": [self._wire(o) for _, _, o in todo],
                                      "grouping": "na"}  # fmt: skip
        elif kind == "amend":
            action = {"type": "batchModify", "modifies": [
                {"oid": o.oid or o.cloid, "order": self._wire(o)} for _, _, o in todo]}  # fmt: skip
        else:
            action = {"type": "cancelByCloid", "cancels": [
                {"asset": self.asset(o.inst), "cloid": o.cloid} for _, _, o in todo]}  # fmt: skip
        res = self._exchange(action, len(todo))
        out: dict[int, OrderUpdate] = {}
        post_only_amends: list[_Order] = []
        for j, (i, a, o) in enumerate(todo):
            if not res.ok:
                out[i] = self._reject(a, reject_reason(res.error))
                continue
            st = res.statuses[j] if j < len(res.statuses) else {"error": "no status"}
            err = st.get("error") if isinstance(st, dict) else None
            if err is not None:
                text = str(err)
                found = self._lookup(o) if kind == "place" and "cloid" in text.lower() else None
                if found is not None:  # an earlier copy of this place got through
                    out[i] = self._accepted(kind, a, o, {"resting": {"oid": found}})
                    continue
                if kind == "amend" and is_post_only_reject(text):
                    post_only_amends.append(self.orders.pop(a.client_id))
                elif kind == "cancel" and action_for(text) == ErrorAction.RECONCILE:
                    self.orders.pop(a.client_id, None)  # gone already: filled or cancelled
                if not is_post_only_reject(text):
                    self._note_failure(text, a.inst, a.client_id)
                out[i] = self._reject(a, reject_reason(text))
                continue
            out[i] = self._accepted(kind, a, o, st)
        if post_only_amends:
            # the trader forgets an amend refused as post-only: make sure the venue does too
            self._exchange({"type": "cancelByCloid", "cancels": [
                {"asset": self.asset(o.inst), "cloid": o.cloid} for o in post_only_amends]},
                len(post_only_amends))  # fmt: skip
        return out

    def _lookup(self, o: _Order) -> int | None:
        """The oid of our open order with this cloid, if the venue has one."""
        try:
            got = self._info({"type": "orderStatus", "user": self.account, "oid": o.cloid})
        except (MMError, OSError):
            return None
        order = (got or {}).get("order") or {} if isinstance(got, dict) else {}
        if order.get("status") != "open":
            return None
        return int((order.get("order") or {}).get("oid") or 0) or None

    # -- outcomes -------------------------------------------------------------------------
    def _accepted(self, kind: str, a: OrderAction, o: _Order, st: Any) -> OrderUpdate:
        if kind == "cancel":
            self.orders.pop(a.client_id, None)
            return self._update(a.inst, a.client_id, OrderStatus.CANCELED, o.side, o.price, o.qty,
                                str(o.oid))  # fmt: skip
        info = (st.get("resting") or st.get("filled") or {}) if isinstance(st, dict) else {}
        o.oid = int(info.get("oid") or o.oid or 0)
        filled = "filled" in st if isinstance(st, dict) else False
        if not filled:
            self.orders[a.client_id] = o
        status = OrderStatus.NEW if kind == "place" else OrderStatus.AMENDED
        return self._update(a.inst, a.client_id, status, o.side, o.price, o.qty, str(o.oid))

    def _update(self, inst: str, cid: str, status: OrderStatus, side: int, price: int, qty: int,
                venue_id: str = "", reason: str = "") -> OrderUpdate:  # fmt: skip
        now = time.time_ns()
        return OrderUpdate(inst, cid, status, side, price, qty, 0, now, now, venue_id, reason)

    def _reject(self, a: OrderAction, reason: str) -> OrderUpdate:
        return self._update(a.inst, a.client_id, OrderStatus.REJECTED, a.side, a.price, a.qty,
                            "", reason)  # fmt: skip

    def _note_failure(self, text: str, inst: str, client_id: str) -> None:
        act = action_for(text)
        event(log, logging.WARNING, "order_rejected", venue=VENUE, inst=inst,
              client_id=client_id, msg=text, action=act.value)  # fmt: skip
        if act == ErrorAction.HALT:
            self._halt(f"hyperliquid: {text}")

    def _halt(self, why: str) -> None:
        if not self.halted:
            self.halted = why
            event(log, logging.ERROR, "gateway_halt", venue=VENUE, reason=why)
