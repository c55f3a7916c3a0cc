"""The simulated venue: what makes a replay backtest of a market maker honest.

The trader drives it once per recorded venue message ``m``, in replay order:
``on_market(m, book)`` *before* it applies ``m`` to its book, then ``send(action, t)``
for each order action, then ``poll(t)`` for the responses that have reached it by
local time ``t``; ``advance(t, book)`` at the end of the data (see below).

Time (one clock, the local one; see ``connectors.sim.latency``): ``m`` happened at the
venue at ``venue_ts = recv_ts - md_latency``. An action sent at local ``t`` reaches the
venue at ``t + order_latency`` and is processed before every market message with
``venue_ts >=`` that arrival (against ``book``, the state before that message); a response
produced at venue time ``T`` reaches the strategy at ``T + response_latency``, in the
order produced. The venue clock never runs backwards (recorded latencies can make
``venue_ts`` do so; processing then happens at the latest time seen) and a market message
whose ``venue_ts`` is before an order joined its queue never touches that order.
Actions are processed lazily, when the market stream passes their arrival, so the
book they see is exact; with ``md_latency > response_latency`` a response can reach the
strategy up to the difference later than modelled. ``advance(t, book)`` says no market
message with an earlier venue time follows: it processes the actions that arrived by
``t``. To flush everything at the end of the data, advance and poll to
``last_send + order_latency + response_latency``. Responses carry ``exch_ts`` = the
venue time that produced them (on the local clock) and ``recv_ts`` = when they arrive.

Orders: PLACE is rejected (``OrderUpdate`` REJECTED with a reason) for a duplicate
client id (any id accepted before in this run: ids are unique per run), a side other than +-1, qty <= 0, an invalid price (off the tick grid or the
significant-figure rule), a notional below the minimum, a reduce-only order that cannot
reduce the position, and for post-only orders that would cross at arrival (bid >= best
ask or own resting ask; ask <= best bid or own resting bid). Accepted post-only orders
rest (NEW) at the back of their level's queue (``connectors.sim.queue``). Orders that
are not post-only are immediate-or-cancel limit orders: they walk the displayed
opposite levels up to their limit at the taker fee and the rest is canceled (a
reduce-only one takes at most the position). AMEND carries the complete new price and
total qty (0 = unchanged). Its queue semantics are the venue's (``SimConfig.modify_model``,
by default from the instrument's venue): ``keep_priority`` (Bybit, Binance): a price
change or a qty increase loses priority, a decrease keeps it, same venue order id;
``cancel_replace`` (Hyperliquid's modify): every accepted amend is a new order with a new
venue order id at the back of its level's queue, even a pure decrease (the client id,
the filled qty and the total-qty bookkeeping stay). A qty <= filled cancels; amends and
cancels of orders that are gone are rejected "order not found" (the fill that removed
them stands). On Hyperliquid a crossing post-only (ALO) order is rejected with the
venue's own words after "post-only would cross: ".

Book snapshots (Hyperliquid sends nothing else: 20 levels a side) act exactly as the
level deltas they are equivalent to: a level whose quantity the venue already knew is
no news (it neither resets the probabilistic models' traded-volume count nor re-offers
crossing liquidity), a tracked level absent from the snapshot within its depth is empty,
one beyond its depth is unknown and untouched.

Fills (maker, at our price): a trade whose aggressor is on the other side fills our
orders at prices strictly better for the aggressor first (trade-through, price then time
priority), then the queue at the trade price (market quantity ahead first, then us);
one trade never fills more than its size across all our orders. Displayed opposite
liquidity at or through a resting order's price (depth or BBO crossing us without a
trade) fills it from that liquidity, and the consumed part of each level is remembered
(``Level.taken``) so the same liquidity never fills twice; taker fills consume it too.
Every fill is followed by an ``OrderUpdate`` (PARTIALLY_FILLED / FILLED, cumulative).

Not modelled: our orders' effect on the recorded book (no market impact; own orders do
not appear in displayed quantities), self-trade prevention for taking orders.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

from connectors.sim.config import SimConfig
from connectors.sim.latency import MdClock, ms_to_ns
from connectors.sim.queue import queue_model_for
from connectors.sim.state import Level, SimOrder, SimStats
from connectors.sim.view import TopView
from core.events import Fill, Kind, OrderStatus, OrderUpdate
from core.instruments import InstrumentSpec
from core.l2book import ASK, BID, L2Book
from core.money import fill_fee_units, min_notional_units, notional_units
from core.orders import ActionType, OrderAction
from core.walk import Message

EPS = 1e-9  # float slack of the probabilistic queue estimates, in lots

# Reject reasons (the strings the strategy sees in OrderUpdate.reason)
R_DUPLICATE = "duplicate client_id"
R_MISSING_ID = "missing client_id"
R_SIDE = "invalid side"
R_QTY = "qty must be positive"
R_PRICE = "invalid price"
R_NOTIONAL = "notional below minimum"
R_REDUCE = "reduce-only would increase position"
R_CROSS = "post-only would cross"
# Hyperliquid's text for a crossing ALO order (core.reasons.R.SIM_CROSS_HL)
R_CROSS_HL = "post-only would cross: Post only order would have immediately matched"
R_NOT_FOUND = "order not found"
R_INSTRUMENT = "unknown instrument"
R_ACTION = "unknown action"

Response = OrderUpdate | Fill


class SimVenue:
    def __init__(self, spec: InstrumentSpec, config: SimConfig) -> None:
        self.spec = spec
        self.config = config
        self.inst = spec.id
        self.stats = SimStats()
        self.position = 0  # lots, signed: the venue's view of our position
        self._maker = config.maker_rate_e8
        self._taker = config.taker_rate_e8
        self._order_lat = ms_to_ns(config.order_latency_ms)
        self._resp_lat = ms_to_ns(config.response_latency_ms)
        self._clock = MdClock(config.md_latency, config.md_latency_ms)
        self._queue = queue_model_for(config)
        self._cancel_replace = config.modify_model_for(spec.venue) == "cancel_replace"
        self._r_cross = R_CROSS_HL if spec.venue == "hyperliquid" else R_CROSS
        self._view = TopView()
        self._inverse = spec.is_inverse  # fees and minimum notional on USD contracts
        self._min_units = min_notional_units(spec)
        self._valid_prices: dict[int, bool] = {}
        self._pending: deque[tuple[int, OrderAction]] = deque()  # (arrival, action)
        self._out: deque[tuple[int, Response]] = deque()  # (visible at, response)
        self._orders: dict[str, SimOrder] = {}  # resting, in placement order
        self._levels: dict[tuple[int, int], Level] = {}  # (side, price) -> Level
        self._used_ids: set[str] = set()
        self._max_bid: int | None = None  # our highest resting bid
        self._min_ask: int | None = None
        self._now = -(1 << 62)  # venue clock (local-clock ns), never decreases
        self._last_send = -(1 << 62)
        self._priority = 0
        self._order_no = 0
        self._exec_no = 0

    # -- the driver's interface ------------------------------------------------------------
    def send(self, action: OrderAction, local_ts: int) -> None:
        """Queue an action; it reaches the venue ``order_latency`` after ``local_ts``."""
        if local_ts < self._last_send:
            raise ValueError(
                f"send at local_ts {local_ts} is before the previous send at "
                f"{self._last_send} (actions must be sent in time order)"
            )
        self._last_send = local_ts
        self.stats.actions += 1
        a = action  # copied: the caller may reuse or mutate its action object
        copied = OrderAction(
            a.type,
            a.inst,
            a.client_id,
            a.side,
            a.price,
            a.qty,
            a.post_only,
            a.reduce_only,
            a.reason,
        )
        self._pending.append((local_ts + self._order_lat, copied))

    def on_market(self, msg: Message, book: L2Book) -> None:
        """One recorded message; ``book`` is the trader's book *before* it (read only)."""
        vts = self._clock.venue_ts(msg.recv_ts, msg.exch_ts)
        if self._pending:
            self._run_pending(vts, book)
        if vts > self._now:
            self._now = vts
        self.stats.messages += 1
        kind = msg.kind
        if kind == Kind.TRADE:
            if self._orders:
                self._on_trades(msg.levels, vts)
        elif kind == Kind.BOOK_DELTA or kind == Kind.BOOK_SNAPSHOT:
            self._on_book(msg, vts, book)
        elif kind == Kind.BBO:
            self._on_bbo(msg, vts)
        elif kind == Kind.FEED_RESET:
            self._view.reset()

    def advance(self, local_ts: int, book: L2Book) -> None:
        """Move the venue clock to ``local_ts``: process the actions that arrived by then."""
        if self._pending:
            self._run_pending(local_ts, book)
        if local_ts > self._now:
            self._now = local_ts

    def poll(self, local_ts: int) -> list[OrderUpdate | Fill]:
        """Responses that have reached the strategy by ``local_ts``, in order."""
        out = self._out
        got: list[OrderUpdate | Fill] = []
        while out and out[0][0] <= local_ts:
            got.append(out.popleft()[1])
        return got

    def next_response_ts(self) -> int | None:
        """Local time at which the next response reaches the strategy (None if none pending).

        Lets the driver wake up when a fill arrives rather than at the next market message.
        """
        return self._out[0][0] if self._out else None

    def open_orders(self) -> dict[str, SimOrder]:
        """client_id -> copy of each resting order as the venue sees it."""
        return {cid: replace(o) for cid, o in self._orders.items()}

    # -- order entry -----------------------------------------------------------------------
    def _run_pending(self, until: int, book: L2Book) -> None:
        pending = self._pending
        while pending and pending[0][0] <= until:
            arrival, action = pending.popleft()
            if arrival > self._now:
                self._now = arrival
            t = action.type
            if action.inst != self.inst:
                self._reject(action, R_INSTRUMENT)
            elif t == ActionType.PLACE:
                self._place(action, book)
            elif t == ActionType.AMEND:
                self._amend(action, book)
            elif t == ActionType.CANCEL:
                self._cancel(action)
            elif t == ActionType.CANCEL_ALL:
                for o in list(self._orders.values()):
                    self._remove(o)
                    self._update(o, OrderStatus.CANCELED, "cancel all")
                    self.stats.canceled += 1
            else:
                self._reject(action, R_ACTION)

    def _place(self, a: OrderAction, book: L2Book) -> None:
        cid = a.client_id
        why = ""
        if not cid:
            why = R_MISSING_ID
        elif cid in self._used_ids:
            why = R_DUPLICATE
        elif a.side != BID and a.side != ASK:
            why = R_SIDE
        elif a.qty <= 0:
            why = R_QTY
        elif not self._valid_price(a.price):
            why = R_PRICE
        elif notional_units(self._inverse, a.price, a.qty) < self._min_units:
            why = R_NOTIONAL
        elif a.reduce_only and a.side * self.position >= 0:
            why = R_REDUCE
        elif a.post_only and self._crosses(a.side, a.price, book):
            why = self._r_cross
        if why:
            self._reject(a, why)
            return
        self._used_ids.add(cid)
        self._order_no += 1
        o = SimOrder(
            cid, f"sim-{self._order_no}", a.side, a.price, a.qty, 0, a.post_only, a.reduce_only
        )
        self.stats.placed += 1
        if a.post_only:
            self._join(o, book)
            self._orders[cid] = o
            self._extremes()
            self._update(o, OrderStatus.NEW)
        else:
            self._take(o, book)

    def _take(self, o: SimOrder, book: L2Book) -> None:
        """Immediate-or-cancel: walk the displayed opposite levels up to the limit."""
        want = o.qty if not o.reduce_only else min(o.qty, abs(self.position))
        levels = self._levels
        opp = -o.side
        for price, qty, bbo_seq in self._view.levels_within(opp, o.price, book):
            key = (opp, price)
            lvl = levels.get(key)
            avail = qty if lvl is None else lvl.qty - lvl.taken
            if avail <= 0:
                continue
            n = min(avail, want - o.filled)
            if lvl is None:
                lvl = levels[key] = Level(qty, bbo_seq)
            lvl.taken += n
            self._fill(o, n, price, False)
            if o.filled >= want:
                break
        if o.filled < o.qty:
            self._update(o, OrderStatus.CANCELED, "immediate-or-cancel: remainder canceled")
            self.stats.expired += 1

    def _amend(self, a: OrderAction, book: L2Book) -> None:
        o = self._orders.get(a.client_id)
        if o is None:
            self._reject(a, R_NOT_FOUND)
            return
        price = a.price if a.price > 0 else o.price
        qty = a.qty if a.qty > 0 else o.qty
        if qty <= o.filled:
            self._remove(o)
            self._update(o, OrderStatus.CANCELED, "amended qty <= filled")
            self.stats.canceled += 1
            return
        why = ""
        if price != o.price and not self._valid_price(price):
            why = R_PRICE
        elif notional_units(self._inverse, price, qty) < self._min_units:
            why = R_NOTIONAL
        elif price != o.price and self._crosses(o.side, price, book):
            why = self._r_cross
        # as on Bybit: a post-only order amended into a taker is rejected, and ends
        if why == self._r_cross:
            self._remove(o)
            self._reject(a, why, o)
            return
        if why:
            self._reject(a, why, o)
            return
        if self._cancel_replace:  # a new order: new venue id, back of the queue
            self._leave(o)
            del self._orders[o.client_id]  # placement order: it is the newest order now
            self._order_no += 1
            o.venue_order_id = f"sim-{self._order_no}"
            o.price, o.qty = price, qty
            self._join(o, book)
            self._orders[o.client_id] = o
            self._extremes()
        elif price != o.price or qty > o.qty:  # loses priority: back of the queue
            self._leave(o)
            o.price, o.qty = price, qty
            self._join(o, book)
            self._extremes()
        else:  # same price, qty decrease (or no change): keeps its place
            o.qty = qty
        self.stats.amended += 1
        self._update(o, OrderStatus.AMENDED)

    def _cancel(self, a: OrderAction) -> None:
        o = self._orders.get(a.client_id)
        if o is None:
            self._reject(a, R_NOT_FOUND)
            return
        self._remove(o)
        self._update(o, OrderStatus.CANCELED, "canceled")
        self.stats.canceled += 1

    def _valid_price(self, price: int) -> bool:
        if price <= 0:
            return False
        if self.spec.price_sig_figs is None:
            return True
        ok = self._valid_prices.get(price)
        if ok is None:
            if len(self._valid_prices) > 100_000:
                self._valid_prices.clear()
            ok = self._valid_prices[price] = self.spec.is_valid_price_ticks(price)
        return ok

    def _crosses(self, side: int, price: int, book: L2Book) -> bool:
        """Would a post-only order at ``price`` take liquidity (displayed or our own)?"""
        opp = self._view.best(-side, book)
        if side == BID:
            own = self._min_ask
            return (opp is not None and price >= opp) or (own is not None and price >= own)
        own = self._max_bid
        return (opp is not None and price <= opp) or (own is not None and price <= own)

    # -- queue bookkeeping -----------------------------------------------------------------
    def _join(self, o: SimOrder, book: L2Book) -> None:
        """Back of the queue: ahead = displayed qty now (less liquidity we already took)."""
        key = (o.side, o.price)
        lvl = self._levels.get(key)
        if lvl is None:
            qty, bbo_seq = self._view.displayed(o.side, o.price, book)
            lvl = self._levels[key] = Level(qty, bbo_seq)
        o.ahead = max(lvl.qty - lvl.taken, 0)
        o.cum_trade = 0
        o.ts = self._now
        self._priority += 1
        o.priority = self._priority
        lvl.orders.append(o)

    def _leave(self, o: SimOrder) -> None:
        key = (o.side, o.price)
        lvl = self._levels[key]
        lvl.orders.remove(o)
        if not lvl.orders and not lvl.taken:
            del self._levels[key]

    def _remove(self, o: SimOrder) -> None:
        del self._orders[o.client_id]
        self._leave(o)
        self._extremes()

    def _extremes(self) -> None:
        bid = ask = None
        for o in self._orders.values():
            if o.side == BID:
                if bid is None or o.price > bid:
                    bid = o.price
            elif ask is None or o.price < ask:
                ask = o.price
        self._max_bid, self._min_ask = bid, ask

    def _set_level(self, key: tuple[int, int], lvl: Level, qty: int) -> None:
        """New displayed qty of a tracked level: queue estimates follow, ``taken`` is capped."""
        prev = lvl.qty
        depth = self._queue.depth
        for o in lvl.orders:
            depth(o, prev, qty)
        lvl.qty = qty
        if lvl.taken > qty:
            lvl.taken = qty
        if not lvl.orders and not lvl.taken:
            del self._levels[key]

    # -- market data -----------------------------------------------------------------------
    def _on_book(self, msg: Message, vts: int, book: L2Book) -> None:
        seq = msg.seq
        stale = self._view.on_book(seq)
        levels = self._levels
        if not levels:
            return
        rows = msg.levels
        if msg.kind == Kind.BOOK_SNAPSHOT:
            self._on_snapshot(rows, seq, stale, vts, book)
            return
        informed = [((s, p), q) for s, p, q in rows if (s, p) in levels]
        for key, qty in informed:
            lvl = levels.get(key)
            if lvl is None or 0 <= seq < lvl.bbo_seq:
                continue  # the BBO already told us something newer about this level
            lvl.bbo_seq = -1
            self._set_level(key, lvl, qty)
        if stale or not self._orders:
            return  # older than the BBO: its top may be gone already, so it cannot cross us
        max_bid, min_ask = self._max_bid, self._min_ask
        crossing = [
            (side, price, qty)
            for side, price, qty in rows
            if qty > 0
            and (
                (side == ASK and max_bid is not None and price <= max_bid)
                or (side == BID and min_ask is not None and price >= min_ask)
            )
        ]
        if crossing:
            self._on_cross(crossing, -1, vts)

    def _on_snapshot(
        self, rows: list[tuple[int, int, int]], seq: int, stale: bool, vts: int, book: L2Book
    ) -> None:
        """A full book as the level deltas it amounts to (row by row, as the kernel does).

        A row is news only where its quantity differs from what the venue knew: the
        tracked level's quantity, else the displayed one (``book`` before the message, or
        the BBO). A tracked level absent from the snapshot is empty if it lies within the
        snapshot's depth on its side; beyond it (venues send 20 or 500 levels) nothing is
        known. A side without levels is empty.
        """
        levels = self._levels
        cross = not stale and bool(self._orders)  # a stale top cannot cross us
        max_bid, min_ask = self._max_bid, self._min_ask
        seen: set[tuple[int, int]] = set()
        lo_bid = hi_ask = None
        crossing = []
        for side, price, qty in rows:
            if side == BID:
                if lo_bid is None or price < lo_bid:
                    lo_bid = price
            elif side == ASK and (hi_ask is None or price > hi_ask):
                hi_ask = price
            key = (side, price)
            lvl = levels.get(key)
            if lvl is not None:
                seen.add(key)
                if qty == lvl.qty:
                    continue  # no news
                if not 0 <= seq < lvl.bbo_seq:  # else the BBO told us something newer
                    lvl.bbo_seq = -1
                    self._set_level(key, lvl, qty)
            if not (
                cross
                and qty > 0
                and (
                    (side == ASK and max_bid is not None and price <= max_bid)
                    or (side == BID and min_ask is not None and price >= min_ask)
                )
            ):
                continue
            if lvl is None and qty == self._view.displayed(side, price, book)[0]:
                continue  # no news: this liquidity was displayed before
            crossing.append((side, price, qty))
        for key, lvl in list(levels.items()):
            side, price = key
            if key in seen or not lvl.qty or 0 <= seq < lvl.bbo_seq:
                continue
            if side == BID and lo_bid is not None and price < lo_bid:
                continue
            if side == ASK and hi_ask is not None and price > hi_ask:
                continue
            lvl.bbo_seq = -1
            self._set_level(key, lvl, 0)
        if crossing:
            self._on_cross(crossing, -1, vts)

    def _on_bbo(self, msg: Message, vts: int) -> None:
        view = self._view
        if view.on_bbo(msg.seq, msg.levels):
            return  # older than the book
        levels = self._levels
        if not levels:
            return
        bbo_seq = view.bbo_seq
        bp, bq, ap, aq = view.bid_p, view.bid_q, view.ask_p, view.ask_q
        for key in list(levels):
            side, price = key
            if side == BID and bp:
                if price > bp:  # above the best bid nothing is displayed
                    qty = 0
                elif price == bp:
                    qty = bq
                else:
                    continue
            elif side == ASK and ap:
                if price < ap:
                    qty = 0
                elif price == ap:
                    qty = aq
                else:
                    continue
            else:
                continue
            lvl = levels[key]
            lvl.bbo_seq = bbo_seq
            self._set_level(key, lvl, qty)
        if not self._orders:
            return
        crossing = []
        if ap and self._max_bid is not None and ap <= self._max_bid:
            crossing.append((ASK, ap, aq))
        if bp and self._min_ask is not None and bp >= self._min_ask:
            crossing.append((BID, bp, bq))
        if crossing:
            self._on_cross(crossing, bbo_seq, vts)

    def _on_cross(self, crossing: list[tuple[int, int, int]], bbo_seq: int, vts: int) -> None:
        """Displayed opposite liquidity at or through our prices fills us (maker)."""
        crossing.sort(key=lambda r: -r[0] * r[1])  # asks ascending, bids descending
        levels = self._levels
        for side, price, qty in crossing:
            key = (side, price)
            lvl = levels.get(key)
            avail = qty if lvl is None else lvl.qty - lvl.taken
            if avail <= 0:
                continue
            ours = self._crossed_orders(-side, price, vts)
            used = 0
            for o in ours:
                n = min(o.leaves, avail - used)
                if n <= 0:
                    break
                used += n
                self._fill(o, n, o.price, True)
            if used:
                if lvl is None:
                    lvl = levels[key] = Level(qty, bbo_seq)
                lvl.taken += used

    def _crossed_orders(self, side: int, price: int, vts: int) -> list[SimOrder]:
        """Our resting orders on ``side`` at or through ``price``: price, then time priority."""
        if side == BID:
            ours = [o for o in self._orders.values() if o.side == BID and o.price >= price]
            ours.sort(key=lambda o: (-o.price, o.priority))
        else:
            ours = [o for o in self._orders.values() if o.side == ASK and o.price <= price]
            ours.sort(key=lambda o: (o.price, o.priority))
        return [o for o in ours if o.ts <= vts]

    def _on_trades(self, rows: list[tuple[int, int, int]], vts: int) -> None:
        for aggressor, price, qty in rows:
            if aggressor == ASK:  # a seller hit bids: ours at >= price are exposed
                if self._max_bid is None or price > self._max_bid or qty <= 0:
                    continue
            elif aggressor == BID:
                if self._min_ask is None or price < self._min_ask or qty <= 0:
                    continue
            else:
                continue  # unknown aggressor: cannot tell whom it hit
            self._match_trade(-aggressor, price, qty, vts)
            if not self._orders:
                return

    def _match_trade(self, side: int, price: int, qty: int, vts: int) -> None:
        """One trade against our resting orders on ``side`` (the passive side)."""
        remaining: float = qty
        # 1. trade-through: our orders at prices better for the aggressor, in priority
        through = self._crossed_orders(side, price + side, vts)
        for o in through:
            n = min(o.leaves, int(remaining + EPS))
            if n <= 0:
                break
            remaining -= n
            self._fill(o, n, o.price, True)
        # 2. the queue at the trade price: market quantity ahead, then us, in time order
        lvl = self._levels.get((side, price))
        if lvl is None or not lvl.orders:
            return
        eaten: float = 0  # market quantity this trade removed from the front of the level
        for o in list(lvl.orders):
            if o.ts > vts:
                continue  # joined after the trade happened
            o.cum_trade += qty
            gap = o.ahead - eaten
            if gap > 0 and remaining > 0:
                take = gap if gap < remaining else remaining
                eaten += take
                remaining -= take
            ahead = o.ahead - eaten
            o.ahead = ahead if ahead > EPS else 0
            if not o.ahead and remaining > 1 - EPS:
                n = min(o.leaves, int(remaining + EPS))
                remaining -= n
                self._fill(o, n, o.price, True)

    # -- responses -------------------------------------------------------------------------
    def _fill(self, o: SimOrder, qty: int, price: int, maker: bool) -> None:
        ts = self._now
        vis = ts + self._resp_lat
        o.filled += qty
        fee = fill_fee_units(self._inverse, price, qty, self._maker if maker else self._taker)
        self._exec_no += 1
        self._out.append(
            (
                vis,
                Fill(
                    self.inst,
                    o.client_id,
                    o.side,
                    price,
                    qty,
                    fee,
                    maker,
                    ts,
                    vis,
                    f"sim-x{self._exec_no}",
                ),
            )
        )
        self.position += o.side * qty
        st = self.stats
        st.fills += 1
        st.filled_qty += qty
        st.fee_units += fee
        if maker:
            st.maker_fills += 1
            st.maker_qty += qty
        else:
            st.taker_fills += 1
            st.taker_qty += qty
        done = o.filled >= o.qty
        if done and o.client_id in self._orders:
            self._remove(o)
        self._update(o, OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED)

    def _update(self, o: SimOrder, status: OrderStatus, reason: str = "") -> None:
        ts = self._now
        vis = ts + self._resp_lat
        self._out.append(
            (
                vis,
                OrderUpdate(
                    self.inst,
                    o.client_id,
                    status,
                    o.side,
                    o.price,
                    o.qty,
                    o.filled,
                    ts,
                    vis,
                    o.venue_order_id,
                    reason,
                ),
            )
        )

    def _reject(self, a: OrderAction, reason: str, o: SimOrder | None = None) -> None:
        rej = self.stats.rejected
        rej[reason] = rej.get(reason, 0) + 1
        ts = self._now
        vis = ts + self._resp_lat
        if o is not None:  # the order stays as it was
            side, price, qty, filled, vid = o.side, o.price, o.qty, o.filled, o.venue_order_id
        else:
            side, price, qty, filled, vid = a.side, a.price, a.qty, 0, ""
        self._out.append(
            (
                vis,
                OrderUpdate(
                    self.inst,
                    a.client_id,
                    OrderStatus.REJECTED,
                    side,
                    price,
                    qty,
                    filled,
                    ts,
                    vis,
                    vid,
                    reason,
                ),
            )
        )
