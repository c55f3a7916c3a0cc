"""Bybit order gateway: OrderActions in, immediate OrderUpdates (acks, rejections) out.

* Ticks and lots become Decimal strings here and nowhere else
  (``InstrumentSpec.ticks_to_price`` / ``lots_to_size``). Orders are Limit; PostOnly
  unless the action says otherwise; one-way mode.
* ``orderLinkId`` is the order manager's client id (``{prefix}{run_tag}-{n}``, <= 36
  chars of ``[A-Za-z0-9_-]``; give the trader and the gateway the same ``run_tag``,
  places without it are refused), so a resend is idempotent: a duplicate answers
  110072 and the gateway looks the order up instead of reporting a failure.
* ``execute`` sends cancel-alls and cancels first, then amends, then places. Several
  actions of one kind go through the batch endpoint, split to the venue's batch size
  (20 linear / 10 spot) and to the rate bucket, since a batch costs one token per order.
* Failures act per connectors/bybit/errors.py: RETRY and BACKOFF (wait until
  ``X-Bapi-Limit-Reset-Timestamp``) are resent here, nothing is lost; a clock RESYNC
  widens the recv window once; everything else comes back REJECTED with a reason that
  starts with its action. After a HALT the gateway refuses new places and amends
  (cancels still go out).
* REST acks say "accepted": NEW for a place, AMENDED (new price and qty) for an amend,
  CANCELED for a cancel. The private stream has the final word (a PostOnly that would
  cross is accepted, then cancelled by the engine: a REJECTED "post-only" update there).

Start-up: ``start`` sets Disconnected-Cancel-All, then reconciles: open orders whose
client id has our prefix but another run's tag are cancelled, other orders are left
alone and reported, positions are read. Shutdown: ``cancel_all_and_confirm``.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.bybit import codec
from connectors.bybit.errors import (
    BybitError,
    BybitTransportError,
    ErrorAction,
    action_for,
    reject_reason,
)
from connectors.bybit.ratelimit import DEFAULT_LIMITS, SPOT_LIMITS, RateLimiter
from connectors.bybit.records import PositionUpdate
from connectors.bybit.rest import BybitRest, RestResponse
from core.errors import MalformedLine, MMError
from core.events import BUY, OrderStatus, OrderUpdate
from core.instruments import InstrumentSpec
from core.log import event, get_logger
from core.orders import ActionType, OrderAction
from monitoring.metrics import current as current_metrics

log = get_logger(__name__)

BATCH_MAX = {"linear": 20, "spot": 10}
LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
CLOCK_CODES = frozenset({10002, -1})
DCP_PRODUCT = {"linear": "DERIVATIVES", "spot": "SPOT"}
PATHS = {
    "place": ("/v5/order/create", "/v5/order/create-batch"),
    "amend": ("/v5/order/amend", "/v5/order/amend-batch"),
    "cancel": ("/v5/order/cancel", "/v5/order/cancel-batch"),
}
_KIND = {ActionType.PLACE: "place", ActionType.AMEND: "amend", ActionType.CANCEL: "cancel"}
ACK_ACTIONS = frozenset({"create", "amend", "cancel", "cancel_all"})  # rate groups
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def make_run_tag(now_ns: int | None = None, length: int = 8) -> str:
    """A per-run tag: base36 milliseconds (8 digits repeat after ~89 years)."""
    n = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    out = ""
    while n and len(out) < length:
        n, r = divmod(n, 36)
        out = _B36[r] + out
    return out.rjust(length, "0")


def decimal_str(value: Any) -> str:
    """Plain (never scientific) notation, as Bybit expects."""
    return format(value, "f")


@dataclass
class StartupReport:
    positions: dict[str, PositionUpdate] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)  # earlier runs' leftovers
    foreign: list[str] = field(default_factory=list)  # not ours: left alone
    own: list[str] = field(default_factory=list)  # this run's (normally none at start)
    dcp_window_s: int | None = None


class BybitGateway:
    """Sends OrderActions to Bybit REST; see the module docstring for the rules."""

    def __init__(
        self,
        rest: BybitRest,
        specs: Mapping[str, InstrumentSpec],
        *,
        run_tag: str,
        client_id_prefix: str = "mm",
        category: str = "linear",
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 3,
        max_backoffs: int = 5,
        retry_delay_s: float = 0.2,
        batch_size: int | None = None,
    ) -> None:
        if not run_tag.isalnum() or not client_id_prefix.isalnum():
            raise MMError(
                f"run tag {run_tag!r} and client id prefix {client_id_prefix!r} must be letters/digits"
            )
        self.rest = rest
        self.specs = {s.id: s for s in specs.values()}
        self.category = category
        self.client_id_prefix = client_id_prefix
        self.run_prefix = f"{client_id_prefix}{run_tag}-"
        self._leftover = re.compile(rf"^{re.escape(client_id_prefix)}[A-Za-z0-9]+-\d+$")
        self.clock = clock
        self.sleep = sleep
        self.limiter = limiter or RateLimiter(
            SPOT_LIMITS if category == "spot" else DEFAULT_LIMITS, clock=clock, sleep=sleep
        )
        self.max_retries = max_retries
        self.max_backoffs = max_backoffs
        self.retry_delay_s = retry_delay_s
        self.batch_max = min(BATCH_MAX[category], batch_size or BATCH_MAX[category])
        self.halted = ""  # why, once a HALT error was met
        self._rng = random.Random()

    # -- public API -----------------------------------------------------------------------
    def execute(self, actions: list[OrderAction]) -> list[OrderUpdate]:
        """Send actions; returns their immediate outcomes, one per action, grouped in the
        order sent: cancel-alls (one CANCELED per order they cancelled), cancels, amends,
        places. Not thread-safe: call it from one thread (the order sink)."""
        out: list[OrderUpdate] = []
        for a in actions:
            if a.type == ActionType.CANCEL_ALL:
                out += self.cancel_all(a.inst)
        for kind in ("cancel", "amend", "place"):
            group = [a for a in actions if _KIND.get(a.type) == kind]
            if group:
                out += self._run(kind, group)
        return out

    def place(self, action: OrderAction) -> OrderUpdate:
        return self._run("place", [action])[0]

    def amend(self, action: OrderAction) -> OrderUpdate:
        return self._run("amend", [action])[0]

    def cancel(self, action: OrderAction) -> OrderUpdate:
        return self._run("cancel", [action])[0]

    def cancel_all(self, inst: str) -> list[OrderUpdate]:
        spec = self.specs.get(inst)
        if spec is None:
            return []
        try:
            resp = self._request(
                "/v5/order/cancel-all", {"category": self.category, "symbol": spec.symbol}
            )
        except BybitTransportError as exc:
            event(log, logging.ERROR, "cancel_all_failed", venue="bybit", inst=inst, error=str(exc))
            return []
        if not resp.ok:
            self._note_failure(resp.ret_code, resp.ret_msg, inst, "")
            return []
        now = time.time_ns()
        return [
            OrderUpdate(inst, str(o.get("orderLinkId") or ""), OrderStatus.CANCELED, 0, 0, 0, 0,
                        resp.time_ms * 1_000_000, now, str(o.get("orderId") or ""), "cancel-all")
            for o in resp.result.get("list") or []
        ]  # fmt: skip

    def open_orders(self, inst: str) -> list[OrderUpdate]:
        """Every open order of the instrument (all pages), as NEW/PARTIALLY_FILLED updates."""
        spec = self.specs[inst]
        out: list[OrderUpdate] = []
        cursor = ""
        while True:
            params: dict[str, Any] = {"category": self.category, "symbol": spec.symbol, "limit": 50}
            if cursor:
                params["cursor"] = cursor
            resp = self._request("/v5/order/realtime", params)
            if not resp.ok:
                raise BybitError(resp.ret_code, resp.ret_msg)
            now = time.time_ns()
            for item in resp.result.get("list") or []:
                try:
                    u = codec.order_update(spec, item, now)
                except MalformedLine as exc:
                    raise MMError(f"bad open order from Bybit: {exc.reason}") from None
                if u is not None and u.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
                    out.append(u)
            cursor = str(resp.result.get("nextPageCursor") or "")
            if not cursor or not resp.result.get("list"):
                return out

    def position(self, inst: str) -> PositionUpdate:
        spec = self.specs[inst]
        resp = self._request(
            "/v5/position/list", {"category": self.category, "symbol": spec.symbol}
        )
        if not resp.ok:
            raise BybitError(resp.ret_code, resp.ret_msg)
        items = [i for i in resp.result.get("list") or [] if i.get("symbol") == spec.symbol]
        if not items:
            zero = Decimal(0)
            return PositionUpdate(
                inst, 0, zero, zero, zero, zero, resp.time_ms * 1_000_000, time.time_ns()
            )
        try:
            return codec.position_update(spec, items[0], time.time_ns())
        except MalformedLine as exc:
            raise MMError(f"bad position from Bybit: {exc.reason}") from None

    def enable_dcp(self, window_s: int) -> None:
        """Disconnected-Cancel-All: Bybit cancels our orders if every private connection
        subscribed to ``dcp`` stays down for ``window_s`` seconds."""
        if not 3 <= window_s <= 300:
            raise MMError(f"DCP window {window_s}s is outside Bybit's 3..300 s")
        resp = self._request(
            "/v5/order/disconnected-cancel-all",
            {"product": DCP_PRODUCT[self.category], "timeWindow": int(window_s)},
        )
        if not resp.ok:
            raise BybitError(resp.ret_code, resp.ret_msg)
        event(log, logging.INFO, "dcp_enabled", venue="bybit", window_s=window_s)

    def reconcile_start(self, insts: list[str]) -> StartupReport:
        """Read positions and open orders; cancel earlier runs' leftovers (by client id)."""
        report = StartupReport()
        leftovers: list[OrderAction] = []
        for inst in insts:
            report.positions[inst] = self.position(inst)
            for o in self.open_orders(inst):
                cid = o.client_id
                if cid.startswith(self.run_prefix):
                    report.own.append(cid)
                elif self._leftover.match(cid):
                    leftovers.append(OrderAction(ActionType.CANCEL, inst, cid, o.side, o.price,
                                                 o.qty, reason="leftover of an earlier run"))  # fmt: skip
                else:
                    report.foreign.append(cid or o.venue_order_id)
        if leftovers:
            for u in self._run("cancel", leftovers):
                if u.status == OrderStatus.CANCELED or "order not found" in u.reason:
                    report.cancelled.append(u.client_id)
        event(log, logging.INFO, "startup_reconciled", venue="bybit",
              cancelled=len(report.cancelled), foreign=len(report.foreign),
              positions={k: v.qty for k, v in report.positions.items()})  # fmt: skip
        return report

    def start(self, insts: list[str], dcp_window_s: int | None = 10) -> StartupReport:
        """Start-up sequence: DCP first (a crash after this point cancels our orders),
        then reconciliation."""
        if dcp_window_s:
            self.enable_dcp(dcp_window_s)
        report = self.reconcile_start(insts)
        report.dcp_window_s = dcp_window_s
        return report

    def cancel_all_and_confirm(
        self, timeout_s: float, insts: list[str] | None = None, poll_s: float = 0.25
    ) -> bool:
        """Graceful shutdown: cancel all, then poll open orders until none (True) or the
        timeout passes (False, logged)."""
        insts = list(insts or self.specs)
        deadline = self.clock() + timeout_s
        left: dict[str, int] = {}
        while True:
            for inst in insts:
                self.cancel_all(inst)
            left = {}
            for inst in insts:
                try:
                    n = len(self.open_orders(inst))
                except (MMError, OSError):
                    n = -1  # unknown: keep trying
                if n:
                    left[inst] = n
            if not left:
                event(log, logging.INFO, "cancel_all_confirmed", venue="bybit", insts=insts)
                return True
            if self.clock() >= deadline:
                event(log, logging.ERROR, "cancel_all_unconfirmed", venue="bybit",
                      open_orders=left, timeout_s=timeout_s)  # fmt: skip
                return False
            self.sleep(min(poll_s, max(0.0, deadline - self.clock())) or poll_s)

    # -- the request loop -----------------------------------------------------------------
    def _pause(self, n: int) -> None:
        delay = min(5.0, self.retry_delay_s * 2 ** (n - 1)) * (0.5 + self._rng.random())
        event(
            log, logging.INFO, "rest_retry_wait", venue="bybit", attempt=n, delay_s=round(delay, 3)
        )
        self.sleep(delay)

    def _request(self, path: str, params: dict[str, Any], cost: int = 1) -> RestResponse:
        """One REST call with RETRY / BACKOFF / clock-RESYNC handled; other failures are
        returned (non-zero ret_code) or raised (BybitTransportError)."""
        group = BybitRest.group(path)
        retries = backoffs = 0
        resynced = False
        while True:
            self.limiter.acquire(group, cost)
            sent = time.perf_counter()
            try:
                resp = self.rest.call(path, params)
            except BybitTransportError as exc:
                if exc.action == ErrorAction.RETRY and retries < self.max_retries:
                    retries += 1
                    self._pause(retries)
                    continue
                raise
            self.limiter.on_headers(group, resp.limit, resp.remaining, resp.reset_ms)
            if group in ACK_ACTIONS and (metrics := current_metrics()) is not None:
                metrics.order_ack.labels(venue="bybit", action=group).observe(
                    time.perf_counter() - sent
                )
            if resp.ok:
                return resp
            action = action_for(resp.ret_code)
            if action == ErrorAction.BACKOFF and backoffs < self.max_backoffs:
                backoffs += 1
                self.limiter.on_rate_limited(group, resp.reset_ms)
                continue
            if action == ErrorAction.RETRY and retries < self.max_retries:
                retries += 1
                self._pause(retries)
                continue
            if resp.ret_code in CLOCK_CODES and not resynced:
                resynced = True
                self.rest.recv_window_ms = min(60_000, self.rest.recv_window_ms + 2_500)
                event(log, logging.WARNING, "rest_clock_resync", venue="bybit",
                      recv_window_ms=self.rest.recv_window_ms)  # fmt: skip
                continue
            return resp

    # -- actions -> requests --------------------------------------------------------------
    def _validate(self, kind: str, a: OrderAction) -> str:
        """Why the action cannot be sent ("" if it can)."""
        if a.inst not in self.specs:
            return f"unknown instrument {a.inst}"
        if not LINK_ID.match(a.client_id or ""):
            return f"client id {a.client_id!r} is not 1-36 chars of [A-Za-z0-9_-]"
        if kind != "cancel" and self.halted:
            return f"halt: gateway halted ({self.halted})"
        if kind == "place" and not a.client_id.startswith(self.run_prefix):
            # an order without this run's prefix would be invisible to the next start-up
            return f"client id {a.client_id!r} lacks this run's prefix {self.run_prefix!r}"
        if kind == "place" and (a.price <= 0 or a.qty <= 0 or a.side not in (1, -1)):
            return f"invalid order: side {a.side} price {a.price} qty {a.qty}"
        if kind == "amend" and a.price <= 0 and a.qty <= 0:
            return "invalid amend: neither price nor qty"
        return ""

    def _params(self, kind: str, a: OrderAction) -> dict[str, Any]:
        spec = self.specs[a.inst]
        p: dict[str, Any] = {"symbol": spec.symbol, "orderLinkId": a.client_id}
        if kind == "place":
            p |= {
                "side": "Buy" if a.side == BUY else "Sell",
                "orderType": "Limit",
                "qty": decimal_str(spec.lots_to_size(a.qty)),
                "price": decimal_str(spec.ticks_to_price(a.price)),
                "timeInForce": "PostOnly" if a.post_only else "GTC",
            }
            if self.category == "linear":
                p |= {"positionIdx": 0, "reduceOnly": bool(a.reduce_only)}
        elif kind == "amend":
            if a.price > 0:
                p["price"] = decimal_str(spec.ticks_to_price(a.price))
            if a.qty > 0:
                p["qty"] = decimal_str(spec.lots_to_size(a.qty))
        return p

    def _run(self, kind: str, actions: list[OrderAction]) -> list[OrderUpdate]:
        results: dict[int, OrderUpdate] = {}
        todo: list[tuple[int, OrderAction, dict[str, Any]]] = []
        for i, a in enumerate(actions):
            why = self._validate(kind, a)
            if why:
                results[i] = self._update(a, OrderStatus.REJECTED, 0, why)
                event(log, logging.WARNING, "order_refused", venue="bybit", kind=kind,
                      client_id=a.client_id, reason=why)  # fmt: skip
            else:
                todo.append((i, a, self._params(kind, a)))
        if len(todo) == 1:
            i, a, p = todo[0]
            results[i] = self._single(kind, a, p)
        elif todo:
            size = max(
                1, min(self.batch_max, self.limiter.capacity(BybitRest.group(PATHS[kind][1])))
            )
            for start in range(0, len(todo), size):
                results.update(self._batch(kind, todo[start : start + size]))
        return [results[i] for i in range(len(actions))]

    def _single(self, kind: str, a: OrderAction, params: dict[str, Any]) -> OrderUpdate:
        try:
            resp = self._request(PATHS[kind][0], {"category": self.category, **params})
        except BybitTransportError as exc:
            return self._transport_failed(a, exc)
        if resp.ok:
            return self._ack(kind, a, resp.result, resp.time_ms)
        return self._failed(kind, a, resp.ret_code, resp.ret_msg)

    def _batch(
        self, kind: str, items: list[tuple[int, OrderAction, dict[str, Any]]]
    ) -> dict[int, OrderUpdate]:
        path = PATHS[kind][1]
        group = BybitRest.group(path)
        results: dict[int, OrderUpdate] = {}
        pending = items
        rounds = 0
        while pending:
            try:
                resp = self._request(
                    path, {"category": self.category, "request": [p for _, _, p in pending]},
                    cost=len(pending),
                )  # fmt: skip
            except BybitTransportError as exc:
                return results | {i: self._transport_failed(a, exc) for i, a, _ in pending}
            if not resp.ok:
                return results | {
                    i: self._failed(kind, a, resp.ret_code, resp.ret_msg) for i, a, _ in pending
                }
            listed = resp.result.get("list") or []
            codes = resp.ext.get("list") or []
            again: list[tuple[int, OrderAction, dict[str, Any]]] = []
            backoff = False
            for j, (i, a, p) in enumerate(pending):
                info = codes[j] if j < len(codes) else {}
                code, msg = int(info.get("code", 0) or 0), str(info.get("msg", ""))
                if code == 0:
                    results[i] = self._ack(
                        kind, a, listed[j] if j < len(listed) else {}, resp.time_ms
                    )
                    continue
                action = action_for(code)
                if (
                    action in (ErrorAction.BACKOFF, ErrorAction.RETRY)
                    and rounds < self.max_backoffs
                ):
                    backoff |= action == ErrorAction.BACKOFF
                    again.append((i, a, p))
                else:
                    results[i] = self._failed(kind, a, code, msg)
            if again:
                rounds += 1
                if backoff:
                    self.limiter.on_rate_limited(group, resp.reset_ms)
                else:
                    self._pause(rounds)
            pending = again
        return results

    # -- outcomes -------------------------------------------------------------------------
    def _update(self, a: OrderAction, status: OrderStatus, exch_ms: int, reason: str = "",
                venue_id: str = "") -> OrderUpdate:  # fmt: skip
        return OrderUpdate(a.inst, a.client_id, status, a.side, a.price, a.qty, 0,
                           exch_ms * 1_000_000, time.time_ns(), venue_id, reason)  # fmt: skip

    def _ack(self, kind: str, a: OrderAction, item: dict[str, Any], time_ms: int) -> OrderUpdate:
        status = {"place": OrderStatus.NEW, "amend": OrderStatus.AMENDED,
                  "cancel": OrderStatus.CANCELED}[kind]  # fmt: skip
        return self._update(a, status, time_ms, "", str(item.get("orderId") or ""))

    def _failed(self, kind: str, a: OrderAction, code: int, msg: str) -> OrderUpdate:
        if kind == "place" and code == 110072:  # an earlier copy got through: find it
            found = self._lookup(a)
            if found is not None:
                return found
        self._note_failure(code, msg, a.inst, a.client_id)
        return self._update(a, OrderStatus.REJECTED, 0, reject_reason(code, msg))

    def _transport_failed(self, a: OrderAction, exc: BybitTransportError) -> OrderUpdate:
        # A request that may or may not have reached the venue: its state is unknown.
        action = ErrorAction.HALT if exc.action == ErrorAction.HALT else ErrorAction.RECONCILE
        if action == ErrorAction.HALT:
            self._halt(f"HTTP {exc.status}")
        return self._update(a, OrderStatus.REJECTED, 0, f"{action.value}: {exc.message}")

    def _lookup(self, a: OrderAction) -> OrderUpdate | None:
        spec = self.specs[a.inst]
        try:
            resp = self._request("/v5/order/realtime", {"category": self.category,
                                 "symbol": spec.symbol, "orderLinkId": a.client_id})  # fmt: skip
        except BybitTransportError:
            return None
        for item in resp.result.get("list") or [] if resp.ok else []:
            if item.get("orderLinkId") == a.client_id and item.get("orderStatus") in (
                "New",
                "PartiallyFilled",
            ):
                return self._update(
                    a, OrderStatus.NEW, resp.time_ms, "", str(item.get("orderId") or "")
                )
        return None

    def _note_failure(self, code: int, msg: str, inst: str, client_id: str) -> None:
        action = action_for(code)
        event(log, logging.WARNING, "order_rejected", venue="bybit", inst=inst,
              client_id=client_id, code=code, msg=msg, action=action.value)  # fmt: skip
        if action == ErrorAction.HALT:
            self._halt(f"bybit {code} {msg}")

    def _halt(self, why: str) -> None:
        if not self.halted:
            self.halted = why
            event(log, logging.ERROR, "gateway_halt", venue="bybit", reason=why)
