"""The trader's per-message loop as one compiled kernel (see :mod:`operators.trader`).

Per venue message, in the reference's order:
  1. venue responses that arrived before the message are handled at their own times;
  2. the bound venue sees the message (at venue time) and fills resting orders;
  3. the book and features update; responses visible now are applied;
  4. risk is evaluated on the result and quotes are recomputed; actions go out.

State lives in the ``KTrader`` namedtuple of component states (each kernel's own
namedtuple) plus this module's ``tr`` record and the output buffers. A call processes
messages until the batch ends or an output buffer or a growable array needs room, and
returns where it stopped; the Python edge (``engine.trader``) drains or grows and calls
again, so nothing ever grows in the middle of a message.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from connectors.sim import kernel as simk
from core.events import LAST
from core.kernel_records import ACTION_DTYPE, clear_reason, copy_reason
from core.l2book_kernel import best_ask, best_bid, book_fits, mid_x2
from core.nb import INT64_MAX, NO_PRICE, py_max
from core.reasons import R
from engine.markouts import mk_add, mk_flush, mk_headroom_ok, mk_on_mid
from engine.rows import (
    EV_REJECTED_PRETRADE,
    FILL_ROW,
    LOG_BOOK_STALE,
    LOG_FILL,
    LOG_KILL_SWITCH,
    LOG_LAGGING,
    LOG_QUOTES,
    LOG_RESYNC,
    LOG_RISK_STATE,
    LOG_ROW,
    ORDER_ROW,
    PNL_ROW,
    QUOTE_ROW,
)
from operators.book.kernel import sync_force_out, sync_headroom_ok, sync_on_message, sync_usable
from operators.features import kernel as fk
from operators.inventory import kernel as ik
from operators.orders import kernel as omk
from operators.quoting import kernel as qk
from operators.risk import kernel as rk

# call outcomes
DONE = 0  # the whole batch is processed
FULL = 1  # an output buffer needs draining; resume at the returned row
GROW_BOOK = 2  # a price of the next message is outside the book window
GROW = 3  # another growable array (sync buffer, markouts, sim, ...) needs room

RISK_KILL_FILE = int(R.RISK_KILL_FILE)
SYNC_CROSSED = int(R.SYNC_CROSSED)
SYNC_RESET = int(R.SYNC_RESET)
TRADER_LAGGING = int(R.TRADER_LAGGING)
TRADER_SHUTDOWN = int(R.TRADER_SHUTDOWN)
SYNC_STALE = int(R.SYNC_STALE)
TRADER_BOOK_UNUSABLE = int(R.TRADER_BOOK_UNUSABLE)
TRADER_PRIVATE_DOWN = int(R.TRADER_PRIVATE_DOWN)

OUT_HEADROOM = 4096  # rows one message can produce, at most (checked between messages)
MAX_LEVELS = 64  # quote levels per side held in the last-quote key

TR_REC = np.dtype(
    [
        ("tick", np.float64),
        ("lot", np.float64),
        ("inverse", np.bool_),  # money in the coin (operators.inventory.inverse)
        ("lot_usd", np.float64),  # inverse: USD value of one lot (lot x contract size)
        ("pnl_interval", np.int64),
        ("next_pnl", np.int64),
        ("has_venue", np.bool_),
        ("log_quotes", np.bool_),
        ("own_ready", np.bool_),
        ("stopped", np.bool_),
        ("quoting", np.bool_),
        ("dirty", np.bool_),
        ("last_mid_x2", np.int64),
        ("last_book_ts", np.int64),
        ("last_state", np.int64),
        ("use_regimes", np.bool_),
        ("max_order_age", np.bool_),  # max_order_age_s > 0: decide on every timer
        ("stale_ns", np.int64),
        ("seq_quotes", np.int64),
        ("seq_orders", np.int64),
        ("seq_fills", np.int64),
        ("seq_pnl", np.int64),
        ("events", np.int64),
        ("messages", np.int64),
        ("first_ts", np.int64),
        ("last_ts", np.int64),
        ("peak", np.float64),
        ("max_dd", np.float64),
        ("max_abs_pos", np.int64),
        ("has_key", np.bool_),  # a quote set was recorded (the reference's key is not None)
        ("key_n", np.int64),
        ("same_depth", np.bool_),  # imbalance and toxicity read the same depth
        # book liveness (operators.trader: lag guard, operators.book.resync: requests)
        ("max_lag_ns", np.int64),
        ("clock_offset_ns", np.int64),
        ("lag_ns", np.int64),
        ("lagging", np.bool_),
        ("rs_after", np.int64),
        ("rs_max", np.int64),
        ("rs_since", np.int64),
        ("rs_next_at", np.int64),
        ("rs_attempts", np.int64),
        ("rs_requests", np.int64),
        ("flush_ns", np.int64),  # order + response latency of the bound venue
        # output counts of the current call
        ("n_quotes", np.int64),
        ("n_orders", np.int64),
        ("n_fills", np.int64),
        ("n_pnl", np.int64),
        ("n_logs", np.int64),
        ("n_actions", np.int64),
        # where a call stopped
        ("need_lo", np.int64),
        ("need_hi", np.int64),
        ("need_rows", np.int64),
        ("need_sim", np.bool_),  # the simulated venue needs room for the next message
        ("err", np.int64),
    ]
)

KTrader = namedtuple(
    "KTrader",
    [
        "tr",
        "key",  # last recorded quote set: (side, level, price, qty) rows
        "book",
        "sync",
        "sim",
        "imb",
        "vol",
        "reg",
        "regtab",
        "sig",
        "tox",
        "eng",
        "om",
        "risk",
        "inv",
        "mk",
        # outputs of one call
        "quotes",
        "orders",
        "fills",
        "pnl",
        "logs",
        "actions",
        # scratch
        "resp",
        "acts",
        "rejs",
        "levels",
        "qs",
        "dec",
        "one_fill",
    ],
)

SCRATCH = 1024


def new_outputs(capacity: int) -> tuple[np.ndarray, ...]:
    return (
        np.zeros(capacity, QUOTE_ROW),
        np.zeros(capacity, ORDER_ROW),
        np.zeros(capacity, FILL_ROW),
        np.zeros(capacity, PNL_ROW),
        np.zeros(capacity, LOG_ROW),
        np.zeros(capacity, ACTION_DTYPE),
    )


# ---- rows ---------------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _order_row(
    T: KTrader,
    now: int,
    cid: int,
    event: int,
    side: int,
    price: int,
    qty: int,
    filled: int,
    level: int,
):  # type: ignore[no-untyped-def]
    """Append an orders row (reason fields left for the caller to fill); returns it."""
    tr = T.tr[0]
    tr.seq_orders += 1
    row = T.orders[tr.n_orders]
    tr.n_orders += 1
    row.recv_ts = now
    row.seq = tr.seq_orders
    row.cid = cid
    row.event = event
    row.side = side
    row.price = price
    row.qty = qty
    row.filled = filled
    row.level = level
    clear_reason(row)
    return row


@njit(cache=True, _nrt=False)
def _log(T: KTrader, kind: int):  # type: ignore[no-untyped-def]
    tr = T.tr[0]
    row = T.logs[tr.n_logs]
    tr.n_logs += 1
    row.kind = kind
    row.i0 = 0
    row.i1 = 0
    row.i2 = 0
    row.i3 = 0
    row.b0 = False
    clear_reason(row)
    return row


@njit(cache=True, _nrt=False)
def _money_unit(T: KTrader) -> float:
    """Settlement currency per inventory float unit: tick x lot (linear), 1.0 (inverse:
    the inventory's floats are already in the coin)."""
    tr = T.tr[0]
    return 1.0 if tr.inverse else tr.tick * tr.lot


@njit(cache=True, _nrt=False)
def _pnl_row(T: KTrader, now: int) -> None:
    tr = T.tr[0]
    m2 = tr.last_mid_x2
    if not m2:
        return
    unit = _money_unit(T)
    total = ik.inv_total_float(T.inv, m2) * unit
    tr.peak = py_max(tr.peak, total)
    dd = tr.peak - total
    tr.max_dd = py_max(tr.max_dd, dd)
    tr.seq_pnl += 1
    mid = m2 / 2 * tr.tick
    inv = T.inv.rec[0]
    row = T.pnl[tr.n_pnl]
    tr.n_pnl += 1
    row.recv_ts = now
    row.seq = tr.seq_pnl
    row.position = inv.position
    row.position_f = inv.position * tr.lot
    row.mid = mid
    row.cash = ik.inv_cash_float(T.inv, unit)
    row.realized = ik.inv_realized_float(T.inv) * unit
    row.unrealized = ik.inv_unrealized_float(T.inv, m2) * unit
    row.fees = ik.inv_fees_float(T.inv, unit)
    row.total = total
    row.inventory_usd = inv.position * tr.lot_usd if tr.inverse else inv.position * tr.lot * mid
    row.drawdown = dd
    row.risk_state = T.risk.rec[0].state


@njit(cache=True, _nrt=False)
def _record_quotes(T: KTrader, now: int, nb: int, na: int, empty_mid: float, use_qs: bool) -> None:
    """Quote rows for the quote set in ``T.levels[:nb + na]`` / ``T.qs`` (or an empty set
    with ``mid = empty_mid`` and default context when ``use_qs`` is False), if changed."""
    tr = T.tr[0]
    n = nb + na
    if tr.has_key and tr.key_n == n:
        same = True
        for i in range(n):
            lv = T.levels[i]
            k = T.key[i]
            if k[0] != lv.side or k[1] != lv.level or k[2] != lv.price or k[3] != lv.qty:
                same = False
                break
        if same:
            return
    tr.has_key = True
    tr.key_n = n
    for i in range(n):
        lv = T.levels[i]
        T.key[i, 0] = lv.side
        T.key[i, 1] = lv.level
        T.key[i, 2] = lv.price
        T.key[i, 3] = lv.qty
    tr.seq_quotes += 1
    tick = tr.tick
    lot = tr.lot
    if use_qs:
        q = T.qs[0]
        mid = q.mid * tick
        res = q.reservation * tick
        half, vol, regime, signal, toxv = (q.half_spread_bps, q.vol_bps, q.regime, q.signal,
                                           q.toxicity)  # fmt: skip
    else:
        mid = empty_mid * tick
        res = 0.0 * tick
        half, vol, regime, signal, toxv = 0.0, 0.0, 1, 0, 0.0
    state = T.risk.rec[0].state
    if n == 0:
        row = T.quotes[tr.n_quotes]
        tr.n_quotes += 1
        row.recv_ts = now
        row.seq = tr.seq_quotes
        row.side = 0
        row.level = -1
        row.price = 0
        row.qty = 0
        row.price_f = np.nan
        row.qty_f = np.nan
        row.mid = mid
        row.reservation = res
        row.half_spread_bps = half
        row.vol_bps = vol
        row.regime = regime
        row.signal = signal
        row.toxicity = toxv
        row.risk_state = state
    for i in range(n):
        lv = T.levels[i]
        row = T.quotes[tr.n_quotes]
        tr.n_quotes += 1
        row.recv_ts = now
        row.seq = tr.seq_quotes
        row.side = lv.side
        row.level = lv.level
        row.price = lv.price
        row.qty = lv.qty
        row.price_f = lv.price * tick
        row.qty_f = lv.qty * lot
        row.mid = mid
        row.reservation = res
        row.half_spread_bps = half
        row.vol_bps = vol
        row.regime = regime
        row.signal = signal
        row.toxicity = toxv
        row.risk_state = state
    if tr.log_quotes:
        lg = _log(T, LOG_QUOTES)
        lg.i0 = tr.seq_quotes
        lg.i1 = state


# ---- actions --------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _send(T: KTrader, acts: np.ndarray, n: int, now: int) -> None:
    tr = T.tr[0]
    for i in range(n):
        a = acts[i]
        level = omk.om_level(T.om, a.cid)
        row = _order_row(T, now, a.cid, a.type, a.side, a.price, a.qty, 0, level)
        copy_reason(row, a)
        if tr.has_venue:
            simk.sim_send(T.sim, acts, i, now)
        else:
            T.actions[tr.n_actions] = a
            tr.n_actions += 1


# ---- own orders -----------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _on_fill(T: KTrader, fills: np.ndarray, j: int, now: int) -> None:
    tr = T.tr[0]
    f = fills[j]
    level = omk.om_level(T.om, f.cid)
    omk.om_on_fill(T.om, fills, j)
    ik.inv_on_fill(T.inv, f.side, f.price, f.qty, f.fee, f.is_maker)
    pos = T.inv.rec[0].position
    if abs(pos) > tr.max_abs_pos:
        tr.max_abs_pos = abs(pos)
    mid = tr.last_mid_x2 / 2 * tr.tick if tr.last_mid_x2 else np.nan
    fk.tox_on_fill(T.tox, f.side, float(f.price), now)
    tr.seq_fills += 1
    unit = tr.tick * tr.lot
    row = T.one_fill[0]
    row.recv_ts = now
    row.exch_ts = f.exch_ts
    row.seq = tr.seq_fills
    row.cid = f.cid
    row.exec_no = f.exec_no
    row.exec_tok = f.r_tok
    row.side = f.side
    row.level = level
    row.price = f.price
    row.qty = f.qty
    row.price_f = f.price * tr.tick
    row.qty_f = f.qty * tr.lot
    if tr.inverse:  # USD notional of the contracts; the fee in the coin at the fill price
        row.notional = f.qty * tr.lot_usd
        row.fee = float(f.fee) * T.inv.rec[0].k / float(f.price) / 1e8
    else:
        row.notional = f.price * f.qty * unit
        row.fee = f.fee * unit / 1e8
    row.fee_units = f.fee
    row.is_maker = f.is_maker
    row.position_after = pos
    row.mid_at_fill = mid
    mk_add(T.mk, T.one_fill, 0, now)
    if tr.log_quotes:
        lg = _log(T, LOG_FILL)
        lg.i0 = f.side
        lg.i1 = f.price
        lg.i2 = f.qty
        lg.i3 = pos
        lg.b0 = f.is_maker
    _pnl_row(T, now)


@njit(cache=True, _nrt=False)
def _on_own(T: KTrader, resp: np.ndarray, j: int, now: int) -> None:
    tr = T.tr[0]
    tr.dirty = True
    r = resp[j]
    if r.is_fill:
        _on_fill(T, resp, j, now)
        return
    level = omk.om_level(T.om, r.cid)
    what = omk.om_on_update(T.om, resp, j)
    if what == omk.UNKNOWN:
        return
    if r.status == 5:  # REJECTED
        if not r.says_post_only:
            rk.risk_on_error(T.risk)
    elif r.status == 1:  # NEW
        rk.risk_on_success(T.risk)
    row = _order_row(T, now, r.cid, 10 + r.status, r.side, r.price, r.qty, r.filled, level)
    copy_reason(row, r)


# ---- features -------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _update_features(T: KTrader, now: int) -> None:
    tr = T.tr[0]
    m2 = mid_x2(T.book)
    if m2 == NO_PRICE:
        return
    tr.last_mid_x2 = m2
    mid = m2 / 2
    fk.imb_update(T.imb, T.book, now)
    if fk.vol_update(T.vol, mid, now) and T.vol.rec[0].warm:
        v = T.vol.rec[0].vol_bps
        fk.regime_update(T.reg, v)
        rk.risk_on_vol(T.risk, v, True)
    fk.signal_update(T.sig, mid, now)
    fk.tox_on_book(T.tox, T.book, now, T.imb.rec[0].raw, tr.same_depth)
    fk.tox_on_mid(T.tox, mid, now)
    tr.n_fills = mk_on_mid(T.mk, mid * tr.tick, now, T.fills, tr.n_fills)


# ---- book liveness ----------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _book_usable(T: KTrader) -> bool:
    """In sync, not crossed, not lagging (the reference's ``book_usable``)."""
    return sync_usable(T.sync) and not T.tr[0].lagging


@njit(cache=True, _nrt=False)
def _book_reason(T: KTrader) -> tuple[int, int, int, float, int]:
    """(code, i0, i1, f0, tok) of the reference's ``book_reason`` (NONE when usable)."""
    s = T.sync.rec[0]
    if not sync_usable(T.sync):
        if s.state == 1:
            return SYNC_CROSSED, 0, 0, 0.0, -1
        return int(s.lr_code), s.lr_i0, s.lr_i1, s.lr_f0, s.lr_tok
    if T.tr[0].lagging:
        return TRADER_LAGGING, 0, 0, T.tr[0].lag_ns / 1e9, -1
    return 0, 0, 0, 0.0, -1


@njit(cache=True, _nrt=False)
def _check_lag(T: KTrader, raw_lag: int) -> None:
    tr = T.tr[0]
    lag = raw_lag - tr.clock_offset_ns
    tr.lag_ns = lag
    lagging = lag > tr.max_lag_ns
    if lagging != tr.lagging:
        tr.lagging = lagging
        lg = _log(T, LOG_LAGGING)
        lg.b0 = lagging
        lg.i0 = lag


@njit(cache=True, _nrt=False)
def _resync_check(T: KTrader, now: int, usable: bool) -> int:
    """operators.book.resync.ResyncScheduler.check: the request's attempt number, or 0."""
    tr = T.tr[0]
    if usable:
        tr.rs_since = -1
        tr.rs_attempts = 0
        return 0
    if tr.rs_since < 0:
        tr.rs_since = now
        tr.rs_next_at = now + tr.rs_after
    if now < tr.rs_next_at:
        return 0
    tr.rs_attempts += 1
    tr.rs_requests += 1
    a = tr.rs_attempts
    delay = tr.rs_max if a >= 62 else min(tr.rs_after << a, tr.rs_max)
    tr.rs_next_at = now + delay
    return a


# ---- decision -------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _decide(T: KTrader, now: int) -> None:
    tr = T.tr[0]
    tr.dirty = False
    if tr.stopped or not tr.own_ready:
        return
    if not _book_usable(T) or not tr.last_mid_x2:
        code, i0, i1, f0, tok = _book_reason(T)
        n = omk.om_cancel_all(T.om, now, TRADER_BOOK_UNUSABLE, code, i0, i1, f0, 0.0, 0.0,
                              tok, True, T.acts)  # fmt: skip
        _send(T, T.acts, n, now)
        if tr.quoting:
            tr.quoting = False
            _record_quotes(T, now, 0, 0, 0.0, False)
        return
    m2 = tr.last_mid_x2
    mid = m2 / 2
    use_reg = tr.use_regimes
    tox_score, tox_side, _mask = fk.tox_reading(T.tox, now)
    bb = best_bid(T.book)
    ba = best_ask(T.book)
    vrec = T.vol.rec[0]
    regime = T.reg.rec[0].regime
    if use_reg:
        clamp, levels, mult = fk.regime_params(T.regtab, regime)
    else:
        clamp, levels, mult = 0.0, T.eng.rec[0].levels, 1.0
    multiplier = mult if use_reg else 1.0
    max_pos = qk.qe_max_position_lots(T.eng, mid, multiplier)
    if tr.inverse:  # the loss limits are in USD: the coin PnL at the mid
        equity = ik.inv_total_float(T.inv, m2) * (m2 / 2 * tr.tick)
    else:
        equity = ik.inv_total_float(T.inv, m2) * tr.tick * tr.lot
    ubps = ik.inv_unrealized_bps(T.inv, m2)
    has_ubps = ik.inv_has_unrealized_bps(T.inv)
    pos = T.inv.rec[0].position
    rk.risk_evaluate(T.risk, now, pos, max_pos, equity, ubps, has_ubps, T.dec)
    d = T.dec[0]
    if d.state != tr.last_state:
        lg = _log(T, LOG_RISK_STATE)
        lg.i0 = tr.last_state
        lg.i1 = d.state
        copy_reason(lg, d)
        tr.last_state = d.state
        _pnl_row(T, now)
    n_acts = 0
    if d.flatten and pos and bb != NO_PRICE and ba != NO_PRICE:
        n_acts = omk.om_flatten(T.om, pos, bb, ba, now, d.r_code, d.r_sub, d.r_i0, d.r_i1,
                                d.r_f0, d.r_f1, d.r_f2, d.r_tok, T.acts)  # fmt: skip
    nb = 0
    na = 0
    if not d.cancel_all:
        nb, na = qk.qe_quote(
            T.eng,
            bb if bb != NO_PRICE else 0,
            ba if ba != NO_PRICE else 0,
            m2,
            vrec.vol_bps,
            vrec.warm,
            clamp,
            levels,
            mult,
            regime,
            T.sig.rec[0].value,
            tox_score,
            tox_side,
            pos,
            d.allow_bids,
            d.allow_asks,
            T.levels,
            T.qs,
        )
    k, n_rej = omk.om_reconcile(
        T.om, T.levels, nb + na, now, mid, d.cancel_all, T.acts[n_acts:], T.rejs
    )
    k += n_acts
    for j in range(n_rej):
        a = T.rejs[j]
        row = _order_row(T, now, a.cid, EV_REJECTED_PRETRADE, a.side, a.price, a.qty, 0, -1)
        row.r_code = a.x_code
        row.r_sub = a.x_sub
        row.r_i0 = a.x_i0
        row.r_i1 = a.x_i1
        row.r_f0 = a.x_f0
        row.r_f1 = a.x_f1
        row.r_f2 = a.x_f2
        row.r_tok = a.x_tok
    if d.cancel_all:
        _record_quotes(T, now, 0, 0, mid, False)
    else:
        _record_quotes(T, now, nb, na, 0.0, True)
    tr.quoting = (not d.cancel_all) and (nb + na) > 0
    _send(T, T.acts, k, now)


# ---- the loop -------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _poll(T: KTrader, t: int) -> None:
    """Every venue response visible at ``t``, in order (handling one never adds another)."""
    while True:
        n = simk.sim_poll(T.sim, t, T.resp, 0)
        for i in range(n):
            _on_own(T, T.resp, i, t)
        if n < len(T.resp):
            return


@njit(cache=True, _nrt=False)
def _wake(T: KTrader, until: int) -> None:
    """Venue responses arriving before ``until`` are handled at their own arrival times."""
    tr = T.tr[0]
    while True:
        t = simk.sim_next_response_ts(T.sim)
        if t == INT64_MAX or t >= until:
            return
        _poll(T, t)
        if tr.dirty:
            _decide(T, t)


@njit(cache=True, _nrt=False)
def _room(T: KTrader) -> bool:
    tr = T.tr[0]
    cap = len(T.orders)
    return (
        tr.n_quotes + OUT_HEADROOM <= cap
        and tr.n_orders + OUT_HEADROOM <= cap
        and tr.n_fills + OUT_HEADROOM <= cap
        and tr.n_pnl + OUT_HEADROOM <= cap
        and tr.n_logs + OUT_HEADROOM <= cap
        and tr.n_actions + OUT_HEADROOM <= cap
    )


@njit(cache=True, _nrt=False)
def on_market(T: KTrader, ev: np.ndarray, start: int) -> tuple[int, int]:
    """Process the messages of ``ev`` from row ``start``; returns (outcome, next row)."""
    tr = T.tr[0]
    n = len(ev)
    i = start
    has_venue = tr.has_venue
    while i < n:
        j = i
        while not ev[j].flags & LAST and j + 1 < n:
            j += 1
        end = j + 1
        kind = ev[i].kind
        # -- room for this message, before anything changes -----------------------------
        if not _room(T):
            return FULL, i
        if kind == 1 or kind == 2:
            lo = INT64_MAX
            hi = -INT64_MAX
            for r in range(i, end):
                if ev[r].qty != 0 and ev[r].side != 0:
                    p = ev[r].price
                    if p < lo:
                        lo = p
                    if p > hi:
                        hi = p
            if lo <= hi and not (book_fits(T.book, lo) and book_fits(T.book, hi)):
                tr.need_lo = lo
                tr.need_hi = hi
                return GROW_BOOK, i
            if not sync_headroom_ok(T.sync, end - i):
                tr.need_rows = end - i
                return GROW, i
        if (
            not mk_headroom_ok(T.mk)
            or not fk.tox_headroom_ok(T.tox)
            or not omk.om_headroom_ok(T.om)
            or not ik.inv_headroom_ok(T.inv)
            or (has_venue and not simk.sim_headroom_ok(T.sim))
        ):
            return GROW, i
        # -- the message ---------------------------------------------------------------
        now = ev[i].recv_ts
        if not tr.first_ts:
            tr.first_ts = now
        if has_venue:
            _wake(T, now)  # idempotent: a resumed message finds nothing left to wake for
            if not simk.sim_quiet(T.sim) and not simk.sim_fits(T.sim, T.book, ev, i, end):
                tr.need_sim = True
                return GROW, i
        tr.last_ts = now
        tr.events += end - i
        tr.messages += 1
        if has_venue:
            simk.sim_on_market(T.sim, T.book, ev, i, end)
        changed = False
        if kind == 1 or kind == 2:
            sync_on_message(T.sync, T.book, ev, i, end)
            tr.last_book_ts = now
            if tr.max_lag_ns and ev[i].exch_ts > 0:  # 0: the venue gave no time
                _check_lag(T, now - ev[i].exch_ts)
            changed = True
        elif kind == 3:
            for r in range(i, end):
                fk.tox_on_trade(T.tox, ev[r].side, ev[r].qty, now)
        elif kind == 5:
            sync_force_out(T.sync, T.book, SYNC_RESET, ev[i].qty, 0.0, -1)  # qty: ResetReason
            changed = True
        if has_venue:
            _poll(T, now)
        if changed and sync_usable(T.sync):
            _update_features(T, now)
            if tr.rs_since >= 0 and not tr.lagging:
                _resync_check(T, now, True)  # usable again: the unusable spell ends
        if now >= tr.next_pnl and tr.last_mid_x2:
            _pnl_row(T, now)
            tr.next_pnl = (now // tr.pnl_interval + 1) * tr.pnl_interval
        if changed or tr.dirty:
            _decide(T, now)
        if tr.err or T.sync.rec[0].err:
            return DONE, end
        i = end
    return DONE, n


@njit(cache=True, _nrt=False)
def on_own(T: KTrader, resp: np.ndarray, n: int, now: int) -> None:
    """Live: venue reports (the private stream), then a decision if anything changed."""
    for i in range(n):
        _on_own(T, resp, i, now)
    if T.tr[0].stopped:  # after shutdown no markout comes: a fill row leaves at once
        T.tr[0].n_fills = mk_flush(T.mk, T.fills, T.tr[0].n_fills)
    if T.tr[0].dirty:
        _decide(T, now)


@njit(cache=True, _nrt=False)
def on_timer(T: KTrader, now: int, kill: bool, kill_tok: int) -> None:
    """Heartbeat: venue responses (paper), kill file, stale-book guard, PnL sampling."""
    tr = T.tr[0]
    if tr.has_venue:
        _wake(T, now + 1)
    if kill and not T.risk.rec[0].killed:
        rk.risk_kill(T.risk, RISK_KILL_FILE, 0, 0, 0.0, 0.0, 0.0, kill_tok)
        lg = _log(T, LOG_KILL_SWITCH)
        copy_reason(lg, T.risk.rec[0])
        tr.dirty = True
    if sync_usable(T.sync) and tr.last_book_ts and now - tr.last_book_ts > tr.stale_ns:
        sync_force_out(T.sync, T.book, SYNC_STALE, 0, (now - tr.last_book_ts) / 1e9, -1)
        lg = _log(T, LOG_BOOK_STALE)
        s = T.sync.rec[0]
        lg.r_code = s.lr_code
        lg.r_f0 = s.lr_f0
        tr.dirty = True
    attempt = _resync_check(T, now, _book_usable(T))
    if attempt:
        code, i0, i1, f0, tok = _book_reason(T)
        lg = _log(T, LOG_RESYNC)
        lg.i0 = attempt
        lg.i1 = now
        lg.r_code = code
        lg.r_i0 = i0
        lg.r_i1 = i1
        lg.r_f0 = f0
        lg.r_tok = tok
    if now >= tr.next_pnl and tr.last_mid_x2:
        _pnl_row(T, now)
        tr.next_pnl = (now // tr.pnl_interval + 1) * tr.pnl_interval
    if tr.dirty or tr.max_order_age:
        _decide(T, now)


@njit(cache=True, _nrt=False)
def decide(T: KTrader, now: int) -> None:
    _decide(T, now)


@njit(cache=True, _nrt=False)
def finish(T: KTrader) -> None:
    """End of the data: let the last actions reach the venue and their answers come back,
    close the markouts, write a last PnL row."""
    tr = T.tr[0]
    now = tr.last_ts
    if tr.has_venue and now:
        now += tr.flush_ns
        simk.sim_advance(T.sim, T.book, now)
        _poll(T, now)
    tr.n_fills = mk_flush(T.mk, T.fills, tr.n_fills)
    _pnl_row(T, now)


@njit(cache=True, _nrt=False)
def shutdown(T: KTrader, now: int) -> None:
    """Live shutdown: decide nothing more; record that nothing is quoted; let every fill
    row go; a last PnL row."""
    tr = T.tr[0]
    tr.stopped = True
    if tr.has_venue:  # paper: cancel the simulated orders first (no fill after)
        t = py_max(now, tr.last_ts)
        n = omk.om_cancel_all(T.om, t, TRADER_SHUTDOWN, 0, 0, 0, 0.0, 0.0, 0.0, -1, True, T.acts)
        _send(T, T.acts, n, t)
        until = t + tr.flush_ns
        simk.sim_advance(T.sim, T.book, until)
        _poll(T, until)
    if tr.quoting:
        tr.quoting = False
        _record_quotes(T, now, 0, 0, tr.last_mid_x2 / 2, False)
    tr.n_fills = mk_flush(T.mk, T.fills, tr.n_fills)
    _pnl_row(T, now)


@njit(cache=True, _nrt=False)
def own_fill_booked(T: KTrader, side: int, price: int, qty: int, now: int, decide_: bool) -> None:
    """A position difference booked at a price (start-up seed, reconciliation)."""
    ik.inv_on_fill(T.inv, side, price, qty, 0, False)
    if decide_:
        T.tr[0].dirty = True
        _decide(T, now)


@njit(cache=True, _nrt=False)
def private_down(T: KTrader, now: int, tok: int) -> None:
    """Fills would go unseen: pull every quote until the stream is back."""
    tr = T.tr[0]
    tr.own_ready = False
    n = omk.om_cancel_all(T.om, now, TRADER_PRIVATE_DOWN, 0, 0, 0, 0.0, 0.0, 0.0, tok, True, T.acts)
    _send(T, T.acts, n, now)
    if tr.quoting:
        tr.quoting = False
        _record_quotes(T, now, 0, 0, 0.0, False)
