"""Order manager: desired quotes vs live orders -> place / amend / cancel actions.

* Each desired quote has a slot (side, level). A live order in its slot is kept when
  its price is within ``replace_threshold_ticks`` and its size unchanged, otherwise
  amended (one action, same client id, no cancel/replace gap).
* An order with an action in flight is never touched again until the venue answers:
  no duplicate actions, no races between an amend and its own ack.
* Client order ids are ``{prefix}{run}-{n}``: unique per run, stable across retries,
  and the prefix lets a restarted bot find and cancel its predecessor's leftovers.
* A token bucket (the venue's order rate) rations actions; cancels go first, then new
  orders, then amends, each level by level from the touch. Amends before new orders
  would let a busy book starve a missing side of quotes for good (every tick asks for
  amends); there are never more new orders than quoted levels, so amends wait at most
  that long. What does not fit now is not queued: the next reconcile recomputes it
  from the still-desired quotes, so no intent is lost and none goes stale.
* An order filled in full is done at once, before the venue's final order report: it
  is neither amended nor cancelled, and its slot is free for a new order.
* Pre-trade checks (max order notional, max open orders, price band around mid)
  reject an action before it leaves the process.
* Hanging orders (Hummingbot's): after a fill, the other side's orders leave their
  slots and rest until filled, too far from mid, or too old.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from core.events import Fill, OrderStatus, OrderUpdate
from core.instruments import ASK, BID, InstrumentSpec
from core.orders import ActionType, OrderAction, Rejection
from core.params import OrderParams, QuoteParams
from core.timeutil import NS_PER_S
from operators.quoting.engine import QuoteLevel, QuoteSet


class OrderState(IntEnum):
    PENDING_NEW = 1
    LIVE = 2
    PENDING_AMEND = 3
    PENDING_CANCEL = 4
    FILLED = 5  # filled in full; the venue's final report is still on its way


@dataclass(slots=True)
class LiveOrder:
    client_id: str
    side: int
    level: int
    price: int
    qty: int
    state: OrderState
    created_ts: int
    filled: int = 0
    hanging: bool = False
    target_price: int = 0  # amend in flight
    target_qty: int = 0


class TokenBucket:
    """Deterministic token bucket on the event clock (ns)."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.tokens = float(burst)
        self.last = None  # type: int | None

    def refill(self, now: int) -> None:
        if self.last is not None and now > self.last:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate / NS_PER_S)
        self.last = now if self.last is None or now > self.last else self.last

    def take(self, now: int, n: float = 1.0) -> bool:
        self.refill(now)
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False


class OrderManager:
    def __init__(
        self,
        inst: str,
        spec: InstrumentSpec,
        params: OrderParams,
        quote: QuoteParams,
        run_tag: str = "bt",
    ) -> None:
        self.inst = inst
        self.spec = spec
        self.p = params
        self.q = quote
        self.prefix = f"{params.client_id_prefix}{run_tag}-"
        self.orders: dict[str, LiveOrder] = {}
        self.bucket = TokenBucket(params.rate_limit_per_s, params.rate_burst)
        self._next_id = 0
        self._tick = float(spec.tick_size)
        self._lot = float(spec.lot_size)
        self._inverse = spec.is_inverse  # an inverse lot is lot x contract size USD
        self._lot_usd = float(spec.lot_size * spec.contract_size)
        self.stats = {
            "placed": 0,
            "amended": 0,
            "canceled": 0,
            "rejected": 0,
            "pretrade_rejected": 0,
            "throttled": 0,
            "filled_orders": 0,
        }

    # -- ids ---------------------------------------------------------------------------
    def new_client_id(self) -> str:
        self._next_id += 1
        return f"{self.prefix}{self._next_id}"

    def owns(self, client_id: str) -> bool:
        return client_id in self.orders

    # -- reconcile ---------------------------------------------------------------------
    def reconcile(
        self, desired: QuoteSet | None, now: int, mid_ticks: float, cancel_all: bool = False
    ) -> tuple[list[OrderAction], list[Rejection]]:
        """Actions that move live orders toward ``desired`` (None / cancel_all: no quotes)."""
        cancels: list[OrderAction] = []
        amends: list[OrderAction] = []
        places: list[OrderAction] = []
        max_age = int(self.q.max_order_age_s * NS_PER_S)
        wanted: dict[tuple[int, int], QuoteLevel] = {}
        if desired is not None and not cancel_all:
            for lv in desired.bids + desired.asks:
                wanted[(lv.side, lv.level)] = lv
        slots: dict[tuple[int, int], LiveOrder] = {}
        for o in self.orders.values():
            if o.state in (OrderState.PENDING_CANCEL, OrderState.FILLED):
                continue
            too_old = max_age > 0 and now - o.created_ts >= max_age
            if o.hanging:
                far = (
                    mid_ticks > 0
                    and abs(o.price - mid_ticks) / mid_ticks * 1e4 > self.q.hanging_cancel_bps
                )
                if (cancel_all or far or too_old) and o.state == OrderState.LIVE:
                    cancels.append(
                        self._cancel(o, "hanging order expired" if not cancel_all else "cancel all")
                    )
                continue
            slot = (o.side, o.level)
            if cancel_all or slot not in wanted or slot in slots or too_old:
                if o.state == OrderState.LIVE:
                    why = (
                        "cancel all"
                        if cancel_all
                        else ("max order age" if too_old else "level not quoted")
                    )
                    cancels.append(self._cancel(o, why))
                elif slot not in slots:
                    slots[slot] = o  # in flight: hold the slot until the venue answers
                continue
            slots[slot] = o
        for slot, lv in wanted.items():
            o = slots.get(slot)
            if o is None:
                places.append(
                    OrderAction(
                        ActionType.PLACE,
                        self.inst,
                        "",
                        lv.side,
                        lv.price,
                        lv.qty,
                        reason=f"level {lv.level}",
                    )
                )
                continue
            if o.state != OrderState.LIVE:
                continue  # an action is in flight for this order
            remaining = o.qty - o.filled
            move = abs(lv.price - o.price)
            if lv.qty != remaining or (move > 0 and move >= self.p.replace_threshold_ticks):
                amends.append(
                    OrderAction(
                        ActionType.AMEND,
                        self.inst,
                        o.client_id,
                        o.side,
                        lv.price,
                        lv.qty + o.filled,
                        reason=f"level {lv.level}",
                    )
                )
        return self._admit(cancels, amends, places, now, mid_ticks, wanted)

    def _priority(self, a: OrderAction) -> tuple[int, int]:
        """New orders before amends, each closest to the touch first."""
        if a.type == ActionType.PLACE:
            level = int(a.reason.split()[-1]) if a.reason.startswith("level") else 0
            return 0, level
        return 1, self.orders[a.client_id].level

    def _cancel(self, o: LiveOrder, reason: str) -> OrderAction:
        return OrderAction(
            ActionType.CANCEL, self.inst, o.client_id, o.side, o.price, o.qty, reason=reason
        )

    def _admit(
        self,
        cancels: list[OrderAction],
        amends: list[OrderAction],
        places: list[OrderAction],
        now: int,
        mid_ticks: float,
        wanted: dict[tuple[int, int], QuoteLevel],
    ) -> tuple[list[OrderAction], list[Rejection]]:
        actions: list[OrderAction] = []
        rejected: list[Rejection] = []
        open_count = sum(
            1
            for o in self.orders.values()
            if o.state not in (OrderState.PENDING_CANCEL, OrderState.FILLED)
        )
        open_count -= len(cancels)
        for a in cancels + sorted(amends + places, key=self._priority):
            if a.type != ActionType.CANCEL:
                why = self._pretrade(a, mid_ticks, open_count)
                if why:
                    rejected.append(Rejection(a, why))
                    self.stats["pretrade_rejected"] += 1
                    continue
            if not self.bucket.take(now):
                self.stats["throttled"] += 1
                continue
            if a.type == ActionType.PLACE:
                a.client_id = self.new_client_id()
                level = int(a.reason.split()[-1]) if a.reason.startswith("level") else 0
                self.orders[a.client_id] = LiveOrder(
                    a.client_id, a.side, level, a.price, a.qty, OrderState.PENDING_NEW, now
                )
                open_count += 1
                self.stats["placed"] += 1
            elif a.type == ActionType.AMEND:
                o = self.orders[a.client_id]
                o.state = OrderState.PENDING_AMEND
                o.target_price, o.target_qty = a.price, a.qty
                self.stats["amended"] += 1
            else:
                self.orders[a.client_id].state = OrderState.PENDING_CANCEL
                self.stats["canceled"] += 1
            actions.append(a)
        return actions, rejected

    def _pretrade(self, a: OrderAction, mid_ticks: float, open_count: int) -> str:
        if self._inverse:
            notional = a.qty * self._lot_usd
        else:
            notional = a.price * self._tick * a.qty * self._lot
        if notional > self.p.max_order_usd:
            return f"order notional {notional:.2f} > max_order_usd {self.p.max_order_usd}"
        if a.type == ActionType.PLACE and open_count >= self.p.max_open_orders:
            return f"{open_count} open orders >= max_open_orders {self.p.max_open_orders}"
        if mid_ticks > 0 and abs(a.price - mid_ticks) / mid_ticks * 1e4 > self.p.price_band_bps:
            return f"price {a.price} ticks outside {self.p.price_band_bps} bps of mid"
        if a.qty <= 0:
            return "order size rounds to 0 lots"
        return ""

    def cancel_all(self, now: int, reason: str, in_flight: bool = False) -> list[OrderAction]:
        """Cancel every live order (risk breach, shutdown); orders whose place is in flight
        are left to resolve unless ``in_flight`` (their price is no longer wanted at all)."""
        out = []
        states = (OrderState.LIVE, OrderState.PENDING_AMEND)
        if in_flight:
            states += (OrderState.PENDING_NEW,)
        for o in self.orders.values():
            if o.state in states:
                o.state = OrderState.PENDING_CANCEL
                out.append(self._cancel(o, reason))
                self.stats["canceled"] += 1
        return out

    def reset_all(self, now: int, reason: str) -> OrderAction:
        """Forget every local order and cancel all at the venue (its state may be unknown)."""
        self.orders.clear()
        self.stats["canceled"] += 1
        return OrderAction(ActionType.CANCEL_ALL, self.inst, "", reason=reason)

    def flatten(
        self, position: int, best_bid: int, best_ask: int, now: int, reason: str
    ) -> OrderAction | None:
        """A reduce-only IOC order that takes the whole position out at the touch."""
        if position == 0:
            return None
        side = ASK if position > 0 else BID
        price = best_bid if side == ASK else best_ask
        cid = self.new_client_id()
        self.orders[cid] = LiveOrder(
            cid, side, -1, price, abs(position), OrderState.PENDING_NEW, now
        )
        self.stats["placed"] += 1
        return OrderAction(
            ActionType.PLACE,
            self.inst,
            cid,
            side,
            price,
            abs(position),
            post_only=False,
            reduce_only=True,
            reason=reason,
        )

    # -- venue responses -----------------------------------------------------------------
    def on_update(self, u: OrderUpdate) -> str:
        """Apply a venue report; returns what happened ('rejected' feeds the risk manager)."""
        o = self.orders.get(u.client_id)
        if o is None:
            return "unknown"
        if u.status == OrderStatus.NEW:
            if o.state == OrderState.PENDING_NEW:
                o.state = OrderState.LIVE
            return "ack"
        if u.status == OrderStatus.AMENDED:
            o.price, o.qty = u.price, u.qty
            if o.state == OrderState.PENDING_AMEND:
                o.state = OrderState.LIVE
            return "amended"
        if u.status in (OrderStatus.CANCELED, OrderStatus.FILLED):
            del self.orders[u.client_id]
            if u.status == OrderStatus.FILLED:
                self.stats["filled_orders"] += 1
            return "done"
        if u.status == OrderStatus.PARTIALLY_FILLED:
            o.filled = u.filled
            return "partial"
        if u.status == OrderStatus.REJECTED:
            self.stats["rejected"] += 1
            # a post-only order that would take is cancelled by the venue (place or amend)
            gone = (
                "not found" in u.reason
                or "post-only" in u.reason
                or o.state in (OrderState.PENDING_NEW, OrderState.FILLED)
            )
            if gone:
                del self.orders[u.client_id]
            else:
                o.state = OrderState.LIVE  # the amend/cancel failed; the order still rests
            return "rejected"
        return "other"

    def on_fill(self, f: Fill) -> None:
        o = self.orders.get(f.client_id)
        if o is not None:
            o.filled = min(o.qty, o.filled + f.qty)
            if o.filled >= o.qty:
                o.state = OrderState.FILLED
        if self.q.hanging_orders and o is not None and o.level >= 0:
            for other in self.orders.values():
                if other.side != f.side and other.state != OrderState.PENDING_CANCEL:
                    other.hanging = True

    # -- views -------------------------------------------------------------------------
    def live_count(self) -> int:
        return len(self.orders)
