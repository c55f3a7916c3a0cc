"""The simulated venue as a compiled kernel: :class:`connectors.sim.venue.SimVenue` at array speed.

Same behaviour as the reference (``venue.py`` with ``queue.py``, ``view.py``, ``latency.py``
and ``state.py``; differential tests require identical responses, orders and counters),
with its state in numpy arrays (:class:`SimState`, picklable) and njit functions taking
that state first. Actions go in as :data:`core.kernel_records.ACTION_DTYPE` records and
responses come out as :data:`core.kernel_records.RESPONSE_DTYPE` records, in the
reference's order. :class:`CompiledSimVenue` offers SimVenue's Python API on top.

How the reference's containers map onto arrays (their iteration orders are what decides
who fills first, so they are reproduced exactly):

* ``_pending`` and ``_out`` (FIFO deques) are the rings ``pend`` and ``out``.
  Arrival and visibility times never decrease, so a ring in push order is in time order.
* ``_orders`` (dict in placement order) is the slot array ``orders`` (``live`` flag);
  placement order is ascending ``venue_no``, the venue's order number. Slot 0 is never a
  resting order: it holds the immediate-or-cancel order being executed.
* ``_levels`` is the slot array ``levels``; a level's queue (``Level.orders``, in join
  order = ascending priority) is a doubly linked list through the orders' ``nxt``/``prv``.
  Slots never move, so indices held across fills stay valid.
* ``_used_ids`` is an open-addressing hash set (client ids are never removed).
* ``SimStats.rejected`` (a dict in first-seen order) is a count per reason code and the
  order in which each reason was first seen.
* The hash set, two scratch areas, the reject counts and the price-rule tables share one
  int64 array ``aux`` (offsets in ``rec``): numba pays two reference-count calls per
  array argument at every function boundary it cannot prune, so the state is few arrays.
* ``SimOrder.ahead`` is an int under the risk-averse model and may be a float under the
  probabilistic ones; the value is kept in float64 (exact below 2**53 lots, checked) and
  ``ahead_int`` remembers whether the reference would hold an int.

Capacity (no allocation in per-message functions): :func:`sim_headroom_ok` between
messages guarantees room for ``SEND_HEADROOM`` sends. Room for what a market message can
produce (responses, tracked levels, scratch rows) is checked by ``sim_on_market`` itself:
without room it sets ``rec.err = ERR_CAPACITY`` and returns having changed nothing, so
the loop returns to Python, calls :func:`grow_sim` and gives it the same message again.
:func:`sim_fits` / :func:`sim_advance_fits` ask the same question beforehand (like
``book_fits``). ``sim_send`` without room sets ``ERR_CAPACITY`` and queues nothing.

Per-message cost: every function here is compiled with ``_nrt=False`` (no reference
counting: they never allocate, and numba otherwise pays two calls per array argument at
each function boundary it cannot prune, ~20 per ``sim_on_market`` call). When the venue
is quiet (:func:`sim_quiet`: nothing in flight, nothing tracked) ``sim_on_market`` only
runs :func:`sim_on_market_quiet` (clock, BBO view, counter). A loop can skip ``sim_poll``
while ``sim_next_response_ts(sim) > now``.

Errors are left in ``rec.err`` (the wrapper raises): ``ERR_SEND_BACKWARDS`` (a send
before the previous one; nothing changed, the reference's ValueError), ``ERR_OVERFLOW``
(an exact integer left int64, or a quantity beyond 2**53 lots reached the float queue
model, where the reference's mixed int/float arithmetic could no longer be reproduced),
``ERR_CAPACITY`` as above.
"""

from __future__ import annotations

from collections import namedtuple
from decimal import Decimal
from fractions import Fraction
from math import ceil

import numpy as np
from numba import njit

from connectors.sim.config import SimConfig
from connectors.sim.latency import ms_to_ns
from connectors.sim.state import SimOrder, SimStats
from core.errors import MMError
from core.events import EVENT_DTYPE, Fill, OrderStatus, OrderUpdate
from core.instruments import InstrumentSpec
from core.kernel_records import ACTION_DTYPE, RESPONSE_DTYPE, clear_reason
from core.l2book_kernel import KBook, best_ask, best_bid, next_level, qty_at
from core.money import min_notional_units
from core.nb import (
    ERR_CAPACITY,
    ERR_OVERFLOW,
    INT64_MAX,
    INT64_MIN,
    NO_PRICE,
    add_overflows,
    mul_overflows,
)
from core.reasons import R, format_reason

# -- constants (njit functions read module globals as compile-time constants) ------------
BID = 1
ASK = -1
K_SNAPSHOT = 1  # core.events.Kind
K_DELTA = 2
K_TRADE = 3
K_BBO = 4
K_FEED_RESET = 5
A_PLACE = 1  # core.orders.ActionType
A_AMEND = 2
A_CANCEL = 3
A_CANCEL_ALL = 4
S_NEW = 1  # core.events.OrderStatus
S_PARTIAL = 2
S_FILLED = 3
S_CANCELED = 4
S_REJECTED = 5
S_AMENDED = 6
Q_RISK_AVERSE = 0
Q_POWER = 1
Q_LOG = 2
# reasons (core.reasons.R) as plain ints for the kernels
R_DUPLICATE = int(R.SIM_DUPLICATE)
R_MISSING_ID = int(R.SIM_MISSING_ID)
R_SIDE = int(R.SIM_SIDE)
R_QTY = int(R.SIM_QTY)
R_PRICE = int(R.SIM_PRICE)
R_NOTIONAL = int(R.SIM_NOTIONAL)
R_REDUCE = int(R.SIM_REDUCE)
R_CROSS = int(R.SIM_CROSS)
R_NOT_FOUND = int(R.SIM_NOT_FOUND)
R_INSTRUMENT = int(R.SIM_INSTRUMENT)
R_ACTION = int(R.SIM_ACTION)
R_CANCEL_ALL = int(R.SIM_CANCEL_ALL)
R_IOC_REMAINDER = int(R.SIM_IOC_REMAINDER)
R_AMEND_LE_FILLED = int(R.SIM_AMEND_LE_FILLED)
R_CANCELED = int(R.SIM_CANCELED)
R_CROSS_HL = int(R.SIM_CROSS_HL)

QUEUE_MODEL_IDS = {"risk_averse": Q_RISK_AVERSE, "power": Q_POWER, "log": Q_LOG}

EPS = 1e-9  # as venue.EPS
MAX_EXACT = 1 << 53  # lots: above this the reference's int/float mix is not reproducible
ERR_SEND_BACKWARDS = 10  # sim-local error code: send before the previous send
OVF_INT = 1  # rec.err_what with ERR_OVERFLOW: an exact integer left int64
OVF_FLOAT = 2  # a quantity beyond 2**53 lots reached the queue model
NO_TS = INT64_MAX  # sim_next_response_ts when nothing is pending
SEND_HEADROOM = 256  # sends guaranteed to fit after sim_headroom_ok
N_REASONS = 32  # reason codes of the sim are < 32 (core.reasons.R.SIM_*)
EMPTY_ID = -1  # free slot of the used-ids hash set (client ids are >= 0)

SIM_REC = np.dtype(
    [
        ("err", np.int64),
        ("err_what", np.int64),
        ("err_i0", np.int64),
        ("err_i1", np.int64),
        # settings
        ("maker_rate", np.int64),
        ("taker_rate", np.int64),
        ("order_lat", np.int64),
        ("resp_lat", np.int64),
        ("md_recorded", np.bool_),
        ("queue_model", np.int64),
        ("queue_power", np.float64),
        ("min_units", np.int64),
        ("inverse", np.bool_),  # inverse contract: notional and fees on qty (USD contracts)
        ("sig", np.bool_),  # the spec has a significant-figures price rule
        ("cancel_replace", np.bool_),  # modify model: an amend is a new order (Hyperliquid)
        ("r_cross", np.int64),  # reason of a crossing post-only order (the venue's words)
        # MdClock
        ("last_latency", np.int64),
        ("clock_offset", np.int64),
        ("has_offset", np.bool_),
        # TopView
        ("v_fresh", np.bool_),
        ("v_bid_p", np.int64),
        ("v_bid_q", np.int64),
        ("v_ask_p", np.int64),
        ("v_ask_q", np.int64),
        ("v_bbo_seq", np.int64),
        ("v_book_seq", np.int64),
        # venue
        ("position", np.int64),
        ("now", np.int64),
        ("last_send", np.int64),
        ("priority", np.int64),
        ("order_no", np.int64),
        ("exec_no", np.int64),
        ("max_bid", np.int64),  # NO_PRICE: None
        ("min_ask", np.int64),
        # containers
        ("p_head", np.int64),
        ("p_count", np.int64),
        ("p_places", np.int64),  # PLACE actions among the pending ones
        ("o_head", np.int64),
        ("o_count", np.int64),
        ("n_orders", np.int64),
        ("ord_hw", np.int64),  # slots [1, ord_hw) may be live
        ("n_levels", np.int64),
        ("lvl_hw", np.int64),  # slots [0, lvl_hw) may be live
        ("lv_bid_lo", np.int64),  # prices of the tracked levels lie in [lo, hi] per side
        ("lv_bid_hi", np.int64),  # (lo > hi: none); a quick filter for long book messages
        ("lv_ask_lo", np.int64),
        ("lv_ask_hi", np.int64),
        ("used_count", np.int64),
        ("rej_seq", np.int64),
        # aux layout: the used-ids table, order scratch, row scratch, rejects, price rule
        ("a_used", np.int64),
        ("n_used", np.int64),  # a power of two
        ("a_ord", np.int64),  # len(orders) slots
        ("a_rows", np.int64),
        ("n_rows", np.int64),  # rows of 3 (side, price, qty)
        ("a_rej", np.int64),  # N_REASONS counts, then N_REASONS first-seen numbers
        ("a_sig", np.int64),  # n_sig thresholds, then n_sig moduli
        ("n_sig", np.int64),
        # what the last failed sim_fits needed (grow_sim reads them)
        ("need_out", np.int64),
        ("need_lvl", np.int64),
        ("need_rows", np.int64),
        # SimStats
        ("messages", np.int64),
        ("actions", np.int64),
        ("placed", np.int64),
        ("amended", np.int64),
        ("canceled", np.int64),
        ("expired", np.int64),
        ("fills", np.int64),
        ("maker_fills", np.int64),
        ("taker_fills", np.int64),
        ("filled_qty", np.int64),
        ("maker_qty", np.int64),
        ("taker_qty", np.int64),
        ("fee_units", np.int64),
    ]
)

ORDER_DTYPE = np.dtype(
    [
        ("live", np.bool_),  # in the reference's _orders
        ("cid", np.int64),
        ("venue_no", np.int64),
        ("side", np.int64),
        ("price", np.int64),
        ("qty", np.int64),
        ("filled", np.int64),
        ("post_only", np.bool_),
        ("reduce_only", np.bool_),
        ("ahead", np.float64),
        ("ahead_int", np.bool_),
        ("cum_trade", np.int64),
        ("ts", np.int64),
        ("priority", np.int64),
        ("lvl", np.int64),  # slot of its level
        ("nxt", np.int64),  # next / previous order in the level's queue (-1: none)
        ("prv", np.int64),
    ]
)

LEVEL_DTYPE = np.dtype(
    [
        ("live", np.bool_),
        ("side", np.int64),
        ("price", np.int64),
        ("qty", np.int64),
        ("bbo_seq", np.int64),
        ("taken", np.int64),
        ("head", np.int64),  # first / last order of the queue (-1: none)
        ("tail", np.int64),
        ("n", np.int64),  # orders in the queue
        ("snap_seen", np.bool_),  # scratch of a snapshot message: the level had a row
    ]
)

PEND_DTYPE = np.dtype([*ACTION_DTYPE.descr, ("at", np.int64)])  # an action and its arrival

SimState = namedtuple(
    "SimState",
    [
        "rec",  # SIM_REC, one element
        "pend",  # PEND_DTYPE ring: actions in flight
        "out",  # RESPONSE_DTYPE ring: responses not yet polled (recv_ts = visible at)
        "orders",  # ORDER_DTYPE slots (0: the immediate-or-cancel order)
        "levels",  # LEVEL_DTYPE slots
        "aux",  # int64: used ids, scratch, reject counts, price-rule tables (see rec.a_*)
    ],
)


# -- construction ------------------------------------------------------------------------
def _sig_tables(spec: InstrumentSpec) -> tuple[np.ndarray, np.ndarray]:
    """Tables that decide ``spec.is_valid_price_ticks`` exactly in integers.

    The reference's rule: ``price = tick * ticks`` is valid iff it is a multiple of
    ``quantum = max(tick, min(10 ** (e - sig + 1), 1))`` where ``e = floor(log10(price))``.
    Within one decade ``e`` the quantum is fixed, and ``tick * ticks`` is a multiple of
    ``q`` iff ``ticks`` is a multiple of the denominator of the reduced fraction
    ``tick / q``. ``sig_thr[i]`` is the smallest ``ticks`` whose price reaches decade
    ``e_lo + i``; ``sig_mod[i]`` that denominator. Exact for any decimal tick size.
    """
    tick = spec.tick_size
    sig = spec.price_sig_figs
    assert sig is not None
    if len(tick.as_tuple().digits) > 9:
        # the reference multiplies tick * ticks in Decimal's 28-digit context: with more
        # than 9 significant digits in the tick, its prices are rounded, not exact
        raise MMError(
            f"tick size {tick} of {spec.id} has more than 9 significant digits",
            "the compiled venue cannot reproduce the significant-figure rule; use the "
            "reference engine",
        )
    ftick = Fraction(tick)
    max_price = ftick * INT64_MAX
    e = tick.adjusted()
    thr: list[int] = []
    mod: list[int] = []
    while Fraction(10) ** e <= max_price:
        t = max(ceil(Fraction(10) ** e / ftick), 1)
        q = max(tick, min(Decimal(1).scaleb(e - sig + 1), Decimal(1)))
        thr.append(t)
        mod.append((ftick / Fraction(q)).denominator)
        e += 1
    return np.array(thr, np.int64), np.array(mod, np.int64)


def new_sim(spec: InstrumentSpec, config: SimConfig) -> SimState:
    """A fresh venue for ``spec`` (the reference's ``SimVenue.__init__``)."""
    rec = np.zeros(1, dtype=SIM_REC)
    r = rec[0]
    r["maker_rate"] = config.maker_rate_e8
    r["taker_rate"] = config.taker_rate_e8
    r["order_lat"] = ms_to_ns(config.order_latency_ms)
    r["resp_lat"] = ms_to_ns(config.response_latency_ms)
    r["md_recorded"] = config.md_latency == "recorded"
    r["last_latency"] = ms_to_ns(config.md_latency_ms)
    r["queue_model"] = QUEUE_MODEL_IDS.get(config.queue_model, Q_RISK_AVERSE)
    r["queue_power"] = float(config.queue_power)
    r["cancel_replace"] = config.modify_model_for(spec.venue) == "cancel_replace"
    r["r_cross"] = R_CROSS_HL if spec.venue == "hyperliquid" else R_CROSS
    min_units = min_notional_units(spec)
    r["inverse"] = spec.is_inverse
    if min_units > INT64_MAX:
        raise MMError(
            f"min notional {spec.min_notional} of {spec.id} is {min_units} notional units, "
            "beyond int64",
            "check the instrument spec",
        )
    r["min_units"] = min_units
    if spec.price_sig_figs is not None:
        r["sig"] = True
        sig_thr, sig_mod = _sig_tables(spec)
    else:
        sig_thr, sig_mod = np.ones(1, np.int64), np.ones(1, np.int64)
    r["v_bbo_seq"] = -1
    r["v_book_seq"] = -1
    r["now"] = -(1 << 62)
    r["last_send"] = -(1 << 62)
    r["max_bid"] = NO_PRICE
    r["min_ask"] = NO_PRICE
    r["lv_bid_lo"] = r["lv_ask_lo"] = INT64_MAX
    r["lv_bid_hi"] = r["lv_ask_hi"] = INT64_MIN
    r["ord_hw"] = 1
    n_ord = 64 + SEND_HEADROOM + 1
    rej = np.zeros(2 * N_REASONS, np.int64)
    aux = _layout(rec, np.full(2048, EMPTY_ID, np.int64), n_ord, 64, rej, sig_thr, sig_mod)
    return SimState(
        rec,
        np.zeros(SEND_HEADROOM * 2, PEND_DTYPE),
        np.zeros(1024, RESPONSE_DTYPE),
        np.zeros(n_ord, ORDER_DTYPE),
        np.zeros(128, LEVEL_DTYPE),
        aux,
    )


def _layout(
    rec: np.ndarray,
    used: np.ndarray,
    n_ord: int,
    n_rows: int,
    rej: np.ndarray,
    sig_thr: np.ndarray,
    sig_mod: np.ndarray,
) -> np.ndarray:
    """The aux array from its parts (offsets into ``rec``)."""
    r = rec[0]
    r["a_used"] = 0
    r["n_used"] = len(used)
    r["a_ord"] = len(used)
    r["a_rows"] = r["a_ord"] + n_ord
    r["n_rows"] = n_rows
    r["a_rej"] = r["a_rows"] + 3 * n_rows
    r["a_sig"] = r["a_rej"] + 2 * N_REASONS
    r["n_sig"] = len(sig_thr)
    parts = [used, np.zeros(n_ord + 3 * n_rows, np.int64), rej, sig_thr, sig_mod]
    return np.concatenate(parts).astype(np.int64)


def _aux_part(sim: SimState, name: str) -> np.ndarray:
    """A view of one part of ``sim.aux``: "used", "rej" (2 x N_REASONS) or "sig" (2 x n)."""
    r = sim.rec[0]
    if name == "used":
        a = int(r["a_used"])
        return sim.aux[a : a + int(r["n_used"])]
    if name == "rej":
        a = int(r["a_rej"])
        return sim.aux[a : a + 2 * N_REASONS].reshape(2, N_REASONS)
    a, n = int(r["a_sig"]), int(r["n_sig"])
    return sim.aux[a : a + 2 * n].reshape(2, n)


def _doubled_to(n: int, lo: int) -> int:
    c = lo
    while c < n:
        c *= 2
    return c


def grow_sim(sim: SimState) -> SimState:
    """A copy of ``sim`` with room for ``SEND_HEADROOM`` more sends and for what the last
    failed :func:`sim_fits` needed (clears ``ERR_CAPACITY``). Call between messages."""
    r = sim.rec[0]
    rec = sim.rec.copy()
    nr = rec[0]
    # pending ring, linearised
    p_count = int(r["p_count"])
    cap_p = _doubled_to(p_count + 2 * SEND_HEADROOM, len(sim.pend))
    pend = np.zeros(cap_p, PEND_DTYPE)
    pend[:p_count] = sim.pend[(int(r["p_head"]) + np.arange(p_count)) % len(sim.pend)]
    nr["p_head"] = 0
    # response ring, linearised
    o_count = int(r["o_count"])
    cap_o = _doubled_to(2 * (o_count + int(r["need_out"])) + 64, len(sim.out))
    out = np.zeros(cap_o, RESPONSE_DTYPE)
    out[:o_count] = sim.out[(int(r["o_head"]) + np.arange(o_count)) % len(sim.out)]
    nr["o_head"] = 0
    # order and level slots keep their indices (the level queues link them)
    want_ord = 1 + int(r["n_orders"]) + int(r["p_places"]) + 2 * SEND_HEADROOM
    cap_ord = _doubled_to(want_ord, len(sim.orders))
    orders = np.zeros(cap_ord, ORDER_DTYPE)
    orders[: len(sim.orders)] = sim.orders
    cap_l = _doubled_to(2 * int(r["need_lvl"]) + 64, len(sim.levels))
    levels = np.zeros(cap_l, LEVEL_DTYPE)
    levels[: len(sim.levels)] = sim.levels
    # used ids: load factor <= 1/2 including every pending place, rehashed
    old_used = _aux_part(sim, "used")
    want_used = 2 * (int(r["used_count"]) + int(r["p_places"]) + 2 * SEND_HEADROOM)
    used = np.full(_doubled_to(want_used, len(old_used)), EMPTY_ID, np.int64)
    _rehash(old_used, used)
    n_rows = _doubled_to(int(r["need_rows"]), int(r["n_rows"]))
    sig = _aux_part(sim, "sig")
    aux = _layout(rec, used, cap_ord, n_rows, _aux_part(sim, "rej").ravel(), sig[0], sig[1])
    if r["err"] == ERR_CAPACITY:
        nr["err"] = 0
    nr["need_out"] = nr["need_lvl"] = nr["need_rows"] = 0
    return SimState(rec, pend, out, orders, levels, aux)


# -- small helpers -----------------------------------------------------------------------
@njit(cache=True, inline="always", _nrt=False)
def _hash(cid: int, mask: int) -> int:
    return ((cid * 0x9E3779B97F4A7C15) >> 17) & mask


@njit(cache=True, _nrt=False)
def _used_has(tab: np.ndarray, a: int, n: int, cid: int) -> bool:
    """Is ``cid`` in the hash set ``tab[a : a + n]`` (n a power of two)?"""
    mask = n - 1
    i = _hash(cid, mask)
    while True:
        v = tab[a + i]
        if v == cid:
            return True
        if v == EMPTY_ID:
            return False
        i = (i + 1) & mask


@njit(cache=True, _nrt=False)
def _used_add(tab: np.ndarray, a: int, n: int, cid: int) -> bool:
    """Insert ``cid``; False if it was there already."""
    mask = n - 1
    i = _hash(cid, mask)
    while True:
        v = tab[a + i]
        if v == cid:
            return False
        if v == EMPTY_ID:
            tab[a + i] = cid
            return True
        i = (i + 1) & mask


@njit(cache=True, _nrt=False)
def _rehash(old: np.ndarray, new: np.ndarray) -> None:
    for cid in old:
        if cid != EMPTY_ID:
            _used_add(new, 0, len(new), cid)


@njit(cache=True, _nrt=False)
def md_venue_ts(rec: np.ndarray, recv_ts: int, exch_ts: int) -> int:
    """``MdClock.venue_ts`` on the clock fields of ``rec`` (a SIM_REC array)."""
    r = rec[0]
    if not r.md_recorded or exch_ts <= 0:
        return recv_ts - r.last_latency
    delivery = recv_ts - exch_ts
    if not r.has_offset or delivery < r.clock_offset:
        r.clock_offset = delivery
        r.has_offset = True
    latency = delivery - r.clock_offset
    r.last_latency = latency
    return recv_ts - latency


@njit(cache=True, _nrt=False)
def _valid_price(sim: SimState, price: int) -> bool:
    if price <= 0:
        return False
    if not sim.rec[0].sig:
        return True
    r = sim.rec[0]
    aux = sim.aux
    a = r.a_sig
    i = r.n_sig - 1
    while i > 0 and price < aux[a + i]:
        i -= 1
    return price % aux[a + r.n_sig + i] == 0


@njit(cache=True, _nrt=False)
def sim_valid_price(sim: SimState, price: int) -> bool:
    """The venue's price rule (tick grid and significant figures), for tests."""
    return _valid_price(sim, price)


@njit(cache=True, inline="always", _nrt=False)
def _below_min(sim: SimState, price: int, qty: int) -> bool:
    """``price * qty < min_units`` for positive price and qty (a product beyond int64 is not);
    inverse: ``qty < min_units`` (``core.money.notional_units``)."""
    if sim.rec[0].inverse:
        return qty < sim.rec[0].min_units
    if mul_overflows(price, qty):
        return False
    return price * qty < sim.rec[0].min_units


@njit(cache=True, _nrt=False)
def _view_best(sim: SimState, side: int, book: KBook) -> int:
    """TopView.best: NO_PRICE for None."""
    r = sim.rec[0]
    if r.v_fresh:
        p = r.v_bid_p if side == BID else r.v_ask_p
        if p:
            return p
    return best_bid(book) if side == BID else best_ask(book)


@njit(cache=True, _nrt=False)
def _crosses(sim: SimState, side: int, price: int, book: KBook) -> bool:
    r = sim.rec[0]
    opp = _view_best(sim, -side, book)
    if side == BID:
        own = r.min_ask
        return (opp != NO_PRICE and price >= opp) or (own != NO_PRICE and price >= own)
    own = r.max_bid
    return (opp != NO_PRICE and price <= opp) or (own != NO_PRICE and price <= own)


@njit(cache=True, _nrt=False)
def _find_level(sim: SimState, side: int, price: int) -> int:
    lv = sim.levels
    for j in range(sim.rec[0].lvl_hw):
        if lv[j].live and lv[j].price == price and lv[j].side == side:
            return j
    return -1


@njit(cache=True, _nrt=False)
def _new_level(sim: SimState, side: int, price: int, qty: int, bbo_seq: int) -> int:
    r = sim.rec[0]
    lv = sim.levels
    j = 0
    while lv[j].live:  # sim_fits guarantees a free slot
        j += 1
    if j >= r.lvl_hw:
        r.lvl_hw = j + 1
    L = lv[j]
    L.live = True
    L.side = side
    L.price = price
    L.qty = qty
    L.bbo_seq = bbo_seq
    L.taken = 0
    L.head = -1
    L.tail = -1
    L.n = 0
    L.snap_seen = False
    r.n_levels += 1
    if side == BID:
        if price < r.lv_bid_lo:
            r.lv_bid_lo = price
        if price > r.lv_bid_hi:
            r.lv_bid_hi = price
    else:
        if price < r.lv_ask_lo:
            r.lv_ask_lo = price
        if price > r.lv_ask_hi:
            r.lv_ask_hi = price
    return j


@njit(cache=True, _nrt=False)
def _del_level(sim: SimState, j: int) -> None:
    r = sim.rec[0]
    lv = sim.levels
    lv[j].live = False
    r.n_levels -= 1
    while r.lvl_hw > 0 and not lv[r.lvl_hw - 1].live:
        r.lvl_hw -= 1
    blo = alo = INT64_MAX
    bhi = ahi = INT64_MIN
    for i in range(r.lvl_hw):
        if lv[i].live:
            p = lv[i].price
            if lv[i].side == BID:
                blo = min(blo, p)
                bhi = max(bhi, p)
            else:
                alo = min(alo, p)
                ahi = max(ahi, p)
    r.lv_bid_lo = blo
    r.lv_bid_hi = bhi
    r.lv_ask_lo = alo
    r.lv_ask_hi = ahi


@njit(cache=True, _nrt=False)
def _find_order(sim: SimState, cid: int) -> int:
    if cid < 0:
        return -1
    od = sim.orders
    for k in range(1, sim.rec[0].ord_hw):
        if od[k].live and od[k].cid == cid:
            return k
    return -1


@njit(cache=True, _nrt=False)
def _extremes(sim: SimState) -> None:
    r = sim.rec[0]
    od = sim.orders
    bid = NO_PRICE
    ask = NO_PRICE
    for k in range(1, r.ord_hw):
        o = od[k]
        if not o.live:
            continue
        if o.side == BID:
            if bid == NO_PRICE or o.price > bid:
                bid = o.price
        elif ask == NO_PRICE or o.price < ask:
            ask = o.price
    r.max_bid = bid
    r.min_ask = ask


@njit(cache=True, _nrt=False)
def _set_err(sim: SimState, what: int) -> None:
    r = sim.rec[0]
    if r.err == 0:
        r.err = ERR_OVERFLOW
        r.err_what = what


# -- responses ---------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _push(sim: SimState) -> int:
    """A cleared slot at the back of the response ring (sim_fits guaranteed room)."""
    r = sim.rec[0]
    cap = len(sim.out)
    i = r.o_head + r.o_count
    if i >= cap:
        i -= cap
    r.o_count += 1
    x = sim.out[i]
    x.is_fill = False
    x.status = 0
    x.fee = 0
    x.is_maker = False
    x.venue_no = 0
    x.exec_no = 0
    clear_reason(x)
    x.says_post_only = False
    x.says_not_found = False
    ts = r.now
    x.exch_ts = ts
    x.recv_ts = ts + r.resp_lat
    return i


@njit(cache=True, _nrt=False)
def _update(sim: SimState, k: int, status: int, reason: int) -> None:
    o = sim.orders[k]
    x = sim.out[_push(sim)]
    x.cid = o.cid
    x.status = status
    x.side = o.side
    x.price = o.price
    x.qty = o.qty
    x.filled = o.filled
    x.venue_no = o.venue_no
    x.r_code = reason


@njit(cache=True, _nrt=False)
def _reject(sim: SimState, a, reason: int, k: int) -> None:  # type: ignore[no-untyped-def]
    """Reject action ``a``; ``k`` >= 0: the order it named, which stays as it was."""
    r = sim.rec[0]
    aux = sim.aux
    i = r.a_rej + reason
    if aux[i] == 0:
        r.rej_seq += 1
        aux[i + N_REASONS] = r.rej_seq
    aux[i] += 1
    x = sim.out[_push(sim)]
    x.cid = a.cid
    x.status = S_REJECTED
    if k >= 0:
        o = sim.orders[k]
        x.side = o.side
        x.price = o.price
        x.qty = o.qty
        x.filled = o.filled
        x.venue_no = o.venue_no
    else:
        x.side = a.side
        x.price = a.price
        x.qty = a.qty
        x.filled = 0
    x.r_code = reason
    # what the reference's substring tests on the reason text would find
    plain_cross = reason == R_CROSS
    x.says_post_only = plain_cross or reason == R_CROSS_HL
    x.says_not_found = reason == R_NOT_FOUND


@njit(cache=True, _nrt=False)
def _fill(sim: SimState, k: int, qty: int, price: int, maker: bool) -> None:
    r = sim.rec[0]
    o = sim.orders[k]
    o.filled += qty
    rate = r.maker_rate if maker else r.taker_rate
    fee = 0
    if r.inverse:  # core.money.inverse_fee_units: lots x rate
        if mul_overflows(qty, rate):
            _set_err(sim, OVF_INT)
        else:
            fee = qty * rate
    elif mul_overflows(price, qty):
        _set_err(sim, OVF_INT)
    else:
        pq = price * qty
        if mul_overflows(pq, rate):
            _set_err(sim, OVF_INT)
        else:
            fee = pq * rate
    r.exec_no += 1
    x = sim.out[_push(sim)]
    x.is_fill = True
    x.cid = o.cid
    x.side = o.side
    x.price = price
    x.qty = qty
    x.fee = fee
    x.is_maker = maker
    x.exec_no = r.exec_no
    d = o.side * qty
    if add_overflows(r.position, d) or add_overflows(r.filled_qty, qty):
        _set_err(sim, OVF_INT)
    if add_overflows(r.fee_units, fee):
        _set_err(sim, OVF_INT)
    r.position += d
    r.fills += 1
    r.filled_qty += qty
    r.fee_units += fee
    if maker:
        r.maker_fills += 1
        r.maker_qty += qty
    else:
        r.taker_fills += 1
        r.taker_qty += qty
    done = o.filled >= o.qty
    if done and o.live:
        _remove(sim, k)
    _update(sim, k, S_FILLED if done else S_PARTIAL, 0)


# -- queue bookkeeping -------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _view_displayed(sim: SimState, side: int, price: int, book: KBook) -> tuple[int, int]:
    r = sim.rec[0]
    if r.v_fresh:
        if side == BID and r.v_bid_p:
            if price == r.v_bid_p:
                return r.v_bid_q, r.v_bbo_seq
            if price > r.v_bid_p:
                return 0, r.v_bbo_seq
        elif side == ASK and r.v_ask_p:
            if price == r.v_ask_p:
                return r.v_ask_q, r.v_bbo_seq
            if price < r.v_ask_p:
                return 0, r.v_bbo_seq
    return qty_at(book, side, price), -1


@njit(cache=True, _nrt=False)
def _join(sim: SimState, k: int, book: KBook) -> None:
    """Back of the queue: ahead = displayed qty now (less liquidity we already took)."""
    r = sim.rec[0]
    o = sim.orders[k]
    j = _find_level(sim, o.side, o.price)
    if j < 0:
        q, s = _view_displayed(sim, o.side, o.price, book)
        j = _new_level(sim, o.side, o.price, q, s)
    L = sim.levels[j]
    a = L.qty - L.taken
    if a > MAX_EXACT:
        _set_err(sim, OVF_FLOAT)
    o.ahead = a if a > 0 else 0
    o.ahead_int = True
    o.cum_trade = 0
    o.ts = r.now
    r.priority += 1
    o.priority = r.priority
    o.lvl = j
    o.nxt = -1
    o.prv = L.tail
    if L.tail >= 0:
        sim.orders[L.tail].nxt = k
    else:
        L.head = k
    L.tail = k
    L.n += 1


@njit(cache=True, _nrt=False)
def _leave(sim: SimState, k: int) -> None:
    o = sim.orders[k]
    j = o.lvl
    L = sim.levels[j]
    if o.prv >= 0:
        sim.orders[o.prv].nxt = o.nxt
    else:
        L.head = o.nxt
    if o.nxt >= 0:
        sim.orders[o.nxt].prv = o.prv
    else:
        L.tail = o.prv
    o.nxt = -1
    o.prv = -1
    L.n -= 1
    if L.n == 0 and L.taken == 0:
        _del_level(sim, j)


@njit(cache=True, _nrt=False)
def _remove(sim: SimState, k: int) -> None:
    r = sim.rec[0]
    sim.orders[k].live = False
    r.n_orders -= 1
    while r.ord_hw > 1 and not sim.orders[r.ord_hw - 1].live:
        r.ord_hw -= 1
    _leave(sim, k)
    _extremes(sim)


@njit(cache=True, _nrt=False)
def _prob(sim: SimState, front: float, back: float) -> float:
    r = sim.rec[0]
    if r.queue_model == Q_POWER:
        if back <= 0:
            return 1.0 if front <= 0 else 0.0
        if front <= 0:
            return 1.0
        x = r.queue_power * (np.log(front) - np.log(back))
        if x > 700:
            return 0.0
        return 1.0 / (1.0 + np.exp(x))
    fb = np.log1p(back)
    ff = np.log1p(front)
    total = fb + ff
    return fb / total if total > 0 else 1.0


@njit(cache=True, _nrt=False)
def _depth(sim: SimState, k: int, prev_qty: int, new_qty: int) -> None:
    """The queue model's depth update of order ``k`` (queue.py ``depth``)."""
    o = sim.orders[k]
    if sim.rec[0].queue_model == Q_RISK_AVERSE:
        o.cum_trade = 0
        if o.ahead > new_qty:
            o.ahead = new_qty
            o.ahead_int = True
        return
    chg = prev_qty - new_qty - o.cum_trade
    o.cum_trade = 0
    if chg < 0:
        if o.ahead > new_qty:
            o.ahead = new_qty
            o.ahead_int = True
        return
    front = o.ahead
    back = prev_qty - front
    if back < 0.0:  # max(prev_qty - front, 0.0)
        back = 0.0
    p = _prob(sim, front, back)
    m = back - p * chg
    if m > 0.0:  # min(back - p * chg, 0.0)
        m = 0.0
    est = front - (1.0 - p) * chg + m
    is_int = False
    if est > new_qty:
        est = new_qty
        is_int = True
    if est > 1e-9:
        o.ahead = est
        o.ahead_int = is_int
    else:
        o.ahead = 0
        o.ahead_int = True


@njit(cache=True, _nrt=False)
def _set_level(sim: SimState, j: int, qty: int) -> None:
    """New displayed qty of a tracked level: queue estimates follow, ``taken`` is capped."""
    L = sim.levels[j]
    prev = L.qty
    k = L.head
    if k >= 0 and (qty > MAX_EXACT or prev > MAX_EXACT):
        _set_err(sim, OVF_FLOAT)
    while k >= 0:
        _depth(sim, k, prev, qty)
        k = sim.orders[k].nxt
    L.qty = qty
    if L.taken > qty:
        L.taken = qty
    if L.n == 0 and L.taken == 0:
        _del_level(sim, j)


# -- order entry -------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _take_level(  # type: ignore[no-untyped-def]
    sim: SimState, side: int, price: int, qty: int, bbo_seq: int, want: int
) -> bool:
    """One displayed level of an immediate-or-cancel order (slot 0); True: done."""
    o = sim.orders[0]
    j = _find_level(sim, side, price)
    avail = qty if j < 0 else sim.levels[j].qty - sim.levels[j].taken
    if avail <= 0:
        return False
    n = want - o.filled
    if avail < n:
        n = avail
    if j < 0:
        j = _new_level(sim, side, price, qty, bbo_seq)
    sim.levels[j].taken += n
    _fill(sim, 0, n, price, False)
    return o.filled >= want


@njit(cache=True, _nrt=False)
def _take(sim: SimState, book: KBook) -> None:
    """Immediate-or-cancel: walk the displayed opposite levels up to the limit."""
    r = sim.rec[0]
    o = sim.orders[0]
    want = o.qty
    if o.reduce_only:
        pos = r.position if r.position >= 0 else -r.position
        if pos < want:
            want = pos
    opp = -o.side
    limit = o.price
    top = 0
    tq = 0
    stop = False
    done = False
    if r.v_fresh:
        if opp == BID:
            top = r.v_bid_p
            tq = r.v_bid_q
        else:
            top = r.v_ask_p
            tq = r.v_ask_q
        if top:
            if (top < limit) if opp == BID else (top > limit):
                stop = True
            else:
                done = _take_level(sim, opp, top, tq, r.v_bbo_seq, want)
    if not stop and not done:
        if opp == ASK:
            p = next_level(book, ASK, top) if top else best_ask(book)
            while p != NO_PRICE and p <= limit:
                if _take_level(sim, ASK, p, qty_at(book, ASK, p), -1, want):
                    break
                p = next_level(book, ASK, p)
        else:
            p = next_level(book, BID, top) if top else best_bid(book)
            while p != NO_PRICE and p >= limit:
                if _take_level(sim, BID, p, qty_at(book, BID, p), -1, want):
                    break
                p = next_level(book, BID, p)
    if o.filled < o.qty:
        _update(sim, 0, S_CANCELED, R_IOC_REMAINDER)
        r.expired += 1


@njit(cache=True, _nrt=False)
def _place(sim: SimState, a, book: KBook) -> None:  # type: ignore[no-untyped-def]
    r = sim.rec[0]
    cid = a.cid
    side = np.int64(a.side)
    price = a.price
    qty = a.qty
    why = 0
    if cid < 0:
        why = R_MISSING_ID
    elif _used_has(sim.aux, r.a_used, r.n_used, cid):
        why = R_DUPLICATE
    elif side != BID and side != ASK:
        why = R_SIDE
    elif qty <= 0:
        why = R_QTY
    elif not _valid_price(sim, price):
        why = R_PRICE
    elif _below_min(sim, price, qty):
        why = R_NOTIONAL
    elif a.reduce_only and side * r.position >= 0:
        why = R_REDUCE
    elif a.post_only and _crosses(sim, side, price, book):
        why = r.r_cross
    if why:
        _reject(sim, a, why, -1)
        return
    _used_add(sim.aux, r.a_used, r.n_used, cid)
    r.used_count += 1
    r.order_no += 1
    if a.post_only:
        k = 1
        while sim.orders[k].live:  # sim_send reserved a slot
            k += 1
    else:
        k = 0
    o = sim.orders[k]
    o.cid = cid
    o.venue_no = r.order_no
    o.side = side
    o.price = price
    o.qty = qty
    o.filled = 0
    o.post_only = a.post_only
    o.reduce_only = a.reduce_only
    o.ahead = 0
    o.ahead_int = True
    o.cum_trade = 0
    o.ts = 0
    o.priority = 0
    o.nxt = -1
    o.prv = -1
    o.lvl = -1
    r.placed += 1
    if a.post_only:
        _join(sim, k, book)
        o.live = True
        r.n_orders += 1
        if k >= r.ord_hw:
            r.ord_hw = k + 1
        _extremes(sim)
        _update(sim, k, S_NEW, 0)
    else:
        _take(sim, book)


@njit(cache=True, _nrt=False)
def _amend(sim: SimState, a, book: KBook) -> None:  # type: ignore[no-untyped-def]
    r = sim.rec[0]
    k = _find_order(sim, a.cid)
    if k < 0:
        _reject(sim, a, R_NOT_FOUND, -1)
        return
    o = sim.orders[k]
    price = a.price if a.price > 0 else o.price
    qty = a.qty if a.qty > 0 else o.qty
    if qty <= o.filled:
        _remove(sim, k)
        _update(sim, k, S_CANCELED, R_AMEND_LE_FILLED)
        r.canceled += 1
        return
    why = 0
    if price != o.price and not _valid_price(sim, price):
        why = R_PRICE
    elif _below_min(sim, price, qty):
        why = R_NOTIONAL
    elif price != o.price and _crosses(sim, o.side, price, book):
        why = r.r_cross
    # as on Bybit: a post-only order amended into a taker is rejected, and ends
    if why == r.r_cross:
        _remove(sim, k)
        _reject(sim, a, why, k)
        return
    if why:
        _reject(sim, a, why, k)
        return
    if r.cancel_replace:  # a new order: new venue id (the newest), back of the queue
        _leave(sim, k)
        r.order_no += 1
        o.venue_no = r.order_no
        o.price = price
        o.qty = qty
        _join(sim, k, book)
        _extremes(sim)
    elif price != o.price or qty > o.qty:  # loses priority: back of the queue
        _leave(sim, k)
        o.price = price
        o.qty = qty
        _join(sim, k, book)
        _extremes(sim)
    else:  # same price, qty decrease (or no change): keeps its place
        o.qty = qty
    r.amended += 1
    _update(sim, k, S_AMENDED, 0)


@njit(cache=True, _nrt=False)
def _cancel(sim: SimState, a) -> None:  # type: ignore[no-untyped-def]
    k = _find_order(sim, a.cid)
    if k < 0:
        _reject(sim, a, R_NOT_FOUND, -1)
        return
    _remove(sim, k)
    _update(sim, k, S_CANCELED, R_CANCELED)
    sim.rec[0].canceled += 1


@njit(cache=True, _nrt=False)
def _cancel_all(sim: SimState) -> None:
    r = sim.rec[0]
    od = sim.orders
    ks = sim.aux
    a = r.a_ord
    n = 0
    for k in range(1, r.ord_hw):  # placement order: ascending venue_no
        if od[k].live:
            v = od[k].venue_no
            i = n
            while i > 0 and od[ks[a + i - 1]].venue_no > v:
                ks[a + i] = ks[a + i - 1]
                i -= 1
            ks[a + i] = k
            n += 1
    for i in range(n):
        k = ks[a + i]
        _remove(sim, k)
        _update(sim, k, S_CANCELED, R_CANCEL_ALL)
        r.canceled += 1


@njit(cache=True, _nrt=False)
def _run_pending(sim: SimState, until: int, book: KBook) -> None:
    r = sim.rec[0]
    cap = len(sim.pend)
    while r.p_count > 0 and sim.pend[r.p_head].at <= until:
        i = r.p_head
        arrival = sim.pend[i].at
        r.p_head = i + 1 if i + 1 < cap else 0
        r.p_count -= 1
        a = sim.pend[i]  # stays intact: only sim_send writes the ring
        if arrival > r.now:
            r.now = arrival
        t = a.type
        if t == A_PLACE:
            r.p_places -= 1
        if a.bad_inst:
            _reject(sim, a, R_INSTRUMENT, -1)
        elif t == A_PLACE:
            _place(sim, a, book)
        elif t == A_AMEND:
            _amend(sim, a, book)
        elif t == A_CANCEL:
            _cancel(sim, a)
        elif t == A_CANCEL_ALL:
            _cancel_all(sim)
        else:
            _reject(sim, a, R_ACTION, -1)


# -- market data -------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _crossed_orders(sim: SimState, side: int, price: int, vts: int) -> int:
    """Our resting orders on ``side`` at or through ``price`` that joined by ``vts``,
    price then time priority, into the order scratch; returns how many."""
    od = sim.orders
    ks = sim.aux
    a = sim.rec[0].a_ord
    n = 0
    for k in range(1, sim.rec[0].ord_hw):
        o = od[k]
        if not o.live or o.side != side or o.ts > vts:
            continue
        if (o.price < price) if side == BID else (o.price > price):
            continue
        key = -o.price if side == BID else o.price
        pr = o.priority
        i = n
        while i > 0:
            q = od[ks[a + i - 1]]
            qk = -q.price if side == BID else q.price
            if qk > key or (qk == key and q.priority > pr):
                ks[a + i] = ks[a + i - 1]
                i -= 1
            else:
                break
        ks[a + i] = k
        n += 1
    return n


@njit(cache=True, _nrt=False)
def _on_cross(sim: SimState, n_rows: int, bbo_seq: int, vts: int) -> None:
    """Displayed opposite liquidity at or through our prices fills us (maker)."""
    rows = sim.aux
    a = sim.rec[0].a_rows
    # stable sort by -side * price: bids descending, then asks ascending
    for i in range(1, n_rows):
        s, p, q = rows[a + 3 * i], rows[a + 3 * i + 1], rows[a + 3 * i + 2]
        key = -s * p
        m = i
        while m > 0 and -rows[a + 3 * m - 3] * rows[a + 3 * m - 2] > key:
            rows[a + 3 * m] = rows[a + 3 * m - 3]
            rows[a + 3 * m + 1] = rows[a + 3 * m - 2]
            rows[a + 3 * m + 2] = rows[a + 3 * m - 1]
            m -= 1
        rows[a + 3 * m] = s
        rows[a + 3 * m + 1] = p
        rows[a + 3 * m + 2] = q
    for i in range(n_rows):
        side, price, qty = rows[a + 3 * i], rows[a + 3 * i + 1], rows[a + 3 * i + 2]
        j = _find_level(sim, side, price)
        avail = qty if j < 0 else sim.levels[j].qty - sim.levels[j].taken
        if avail <= 0:
            continue
        n_ours = _crossed_orders(sim, -side, price, vts)
        used = 0
        a_ord = sim.rec[0].a_ord
        for m in range(n_ours):
            k = sim.aux[a_ord + m]
            o = sim.orders[k]
            n = o.qty - o.filled
            if avail - used < n:
                n = avail - used
            if n <= 0:
                break
            used += n
            _fill(sim, k, n, o.price, True)
        if used:
            if j < 0:
                j = _new_level(sim, side, price, qty, bbo_seq)
            sim.levels[j].taken += used


@njit(cache=True, _nrt=False)
def _on_book(sim: SimState, ev: np.ndarray, start: int, end: int, vts: int, book: KBook) -> None:
    r = sim.rec[0]
    seq = ev[start].seq
    stale = r.v_fresh and 0 <= seq < r.v_bbo_seq
    if seq >= 0:
        r.v_book_seq = seq
    r.v_fresh = stale
    if r.n_levels == 0:
        return
    if ev[start].kind == K_SNAPSHOT:
        _on_snapshot(sim, ev, start, end, vts, book, stale)
        return
    # one pass: the tracked levels the rows inform, in row order (the reference's
    # `informed` list, then `_set_level`s), and the rows that cross our orders (they
    # depend on the rows and our extremes only, which `_set_level` does not change)
    lv = sim.levels
    cross = not stale and r.n_orders > 0
    max_bid = r.max_bid
    min_ask = r.min_ask
    blo, bhi, alo, ahi = r.lv_bid_lo, r.lv_bid_hi, r.lv_ask_lo, r.lv_ask_hi
    rows = sim.aux
    a = r.a_rows
    n = 0
    for i in range(start, end):
        side = ev[i].side
        price = ev[i].price
        qty = ev[i].qty
        if (blo <= price <= bhi) if side == BID else (alo <= price <= ahi):
            j = _find_level(sim, side, price)
            if j >= 0 and not 0 <= seq < lv[j].bbo_seq:
                lv[j].bbo_seq = -1
                _set_level(sim, j, qty)
        if (
            cross
            and qty > 0
            and (
                (side == ASK and max_bid != NO_PRICE and price <= max_bid)
                or (side == BID and min_ask != NO_PRICE and price >= min_ask)
            )
        ):
            rows[a + 3 * n] = side
            rows[a + 3 * n + 1] = price
            rows[a + 3 * n + 2] = qty
            n += 1
    if n:  # none when stale: older than the BBO, its top may be gone, it cannot cross us
        _on_cross(sim, n, -1, vts)


@njit(cache=True, _nrt=False)
def _on_snapshot(  # type: ignore[no-untyped-def]
    sim: SimState, ev: np.ndarray, start: int, end: int, vts: int, book: KBook, stale: bool
) -> None:
    """A full book as the level deltas it amounts to (venue._on_snapshot): a row is news
    only where its quantity differs from the tracked level's, else the displayed one;
    tracked levels absent within the snapshot's depth are empty, beyond it untouched."""
    r = sim.rec[0]
    seq = ev[start].seq
    lv = sim.levels
    cross = not stale and r.n_orders > 0
    max_bid = r.max_bid
    min_ask = r.min_ask
    blo, bhi, alo, ahi = r.lv_bid_lo, r.lv_bid_hi, r.lv_ask_lo, r.lv_ask_hi
    for j in range(r.lvl_hw):
        lv[j].snap_seen = False
    lo_bid = NO_PRICE
    hi_ask = NO_PRICE
    rows = sim.aux
    a = r.a_rows
    n = 0
    for i in range(start, end):
        side = ev[i].side
        price = ev[i].price
        qty = ev[i].qty
        if side == BID:
            if lo_bid == NO_PRICE or price < lo_bid:
                lo_bid = price
        elif side == ASK and (hi_ask == NO_PRICE or price > hi_ask):
            hi_ask = price
        j = -1
        if (blo <= price <= bhi) if side == BID else (alo <= price <= ahi):
            j = _find_level(sim, side, price)
        if j >= 0:
            lv[j].snap_seen = True
            if qty == lv[j].qty:
                continue  # no news
            if not 0 <= seq < lv[j].bbo_seq:  # else the BBO told us something newer
                lv[j].bbo_seq = -1
                _set_level(sim, j, qty)
        if not (
            cross
            and qty > 0
            and (
                (side == ASK and max_bid != NO_PRICE and price <= max_bid)
                or (side == BID and min_ask != NO_PRICE and price >= min_ask)
            )
        ):
            continue
        if j < 0 and qty == _view_displayed(sim, side, price, book)[0]:
            continue  # no news: this liquidity was displayed before
        rows[a + 3 * n] = side
        rows[a + 3 * n + 1] = price
        rows[a + 3 * n + 2] = qty
        n += 1
    for j in range(r.lvl_hw):  # levels are independent: slot order is as good
        L = lv[j]
        if not L.live or L.snap_seen or L.qty == 0 or 0 <= seq < L.bbo_seq:
            continue
        if L.side == BID and lo_bid != NO_PRICE and L.price < lo_bid:
            continue
        if L.side == ASK and hi_ask != NO_PRICE and L.price > hi_ask:
            continue
        L.bbo_seq = -1
        _set_level(sim, j, 0)
    if n:
        _on_cross(sim, n, -1, vts)


@njit(cache=True, _nrt=False)
def _on_bbo(sim: SimState, ev: np.ndarray, start: int, end: int, vts: int) -> None:
    r = sim.rec[0]
    seq = ev[start].seq
    if 0 <= seq < r.v_book_seq:
        return  # older than the book
    r.v_bbo_seq = seq
    for i in range(start, end):
        side = ev[i].side
        price = ev[i].price
        qty = ev[i].qty
        if price <= 0 or qty <= 0:
            price = 0
            qty = 0
        if side == BID:
            r.v_bid_p = price
            r.v_bid_q = qty
        elif side == ASK:
            r.v_ask_p = price
            r.v_ask_q = qty
    r.v_fresh = True
    if r.n_levels == 0:
        return
    bbo_seq = r.v_bbo_seq
    bp, bq, ap, aq = r.v_bid_p, r.v_bid_q, r.v_ask_p, r.v_ask_q
    lv = sim.levels
    for j in range(r.lvl_hw):
        if not lv[j].live:
            continue
        side = lv[j].side
        price = lv[j].price
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
        lv[j].bbo_seq = bbo_seq
        _set_level(sim, j, qty)
    if r.n_orders == 0:
        return
    rows = sim.aux
    a = r.a_rows
    n = 0
    if ap and r.max_bid != NO_PRICE and ap <= r.max_bid:
        rows[a] = ASK
        rows[a + 1] = ap
        rows[a + 2] = aq
        n += 1
    if bp and r.min_ask != NO_PRICE and bp >= r.min_ask:
        rows[a + 3 * n] = BID
        rows[a + 3 * n + 1] = bp
        rows[a + 3 * n + 2] = bq
        n += 1
    if n:
        _on_cross(sim, n, bbo_seq, vts)


@njit(cache=True, _nrt=False)
def _match_trade(sim: SimState, side: int, price: int, qty: int, vts: int) -> None:
    """One trade against our resting orders on ``side`` (the passive side)."""
    if qty > MAX_EXACT:
        _set_err(sim, OVF_FLOAT)
    remaining = float(qty)
    rem_f = False  # the reference's `remaining` has become a float
    # 1. trade-through: our orders at prices better for the aggressor, in priority
    n_thr = _crossed_orders(sim, side, price + side, vts)
    a_ord = sim.rec[0].a_ord
    for m in range(n_thr):
        k = sim.aux[a_ord + m]
        o = sim.orders[k]
        n = o.qty - o.filled
        c = int(remaining + EPS)
        if c < n:
            n = c
        if n <= 0:
            break
        remaining -= n
        _fill(sim, k, n, o.price, True)
    # 2. the queue at the trade price: market quantity ahead, then us, in time order
    j = _find_level(sim, side, price)
    if j < 0 or sim.levels[j].n == 0:
        return
    eaten = 0.0
    eaten_f = False
    k = sim.levels[j].head
    while k >= 0:
        o = sim.orders[k]
        nxt = o.nxt
        if o.ts > vts:
            k = nxt
            continue  # joined after the trade happened
        if add_overflows(o.cum_trade, qty):
            _set_err(sim, OVF_INT)
        o.cum_trade += qty
        gap = o.ahead - eaten
        if gap > 0 and remaining > 0:
            if gap < remaining:
                take = gap
                take_f = (not o.ahead_int) or eaten_f
            else:
                take = remaining
                take_f = rem_f
            eaten += take
            remaining -= take
            eaten_f = eaten_f or take_f
            rem_f = rem_f or take_f
        ahead = o.ahead - eaten
        if ahead > EPS:
            o.ahead = ahead
            o.ahead_int = o.ahead_int and not eaten_f
        else:
            o.ahead = 0
            o.ahead_int = True
        if o.ahead == 0 and remaining > 1 - EPS:
            n = o.qty - o.filled
            c = int(remaining + EPS)
            if c < n:
                n = c
            remaining -= n
            _fill(sim, k, n, o.price, True)
        k = nxt


@njit(cache=True, _nrt=False)
def _on_trades(sim: SimState, ev: np.ndarray, start: int, end: int, vts: int) -> None:
    r = sim.rec[0]
    for i in range(start, end):
        aggressor = ev[i].side
        price = ev[i].price
        qty = ev[i].qty
        if aggressor == ASK:  # a seller hit bids: ours at >= price are exposed
            if r.max_bid == NO_PRICE or price > r.max_bid or qty <= 0:
                continue
        elif aggressor == BID:
            if r.min_ask == NO_PRICE or price < r.min_ask or qty <= 0:
                continue
        else:
            continue  # unknown aggressor: cannot tell whom it hit
        _match_trade(sim, -np.int64(aggressor), price, qty, vts)
        if r.n_orders == 0:
            return


# -- the driver's interface --------------------------------------------------------------
@njit(cache=True, _nrt=False)
def sim_send(sim: SimState, actions: np.ndarray, i: int, local_ts: int) -> None:
    """Queue ``actions[i]``; it reaches the venue ``order_latency`` after ``local_ts``.

    A send before the previous one sets ``ERR_SEND_BACKWARDS`` (``err_i0`` = this
    ``local_ts``, ``err_i1`` = the previous one) and changes nothing, as the reference
    raises before changing anything.
    """
    r = sim.rec[0]
    if local_ts < r.last_send:
        if r.err == 0:
            r.err = ERR_SEND_BACKWARDS
            r.err_i0 = local_ts
            r.err_i1 = r.last_send
        return
    a = actions[i]
    place = a.type == A_PLACE
    cap = len(sim.pend)
    if (
        r.p_count >= cap
        or (place and r.n_orders + r.p_places + 2 > len(sim.orders))
        or (place and 2 * (r.used_count + r.p_places + 1) > r.n_used)
    ):
        r.err = ERR_CAPACITY
        return
    r.last_send = local_ts
    r.actions += 1
    j = r.p_head + r.p_count
    if j >= cap:
        j -= cap
    p = sim.pend[j]
    p.type = a.type
    p.cid = a.cid
    p.side = a.side
    p.price = a.price
    p.qty = a.qty
    p.post_only = a.post_only
    p.reduce_only = a.reduce_only
    p.level = a.level
    p.bad_inst = a.bad_inst
    p.r_code = a.r_code
    p.r_sub = a.r_sub
    p.r_i0 = a.r_i0
    p.r_i1 = a.r_i1
    p.r_f0 = a.r_f0
    p.r_f1 = a.r_f1
    p.r_f2 = a.r_f2
    p.r_tok = a.r_tok
    p.at = local_ts + r.order_lat
    r.p_count += 1
    if place:
        r.p_places += 1


@njit(cache=True, _nrt=False)
def sim_headroom_ok(sim: SimState) -> bool:
    """No error, and room for ``SEND_HEADROOM`` more sends (else: grow_sim between messages)."""
    r = sim.rec[0]
    h = SEND_HEADROOM
    return (
        r.err == 0
        and len(sim.pend) - r.p_count >= h
        and len(sim.orders) - 1 - r.n_orders - r.p_places >= h
        and r.n_used // 2 - r.used_count - r.p_places >= h
    )


@njit(cache=True, _nrt=False)
def _fits(sim: SimState, book: KBook, kind: int, n_rows: int) -> bool:
    """Room for a message of ``kind`` with ``n_rows`` rows (0: an advance): an upper bound
    of the responses, tracked levels and crossing rows it can produce. False records the
    needs for :func:`grow_sim`."""
    r = sim.rec[0]
    if r.p_count == 0 and r.n_orders == 0:
        return True
    n_max = r.n_orders  # orders that can rest during the message
    out = 0
    lvl = 0
    cap = len(sim.pend)
    bk = book.rec[0]
    for m in range(r.p_count):
        i = r.p_head + m
        if i >= cap:
            i -= cap
        a = sim.pend[i]
        t = a.type
        if a.bad_inst:
            out += 1
        elif t == A_PLACE:
            if a.post_only:
                out += 1
                lvl += 1
                n_max += 1
            else:  # a fill per displayed level (the BBO top and the book), then the rest
                n_opp = bk.n_ask if a.side == BID else bk.n_bid
                if a.side != BID and a.side != ASK:
                    n_opp = max(bk.n_ask, bk.n_bid)
                f = n_opp + 1
                if a.qty < f:
                    f = max(a.qty, 0)
                out += 2 * f + 1
                lvl += f
        elif t == A_AMEND:
            out += 1
            lvl += 1
        elif t == A_CANCEL_ALL:
            out += n_max
        else:
            out += 1
    rows = 0
    if n_max > 0 and n_rows > 0:  # each row fills every order at most once
        if kind == K_TRADE:
            out += 2 * n_max * n_rows
        elif K_SNAPSHOT <= kind <= K_DELTA:  # a book message
            rows = n_rows
            out += 2 * n_max * rows
            lvl += rows
        elif kind == K_BBO:
            rows = 2
            out += 4 * n_max
            lvl += 2
    ok = (
        r.o_count + out <= len(sim.out) and r.n_levels + lvl <= len(sim.levels) and rows <= r.n_rows
    )
    if not ok:
        r.need_out = out
        r.need_lvl = r.n_levels + lvl
        r.need_rows = rows
    return ok


@njit(cache=True, _nrt=False)
def sim_fits(sim: SimState, book: KBook, ev: np.ndarray, start: int, end: int) -> bool:
    """True if :func:`sim_on_market` of ``ev[start:end]`` cannot run out of room (else
    return to Python, :func:`grow_sim`, and resume with this message)."""
    return _fits(sim, book, ev[start].kind, end - start)


@njit(cache=True, _nrt=False)
def sim_advance_fits(sim: SimState, book: KBook) -> bool:
    """The same for :func:`sim_advance`."""
    return _fits(sim, book, 0, 0)


@njit(cache=True, inline="always", _nrt=False)
def sim_quiet(sim: SimState) -> bool:
    """Nothing in flight and no level tracked (no resting order, no consumed liquidity):
    a market message changes only the clock, the BBO view and a counter (and needs no room)."""
    r = sim.rec[0]
    return r.p_count == 0 and r.n_levels == 0


@njit(cache=True, _nrt=False)
def sim_on_market_quiet(rec: np.ndarray, ev: np.ndarray, start: int, end: int) -> None:
    """:func:`sim_on_market` when :func:`sim_quiet` (``rec`` is ``sim.rec``)."""
    r = rec[0]
    e0 = ev[start]
    vts = md_venue_ts(rec, e0.recv_ts, e0.exch_ts)
    if vts > r.now:
        r.now = vts
    r.messages += 1
    kind = e0.kind
    if K_SNAPSHOT <= kind <= K_DELTA:  # TopView.on_book
        seq = e0.seq
        stale = r.v_fresh and 0 <= seq < r.v_bbo_seq
        if seq >= 0:
            r.v_book_seq = seq
        r.v_fresh = stale
    elif kind == K_BBO:  # TopView.on_bbo
        seq = e0.seq
        if 0 <= seq < r.v_book_seq:
            return
        r.v_bbo_seq = seq
        for i in range(start, end):
            side = ev[i].side
            price = ev[i].price
            qty = ev[i].qty
            if price <= 0 or qty <= 0:
                price = 0
                qty = 0
            if side == BID:
                r.v_bid_p = price
                r.v_bid_q = qty
            elif side == ASK:
                r.v_ask_p = price
                r.v_ask_q = qty
        r.v_fresh = True
    elif kind == K_FEED_RESET:
        r.v_fresh = False
        r.v_bid_p = 0
        r.v_bid_q = 0
        r.v_ask_p = 0
        r.v_ask_q = 0
        r.v_bbo_seq = -1


@njit(cache=True, _nrt=False)
def sim_on_market(sim: SimState, book: KBook, ev: np.ndarray, start: int, end: int) -> None:
    """One recorded venue message ``ev[start:end]``; ``book`` is the trader's book *before*
    it (read only). Without room sets ERR_CAPACITY and changes nothing: the loop returns
    to Python, calls grow_sim and gives it the same message again. With nothing in flight
    and nothing tracked (sim_quiet) it costs a few ns (sim_on_market_quiet).
    """
    if sim_quiet(sim):
        sim_on_market_quiet(sim.rec, ev, start, end)
    else:
        _on_market_full(sim, book, ev, start, end)


@njit(cache=True, _nrt=False)
def _on_market_full(sim: SimState, book: KBook, ev: np.ndarray, start: int, end: int) -> None:
    """sim_on_market in general (also right when quiet, only slower)."""
    r = sim.rec[0]
    if (r.p_count or r.n_orders) and not _fits(sim, book, ev[start].kind, end - start):
        r.err = ERR_CAPACITY
        return
    e0 = ev[start]
    vts = md_venue_ts(sim.rec, e0.recv_ts, e0.exch_ts)
    if r.p_count:
        _run_pending(sim, vts, book)
    if vts > r.now:
        r.now = vts
    r.messages += 1
    kind = e0.kind
    if kind == K_TRADE:
        if r.n_orders:
            _on_trades(sim, ev, start, end, vts)
    elif K_SNAPSHOT <= kind <= K_DELTA:  # a book message
        _on_book(sim, ev, start, end, vts, book)
    elif kind == K_BBO:
        _on_bbo(sim, ev, start, end, vts)
    elif kind == K_FEED_RESET:
        r.v_fresh = False
        r.v_bid_p = 0
        r.v_bid_q = 0
        r.v_ask_p = 0
        r.v_ask_q = 0
        r.v_bbo_seq = -1


@njit(cache=True, _nrt=False)
def sim_advance(sim: SimState, book: KBook, local_ts: int) -> None:
    """Move the venue clock to ``local_ts``: process the actions that arrived by then.
    Without room (see sim_advance_fits) sets ERR_CAPACITY and changes nothing."""
    r = sim.rec[0]
    if r.p_count:
        if not _fits(sim, book, 0, 0):
            r.err = ERR_CAPACITY
            return
        _run_pending(sim, local_ts, book)
    if local_ts > r.now:
        r.now = local_ts


@njit(cache=True, _nrt=False)
def sim_next_response_ts(sim: SimState) -> int:
    """Local time at which the next response reaches the strategy; NO_TS (INT64_MAX) if none."""
    r = sim.rec[0]
    if r.o_count == 0:
        return NO_TS
    return sim.out[r.o_head].recv_ts


@njit(cache=True, _nrt=False)
def sim_poll(sim: SimState, local_ts: int, out: np.ndarray, start: int) -> int:
    """Move the responses visible by ``local_ts`` into ``out[start:]``, in order; returns how
    many (at most ``len(out) - start``: poll again if that many came back)."""
    r = sim.rec[0]
    cap = len(sim.out)
    n = 0
    room = len(out) - start
    while r.o_count > 0 and n < room:
        x = sim.out[r.o_head]
        if x.recv_ts > local_ts:
            break
        y = out[start + n]
        y.is_fill = x.is_fill
        y.cid = x.cid
        y.status = x.status
        y.side = x.side
        y.price = x.price
        y.qty = x.qty
        y.filled = x.filled
        y.fee = x.fee
        y.is_maker = x.is_maker
        y.exch_ts = x.exch_ts
        y.recv_ts = x.recv_ts
        y.venue_no = x.venue_no
        y.exec_no = x.exec_no
        y.r_code = x.r_code
        y.r_sub = x.r_sub
        y.r_i0 = x.r_i0
        y.r_i1 = x.r_i1
        y.r_f0 = x.r_f0
        y.r_f1 = x.r_f1
        y.r_f2 = x.r_f2
        y.r_tok = x.r_tok
        y.says_post_only = x.says_post_only
        y.says_not_found = x.says_not_found
        n += 1
        r.o_head = r.o_head + 1 if r.o_head + 1 < cap else 0
        r.o_count -= 1
    return n


# -- the Python edge ---------------------------------------------------------------------
_MISSING_CIDS = {-1: "", -2: None}

_STATS_FIELDS = (
    "messages",
    "actions",
    "placed",
    "amended",
    "canceled",
    "expired",
    "fills",
    "maker_fills",
    "taker_fills",
    "filled_qty",
    "maker_qty",
    "taker_qty",
    "fee_units",
)


class CompiledMdClock:
    """:class:`connectors.sim.latency.MdClock` over the kernel's clock (:func:`md_venue_ts`)."""

    __slots__ = ("rec",)

    def __init__(self, mode: str, md_latency_ms: float) -> None:
        self.rec = np.zeros(1, dtype=SIM_REC)
        self.rec[0]["md_recorded"] = mode == "recorded"
        self.rec[0]["last_latency"] = ms_to_ns(md_latency_ms)

    @property
    def recorded(self) -> bool:
        return bool(self.rec[0]["md_recorded"])

    @property
    def last_latency(self) -> int:
        return int(self.rec[0]["last_latency"])

    @property
    def clock_offset(self) -> int | None:
        r = self.rec[0]
        return int(r["clock_offset"]) if r["has_offset"] else None

    def venue_ts(self, recv_ts: int, exch_ts: int) -> int:
        return int(md_venue_ts(self.rec, recv_ts, exch_ts))


def sim_stats(sim: SimState) -> SimStats:
    """The reference's ``SimStats`` of a venue state (``rejected`` in first-seen order)."""
    r = sim.rec[0]
    st = SimStats(**{name: int(r[name]) for name in _STATS_FIELDS})
    rej = _aux_part(sim, "rej")
    codes = [c for c in range(N_REASONS) if rej[0, c]]
    codes.sort(key=lambda c: int(rej[1, c]))
    st.rejected = {format_reason(c): int(rej[0, c]) for c in codes}
    return st


def _as_kbook(book: object) -> KBook:
    st = getattr(book, "st", book)
    if not isinstance(st, KBook):
        raise TypeError(
            f"the compiled venue needs a core.l2book_kernel.CompiledBook, got {type(book).__name__}"
        )
    return st


class CompiledSimVenue:
    """:class:`connectors.sim.venue.SimVenue`'s interface over the kernel.

    Client ids are mapped to integers in first-seen order (``""`` is -1: missing);
    responses come back as the reference's ``OrderUpdate`` / ``Fill`` objects.
    """

    def __init__(self, spec: InstrumentSpec, config: SimConfig) -> None:
        self.spec = spec
        self.config = config
        self.inst = spec.id
        self.st = new_sim(spec, config)
        self._cids: dict[str, int] = {}
        self._cid_names: list[str] = []
        self._act = np.zeros(1, ACTION_DTYPE)
        self._resp = np.zeros(256, RESPONSE_DTYPE)

    # -- errors and room ---------------------------------------------------------------------
    def _check(self) -> None:
        r = self.st.rec[0]
        err = int(r["err"])
        if not err:
            return
        if err == ERR_SEND_BACKWARDS:
            r["err"] = 0
            raise ValueError(
                f"send at local_ts {int(r['err_i0'])} is before the previous send at "
                f"{int(r['err_i1'])} (actions must be sent in time order)"
            )
        if err == ERR_OVERFLOW and int(r["err_what"]) == OVF_FLOAT:
            raise MMError(
                f"simulated venue {self.inst}: a quantity beyond 2**53 lots reached the "
                "queue model",
                "check the data for bogus sizes, or use the reference engine",
            )
        if err == ERR_OVERFLOW:
            raise MMError(
                f"simulated venue {self.inst}: an exact integer (fee, position or counter) "
                "left int64",
                "check the data and order sizes, or use the reference engine",
            )
        raise MMError(f"simulated venue {self.inst}: kernel error {err}")

    def _cid(self, client_id: str | None) -> int:
        if not client_id:
            return -2 if client_id is None else -1
        n = self._cids.get(client_id)
        if n is None:
            n = self._cids[client_id] = len(self._cid_names)
            self._cid_names.append(client_id)
        return n

    def _name(self, cid: int) -> str:
        return self._cid_names[cid] if cid >= 0 else _MISSING_CIDS[cid]  # type: ignore[return-value]

    # -- the driver's interface -------------------------------------------------------------
    def send(self, action: object, local_ts: int) -> None:
        """Queue an action; it reaches the venue ``order_latency`` after ``local_ts``."""
        a = action
        rec = self._act[0]
        for name, value, lo, hi in (
            ("side", a.side, -128, 127),  # type: ignore[attr-defined]
            ("price", a.price, -(1 << 63), INT64_MAX),  # type: ignore[attr-defined]
            ("qty", a.qty, -(1 << 63), INT64_MAX),  # type: ignore[attr-defined]
        ):
            if not lo <= value <= hi:
                raise ValueError(
                    f"order {name} {value} does not fit the compiled venue's action record"
                )
        rec["type"] = int(a.type)  # type: ignore[attr-defined]
        rec["cid"] = self._cid(a.client_id)  # type: ignore[attr-defined]
        rec["side"] = a.side  # type: ignore[attr-defined]
        rec["price"] = a.price  # type: ignore[attr-defined]
        rec["qty"] = a.qty  # type: ignore[attr-defined]
        rec["post_only"] = bool(a.post_only)  # type: ignore[attr-defined]
        rec["reduce_only"] = bool(a.reduce_only)  # type: ignore[attr-defined]
        rec["level"] = -1
        rec["bad_inst"] = a.inst != self.inst  # type: ignore[attr-defined]
        if not sim_headroom_ok(self.st):
            self._check()
            self.st = grow_sim(self.st)
        sim_send(self.st, self._act, 0, local_ts)
        self._check()

    def on_market(self, msg: object, book: object) -> None:
        """One recorded message (a ``core.walk.Message``); ``book`` the trader's book before it."""
        rows = msg.levels  # type: ignore[attr-defined]
        ev = np.zeros(max(len(rows), 1), EVENT_DTYPE)
        ev["kind"] = msg.kind  # type: ignore[attr-defined]
        ev["recv_ts"] = msg.recv_ts  # type: ignore[attr-defined]
        ev["exch_ts"] = msg.exch_ts  # type: ignore[attr-defined]
        ev["seq"] = msg.seq  # type: ignore[attr-defined]
        if rows:
            cols = np.array(rows, np.int64).reshape(-1, 3)
            ev["side"] = cols[:, 0]
            ev["price"] = cols[:, 1]
            ev["qty"] = cols[:, 2]
        self.on_rows(ev, 0, len(rows) if rows else 1, book)

    def on_rows(self, ev: np.ndarray, start: int, end: int, book: object) -> None:
        """One message as rows ``ev[start:end]`` of an EVENT_DTYPE array."""
        bk = _as_kbook(book)
        if not sim_fits(self.st, bk, ev, start, end):
            self.st = grow_sim(self.st)
        sim_on_market(self.st, bk, ev, start, end)
        self._check()

    def advance(self, local_ts: int, book: object) -> None:
        """Move the venue clock to ``local_ts``: process the actions that arrived by then."""
        bk = _as_kbook(book)
        if not sim_advance_fits(self.st, bk):
            self.st = grow_sim(self.st)
        sim_advance(self.st, bk, local_ts)
        self._check()

    def poll(self, local_ts: int) -> list[OrderUpdate | Fill]:
        """Responses that have reached the strategy by ``local_ts``, in order."""
        got: list[OrderUpdate | Fill] = []
        buf = self._resp
        while True:
            n = sim_poll(self.st, local_ts, buf, 0)
            got.extend(self._response(x) for x in buf[:n].tolist())
            if n < len(buf):
                return got

    def _response(self, x: tuple) -> OrderUpdate | Fill:
        (is_fill, cid, status, side, price, qty, filled, fee, maker, exch, recv, vno, xno,
         code, sub, i0, i1, f0, f1, f2, tok, _post_only, _not_found) = x  # fmt: skip
        name = self._name(cid)
        if is_fill:
            return Fill(self.inst, name, side, price, qty, fee, maker, exch, recv, f"sim-x{xno}")
        reason = format_reason(code, sub, i0, i1, f0, f1, f2, tok) if code else ""
        vid = f"sim-{vno}" if vno else ""
        return OrderUpdate(
            self.inst, name, OrderStatus(status), side, price, qty, filled, exch, recv, vid, reason
        )

    def next_response_ts(self) -> int | None:
        """Local time at which the next response reaches the strategy (None if none pending)."""
        t = int(sim_next_response_ts(self.st))
        return None if t == NO_TS else t

    def open_orders(self) -> dict[str, SimOrder]:
        """client_id -> copy of each resting order as the venue sees it (placement order)."""
        od = self.st.orders
        live = [k for k in range(1, len(od)) if od[k]["live"]]
        live.sort(key=lambda k: int(od[k]["venue_no"]))
        out: dict[str, SimOrder] = {}
        for k in live:
            o = od[k]
            ahead = float(o["ahead"])
            out[self._name(int(o["cid"]))] = SimOrder(
                self._name(int(o["cid"])),
                f"sim-{int(o['venue_no'])}",
                int(o["side"]),
                int(o["price"]),
                int(o["qty"]),
                int(o["filled"]),
                bool(o["post_only"]),
                bool(o["reduce_only"]),
                int(ahead) if o["ahead_int"] else ahead,
                int(o["cum_trade"]),
                int(o["ts"]),
                int(o["priority"]),
            )
        return out

    @property
    def position(self) -> int:
        return int(self.st.rec[0]["position"])

    @property
    def stats(self) -> SimStats:
        """A snapshot of the counters (a new object per access)."""
        return sim_stats(self.st)
