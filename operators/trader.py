"""The trader: one keyed stateful operator closing the market-making loop.

quotes -> fills -> inventory -> quotes is a cycle, and a dataflow is a DAG, so the
cycle lives inside one per-instrument state machine holding the book, the features,
inventory, live orders and risk state. Market data flows in; order actions flow out.
Own-order events come back either from a venue bound inside (the simulated venue in
backtests and paper trading, so a run is deterministic: same data + parameters ->
identical results) or, live, from the private stream merged into the input.

Per venue message, in this order (a live bot's order of operations):
  1. the bound venue sees the message (at venue time) and fills resting orders;
  2. the book and features update;
  3. venue responses that have reached us by now are applied (fills -> inventory);
  4. risk is evaluated on the result (a breach acts on this same event);
  5. quotes are recomputed and the order manager emits actions.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import numpy as np

from core.events import Fill, Kind, OrderStatus, OrderUpdate, ResyncRequest, Tick, reset_text
from core.instruments import InstrumentSpec
from core.l2book import L2Book
from core.orders import OrderAction
from core.params import StrategyParams
from core.timeutil import NS_PER_S
from core.walk import BOOK_KINDS, Message, messages
from operators.book.resync import ResyncScheduler
from operators.book.sync import book_sync_for
from operators.features.imbalance import ImbalanceEMA
from operators.features.regime import DEFAULT_REGIME_PARAMS, RegimeDetector
from operators.features.signal import DirectionalSignal
from operators.features.toxicity import ToxicityDetector
from operators.features.volatility import Volatility
from operators.inventory.tracker import MarkoutTracker, inventory_for
from operators.orders.manager import OrderManager
from operators.quoting.engine import MarketView, QuoteEngine, QuoteLevel, QuoteSet
from operators.risk.manager import RiskManager, RiskState

FILL_COLUMNS = (
    "recv_ts", "exch_ts", "seq", "client_id", "exec_id", "side", "level", "price", "qty", "price_f",
    "qty_f", "notional", "fee", "fee_units", "is_maker", "position_after", "mid_at_fill",
    "mid_1s", "mid_5s", "mid_30s", "mid_60s",
)  # fmt: skip


class Venue(Protocol):
    """A venue bound inside the trader (the simulated venue)."""

    def send(self, action: OrderAction, local_ts: int) -> None: ...
    def on_market(self, msg: Message, book: L2Book) -> None: ...
    def advance(self, local_ts: int, book: L2Book) -> None: ...
    def poll(self, local_ts: int) -> list[OrderUpdate | Fill]: ...
    def next_response_ts(self) -> int | None: ...


@dataclass
class TraderOutput:
    """What one step produced: actions for a live order sink, rows for the run tables."""

    actions: list[OrderAction] = field(default_factory=list)
    quotes: list[tuple] = field(default_factory=list)
    orders: list[tuple] = field(default_factory=list)
    fills: list[tuple] = field(default_factory=list)
    pnl: list[tuple] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    resync: list[ResyncRequest] = field(default_factory=list)  # live: for the public source

    def empty(self) -> bool:
        return not (self.actions or self.quotes or self.orders or self.fills or self.pnl
                    or self.logs or self.summary or self.resync)  # fmt: skip


class Trader:
    def __init__(
        self,
        spec: InstrumentSpec,
        params: StrategyParams,
        venue: Venue | None = None,
        run_tag: str = "bt",
        log_quotes: bool = False,
        wait_for_own_stream: bool = False,
    ) -> None:
        """``wait_for_own_stream`` (live): quote only while the venue's private stream is
        known to deliver our fills (PrivateReady / PrivateReset open it, PrivateDown shuts)."""
        self.spec = spec
        self.inst = spec.id
        self.params = params
        self.venue = venue
        self.log_quotes = log_quotes
        f = params.features
        self.sync = book_sync_for(spec.venue)
        self.book = self.sync.book
        self.imbalance = ImbalanceEMA(f.imbalance_levels, f.imbalance_half_life_ms)
        self.vol = Volatility(f.vol_sample_ms, f.vol_half_life_samples, f.vol_warmup_samples)
        self.regime = RegimeDetector(f.regime_window, f.regime_min_samples)
        self.signal = DirectionalSignal(f.signal_sample_ms, f.signal_slope_threshold_bps)
        self.toxicity = ToxicityDetector(
            drift_bps=f.toxicity_drift_bps,
            imbalance_threshold=f.toxicity_imbalance,
            aggressor_threshold=f.toxicity_aggressor_share,
            aggressor_window=f.toxicity_aggressor_window,
        )
        self.engine = QuoteEngine(spec, params)
        self.risk = RiskManager(params.risk)
        self.orders = OrderManager(self.inst, spec, params.orders, params.quote, run_tag)
        self.inventory = inventory_for(spec)
        self.markouts = MarkoutTracker()
        self._tick = float(spec.tick_size)
        self._lot = float(spec.lot_size)
        self._inverse = spec.is_inverse  # money in the coin (operators.inventory.inverse)
        self._lot_usd = float(spec.lot_size * spec.contract_size)
        self._pnl_interval = params.pnl_sample_ms * 1_000_000
        self._next_pnl = 0
        self._seq = {"quotes": 0, "orders": 0, "fills": 0, "pnl": 0}
        self._last_quote_key: tuple | None = None
        self._last_mid_x2 = 0
        self._last_book_ts = 0
        self._last_state = RiskState.SAFE
        self._next_status = 0
        self.status_interval_ns = 10 * NS_PER_S
        self._quoting = False
        self._dirty = False
        self._stopped = False  # live shutdown: decide nothing more
        self._own_ready = not wait_for_own_stream
        # book liveness: data lagging the exchange clock, resync requests to the source
        r = params.risk
        self.resync = ResyncScheduler(r.resync_after_ms, r.resync_backoff_max_ms)
        self._max_lag_ns = int(r.max_exch_lag_ms * 1_000_000)
        self.clock_offset_ns = 0  # local clock - venue clock (live: measured at start-up)
        self._lag_ns = 0  # the last book message's lag: recv - exch - clock offset
        self._lagging = False
        # run statistics for the summary
        self.events = 0
        self.messages = 0
        self.first_ts = 0
        self.last_ts = 0
        self._pnl_totals: list[float] = []
        self._abs_positions: list[int] = []
        self._peak = 0.0
        self._max_dd = 0.0
        self._max_abs_pos = 0
        self._markout_sums = [[0.0, 0] for _ in range(4)]
        self._orders_filled: set[str] = set()
        self._fills_ready: list[tuple] = []
        self._wall = 0.0

    # -- market data -------------------------------------------------------------------
    def on_market(self, events: np.ndarray) -> TraderOutput:
        out = TraderOutput()
        t0 = time.perf_counter()
        venue = self.venue
        sync = self.sync
        for m in messages(events):
            now = m.recv_ts
            if not self.first_ts:
                self.first_ts = now
            if venue is not None:
                self._wake_for_responses(now, out)
            self.last_ts = now
            self.events += m.end - m.start
            self.messages += 1
            if venue is not None:
                venue.on_market(m, self.book)
            kind = m.kind
            changed = False
            if kind in BOOK_KINDS:
                sync.on_message(kind, m.seq, m.prev_seq, m.first_seq, m.levels)
                self._last_book_ts = now
                if self._max_lag_ns and m.exch_ts > 0:  # 0: the venue gave no time
                    self._check_lag(now - m.exch_ts, out)
                changed = True
            elif kind == Kind.TRADE:
                for side, _price, qty in m.levels:
                    self.toxicity.on_trade(side, qty, now)
            elif kind == Kind.FEED_RESET:  # qty of its row: the ResetReason code
                sync.force_out_of_sync(reset_text(m.levels[0][2]))
                changed = True
            if venue is not None:
                for r in venue.poll(now):
                    self._on_own(r, now, out)
            if changed and sync.usable:
                self._update_features(now)
                if self.resync.since >= 0 and not self._lagging:
                    self.resync.check(now, True)  # usable again: the unusable spell ends
            if now >= self._next_pnl and self._last_mid_x2:
                self._pnl_row(now, out)
                self._next_pnl = (now // self._pnl_interval + 1) * self._pnl_interval
            if changed or self._dirty:
                self._decide(now, out)
        self._wall += time.perf_counter() - t0
        return self._take_fills(out)

    def _check_lag(self, raw_lag: int, out: TraderOutput) -> None:
        """Data whose exchange time lags our clock by more than ``max_exch_lag_ms`` (after
        the measured clock offset) is stale: no quoting until a book message is fresh
        again. The book itself stays valid (its update ids are checked), so quoting
        resumes with the first fresh message. One log line per change."""
        lag = raw_lag - self.clock_offset_ns
        self._lag_ns = lag
        lagging = lag > self._max_lag_ns
        if lagging != self._lagging:
            self._lagging = lagging
            out.logs.append(
                {
                    "event": "book_lagging" if lagging else "book_lag_ok",
                    "inst": self.inst,
                    "lag_ms": round(lag / 1e6, 1),
                    "max_ms": self._max_lag_ns / 1e6,
                }
            )

    def book_usable(self) -> bool:
        """The book may be quoted from: in sync, not crossed, not lagging."""
        return self.sync.usable and not self._lagging

    def book_reason(self) -> str:
        """Why the book may not be quoted from ("" when it may)."""
        if not self.sync.usable:
            return self.sync.reason
        if self._lagging:
            return f"stale data: exchange time lags {self._lag_ns / 1e9:.1f} s"
        return ""

    def _wake_for_responses(self, until: int, out: TraderOutput) -> None:
        """Handle venue responses arriving before ``until`` at their own arrival times.

        A live bot reacts to a fill when it arrives, not at the next market message;
        replaying that keeps requotes and risk actions on the fill's own timestamp.
        """
        venue = self.venue
        assert venue is not None
        while (t := venue.next_response_ts()) is not None and t < until:
            for r in venue.poll(t):
                self._on_own(r, t, out)
            if self._dirty:
                self._decide(t, out)

    # -- own orders (live: from the private stream) ---------------------------------------
    def on_own(self, items: list[OrderUpdate | Fill], now: int) -> TraderOutput:
        out = TraderOutput()
        for r in items:
            self._on_own(r, now, out)
        if self._stopped:  # after shutdown no markout comes: a fill row leaves at once
            for row in self.markouts.flush():
                self._emit_fill_row(row)
        if self._dirty:
            self._decide(now, out)
        return self._take_fills(out)

    def _on_own(self, r: OrderUpdate | Fill, now: int, out: TraderOutput) -> None:
        self._dirty = True
        if isinstance(r, Fill):
            self._on_fill(r, now, out)
            return
        order = self.orders.orders.get(r.client_id)
        level = order.level if order is not None else -1
        what = self.orders.on_update(r)
        if what == "unknown":
            return
        if r.status == OrderStatus.REJECTED:
            if "post-only" not in r.reason:
                self.risk.on_error()
        elif r.status == OrderStatus.NEW:
            self.risk.on_success()
        self._order_row(
            now,
            r.client_id,
            r.status.name.lower(),
            r.side,
            r.price,
            r.qty,
            r.filled,
            level,
            r.reason,
            out,
        )

    def _on_fill(self, f: Fill, now: int, out: TraderOutput) -> None:
        order = self.orders.orders.get(f.client_id)
        level = order.level if order is not None else -1
        self.orders.on_fill(f)
        inv = self.inventory
        inv.on_fill(f.side, f.price, f.qty, f.fee, f.is_maker)
        self._orders_filled.add(f.client_id)
        self._max_abs_pos = max(self._max_abs_pos, abs(inv.position))
        mid = self._last_mid_x2 / 2 * self._tick if self._last_mid_x2 else float("nan")
        self.toxicity.on_fill(f.side, float(f.price), now)
        self._seq["fills"] += 1
        unit = self._tick * self._lot
        row = {
            "recv_ts": now,
            "exch_ts": f.exch_ts,
            "seq": self._seq["fills"],
            "client_id": f.client_id,
            "exec_id": f.exec_id,
            "side": f.side,
            "level": level,
            "price": f.price,
            "qty": f.qty,
            "price_f": f.price * self._tick,
            "qty_f": f.qty * self._lot,
            "notional": f.qty * self._lot_usd if self._inverse else f.price * f.qty * unit,
            "fee": self._fee_float(f.price, f.fee),
            "fee_units": f.fee,
            "is_maker": f.is_maker,
            "position_after": inv.position,
            "mid_at_fill": mid,
        }
        self.markouts.add(row, now)
        if self.log_quotes:
            out.logs.append(
                {
                    "event": "fill",
                    "inst": self.inst,
                    "side": "buy" if f.side > 0 else "sell",
                    "price": str(self.spec.ticks_to_price(f.price)),
                    "qty": str(self.spec.lots_to_size(f.qty)),
                    "maker": f.is_maker,
                    "position": str(self.spec.lots_to_size(inv.position)),
                }
            )
        self._pnl_row(now, out)

    # -- live inputs -------------------------------------------------------------------
    def on_item(self, item: Any) -> TraderOutput:
        """Dispatch one input of the live flow's merged stream."""
        if self._stopped and not isinstance(item, (OrderUpdate, Fill)):
            return TraderOutput()  # after shutdown: own orders' last news only, no rows
        if isinstance(item, np.ndarray):
            return self.on_market(item)
        if isinstance(item, Tick):
            return self.on_timer(item.ts)
        if isinstance(item, (OrderUpdate, Fill)):
            return self.on_own([item], item.recv_ts)
        handler = getattr(self, f"on_{type(item).__name__}", None)
        if handler is not None:
            return handler(item)
        out = TraderOutput()
        out.logs.append(
            {"event": "unhandled_input", "inst": self.inst, "type": type(item).__name__}
        )
        return out

    def swap_params(self, params: StrategyParams) -> None:
        """Hot reload between messages: later decisions use ``params``; the book, features,
        orders, inventory and risk state stay. Only keys ``core.params_live`` allows may
        differ from the running ones (the caller checks); the next decision requotes."""
        self.params = params
        self.engine.params = params
        self.risk.p = params.risk
        om = self.orders
        om.p, om.q = params.orders, params.quote
        om.bucket.rate = params.orders.rate_limit_per_s
        om.bucket.burst = float(params.orders.rate_burst)
        om.bucket.tokens = min(om.bucket.tokens, om.bucket.burst)  # a new burst is no refill
        r = params.risk
        self.resync.after_ns = int(r.resync_after_ms * 1_000_000)
        self.resync.max_ns = int(r.resync_backoff_max_ms * 1_000_000)
        self._max_lag_ns = int(r.max_exch_lag_ms * 1_000_000)
        self._dirty = True

    def on_timer(self, now: int) -> TraderOutput:
        """Heartbeat: stale-book guard, venue responses (paper), PnL sampling, status line."""
        out = TraderOutput()
        if self.venue is not None:
            self._wake_for_responses(now + 1, out)
        kill_file = self.params.risk.kill_file
        if kill_file and not self.risk.killed and os.path.exists(kill_file):
            self.risk.kill(f"kill file {kill_file} present")
            out.logs.append({"event": "kill_switch", "inst": self.inst, "reason": self.risk.reason})
            self._dirty = True
        stale_ns = int(self.params.risk.stale_book_ms * 1_000_000)
        if self.sync.usable and self._last_book_ts and now - self._last_book_ts > stale_ns:
            self.sync.force_out_of_sync(
                f"stale book: no update for {(now - self._last_book_ts) / 1e9:.1f} s"
            )
            out.logs.append({"event": "book_stale", "inst": self.inst, "reason": self.sync.reason})
            self._dirty = True
        attempt = self.resync.check(now, self.book_usable())
        if attempt:
            self._request_resync(now, attempt, out)
        if now >= self._next_pnl and self._last_mid_x2:
            self._pnl_row(now, out)
            self._next_pnl = (now // self._pnl_interval + 1) * self._pnl_interval
        if self._dirty or self.params.quote.max_order_age_s > 0:
            self._decide(now, out)
        if now >= self._next_status:
            self._next_status = now + self.status_interval_ns
            out.logs.append(self.status(now))
        return self._take_fills(out)

    def _request_resync(self, now: int, attempt: int, out: TraderOutput) -> None:
        """Ask the live source for a fresh book (the flow routes ``out.resync`` to it)."""
        reason = self.book_reason()
        out.resync.append(ResyncRequest(self.inst, reason, attempt, now))
        out.logs.append(
            {
                "event": "resync_request",
                "inst": self.inst,
                "reason": reason,
                "attempt": attempt,
                "next_in_s": self.resync.delay_after(attempt) / 1e9,
            }
        )

    def status(self, now: int) -> dict[str, Any]:
        """One line per symbol: mid, spread, position, PnL, risk state."""
        inv = self.inventory
        mid_x2 = self._last_mid_x2
        spread = self.book.spread() if self.sync.usable else None
        pnl = 0.0
        if mid_x2:
            pnl = inv.total_float(mid_x2)
            pnl = pnl if self._inverse else pnl * self._tick * self._lot
        return {
            "event": "status",
            "inst": self.inst,
            "mid": str(self.spec.tick_size * mid_x2 / 2) if mid_x2 else None,
            "spread_ticks": spread,
            "position": str(self.spec.lots_to_size(inv.position)),
            "pnl": round(pnl, 6),
            "risk": self.risk.state.name,
            "book": "ok" if self.book_usable() else self.book_reason(),
            "open_orders": self.orders.live_count(),
        }

    def seed_position(self, qty: int, entry_price: Any) -> None:
        """Start from the venue's position (start-up reconciliation), priced at its entry."""
        if qty == 0:
            return
        entry_ticks = self.spec.round_price(entry_price, 1 if qty > 0 else -1)
        self.inventory.on_fill(1 if qty > 0 else -1, entry_ticks, abs(qty), 0, False)

    def on_PositionUpdate(self, p: Any) -> TraderOutput:
        """The venue's position: if ours differs (missed fills), book the difference at mark."""
        out = TraderOutput()
        diff = p.qty - self.inventory.position
        if diff:
            mark = self.spec.round_price(p.mark_price, 1 if diff > 0 else -1)
            self.inventory.on_fill(1 if diff > 0 else -1, mark, abs(diff), 0, False)
            out.logs.append(
                {
                    "event": "position_reconciled",
                    "inst": self.inst,
                    "venue_qty": p.qty,
                    "booked_lots": diff,
                    "at": str(p.mark_price),
                }
            )
            self._dirty = True
            self._decide(p.recv_ts, out)
        return out

    def on_PrivateReset(self, r: Any) -> TraderOutput:
        """Own-order messages may have been missed: cancel everything, forget local orders,
        ask for the venue's position, and quote afresh."""
        out = TraderOutput()
        out.logs.append({"event": "private_reset", "inst": self.inst, "reason": r.reason})
        out.actions.append(self.orders.reset_all(r.recv_ts, "reconcile after private stream reset"))
        self._quoting = False
        self._own_ready = True
        self._dirty = True
        return out

    def on_PrivateReady(self, r: Any) -> TraderOutput:
        """Our fills are seen from now on: quoting may start."""
        out = TraderOutput()
        self._own_ready = True
        self._decide(r.recv_ts, out)
        return out

    def on_PrivateDown(self, r: Any) -> TraderOutput:
        """Fills would go unseen: pull every quote until the stream is back (PrivateReset)."""
        out = TraderOutput()
        out.logs.append({"event": "private_down", "inst": self.inst, "reason": r.reason})
        self._own_ready = False
        now = r.recv_ts
        reason = f"private stream down: {r.reason}"
        self._send(self.orders.cancel_all(now, reason, in_flight=True), now, out)
        if self._quoting:
            self._quoting = False
            self._record_quotes(now, QuoteSet(), out)
        return out

    def on_Shutdown(self, s: Any) -> TraderOutput:
        """Live shutdown (the flow cancels every order at the venue): decide nothing more,
        record that nothing is quoted, and hand over what would otherwise be lost: fills
        still waiting for their markouts (later horizons stay NaN), a last PnL row and
        the run summary."""
        out = TraderOutput()
        self._stopped = True
        if self.venue is not None:  # paper: cancel the simulated orders first (no fill after)
            self._cancel_bound_venue(max(s.recv_ts, self.last_ts), out)
        if self._quoting:
            self._quoting = False
            self._record_quotes(s.recv_ts, QuoteSet(mid=self._last_mid_x2 / 2), out)
        for row in self.markouts.flush():
            self._emit_fill_row(row)
        self._pnl_row(s.recv_ts, out)
        out.summary = self.summary()
        return self._take_fills(out)

    def _cancel_bound_venue(self, now: int, out: TraderOutput) -> None:
        """Cancel every order at the bound venue and take its answers now: the cancels
        reach it ``order_latency`` later, before any further market data (which the
        stopped trader no longer feeds it), so nothing fills after the shutdown."""
        venue = self.venue
        assert venue is not None
        self._send(self.orders.cancel_all(now, "shutdown", in_flight=True), now, out)
        sim = self.params.sim
        until = now + int((sim.order_latency_ms + sim.response_latency_ms) * 1_000_000)
        venue.advance(until, self.book)
        for r in venue.poll(until):
            self._on_own(r, until, out)

    def on_DcpStatus(self, d: Any) -> TraderOutput:
        out = TraderOutput()
        out.logs.append(
            {"event": "dcp", "inst": self.inst, "status": d.status, "window_s": d.time_window_s}
        )
        return out

    # -- features ------------------------------------------------------------------------
    def _update_features(self, now: int) -> None:
        book = self.book
        mid_x2 = book.mid_x2()
        if mid_x2 is None:
            return
        self._last_mid_x2 = mid_x2
        mid = mid_x2 / 2
        self.imbalance.update(book, now)
        if self.vol.update(mid, now) and self.vol.vol_bps is not None:
            self.regime.update(self.vol.vol_bps)
            self.risk.on_vol(self.vol.vol_bps)
        self.signal.update(mid, now)
        same_depth = self.imbalance.levels == self.toxicity.depth_levels
        self.toxicity.on_book(book, now, self.imbalance.raw if same_depth else None)
        self.toxicity.on_mid(mid, now)
        for row in self.markouts.on_mid(mid * self._tick, now):
            self._emit_fill_row(row)

    # -- decision ------------------------------------------------------------------------
    def _decide(self, now: int, out: TraderOutput) -> None:
        self._dirty = False
        if self._stopped or not self._own_ready:
            return
        inv = self.inventory
        if not self.book_usable() or not self._last_mid_x2:
            # stale, crossed, lagging or out-of-sync book: quote nothing, and cancel what
            # rests, in-flight orders too (one acked after the reset was priced from the
            # old book)
            reason = f"book unusable: {self.book_reason()}"
            self._send(self.orders.cancel_all(now, reason, in_flight=True), now, out)
            if self._quoting:
                self._quoting = False
                self._record_quotes(now, QuoteSet(), out)
            return
        mid_x2 = self._last_mid_x2
        mid = mid_x2 / 2
        rp = self.regime.params(DEFAULT_REGIME_PARAMS) if self.params.quote.use_regimes else None
        tox = self.toxicity.reading(now)
        bb = self.book.best_bid()
        ba = self.book.best_ask()
        view = MarketView(
            best_bid=bb or 0,
            best_ask=ba or 0,
            mid_x2=mid_x2,
            vol_bps=self.vol.vol_bps,
            spread_clamp_bps=rp.spread_clamp_bps if rp else 0.0,
            levels=rp.levels if rp else self.params.quote.levels,
            position_multiplier=rp.position_multiplier if rp else 1.0,
            regime=int(self.regime.regime),
            signal=self.signal.value,
            toxicity=tox.score,
            threatened_side=tox.threatened_side,
        )
        multiplier = view.position_multiplier if self.params.quote.use_regimes else 1.0
        max_pos = self.engine.max_position_lots(mid, multiplier)
        if self._inverse:  # the loss limits are in USD: the coin PnL at the mid
            equity = inv.total_float(mid_x2) * (mid_x2 / 2 * self._tick)
        else:
            equity = inv.total_float(mid_x2) * self._tick * self._lot
        decision = self.risk.evaluate(
            now, inv.position, max_pos, equity, inv.unrealized_bps(mid_x2)
        )
        if decision.state != self._last_state:
            out.logs.append(
                {
                    "event": "risk_state",
                    "inst": self.inst,
                    "from": self._last_state.name,
                    "to": decision.state.name,
                    "reason": decision.reason,
                }
            )
            self._last_state = decision.state
            self._pnl_row(now, out)
        actions: list[OrderAction] = []
        if decision.flatten and inv.position and bb and ba:
            a = self.orders.flatten(inv.position, bb, ba, now, decision.reason)
            if a is not None:
                actions.append(a)
        desired = (
            None
            if decision.cancel_all
            else self.engine.quote(view, inv.position, decision.allow_bids, decision.allow_asks)
        )
        acts, rejections = self.orders.reconcile(desired, now, mid, cancel_all=decision.cancel_all)
        actions.extend(acts)
        for rej in rejections:
            a = rej.action
            self._order_row(
                now,
                a.client_id,
                "rejected_pretrade",
                a.side,
                a.price,
                a.qty,
                0,
                -1,
                rej.reason,
                out,
            )
        self._record_quotes(now, desired or QuoteSet(mid=mid), out)
        self._quoting = bool(desired and (desired.bids or desired.asks))
        self._send(actions, now, out)

    def _send(self, actions: list[OrderAction], now: int, out: TraderOutput) -> None:
        for a in actions:
            order = self.orders.orders.get(a.client_id)
            level = order.level if order is not None else -1
            self._order_row(
                now,
                a.client_id,
                a.type.name.lower(),
                a.side,
                a.price,
                a.qty,
                0,
                level,
                a.reason,
                out,
            )
            if self.venue is not None:
                self.venue.send(a, now)
            else:
                out.actions.append(a)

    # -- rows ----------------------------------------------------------------------------
    def _record_quotes(self, now: int, qs: QuoteSet, out: TraderOutput) -> None:
        key = qs.key()
        if key == self._last_quote_key:
            return
        self._last_quote_key = key
        self._seq["quotes"] += 1
        seq = self._seq["quotes"]
        tick, lot = self._tick, self._lot
        mid = qs.mid * tick
        state = int(self.risk.state)
        levels = qs.levels() or []
        context = (mid, qs.reservation * tick, qs.half_spread_bps, qs.vol_bps, qs.regime, qs.signal,
                   qs.toxicity, state)  # fmt: skip
        if not levels:  # an empty quote set is recorded too: "quoting nothing" is a decision
            out.quotes.append((now, seq, 0, -1, 0, 0, math.nan, math.nan, *context))
        for lv in levels:
            out.quotes.append(
                (
                    now,
                    seq,
                    lv.side,
                    lv.level,
                    lv.price,
                    lv.qty,
                    lv.price * tick,
                    lv.qty * lot,
                    *context,
                )
            )
        if self.log_quotes:
            out.logs.append(
                {
                    "event": "quotes",
                    "inst": self.inst,
                    "bids": self._ladder(qs.bids),
                    "asks": self._ladder(qs.asks),
                    "risk": self.risk.state.name,
                }
            )

    def _ladder(self, levels: list[QuoteLevel]) -> str:
        """``price x size`` per level, as the venue would read them (for log lines)."""
        spec = self.spec
        return ",".join(
            f"{spec.ticks_to_price(q.price)}x{spec.lots_to_size(q.qty)}" for q in levels
        )

    def _order_row(
        self,
        now: int,
        cid: str,
        event: str,
        side: int,
        price: int,
        qty: int,
        filled: int,
        level: int,
        reason: str,
        out: TraderOutput,
    ) -> None:
        self._seq["orders"] += 1
        out.orders.append(
            (now, self._seq["orders"], cid, event, side, price, qty, filled, level, reason)
        )

    def _emit_fill_row(self, row: dict) -> None:
        price = row["price"]
        for i, name in enumerate(("mid_1s", "mid_5s", "mid_30s", "mid_60s")):
            mid_h = row[name]
            if not math.isnan(mid_h):
                px = price * self._tick
                self._markout_sums[i][0] += row["side"] * (mid_h - px) / px * 1e4
                self._markout_sums[i][1] += 1
        self._fills_ready.append(tuple(row[c] for c in FILL_COLUMNS))

    def _take_fills(self, out: TraderOutput) -> TraderOutput:
        """Fill rows leave once their markouts are known (or at the end of the data)."""
        if self._fills_ready:
            out.fills.extend(self._fills_ready)
            self._fills_ready.clear()
        return out

    def _money_unit(self) -> float:
        """Settlement currency per inventory float unit: tick x lot, or 1.0 (inverse: the
        inventory's floats are in the coin)."""
        return 1.0 if self._inverse else self._tick * self._lot

    def _fee_float(self, price: int, fee: int) -> float:
        """A fill's fee in the settlement currency (inverse: at the fill's price)."""
        if self._inverse:
            return self.inventory.fee_float(price, fee)
        return fee * (self._tick * self._lot) / 1e8

    def _pnl_row(self, now: int, out: TraderOutput) -> None:
        inv = self.inventory
        mid_x2 = self._last_mid_x2
        if not mid_x2:
            return
        unit = self._money_unit()
        total = inv.total_float(mid_x2) * unit
        self._peak = max(self._peak, total)
        dd = self._peak - total
        self._max_dd = max(self._max_dd, dd)
        self._pnl_totals.append(total)
        self._abs_positions.append(abs(inv.position))
        self._seq["pnl"] += 1
        mid = mid_x2 / 2 * self._tick
        out.pnl.append(
            (
                now,
                self._seq["pnl"],
                inv.position,
                inv.position * self._lot,
                mid,
                inv.cash_f if self._inverse else inv.cash * unit,
                inv.realized_float() * unit,
                inv.unrealized_float(mid_x2) * unit,
                inv.fees_f if self._inverse else inv.fees * unit / 1e8,
                total,
                inv.position * self._lot_usd if self._inverse else inv.position * self._lot * mid,
                dd,
                int(self.risk.state),
            )
        )

    # -- end of data ---------------------------------------------------------------------
    def finish(self) -> TraderOutput:
        """Flush the venue, close markouts, write the last PnL row and the summary."""
        out = TraderOutput()
        now = self.last_ts
        if self.venue is not None and now:
            # let actions sent on the last message reach the venue and their answers come back
            sim = self.params.sim
            now += int((sim.order_latency_ms + sim.response_latency_ms) * 1_000_000)
            self.venue.advance(now, self.book)
            for r in self.venue.poll(now):
                self._on_own(r, now, out)
        for row in self.markouts.flush():
            self._emit_fill_row(row)
        self._pnl_row(now, out)
        out.summary = self.summary()
        return self._take_fills(out)

    def summary(self) -> dict[str, Any]:
        return run_summary(self)


def run_summary(t: Any) -> dict[str, Any]:
    """The run summary of a trader (the reference or the compiled one: same attributes).

    Money is in ``pnl_currency`` (the quote currency; an inverse contract's coin). The
    ``*_exact`` values are exact: a Decimal string for linear instruments, a fraction
    ``p/q`` string for inverse ones (coin sums of ``q x K / p`` have no finite decimal);
    ``volume`` is the quote-currency (USD) notional traded either way.
    """
    inv = t.inventory
    spec = t.spec
    mid_x2 = t._last_mid_x2
    net_exact = inv.total_units(mid_x2) if mid_x2 else Fraction(inv.cash)
    net = inv.to_quote(net_exact)
    fees = inv.fees_quote()
    capital = t.params.quote.capital_usd
    totals = np.array(t._pnl_totals, dtype=float)
    sharpe = None
    if len(totals) > 2:
        diffs = np.diff(totals)
        sd = diffs.std(ddof=1)
        if sd > 0:
            per_year = 365 * 86400 * 1e3 / t.params.pnl_sample_ms
            sharpe = float(diffs.mean() / sd * math.sqrt(per_year))
    st = t.orders.stats
    placed = st["placed"]
    mids = mid_x2 / 2 * t._tick if mid_x2 else 0.0
    markouts = {}
    for (s, n), h in zip(t._markout_sums, ("1s", "5s", "30s", "60s"), strict=True):
        markouts[h] = {"fills": n, "avg_bps": round(s / n, 4) if n else None}
    abs_pos = np.array(t._abs_positions, dtype=float) * t._lot
    return {
        "instrument": t.inst,
        "start": t.first_ts,
        "end": t.last_ts,
        "kind": spec.kind,
        "pnl_currency": spec.pnl_currency,
        "quote_currency": spec.quote_currency,
        "net_pnl": float(net_exact) if spec.is_inverse else float(net),
        "net_pnl_exact": str(net_exact) if spec.is_inverse else str(net),
        **({"net_pnl_decimal": str(net)} if spec.is_inverse else {}),
        "fees": float(inv.fees) if spec.is_inverse else float(fees),
        "fees_exact": str(inv.fees) if spec.is_inverse else str(fees),
        "rebates_earned": float(-fees) if fees < 0 else 0.0,
        "realized_pnl": float(inv.to_quote(inv.realized)),
        "unrealized_pnl": float(inv.to_quote(inv.unrealized(mid_x2))) if mid_x2 else 0.0,
        # capital is in USD: an inverse contract's coin PnL counts at the last mid
        "return_pct": float(net) * (mids if spec.is_inverse else 1.0) / capital * 100,
        "pnl_to_usd": mids if spec.is_inverse else 1.0,  # USD per unit of PnL (last mid)
        "sharpe_annualized": sharpe,
        "max_drawdown": t._max_dd,
        "fills": inv.fills,
        "maker_fills": inv.maker_fills,
        "maker_share": inv.maker_fills / inv.fills if inv.fills else None,
        "maker_share_qty": inv.maker_qty / (inv.maker_qty + inv.taker_qty) if inv.fills else None,
        "volume": float(inv.volume_usd()),
        "orders_placed": placed,
        "orders_filled": len(t._orders_filled),
        "fill_rate": len(t._orders_filled) / placed if placed else None,
        "amends": st["amended"],
        "cancels": st["canceled"],
        "cancel_ratio": st["canceled"] / placed if placed else None,
        "rejects": st["rejected"],
        "pretrade_rejects": st["pretrade_rejected"],
        "throttled": st["throttled"],
        "final_position": float(spec.lots_to_size(inv.position)),
        "avg_abs_inventory": float(abs_pos.mean()) if len(abs_pos) else 0.0,
        "max_abs_inventory": t._max_abs_pos * t._lot,
        "avg_abs_inventory_usd": _avg_abs_inventory_usd(t, abs_pos, mids),
        "markouts": markouts,
        "risk_state": t.risk.state.name,
        "book": t.sync.stats.to_dict(),
        "events": t.events,
        "messages": t.messages,
        "wall_time_s": round(t._wall, 3),
        "events_per_s": round(t.events / t._wall) if t._wall > 0 else None,
    }


def _avg_abs_inventory_usd(t: Any, abs_pos: np.ndarray, mid: float) -> float:
    """Mean |position| in USD: size x the last mid, or contracts x contract size."""
    if not len(abs_pos):
        return 0.0
    if t.spec.is_inverse:
        return float(abs_pos.mean()) * float(t.spec.contract_size)
    return float(abs_pos.mean()) * mid
