"""The compiled trader's Python edge: the reference Trader's interface over ``engine.loop``.

Batches in, ``TraderOutput`` out, exactly as :class:`operators.trader.Trader` produces it
(row tuples in the run tables' column order, log dicts, the summary, order actions for a
live gateway). What cannot live in the kernel lives here: strings (client ids
``{prefix}{run}-{n}``, venue reasons and execution ids, rendered log lines), the file
system (the kill file), Decimal maths at the venue boundary, and the summary, computed
from the rows the kernel emitted and its exact integer state.
"""

from __future__ import annotations

import math
import os
import time
from fractions import Fraction
from typing import Any

import numpy as np

from connectors.sim import kernel as simk
from connectors.sim.config import SimConfig
from core.errors import MMError
from core.events import Fill, OrderStatus, OrderUpdate, ResyncRequest
from core.instruments import InstrumentSpec
from core.kernel_records import RESPONSE_DTYPE, empty_actions, empty_rejections, empty_responses
from core.l2book_kernel import CompiledBook, KBook, grow_book
from core.nb import ERR_CAPACITY, ERR_OVERFLOW
from core.orders import ActionType, OrderAction
from core.params import StrategyParams
from core.reasons import R, StringTable, format_reason, record_reason
from core.timeutil import NS_PER_S
from engine import loop
from engine.markouts import grow_markouts, mk_headroom_ok, new_markouts
from engine.rows import (
    LOG_BOOK_STALE,
    LOG_FILL,
    LOG_KILL_SWITCH,
    LOG_LAGGING,
    LOG_QUOTES,
    LOG_RESYNC,
    LOG_RISK_STATE,
    fill_tuples,
    order_tuples,
)
from operators.book.kernel import grow_sync, new_sync, sync_reason_text, sync_stats
from operators.book.resync import resync_delay
from operators.features import kernel as fk
from operators.inventory import kernel as ik
from operators.inventory.inverse import InverseInventory
from operators.orders import kernel as omk
from operators.quoting import kernel as qk
from operators.risk import kernel as rk
from operators.risk.manager import RiskState
from operators.trader import Trader, TraderOutput, run_summary

OUT_CAPACITY = 1 << 15


class CompiledTrader:
    """Drop-in for :class:`operators.trader.Trader`, running the compiled loop.

    ``venue``: a ``SimVenue`` (or a ``SimConfig``) binds the compiled simulated venue with
    that configuration inside (backtests, paper trading); None trades through a gateway
    (actions come out in ``TraderOutput.actions``).
    """

    def __init__(
        self,
        spec: InstrumentSpec,
        params: StrategyParams,
        venue: Any = None,
        run_tag: str = "bt",
        log_quotes: bool = False,
        wait_for_own_stream: bool = False,
    ) -> None:
        self.spec = spec
        self.inst = spec.id
        self.params = params
        self.log_quotes = log_quotes
        self.run_tag = run_tag
        self.prefix = f"{params.orders.client_id_prefix}{run_tag}-"
        self.strings = StringTable()
        self._tick = float(spec.tick_size)
        self._lot = float(spec.lot_size)
        if venue is not None and not isinstance(venue, SimConfig):
            venue = getattr(venue, "config", None) or SimConfig.from_params(params)
        self.sim_config: SimConfig | None = venue
        self.T = _new_state(spec, params, venue, log_quotes, wait_for_own_stream)
        # inverse: the exact coin PnL, replayed from the fills the kernel booked
        self._ledger = InverseInventory(spec) if spec.is_inverse else None
        self.status_interval_ns = 10 * NS_PER_S
        self._next_status = 0
        self._pnl_totals: list[float] = []
        self._abs_positions: list[float] = []
        self._markout_sums = [[0.0, 0] for _ in range(4)]
        self._orders_filled: set[str] = set()
        self._wall = 0.0

    # -- the reference's attributes -----------------------------------------------------
    @property
    def book(self) -> CompiledBook:
        b = CompiledBook()
        b.st = self.T.book
        return b

    @property
    def venue(self) -> _SimView | None:
        """The bound simulated venue's reference interface (read side), or None."""
        if self.sim_config is None:
            return None
        v = _SimView.__new__(_SimView)
        v.spec, v.config, v.inst, v._trader = self.spec, self.sim_config, self.inst, self
        return v

    @property
    def sync(self) -> SyncView:
        return SyncView(self)

    @property
    def risk(self) -> rk.CompiledRiskManager:
        """The risk manager's reference interface over this trader's state (a view)."""
        v = rk.CompiledRiskManager.__new__(rk.CompiledRiskManager)
        v.p, v.rk, v.strings, v._dec = self.params.risk, self.T.risk, self.strings, None
        return v

    @property
    def inventory(self) -> ik.CompiledInventory:
        v = ik.CompiledInventory(self.spec, self._ledger)
        v.st = self.T.inv
        return v

    @property
    def orders(self) -> omk.CompiledOrderManager:
        v = omk.CompiledOrderManager.__new__(omk.CompiledOrderManager)
        v.inst, v.spec, v.p, v.q = self.inst, self.spec, self.params.orders, self.params.quote
        v.prefix, v.om, v.strings = self.prefix, self.T.om, self.strings
        return v

    @property
    def events(self) -> int:
        return int(self.T.tr[0]["events"])

    @property
    def messages(self) -> int:
        return int(self.T.tr[0]["messages"])

    @property
    def first_ts(self) -> int:
        return int(self.T.tr[0]["first_ts"])

    @property
    def last_ts(self) -> int:
        return int(self.T.tr[0]["last_ts"])

    @property
    def _last_mid_x2(self) -> int:
        return int(self.T.tr[0]["last_mid_x2"])

    @property
    def clock_offset_ns(self) -> int:
        """Local clock minus the venue's (live: measured at start-up), for the lag guard."""
        return int(self.T.tr[0]["clock_offset_ns"])

    @clock_offset_ns.setter
    def clock_offset_ns(self, value: int) -> None:
        self.T.tr[0]["clock_offset_ns"] = int(value)

    def book_usable(self) -> bool:
        return self.sync.usable and not bool(self.T.tr[0]["lagging"])

    def book_reason(self) -> str:
        if not self.sync.usable:
            return self.sync.reason
        if self.T.tr[0]["lagging"]:
            return format_reason(R.TRADER_LAGGING, f0=int(self.T.tr[0]["lag_ns"]) / 1e9)
        return ""

    @property
    def _max_dd(self) -> float:
        return float(self.T.tr[0]["max_dd"])

    @property
    def _max_abs_pos(self) -> int:
        return int(self.T.tr[0]["max_abs_pos"])

    # -- market data --------------------------------------------------------------------
    def on_market(self, events: np.ndarray) -> TraderOutput:
        out = TraderOutput()
        t0 = time.perf_counter()
        start = 0
        n = len(events)
        last, last_outcome = -1, -1
        while True:
            outcome, start = loop.on_market(self.T, events, start)
            self._check()
            self._drain(out)
            if outcome == loop.DONE:
                break
            if outcome == loop.GROW_BOOK:
                tr = self.T.tr[0]
                self.T = self.T._replace(
                    book=grow_book(self.T.book, int(tr["need_lo"]), int(tr["need_hi"]))
                )
            elif outcome == loop.GROW:
                self._grow()
            if start >= n:
                break
            if start == last and outcome == last_outcome:
                raise MMError(f"compiled trader {self.inst}: no progress at row {start} ({outcome})",
                              "report it; --engine python runs meanwhile")  # fmt: skip
            last, last_outcome = start, outcome
        self._wall += time.perf_counter() - t0
        return out

    def _grow(self) -> None:
        T = self.T
        tr = T.tr[0]
        if int(tr["need_rows"]):
            T = T._replace(sync=grow_sync(T.sync, int(tr["need_rows"])))
            tr["need_rows"] = 0
        if not mk_headroom_ok(T.mk):
            T = T._replace(mk=grow_markouts(T.mk))
        if not omk.om_headroom_ok(T.om):
            T = T._replace(om=omk.grow_order_manager(T.om))
        if not ik.inv_headroom_ok(T.inv):
            T = T._replace(inv=ik.grow_inventory(T.inv))
        if not fk.tox_headroom_ok(T.tox):
            T = T._replace(tox=fk.grow_tox(T.tox))
        if T.tr[0]["need_sim"] or (T.tr[0]["has_venue"] and not simk.sim_headroom_ok(T.sim)):
            T.tr[0]["need_sim"] = False
            T = T._replace(sim=simk.grow_sim(T.sim))
        self.T = T

    def _check(self) -> None:
        for name in ("imb", "vol", "reg", "sig", "tox"):
            exc = fk.take_error(getattr(self.T, name).rec)
            if exc is not None:
                raise exc
        for name in ("tr", "sync", "sim", "om", "inv", "risk", "eng", "mk"):
            part = getattr(self.T, name)
            rec = part if name == "tr" else part.rec
            err = int(rec[0]["err"])
            if err:
                what = (
                    "an exact integer left int64"
                    if err == ERR_OVERFLOW
                    else ("a preallocated array is full" if err == ERR_CAPACITY else f"error {err}")
                )
                raise MMError(
                    f"compiled trader {self.inst}: {name}: {what}",
                    "report it; the reference engine (--engine python) runs meanwhile",
                )

    # -- own orders (live) --------------------------------------------------------------
    def on_own(self, items: list[OrderUpdate | Fill], now: int) -> TraderOutput:
        out = TraderOutput()
        resp = empty_responses(max(len(items), 1))
        for i, r in enumerate(items):
            self._to_response(r, resp, i)
        loop.on_own(self.T, resp, len(items), now)
        self._check()
        self._drain(out)
        return out

    def _cid(self, client_id: str) -> int:
        if client_id.startswith(self.prefix):
            tail = client_id[len(self.prefix) :]
            if tail.isdigit():
                return int(tail)
        return -2  # not one of ours: the order manager does not know it

    def _cid_text(self, cid: int) -> str:
        return f"{self.prefix}{cid}" if cid >= 0 else ""

    def _to_response(self, r: OrderUpdate | Fill, resp: np.ndarray, i: int) -> None:
        x = resp[i]
        x["cid"] = self._cid(r.client_id)
        x["side"] = r.side
        x["price"] = r.price
        x["qty"] = r.qty
        x["exch_ts"] = r.exch_ts
        x["recv_ts"] = r.recv_ts
        x["exec_no"] = -1
        x["venue_no"] = -1
        x["r_tok"] = -1
        if isinstance(r, Fill):
            x["is_fill"] = True
            x["fee"] = r.fee
            x["is_maker"] = r.is_maker
            x["r_tok"] = self.strings.tok(r.exec_id) if r.exec_id else -1
            return
        x["status"] = int(r.status)
        x["filled"] = r.filled
        if r.reason:
            x["r_code"] = int(R.EXTERNAL)
            x["r_tok"] = self.strings.tok(r.reason)
        x["says_post_only"], x["says_not_found"] = omk.reason_says(r.reason)

    # -- live inputs --------------------------------------------------------------------
    # the reference's dispatch of live inputs and its DCP log line serve as they are
    on_item = Trader.on_item
    on_DcpStatus = Trader.on_DcpStatus

    @property
    def _stopped(self) -> bool:
        return bool(self.T.tr[0]["stopped"])

    def on_timer(self, now: int) -> TraderOutput:
        out = TraderOutput()
        kill_file = self.params.risk.kill_file
        kill = bool(kill_file) and not self.T.risk.rec[0]["killed"] and os.path.exists(kill_file)
        tok = self.strings.tok(kill_file) if kill else -1
        loop.on_timer(self.T, now, kill, tok)
        self._check()
        self._drain(out)
        if now >= self._next_status:
            self._next_status = now + self.status_interval_ns
            out.logs.append(self.status(now))
        return out

    def swap_params(self, params: StrategyParams) -> None:
        """Hot reload between messages (the reference's ``swap_params``). The kernels' records
        mix parameters and state, so the parameter fields are found by building fresh state
        under the old and the new parameters: a field differing between the two derives from
        a changed key and takes its new value; every other field (state) stays."""
        sim = self.sim_config
        old = _new_state(self.spec, self.params, sim, False, False)
        new = _new_state(self.spec, params, sim, False, False)
        T = self.T
        tokens = float(T.om.bucket[0]["tokens"])
        for live, a, b in ((T.tr, old.tr, new.tr), (T.eng.rec, old.eng.rec, new.eng.rec),
                           (T.om.rec, old.om.rec, new.om.rec), (T.risk.rec, old.risk.rec, new.risk.rec),
                           (T.om.bucket, old.om.bucket, new.om.bucket)):  # fmt: skip
            _copy_changed(live, a, b)
        T.om.bucket[0]["tokens"] = min(tokens, float(T.om.bucket[0]["burst"]))  # no refill
        T.tr[0]["dirty"] = True
        self.params = params

    def status(self, now: int) -> dict[str, Any]:
        inv = self.inventory
        mid_x2 = self._last_mid_x2
        sync = self.sync
        book = self.book
        spread = book.spread() if sync.usable else None
        usable = self.book_usable()
        pnl = 0.0
        if mid_x2:
            pnl = inv.total_float(mid_x2)
            pnl = pnl if self.spec.is_inverse else pnl * self._tick * self._lot
        return {
            "event": "status",
            "inst": self.inst,
            "mid": str(self.spec.tick_size * mid_x2 / 2) if mid_x2 else None,
            "spread_ticks": spread,
            "position": str(self.spec.lots_to_size(inv.position)),
            "pnl": round(pnl, 6),
            "risk": self.risk.state.name,
            "book": "ok" if usable else self.book_reason(),
            "open_orders": self.orders.live_count(),
        }

    def seed_position(self, qty: int, entry_price: Any) -> None:
        if qty == 0:
            return
        entry_ticks = self.spec.round_price(entry_price, 1 if qty > 0 else -1)
        loop.own_fill_booked(self.T, 1 if qty > 0 else -1, entry_ticks, abs(qty), 0, False)
        if self._ledger is not None:
            self._ledger.on_fill(1 if qty > 0 else -1, entry_ticks, abs(qty), 0, False)

    def on_PositionUpdate(self, p: Any) -> TraderOutput:
        out = TraderOutput()
        diff = p.qty - self.inventory.position
        if diff:
            mark = self.spec.round_price(p.mark_price, 1 if diff > 0 else -1)
            out.logs.append(
                {
                    "event": "position_reconciled",
                    "inst": self.inst,
                    "venue_qty": p.qty,
                    "booked_lots": diff,
                    "at": str(p.mark_price),
                }
            )
            loop.own_fill_booked(self.T, 1 if diff > 0 else -1, mark, abs(diff), p.recv_ts, True)
            if self._ledger is not None:
                self._ledger.on_fill(1 if diff > 0 else -1, mark, abs(diff), 0, False)
            self._check()
            self._drain(out)
        return out

    def on_PrivateReset(self, r: Any) -> TraderOutput:
        out = TraderOutput()
        out.logs.append({"event": "private_reset", "inst": self.inst, "reason": r.reason})
        acts = empty_actions(1)
        n = omk.om_reset_all(self.T.om, r.recv_ts, int(R.TRADER_RECONCILE), 0, 0, 0, 0.0, 0.0,
                             0.0, -1, acts)  # fmt: skip
        out.actions.extend(self._action(a) for a in acts[:n])
        tr = self.T.tr[0]
        tr["quoting"] = False
        tr["own_ready"] = True
        tr["dirty"] = True
        return out

    def on_PrivateReady(self, r: Any) -> TraderOutput:
        out = TraderOutput()
        self.T.tr[0]["own_ready"] = True
        loop.decide(self.T, r.recv_ts)
        self._check()
        self._drain(out)
        return out

    def on_PrivateDown(self, r: Any) -> TraderOutput:
        out = TraderOutput()
        out.logs.append({"event": "private_down", "inst": self.inst, "reason": r.reason})
        loop.private_down(self.T, r.recv_ts, self.strings.tok(r.reason))
        self._check()
        self._drain(out)
        return out

    def on_Shutdown(self, s: Any) -> TraderOutput:
        out = TraderOutput()
        if self.sim_config is not None:  # room to cancel everything at the bound venue
            self.T = self.T._replace(sim=simk.grow_sim(self.T.sim))
        loop.shutdown(self.T, s.recv_ts)
        self._check()
        self._drain(out)
        out.summary = self.summary()
        return out

    # -- end of data --------------------------------------------------------------------
    def finish(self) -> TraderOutput:
        out = TraderOutput()
        if self.sim_config is not None and not simk.sim_advance_fits(self.T.sim, self.T.book):
            self.T = self.T._replace(sim=simk.grow_sim(self.T.sim))
        loop.finish(self.T)
        self._check()
        self._drain(out)
        out.summary = self.summary()
        return out

    def summary(self) -> dict[str, Any]:
        return run_summary(self)

    # -- outputs ------------------------------------------------------------------------
    def _drain(self, out: TraderOutput) -> None:
        T = self.T
        tr = T.tr[0]
        strings = self.strings.strings
        nq, no, nf, np_, nl, na = (int(tr[k]) for k in
                                   ("n_quotes", "n_orders", "n_fills", "n_pnl", "n_logs", "n_actions"))  # fmt: skip
        quotes = T.quotes[:nq].tolist() if nq else []
        if quotes:
            out.quotes.extend(quotes)
        if no:
            out.orders.extend(order_tuples(T.orders[:no], self._cid_text, strings))
        if nf:
            rows = fill_tuples(T.fills[:nf], self._cid_text, strings)
            for row in rows:
                self._account_fill(row)
            out.fills.extend(rows)
        if np_:
            pnl = T.pnl[:np_].tolist()
            for row in pnl:
                self._pnl_totals.append(row[9])
                self._abs_positions.append(abs(row[2]))
            out.pnl.extend(pnl)
        for lg in T.logs[:nl]:
            line = self._log_dict(lg, quotes)
            out.logs.append(line)
            if int(lg["kind"]) == LOG_RESYNC:  # the request goes to the source with its line
                out.resync.append(
                    ResyncRequest(self.inst, line["reason"], line["attempt"], int(lg["i1"]))
                )
        if na:
            out.actions.extend(self._action(a) for a in T.actions[:na])
        for k in ("n_quotes", "n_orders", "n_fills", "n_pnl", "n_logs", "n_actions"):
            tr[k] = 0

    def _account_fill(self, row: tuple) -> None:
        """The reference's ``_emit_fill_row``: markout sums for the summary."""
        price, side = row[7], row[5]
        self._orders_filled.add(row[3])
        if self._ledger is not None:  # side, price, qty, fee units, maker
            self._ledger.on_fill(side, price, row[8], row[13], row[14])
        for i, mid_h in enumerate(row[17:21]):
            if not math.isnan(mid_h):
                px = price * self._tick
                self._markout_sums[i][0] += side * (mid_h - px) / px * 1e4
                self._markout_sums[i][1] += 1

    def _action(self, a: np.void) -> OrderAction:
        return OrderAction(
            ActionType(int(a["type"])),
            self.inst,
            self._cid_text(int(a["cid"])),
            int(a["side"]),
            int(a["price"]),
            int(a["qty"]),
            bool(a["post_only"]),
            bool(a["reduce_only"]),
            record_reason(a, "r_", self.strings.strings),
        )

    def _log_dict(self, lg: np.void, quotes: list[tuple]) -> dict[str, Any]:
        kind = int(lg["kind"])
        strings = self.strings.strings
        if kind == LOG_RISK_STATE:
            return {
                "event": "risk_state",
                "inst": self.inst,
                "from": RiskState(int(lg["i0"])).name,
                "to": RiskState(int(lg["i1"])).name,
                "reason": record_reason(lg, "r_", strings),
            }
        if kind == LOG_FILL:
            spec = self.spec
            return {
                "event": "fill",
                "inst": self.inst,
                "side": "buy" if int(lg["i0"]) > 0 else "sell",
                "price": str(spec.ticks_to_price(int(lg["i1"]))),
                "qty": str(spec.lots_to_size(int(lg["i2"]))),
                "maker": bool(lg["b0"]),
                "position": str(spec.lots_to_size(int(lg["i3"]))),
            }
        if kind == LOG_QUOTES:
            seq = int(lg["i0"])
            rows = [q for q in quotes if q[1] == seq and q[3] >= 0]
            spec = self.spec

            def ladder(side: int) -> str:
                return ",".join(
                    f"{spec.ticks_to_price(q[4])}x{spec.lots_to_size(q[5])}"
                    for q in rows
                    if q[2] == side
                )

            return {
                "event": "quotes",
                "inst": self.inst,
                "bids": ladder(1),
                "asks": ladder(-1),
                "risk": RiskState(int(lg["i1"])).name,
            }
        if kind == LOG_LAGGING:
            return {
                "event": "book_lagging" if lg["b0"] else "book_lag_ok",
                "inst": self.inst,
                "lag_ms": round(int(lg["i0"]) / 1e6, 1),
                "max_ms": int(self.T.tr[0]["max_lag_ns"]) / 1e6,
            }
        if kind == LOG_RESYNC:
            attempt = int(lg["i0"])
            return {
                "event": "resync_request",
                "inst": self.inst,
                "reason": record_reason(lg, "r_", strings),
                "attempt": attempt,
                "next_in_s": resync_delay(
                    int(self.T.tr[0]["rs_after"]), int(self.T.tr[0]["rs_max"]), attempt
                )
                / 1e9,
            }
        if kind == LOG_BOOK_STALE:
            return {"event": "book_stale", "inst": self.inst,
                    "reason": record_reason(lg, "r_", strings)}  # fmt: skip
        if kind == LOG_KILL_SWITCH:
            return {"event": "kill_switch", "inst": self.inst,
                    "reason": record_reason(lg, "r_", strings)}  # fmt: skip
        raise ValueError(f"unknown log kind {kind}")


class _SimView(simk.CompiledSimVenue):
    """A live view of the trader's simulated venue: client ids are the trader's own."""

    _trader: CompiledTrader

    @property  # type: ignore[override]
    def st(self) -> Any:
        return self._trader.T.sim

    def _name(self, cid: int) -> str:
        return self._trader._cid_text(cid)


class SyncView:
    """The reference BookSync's read side over the compiled trader's sync state."""

    def __init__(self, t: CompiledTrader) -> None:
        self._t = t

    @property
    def usable(self) -> bool:
        r = self._t.T.sync.rec[0]
        return bool(r["state"] == 1 and not r["crossed"])

    @property
    def reason(self) -> str:
        return sync_reason_text(self._t.T.sync, self._t.strings.strings)

    @property
    def stats(self) -> Any:
        return sync_stats(self._t.T.sync)

    @property
    def book(self) -> CompiledBook:
        return self._t.book


def _copy_changed(live: np.ndarray, old: np.ndarray, new: np.ndarray) -> None:
    """``live[f] = new[f]`` for each field where the fresh records ``old`` and ``new`` differ."""
    for name in live.dtype.names or ():
        if old[0][name] != new[0][name]:
            live[0][name] = new[0][name]


def _new_state(
    spec: InstrumentSpec,
    params: StrategyParams,
    sim: SimConfig | None,
    log_quotes: bool,
    wait_for_own_stream: bool,
) -> loop.KTrader:
    f = params.features
    tr = np.zeros(1, loop.TR_REC)
    r = tr[0]
    r["tick"] = float(spec.tick_size)
    r["lot"] = float(spec.lot_size)
    r["inverse"] = spec.is_inverse
    r["lot_usd"] = float(spec.lot_size * spec.contract_size)
    r["pnl_interval"] = params.pnl_sample_ms * 1_000_000
    r["has_venue"] = sim is not None
    r["log_quotes"] = log_quotes
    r["own_ready"] = not wait_for_own_stream
    r["last_state"] = int(RiskState.SAFE)
    r["use_regimes"] = params.quote.use_regimes
    r["max_order_age"] = params.quote.max_order_age_s > 0
    r["stale_ns"] = int(params.risk.stale_book_ms * 1_000_000)
    r["same_depth"] = f.imbalance_levels == 5  # the toxicity detector's depth
    risk = params.risk
    r["max_lag_ns"] = int(risk.max_exch_lag_ms * 1_000_000)
    r["rs_after"] = int(risk.resync_after_ms * 1_000_000)
    r["rs_max"] = int(risk.resync_backoff_max_ms * 1_000_000)
    r["rs_since"] = -1
    if sim is not None:
        s = params.sim
        r["flush_ns"] = int((s.order_latency_ms + s.response_latency_ms) * 1_000_000)
    outs = loop.new_outputs(OUT_CAPACITY)
    return loop.KTrader(
        tr,
        np.zeros((2 * loop.MAX_LEVELS, 4), np.int64),
        KBook(*CompiledBook().st),
        new_sync(spec.venue),
        simk.new_sim(spec, sim if sim is not None else SimConfig.from_params(params)),
        fk.new_imbalance(f.imbalance_levels, f.imbalance_half_life_ms),
        fk.new_volatility(f.vol_sample_ms, f.vol_half_life_samples, f.vol_warmup_samples),
        fk.new_regime(f.regime_window, f.regime_min_samples),
        fk.DEFAULT_REGIME_TABLE,
        fk.new_signal(f.signal_sample_ms, f.signal_slope_threshold_bps),
        fk.new_toxicity(
            drift_bps=f.toxicity_drift_bps,
            imbalance_threshold=f.toxicity_imbalance,
            aggressor_threshold=f.toxicity_aggressor_share,
            aggressor_window=f.toxicity_aggressor_window,
        ),
        qk.new_quote_engine(spec, params),
        omk.new_order_manager(spec, params.orders, params.quote),
        rk.new_risk(params.risk),
        ik.new_inventory_for(spec),
        new_markouts(),
        *outs,
        empty_responses(loop.SCRATCH),
        empty_actions(loop.SCRATCH),
        empty_rejections(loop.SCRATCH),
        np.zeros(2 * loop.MAX_LEVELS, qk.QLEVEL_DTYPE),
        np.zeros(1, qk.QSET_DTYPE),
        rk.empty_decision(),
        np.zeros(1, dtype=loop.FILL_ROW),
    )


_ = (Fraction, OrderStatus, RESPONSE_DTYPE)
