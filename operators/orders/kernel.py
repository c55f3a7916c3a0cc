"""The order manager (and its token bucket) as a compiled kernel.

Same behaviour as :class:`operators.orders.manager.OrderManager` (the reference, tested
against it bit for bit). Orders are rows of an int64 table in the reference dict's
iteration order: client ids are the manager's counter, never reused, and every new
order is inserted with the next id, so insertion order is ascending ``cid`` (lookups
are a binary search; a removal shifts the rows behind it, keeping the order). That
order decides the order of cancels and which order claims a slot, as in the reference.

:func:`om_reconcile` reproduces ``reconcile`` + ``_admit``: cancels first, then the
stable sort of amends + places by (new before amend, level), each through the
pre-trade checks and the token bucket (the same float maths). Actions are
``ACTION_DTYPE`` records, pre-trade rejections ``REJECTION_DTYPE`` records; reasons are
numbers (:mod:`core.reasons`). An action's ``level`` is the level of the order it
concerns (-1: none, e.g. a flatten or CANCEL_ALL): what the trader's order row shows.

The reference tests a venue reject's text for "post-only" and "not found"; a response
record carries those two facts as ``says_post_only`` / ``says_not_found``
(:func:`reason_says` computes them from a reason's code or text).

Capacity: the order table and the scratch for desired quotes are preallocated; the loop
checks :func:`om_headroom_ok` between messages and calls :func:`grow_order_manager`;
a full table inside a message sets ``ERR_CAPACITY``.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from core.errors import MMError
from core.events import Fill, OrderStatus, OrderUpdate
from core.instruments import ASK, BID, InstrumentSpec
from core.kernel_records import (
    ACTION_DTYPE,
    REJECTION_DTYPE,
    RESPONSE_DTYPE,
)
from core.nb import ERR_CAPACITY
from core.orders import ActionType, OrderAction, Rejection
from core.params import OrderParams, QuoteParams
from core.reasons import R, StringTable, record_reason
from core.timeutil import NS_PER_S
from operators.orders.manager import LiveOrder, OrderState
from operators.quoting.engine import QuoteSet
from operators.quoting.kernel import QLEVEL_DTYPE

PLACE = int(ActionType.PLACE)
AMEND = int(ActionType.AMEND)
CANCEL = int(ActionType.CANCEL)
CANCEL_ALL = int(ActionType.CANCEL_ALL)

PENDING_NEW = int(OrderState.PENDING_NEW)
LIVE = int(OrderState.LIVE)
PENDING_AMEND = int(OrderState.PENDING_AMEND)
PENDING_CANCEL = int(OrderState.PENDING_CANCEL)
FILLED = int(OrderState.FILLED)

ST_NEW = int(OrderStatus.NEW)
ST_PARTIAL = int(OrderStatus.PARTIALLY_FILLED)
ST_FILLED = int(OrderStatus.FILLED)
ST_CANCELED = int(OrderStatus.CANCELED)
ST_REJECTED = int(OrderStatus.REJECTED)
ST_AMENDED = int(OrderStatus.AMENDED)

# om_on_update outcomes (the reference's strings)
UNKNOWN, ACK, AMENDED, DONE, PARTIAL, REJECTED, OTHER = range(7)
OUTCOMES = ("unknown", "ack", "amended", "done", "partial", "rejected", "other")

# columns of the order table
O_CID, O_SIDE, O_LEVEL, O_PRICE, O_QTY, O_STATE, O_CREATED, O_FILLED = range(8)
O_HANGING, O_TPRICE, O_TQTY = 8, 9, 10
O_NCOLS = 11

# columns of the wanted-quote scratch: (side, level) -> quote, and the order holding the slot
W_SIDE, W_LEVEL, W_PRICE, W_QTY, W_SLOT = range(5)
# columns of the candidate-action scratch
C_TYPE, C_OI, C_SIDE, C_PRICE, C_QTY, C_LEVEL, C_RCODE, C_RI0, C_KEY = range(9)

BUCKET_DTYPE = np.dtype(
    [
        ("rate", np.float64),
        ("burst", np.float64),
        ("tokens", np.float64),
        ("last", np.int64),
        ("has_last", np.bool_),
    ]
)

OM_REC = np.dtype(
    [
        ("replace_threshold_ticks", np.int64),
        ("max_order_usd", np.float64),
        ("max_open_orders", np.int64),
        ("price_band_bps", np.float64),
        ("hanging_orders", np.bool_),
        ("hanging_cancel_bps", np.float64),
        ("max_age_ns", np.int64),  # int(max_order_age_s x NS_PER_S), as the reference
        ("tick", np.float64),
        ("lot", np.float64),
        ("inverse", np.bool_),  # order notional = qty x lot_usd (USD contracts)
        ("lot_usd", np.float64),
        ("next_id", np.int64),
        ("n", np.int64),  # orders in the table
        ("placed", np.int64),
        ("amended", np.int64),
        ("canceled", np.int64),
        ("rejected", np.int64),
        ("pretrade_rejected", np.int64),
        ("throttled", np.int64),
        ("filled_orders", np.int64),
        ("err", np.int64),
    ]
)

STAT_NAMES = (
    "placed",
    "amended",
    "canceled",
    "rejected",
    "pretrade_rejected",
    "throttled",
    "filled_orders",
)

KOrders = namedtuple("KOrders", ["rec", "bucket", "orders", "wanted", "cand"])

MIN_ORDERS = 64
MIN_DESIRED = 64


def new_bucket(rate_per_s: float, burst: int) -> np.ndarray:
    b = np.zeros(1, dtype=BUCKET_DTYPE)
    b[0]["rate"] = rate_per_s
    b[0]["burst"] = float(burst)
    b[0]["tokens"] = float(burst)
    return b


def new_order_manager(
    spec: InstrumentSpec,
    params: OrderParams,
    quote: QuoteParams,
    capacity: int = MIN_ORDERS,
    desired_capacity: int = MIN_DESIRED,
) -> KOrders:
    rec = np.zeros(1, dtype=OM_REC)
    r = rec[0]
    r["replace_threshold_ticks"] = params.replace_threshold_ticks
    r["max_order_usd"] = params.max_order_usd
    r["max_open_orders"] = params.max_open_orders
    r["price_band_bps"] = params.price_band_bps
    r["hanging_orders"] = quote.hanging_orders
    r["hanging_cancel_bps"] = quote.hanging_cancel_bps
    r["max_age_ns"] = int(quote.max_order_age_s * NS_PER_S)
    r["tick"] = float(spec.tick_size)
    r["lot"] = float(spec.lot_size)
    r["inverse"] = spec.is_inverse
    r["lot_usd"] = float(spec.lot_size * spec.contract_size)
    return _alloc(
        rec, new_bucket(params.rate_limit_per_s, params.rate_burst), capacity, desired_capacity
    )


def _alloc(rec: np.ndarray, bucket: np.ndarray, capacity: int, desired: int) -> KOrders:
    return KOrders(
        rec,
        bucket,
        np.zeros((capacity, O_NCOLS), np.int64),
        np.zeros((desired, 5), np.int64),
        np.zeros((capacity + desired, 9), np.int64),
    )


@njit(cache=True, _nrt=False)
def om_headroom_ok(om: KOrders) -> bool:
    """True while the order table is at most half full (a message may add many orders)."""
    return om.rec[0].n <= om.orders.shape[0] // 2


def grow_order_manager(om: KOrders, n_desired: int = 0) -> KOrders:
    """A copy with room for twice the orders (and for ``n_desired`` desired quotes)."""
    n = int(om.rec[0]["n"])
    cap = om.orders.shape[0] * 2
    while n > cap // 2:
        cap *= 2
    desired = max(om.wanted.shape[0], n_desired)
    out = _alloc(om.rec.copy(), om.bucket.copy(), cap, desired)
    out.orders[:n] = om.orders[:n]
    return out


def om_out_size(om: KOrders) -> int:
    """Rows an action (or rejection) output array needs for any one call."""
    return om.orders.shape[0] + om.wanted.shape[0] + 1


# -- token bucket ----------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def bucket_refill(b: np.ndarray, now: int) -> None:
    t = b[0]
    if t.has_last and now > t.last:
        v = t.tokens + (now - t.last) * t.rate / NS_PER_S
        t.tokens = v if v < t.burst else t.burst  # min(burst, v)
    if not t.has_last or now > t.last:
        t.last = now
        t.has_last = True


@njit(cache=True, _nrt=False)
def bucket_take(b: np.ndarray, now: int, n: float) -> bool:
    bucket_refill(b, now)
    t = b[0]
    if t.tokens >= n:
        t.tokens -= n
        return True
    return False


# -- order table -----------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def om_find(om: KOrders, cid: int) -> int:
    """Row of the order with client id number ``cid``, or -1."""
    lo = 0
    hi = om.rec[0].n
    o = om.orders
    while lo < hi:
        mid = (lo + hi) >> 1
        if o[mid, O_CID] < cid:
            lo = mid + 1
        else:
            hi = mid
    if lo < om.rec[0].n and o[lo, O_CID] == cid:
        return lo
    return -1


@njit(cache=True, _nrt=False)
def om_level(om: KOrders, cid: int) -> int:
    """The order's level (the trader's ``order.level if order else -1``)."""
    i = om_find(om, cid)
    return om.orders[i, O_LEVEL] if i >= 0 else -1


@njit(cache=True, _nrt=False)
def om_live_count(om: KOrders) -> int:
    return om.rec[0].n


@njit(cache=True, _nrt=False)
def _insert(om: KOrders, side: int, level: int, price: int, qty: int, now: int) -> int:
    """A new order with the next client id at the end of the table; returns its cid."""
    r = om.rec[0]
    r.next_id += 1
    cid = r.next_id
    i = r.n
    if i >= om.orders.shape[0]:
        r.err = ERR_CAPACITY
        return cid
    o = om.orders
    o[i, O_CID] = cid
    o[i, O_SIDE] = side
    o[i, O_LEVEL] = level
    o[i, O_PRICE] = price
    o[i, O_QTY] = qty
    o[i, O_STATE] = PENDING_NEW
    o[i, O_CREATED] = now
    o[i, O_FILLED] = 0
    o[i, O_HANGING] = 0
    o[i, O_TPRICE] = 0
    o[i, O_TQTY] = 0
    r.n = i + 1
    return cid


@njit(cache=True, _nrt=False)
def _remove(om: KOrders, i: int) -> None:
    r = om.rec[0]
    o = om.orders
    for j in range(i, r.n - 1):
        for c in range(O_NCOLS):
            o[j, c] = o[j + 1, c]
    r.n -= 1


# -- action records --------------------------------------------------------------------------
@njit(cache=True, inline="always", _nrt=False)
def _set_reason(
    a, code: int, sub: int, i0: int, i1: int, f0: float, f1: float, f2: float, tok: int
) -> None:  # type: ignore[no-untyped-def]
    a.r_code = code
    a.r_sub = sub
    a.r_i0 = i0
    a.r_i1 = i1
    a.r_f0 = f0
    a.r_f1 = f1
    a.r_f2 = f2
    a.r_tok = tok


@njit(cache=True, inline="always", _nrt=False)
def _set_action(  # type: ignore[no-untyped-def]
    a,
    typ: int,
    cid: int,
    side: int,
    price: int,
    qty: int,
    post_only: bool,
    reduce_only: bool,
    level: int,
) -> None:
    a.type = typ
    a.cid = cid
    a.side = side
    a.price = price
    a.qty = qty
    a.post_only = post_only
    a.reduce_only = reduce_only
    a.level = level
    a.bad_inst = False


@njit(cache=True, inline="always", _nrt=False)
def _set_x_reason(a, code: int, i0: int, i1: int, f0: float, f1: float) -> None:  # type: ignore[no-untyped-def]
    a.x_code = code
    a.x_sub = 0
    a.x_i0 = i0
    a.x_i1 = i1
    a.x_f0 = f0
    a.x_f1 = f1
    a.x_f2 = 0.0
    a.x_tok = -1


# -- reconcile -------------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _find_wanted(w: np.ndarray, nw: int, side: int, level: int) -> int:
    for k in range(nw):
        if w[k, W_SIDE] == side and w[k, W_LEVEL] == level:
            return k
    return -1


@njit(cache=True, _nrt=False)
def _add_cand(
    om: KOrders,
    k: int,
    typ: int,
    oi: int,
    side: int,
    price: int,
    qty: int,
    level: int,
    rcode: int,
    ri0: int,
    key: int,
) -> None:
    c = om.cand
    c[k, C_TYPE] = typ
    c[k, C_OI] = oi
    c[k, C_SIDE] = side
    c[k, C_PRICE] = price
    c[k, C_QTY] = qty
    c[k, C_LEVEL] = level
    c[k, C_RCODE] = rcode
    c[k, C_RI0] = ri0
    c[k, C_KEY] = key


@njit(cache=True, _nrt=False)
def _pretrade(
    om: KOrders,
    typ: int,
    price: int,
    qty: int,
    mid_ticks: float,
    open_count: int,
    rej,
) -> bool:
    """``_pretrade``: True (and the reason in ``rej``'s x_ fields) if refused."""
    r = om.rec[0]
    notional = qty * r.lot_usd if r.inverse else price * r.tick * qty * r.lot
    if notional > r.max_order_usd:
        _set_x_reason(rej, R.OM_PRETRADE_NOTIONAL, 0, 0, notional, r.max_order_usd)
        return True
    if typ == PLACE and open_count >= r.max_open_orders:
        _set_x_reason(rej, R.OM_PRETRADE_OPEN, open_count, r.max_open_orders, 0.0, 0.0)
        return True
    if mid_ticks > 0 and abs(price - mid_ticks) / mid_ticks * 1e4 > r.price_band_bps:
        _set_x_reason(rej, R.OM_PRETRADE_BAND, price, 0, r.price_band_bps, 0.0)
        return True
    if qty <= 0:
        _set_x_reason(rej, R.OM_PRETRADE_ZERO, 0, 0, 0.0, 0.0)
        return True
    return False


@njit(cache=True, _nrt=False)
def om_reconcile(
    om: KOrders,
    desired: np.ndarray,
    n_desired: int,
    now: int,
    mid_ticks: float,
    cancel_all: bool,
    actions_out: np.ndarray,
    rejections_out: np.ndarray,
) -> tuple[int, int]:
    """``reconcile``: ``desired[:n_desired]`` (QLEVEL_DTYPE, bids then asks; 0 rows for
    None) -> actions (ACTION_DTYPE) and pre-trade rejections (REJECTION_DTYPE), written
    from index 0 of each output; returns their counts."""
    r = om.rec[0]
    o = om.orders
    w = om.wanted
    max_age = r.max_age_ns
    # wanted: insertion-ordered (side, level) -> quote (a repeated key keeps its place)
    nw = 0
    if not cancel_all:
        if n_desired > w.shape[0]:
            r.err = ERR_CAPACITY
            return 0, 0
        for j in range(n_desired):
            lv = desired[j]
            k = _find_wanted(w, nw, lv.side, lv.level)
            if k < 0:
                k = nw
                nw += 1
                w[k, W_SIDE] = lv.side
                w[k, W_LEVEL] = lv.level
            w[k, W_PRICE] = lv.price
            w[k, W_QTY] = lv.qty
            w[k, W_SLOT] = -1
    nc = 0  # cancels
    for i in range(r.n):
        st = o[i, O_STATE]
        if st in (PENDING_CANCEL, FILLED):
            continue
        too_old = max_age > 0 and now - o[i, O_CREATED] >= max_age
        if o[i, O_HANGING]:
            far = (
                mid_ticks > 0
                and abs(o[i, O_PRICE] - mid_ticks) / mid_ticks * 1e4 > r.hanging_cancel_bps
            )
            if (cancel_all or far or too_old) and st == LIVE:
                code = R.OM_CANCEL_ALL if cancel_all else R.OM_HANGING_EXPIRED
                _add_cand(
                    om,
                    nc,
                    CANCEL,
                    i,
                    o[i, O_SIDE],
                    o[i, O_PRICE],
                    o[i, O_QTY],
                    o[i, O_LEVEL],
                    code,
                    0,
                    0,
                )
                nc += 1
            continue
        k = _find_wanted(w, nw, o[i, O_SIDE], o[i, O_LEVEL])
        in_slots = k >= 0 and w[k, W_SLOT] >= 0
        if cancel_all or k < 0 or in_slots or too_old:
            if st == LIVE:
                if cancel_all:
                    code = R.OM_CANCEL_ALL
                elif too_old:
                    code = R.OM_MAX_AGE
                else:
                    code = R.OM_NOT_QUOTED
                _add_cand(
                    om,
                    nc,
                    CANCEL,
                    i,
                    o[i, O_SIDE],
                    o[i, O_PRICE],
                    o[i, O_QTY],
                    o[i, O_LEVEL],
                    code,
                    0,
                    0,
                )
                nc += 1
            elif k >= 0 and not in_slots:
                w[k, W_SLOT] = i  # in flight: hold the slot until the venue answers
            continue
        w[k, W_SLOT] = i
    # amends, then places, in wanted order (the stable sort below puts places first)
    na = 0
    c0 = nc
    for k in range(nw):
        i = w[k, W_SLOT]
        if i >= 0 and o[i, O_STATE] == LIVE:
            remaining = o[i, O_QTY] - o[i, O_FILLED]
            move = abs(w[k, W_PRICE] - o[i, O_PRICE])
            if w[k, W_QTY] != remaining or (move > 0 and move >= r.replace_threshold_ticks):
                _add_cand(
                    om,
                    c0 + na,
                    AMEND,
                    i,
                    o[i, O_SIDE],
                    w[k, W_PRICE],
                    w[k, W_QTY] + o[i, O_FILLED],
                    o[i, O_LEVEL],
                    R.OM_LEVEL,
                    w[k, W_LEVEL],
                    (1 << 32) + o[i, O_LEVEL],
                )
                na += 1
    npl = 0
    for k in range(nw):
        if w[k, W_SLOT] < 0:
            _add_cand(
                om,
                c0 + na + npl,
                PLACE,
                -1,
                w[k, W_SIDE],
                w[k, W_PRICE],
                w[k, W_QTY],
                w[k, W_LEVEL],
                R.OM_LEVEL,
                w[k, W_LEVEL],
                w[k, W_LEVEL],
            )
            npl += 1
    # stable insertion sort of amends + places by (new before amend, level)
    c = om.cand
    for a in range(c0 + 1, c0 + na + npl):
        b = a
        while b > c0 and c[b - 1, C_KEY] > c[b, C_KEY]:
            for col in range(9):
                t = c[b - 1, col]
                c[b - 1, col] = c[b, col]
                c[b, col] = t
            b -= 1
    # _admit
    open_count = 0
    for i in range(r.n):
        st = o[i, O_STATE]
        if st != PENDING_CANCEL and st != FILLED:
            open_count += 1
    open_count -= nc
    n_act = 0
    n_rej = 0
    total = c0 + na + npl
    if total > actions_out.shape[0] or (na + npl) > rejections_out.shape[0]:
        r.err = ERR_CAPACITY
        return 0, 0
    for j in range(total):
        typ = c[j, C_TYPE]
        if typ != CANCEL:
            rj = rejections_out[n_rej]
            cid = o[c[j, C_OI], O_CID] if typ == AMEND else -1
            if _pretrade(om, typ, c[j, C_PRICE], c[j, C_QTY], mid_ticks, open_count, rj):
                _set_action(
                    rj,
                    typ,
                    cid,
                    c[j, C_SIDE],
                    c[j, C_PRICE],
                    c[j, C_QTY],
                    True,
                    False,
                    c[j, C_LEVEL],
                )
                _set_reason(rj, c[j, C_RCODE], 0, c[j, C_RI0], 0, 0.0, 0.0, 0.0, -1)
                n_rej += 1
                r.pretrade_rejected += 1
                continue
        if not bucket_take(om.bucket, now, 1.0):
            r.throttled += 1
            continue
        a = actions_out[n_act]
        oi = c[j, C_OI]
        if typ == PLACE:
            cid = _insert(om, c[j, C_SIDE], c[j, C_LEVEL], c[j, C_PRICE], c[j, C_QTY], now)
            open_count += 1
            r.placed += 1
        elif typ == AMEND:
            cid = o[oi, O_CID]
            o[oi, O_STATE] = PENDING_AMEND
            o[oi, O_TPRICE] = c[j, C_PRICE]
            o[oi, O_TQTY] = c[j, C_QTY]
            r.amended += 1
        else:
            cid = o[oi, O_CID]
            o[oi, O_STATE] = PENDING_CANCEL
            r.canceled += 1
        _set_action(
            a, typ, cid, c[j, C_SIDE], c[j, C_PRICE], c[j, C_QTY], True, False, c[j, C_LEVEL]
        )
        _set_reason(a, c[j, C_RCODE], 0, c[j, C_RI0], 0, 0.0, 0.0, 0.0, -1)
        n_act += 1
    return n_act, n_rej


# -- other requests --------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def om_cancel_all(
    om: KOrders,
    now: int,
    code: int,
    sub: int,
    i0: int,
    i1: int,
    f0: float,
    f1: float,
    f2: float,
    tok: int,
    in_flight: bool,
    out: np.ndarray,
) -> int:
    """``cancel_all``: cancels (with the given reason) into ``out``; returns how many."""
    r = om.rec[0]
    o = om.orders
    n = 0
    for i in range(r.n):
        st = o[i, O_STATE]
        if st in (LIVE, PENDING_AMEND) or (in_flight and st == PENDING_NEW):
            if n >= out.shape[0]:
                r.err = ERR_CAPACITY
                return n
            o[i, O_STATE] = PENDING_CANCEL
            a = out[n]
            _set_action(
                a,
                CANCEL,
                o[i, O_CID],
                o[i, O_SIDE],
                o[i, O_PRICE],
                o[i, O_QTY],
                True,
                False,
                o[i, O_LEVEL],
            )
            _set_reason(a, code, sub, i0, i1, f0, f1, f2, tok)
            n += 1
            r.canceled += 1
    return n


@njit(cache=True, _nrt=False)
def om_reset_all(
    om: KOrders,
    now: int,
    code: int,
    sub: int,
    i0: int,
    i1: int,
    f0: float,
    f1: float,
    f2: float,
    tok: int,
    out: np.ndarray,
) -> int:
    """``reset_all``: forget every order; one CANCEL_ALL into ``out[0]``; returns 1."""
    r = om.rec[0]
    r.n = 0
    r.canceled += 1
    a = out[0]
    _set_action(a, CANCEL_ALL, -1, 0, 0, 0, True, False, -1)
    _set_reason(a, code, sub, i0, i1, f0, f1, f2, tok)
    return 1


@njit(cache=True, _nrt=False)
def om_flatten(
    om: KOrders,
    position: int,
    best_bid: int,
    best_ask: int,
    now: int,
    code: int,
    sub: int,
    i0: int,
    i1: int,
    f0: float,
    f1: float,
    f2: float,
    tok: int,
    out: np.ndarray,
) -> int:
    """``flatten``: a reduce-only IOC for the whole position into ``out[0]``; returns 0/1."""
    if position == 0:
        return 0
    side = ASK if position > 0 else BID
    price = best_bid if side == ASK else best_ask
    qty = abs(position)
    cid = _insert(om, side, -1, price, qty, now)
    om.rec[0].placed += 1
    a = out[0]
    _set_action(a, PLACE, cid, side, price, qty, False, True, -1)
    _set_reason(a, code, sub, i0, i1, f0, f1, f2, tok)
    return 1


# -- venue responses -------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def om_on_update(om: KOrders, resp: np.ndarray, j: int) -> int:
    """``on_update`` for the order report ``resp[j]`` (RESPONSE_DTYPE); returns the outcome
    (UNKNOWN, ACK, AMENDED, DONE, PARTIAL, REJECTED, OTHER)."""
    u = resp[j]
    i = om_find(om, u.cid)
    if i < 0:
        return UNKNOWN
    r = om.rec[0]
    o = om.orders
    status = u.status
    if status == ST_NEW:
        if o[i, O_STATE] == PENDING_NEW:
            o[i, O_STATE] = LIVE
        return ACK
    if status == ST_AMENDED:
        o[i, O_PRICE] = u.price
        o[i, O_QTY] = u.qty
        if o[i, O_STATE] == PENDING_AMEND:
            o[i, O_STATE] = LIVE
        return AMENDED
    if status in (ST_CANCELED, ST_FILLED):
        _remove(om, i)
        if status == ST_FILLED:
            r.filled_orders += 1
        return DONE
    if status == ST_PARTIAL:
        o[i, O_FILLED] = u.filled
        return PARTIAL
    if status == ST_REJECTED:
        r.rejected += 1
        st = o[i, O_STATE]
        # a post-only order that would take is cancelled by the venue (place or amend)
        if u.says_not_found or u.says_post_only or st in (PENDING_NEW, FILLED):
            _remove(om, i)
        else:
            o[i, O_STATE] = LIVE  # the amend/cancel failed; the order still rests
        return REJECTED
    return OTHER


@njit(cache=True, _nrt=False)
def om_on_fill(om: KOrders, resp: np.ndarray, j: int) -> None:
    """``on_fill`` for the execution ``resp[j]`` (RESPONSE_DTYPE)."""
    f = resp[j]
    i = om_find(om, f.cid)
    if i < 0:
        return
    o = om.orders
    v = o[i, O_FILLED] + f.qty
    o[i, O_FILLED] = v if v < o[i, O_QTY] else o[i, O_QTY]  # min(qty, filled + f.qty)
    if o[i, O_FILLED] >= o[i, O_QTY]:
        o[i, O_STATE] = FILLED
    if om.rec[0].hanging_orders and o[i, O_LEVEL] >= 0:
        for k in range(om.rec[0].n):
            if o[k, O_SIDE] != f.side and o[k, O_STATE] != PENDING_CANCEL:
                o[k, O_HANGING] = 1


@njit(cache=True, _nrt=False)
def flags_for_code(code: int) -> tuple[bool, bool]:
    """(says "post-only", says "not found") of a simulated venue's reason code."""
    return code == R.SIM_CROSS or code == R.SIM_CROSS_HL, code == R.SIM_NOT_FOUND


def reason_says(text: str) -> tuple[bool, bool]:
    """(``"post-only" in text``, ``"not found" in text``): the reference's two tests."""
    return "post-only" in text, "not found" in text


# -- the Python edge -------------------------------------------------------------------------
def raise_orders_error(om: KOrders) -> None:
    if int(om.rec[0]["err"]) == ERR_CAPACITY:
        raise MMError(
            "order manager table or output array full inside one call",
            "call grow_order_manager between messages (om_headroom_ok) and size outputs with "
            "om_out_size",
        )


def qlevels(desired: QuoteSet | None, out: np.ndarray | None = None) -> np.ndarray:
    """A QuoteSet's levels (bids, then asks) as QLEVEL_DTYPE rows."""
    levels = [] if desired is None else desired.bids + desired.asks
    arr = np.zeros(len(levels), dtype=QLEVEL_DTYPE) if out is None else out
    for k, lv in enumerate(levels):
        arr[k] = (lv.side, lv.level, lv.price, lv.qty)
    return arr


class CompiledTokenBucket:
    """:class:`TokenBucket`'s interface over the kernel's bucket record."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.b = new_bucket(rate_per_s, burst)

    def refill(self, now: int) -> None:
        bucket_refill(self.b, int(now))

    def take(self, now: int, n: float = 1.0) -> bool:
        return bool(bucket_take(self.b, int(now), float(n)))

    rate = property(lambda self: float(self.b[0]["rate"]))
    burst = property(lambda self: float(self.b[0]["burst"]))
    tokens = property(lambda self: float(self.b[0]["tokens"]))
    last = property(lambda self: int(self.b[0]["last"]) if self.b[0]["has_last"] else None)


class CompiledOrderManager:
    """:class:`OrderManager`'s interface over the kernel: string client ids
    ``{prefix}{run_tag}-{n}`` and reason strings at this edge, integers inside."""

    def __init__(
        self,
        inst: str,
        spec: InstrumentSpec,
        params: OrderParams,
        quote: QuoteParams,
        run_tag: str = "bt",
        strings: StringTable | None = None,
    ) -> None:
        self.inst = inst
        self.spec = spec
        self.p = params
        self.q = quote
        self.prefix = f"{params.client_id_prefix}{run_tag}-"
        self.om = new_order_manager(spec, params, quote)
        self.strings = strings if strings is not None else StringTable()
        self._alloc_out()

    def _alloc_out(self) -> None:
        n = om_out_size(self.om)
        self._actions = np.zeros(n, dtype=ACTION_DTYPE)
        self._rejections = np.zeros(n, dtype=REJECTION_DTYPE)
        self._desired = np.zeros(self.om.wanted.shape[0], dtype=QLEVEL_DTYPE)
        self._resp = np.zeros(1, dtype=RESPONSE_DTYPE)

    def _check(self) -> None:
        if self.om.rec[0]["err"]:
            raise_orders_error(self.om)

    def _grow(self) -> None:
        """Between calls (the outputs are read): room for the next one."""
        if not om_headroom_ok(self.om):
            self.om = grow_order_manager(self.om)
            self._alloc_out()

    # -- ids -----------------------------------------------------------------------------
    def cid_number(self, client_id: str) -> int:
        """The integer behind one of our client ids (-1 if it is not ours)."""
        if not client_id.startswith(self.prefix):
            return -1
        tail = client_id[len(self.prefix) :]
        if not tail.isdigit() or str(int(tail)) != tail:
            return -1
        return int(tail)

    def client_id(self, cid: int) -> str:
        return f"{self.prefix}{cid}" if cid >= 0 else ""

    @property
    def _next_id(self) -> int:
        return int(self.om.rec[0]["next_id"])

    def new_client_id(self) -> str:
        self.om.rec[0]["next_id"] += 1
        return self.client_id(self._next_id)

    def owns(self, client_id: str) -> bool:
        cid = self.cid_number(client_id)
        return cid >= 0 and om_find(self.om, cid) >= 0

    # -- views ---------------------------------------------------------------------------
    @property
    def orders(self) -> dict[str, LiveOrder]:
        """A snapshot of the live orders as the reference's ``orders`` dict."""
        out: dict[str, LiveOrder] = {}
        for row in self.om.orders[: int(self.om.rec[0]["n"])]:
            cid = self.client_id(int(row[O_CID]))
            out[cid] = LiveOrder(
                cid,
                int(row[O_SIDE]),
                int(row[O_LEVEL]),
                int(row[O_PRICE]),
                int(row[O_QTY]),
                OrderState(int(row[O_STATE])),
                int(row[O_CREATED]),
                int(row[O_FILLED]),
                bool(row[O_HANGING]),
                int(row[O_TPRICE]),
                int(row[O_TQTY]),
            )
        return out

    @property
    def stats(self) -> dict[str, int]:
        r = self.om.rec[0]
        return {k: int(r[k]) for k in STAT_NAMES}

    @property
    def bucket(self) -> CompiledTokenBucket:
        b = CompiledTokenBucket.__new__(CompiledTokenBucket)
        b.b = self.om.bucket
        return b

    def live_count(self) -> int:
        return int(om_live_count(self.om))

    def level_of(self, client_id: str) -> int:
        return int(om_level(self.om, self.cid_number(client_id)))

    # -- conversions ---------------------------------------------------------------------
    def _reason(self, rec: np.void, prefix: str = "r_") -> str:
        return record_reason(rec, prefix, self.strings.strings)

    def action(self, a: np.void) -> OrderAction:
        return OrderAction(
            ActionType(int(a["type"])),
            self.inst,
            self.client_id(int(a["cid"])),
            int(a["side"]),
            int(a["price"]),
            int(a["qty"]),
            post_only=bool(a["post_only"]),
            reduce_only=bool(a["reduce_only"]),
            reason=self._reason(a),
        )

    def _ext(self, reason: str) -> tuple[int, int, int, int, float, float, float, int]:
        return (int(R.EXTERNAL), 0, 0, 0, 0.0, 0.0, 0.0, self.strings.tok(reason))

    # -- requests ------------------------------------------------------------------------
    def reconcile(
        self, desired: QuoteSet | None, now: int, mid_ticks: float, cancel_all: bool = False
    ) -> tuple[list[OrderAction], list[Rejection]]:
        n_des = 0 if desired is None else len(desired.bids) + len(desired.asks)
        if n_des > self._desired.shape[0]:
            self.om = grow_order_manager(self.om, n_des)
            self._alloc_out()
        qlevels(desired, self._desired)
        n_act, n_rej = om_reconcile(
            self.om,
            self._desired,
            n_des,
            int(now),
            float(mid_ticks),
            bool(cancel_all),
            self._actions,
            self._rejections,
        )
        self._check()
        actions = [self.action(a) for a in self._actions[:n_act]]
        rejections = [
            Rejection(self.action(x), self._reason(x, "x_")) for x in self._rejections[:n_rej]
        ]
        self._grow()
        return actions, rejections

    def cancel_all(self, now: int, reason: str, in_flight: bool = False) -> list[OrderAction]:
        n = om_cancel_all(self.om, int(now), *self._ext(reason), bool(in_flight), self._actions)
        self._check()
        return [self.action(a) for a in self._actions[:n]]

    def reset_all(self, now: int, reason: str) -> OrderAction:
        om_reset_all(self.om, int(now), *self._ext(reason), self._actions)
        return self.action(self._actions[0])

    def flatten(
        self, position: int, best_bid: int, best_ask: int, now: int, reason: str
    ) -> OrderAction | None:
        n = om_flatten(
            self.om,
            int(position),
            int(best_bid),
            int(best_ask),
            int(now),
            *self._ext(reason),
            self._actions,
        )
        self._check()
        out = self.action(self._actions[0]) if n else None
        self._grow()
        return out

    # -- venue responses -----------------------------------------------------------------
    def on_update(self, u: OrderUpdate) -> str:
        rs = self._resp[0]
        rs["is_fill"] = False
        rs["cid"] = self.cid_number(u.client_id)
        rs["status"] = int(u.status)
        rs["side"] = u.side
        rs["price"] = u.price
        rs["qty"] = u.qty
        rs["filled"] = u.filled
        rs["says_post_only"], rs["says_not_found"] = reason_says(u.reason)
        return OUTCOMES[om_on_update(self.om, self._resp, 0)]

    def on_fill(self, f: Fill) -> None:
        rs = self._resp[0]
        rs["is_fill"] = True
        rs["cid"] = self.cid_number(f.client_id)
        rs["side"] = f.side
        rs["price"] = f.price
        rs["qty"] = f.qty
        rs["fee"] = f.fee
        rs["is_maker"] = f.is_maker
        om_on_fill(self.om, self._resp, 0)
