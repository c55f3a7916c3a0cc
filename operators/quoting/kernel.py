"""The quote engine as a compiled kernel.

Same behaviour as :class:`operators.quoting.engine.QuoteEngine` (the reference, tested
against it bit for bit): the parameters are copied into ``rec`` at construction (a None
parameter is a ``has_*`` flag), and every float operation runs in the reference's order.

Rounding onto the venue grid repeats :meth:`InstrumentSpec.round_ticks`. On
significant-figure venues (Hyperliquid) the reference finds the price quantum through
``Decimal(repr(price_ticks))``; the quantum is a step function of the price, constant
between the prices where the decimal exponent of ``repr(price_ticks) x tick_size``
changes. Those thresholds are found exactly at construction (the smallest float whose
``repr`` reaches each power of ten, searched ulp by ulp with the reference's own
Decimal test), so the kernel's quantum is a comparison with a few floats.

:func:`qe_quote` writes the quote levels (bids first, then asks) into a ``QLEVEL_DTYPE``
array and the QuoteSet scalars into a ``QSET_DTYPE`` record.
"""

from __future__ import annotations

import math
from collections import namedtuple
from decimal import Decimal

import numpy as np
from numba import njit

from core.errors import MMError
from core.instruments import ASK, BID, InstrumentSpec
from core.money import min_notional_units
from core.nb import ERR_CAPACITY, ERR_OVERFLOW, mul_overflows, py_max, py_min
from core.params import StrategyParams
from operators.quoting.engine import MarketView, QuoteLevel, QuoteSet

QE_REC = np.dtype(
    [
        ("tick", np.float64),
        ("lot", np.float64),
        ("inverse", np.bool_),  # a lot is lot_usd USD at any price; min_units in lots
        ("lot_usd", np.float64),
        ("min_units", np.int64),
        ("has_sig", np.bool_),  # significant-figure venue
        ("n_thr", np.int64),
        # QuoteParams
        ("base_spread_bps", np.float64),
        ("vol_multiplier", np.float64),
        ("inventory_skew_factor", np.float64),
        ("bias_strength", np.float64),
        ("order_size_usd", np.float64),
        ("levels", np.int64),
        ("use_regimes", np.bool_),
        ("level_spacing_bps", np.float64),
        ("level_size_multiplier", np.float64),
        ("min_spread_fee_multiple", np.float64),
        ("warmup_vol_bps", np.float64),
        ("toxicity_widen", np.float64),
        ("toxicity_pull_score", np.float64),
        ("price_ceiling", np.float64),
        ("has_price_ceiling", np.bool_),
        ("price_floor", np.float64),
        ("has_price_floor", np.bool_),
        ("inventory_target_pct", np.float64),
        ("capital_usd", np.float64),
        # RiskParams
        ("max_position_usd", np.float64),
        ("max_position_units", np.float64),
        ("has_max_position_units", np.bool_),
        # FeeParams
        ("maker", np.float64),
        ("err", np.int64),
    ]
)

QLEVEL_DTYPE = np.dtype(
    [("side", np.int64), ("level", np.int64), ("price", np.int64), ("qty", np.int64)]
)

QSET_DTYPE = np.dtype(
    [
        ("mid", np.float64),  # ticks
        ("reservation", np.float64),  # ticks
        ("half_spread_bps", np.float64),
        ("vol_bps", np.float64),
        ("regime", np.int64),
        ("signal", np.int64),
        ("toxicity", np.float64),
        ("n_bids", np.int64),
        ("n_asks", np.int64),
    ]
)

# thr[k]: the smallest price (ticks) in quantum bucket k + 1; quanta[k]: bucket k's quantum
KQuote = namedtuple("KQuote", ["rec", "thr", "quanta"])


def _adjusted_reaches(x: float, tick: Decimal, bound: Decimal) -> bool:
    """The reference's test: ``Decimal(repr(x)) x tick >= bound`` (monotone in x)."""
    return Decimal(repr(x)) * tick >= bound


def sig_fig_buckets(spec: InstrumentSpec) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds and quanta (ticks) of ``spec._quantum_ticks`` for positive prices.

    The quantum depends only on ``(Decimal(repr(x)) * tick).adjusted()``; below
    ``10^(adjusted(tick) + s - 2)`` it is one tick, from ``10^(s - 1)`` on it is
    constant, and in between it changes only where the exponent does. For each power of
    ten in that range the threshold is the smallest float reaching it.
    """
    s = spec.price_sig_figs
    if s is None:
        return np.zeros(0, np.float64), np.ones(1, np.int64)
    tick = spec.tick_size
    thr: list[float] = []
    for e in range(tick.adjusted() + s - 2, s):
        bound = Decimal(1).scaleb(e)
        c = float(bound / tick)
        while c > 0 and _adjusted_reaches(c, tick, bound):
            c = math.nextafter(c, 0.0)
        while not _adjusted_reaches(c, tick, bound):
            c = math.nextafter(c, math.inf)
        thr.append(c)
    below = math.nextafter(thr[0], 0.0)
    quanta = [spec._quantum_ticks(below) if below > 0 else 1]
    quanta += [spec._quantum_ticks(t) for t in thr]
    for t, q in zip(thr, quanta[:-1], strict=True):  # constant up to the next threshold
        if spec._quantum_ticks(math.nextafter(t, 0.0)) != q:
            raise MMError(f"significant-figure buckets of {spec.id} are not monotone")
    return np.array(thr, np.float64), np.array(quanta, np.int64)


def new_quote_engine(spec: InstrumentSpec, params: StrategyParams) -> KQuote:
    rec = np.zeros(1, dtype=QE_REC)
    r = rec[0]
    r["tick"] = float(spec.tick_size)
    r["lot"] = float(spec.lot_size)
    r["inverse"] = spec.is_inverse
    r["lot_usd"] = float(spec.lot_size * spec.contract_size)
    r["min_units"] = min_notional_units(spec)
    q, risk = params.quote, params.risk
    for name in (
        "base_spread_bps",
        "vol_multiplier",
        "inventory_skew_factor",
        "bias_strength",
        "order_size_usd",
        "levels",
        "use_regimes",
        "level_spacing_bps",
        "level_size_multiplier",
        "min_spread_fee_multiple",
        "warmup_vol_bps",
        "toxicity_widen",
        "toxicity_pull_score",
        "inventory_target_pct",
        "capital_usd",
    ):
        r[name] = getattr(q, name)
    for name in ("price_ceiling", "price_floor"):
        v = getattr(q, name)
        r["has_" + name] = v is not None
        r[name] = v if v is not None else 0.0
    r["max_position_usd"] = risk.max_position_usd
    r["has_max_position_units"] = risk.max_position_units is not None
    r["max_position_units"] = risk.max_position_units or 0.0
    r["maker"] = params.fees.maker
    r["has_sig"] = spec.price_sig_figs is not None
    thr, quanta = sig_fig_buckets(spec)
    r["n_thr"] = len(thr)
    return KQuote(rec, thr, quanta)


# -- rounding and sizing ---------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def qe_quantum_ticks(qe: KQuote, price_ticks: float) -> int:
    """The price quantum (ticks) at ``price_ticks``: ``round_ticks``'s ``quantum``."""
    if not qe.rec[0].has_sig or not price_ticks > 0:
        return 1
    k = 0
    n = qe.rec[0].n_thr
    while k < n and price_ticks >= qe.thr[k]:
        k += 1
    return qe.quanta[k]


@njit(cache=True, _nrt=False)
def qe_round_ticks(qe: KQuote, price_ticks: float, side: int) -> int:
    """``InstrumentSpec.round_ticks``: bids down, asks up (at least one quantum)."""
    quantum = qe_quantum_ticks(qe, price_ticks)
    if side == BID:
        return math.floor(price_ticks / quantum + 1e-9) * quantum
    v = math.ceil(price_ticks / quantum - 1e-9)
    return (v if v > 1 else 1) * quantum


@njit(cache=True, _nrt=False)
def _floor_checked(qe: KQuote, x: float) -> int:
    """``math.floor`` of a float the reference turns into an int (int64 checked)."""
    if not (-9.2e18 < x < 9.2e18):
        qe.rec[0].err = ERR_OVERFLOW
        return 0
    return math.floor(x)


@njit(cache=True, _nrt=False)
def qe_lot_value_usd(qe: KQuote, price: float) -> float:
    """``QuoteEngine.lot_value_usd``: ``price x lot``, or an inverse lot's contract value."""
    r = qe.rec[0]
    return r.lot_usd if r.inverse else price * r.lot


@njit(cache=True, _nrt=False)
def _qe_below_min(qe: KQuote, price_ticks: int, lots: int) -> bool:
    r = qe.rec[0]
    if r.inverse:
        return lots < r.min_units
    return price_ticks * lots < r.min_units


@njit(cache=True, _nrt=False)
def qe_max_position_lots(qe: KQuote, mid_ticks: float, multiplier: float) -> int:
    """Position limit in lots: the tighter of the USD and unit limits, scaled by regime."""
    r = qe.rec[0]
    price = mid_ticks * r.tick
    lots = r.max_position_usd * multiplier / qe_lot_value_usd(qe, price) if price > 0 else 0.0
    if r.has_max_position_units:
        lots = py_min(lots, r.max_position_units * multiplier / r.lot)
    v = _floor_checked(qe, lots + 1e-9)
    return v if v > 0 else 0


@njit(cache=True, _nrt=False)
def qe_order_lots(qe: KQuote, price_ticks: int, usd: float) -> int:
    r = qe.rec[0]
    price = price_ticks * r.tick
    lots = _floor_checked(qe, usd / qe_lot_value_usd(qe, price) + 1e-9) if price > 0 else 0
    if r.inverse:
        return lots if lots >= r.min_units else r.min_units  # the venue minimum notional
    if mul_overflows(price_ticks, lots):
        r.err = ERR_OVERFLOW
        return 0
    if price_ticks * lots < r.min_units:
        lots = -(-r.min_units // price_ticks)  # ceil: the venue minimum notional
    return lots


@njit(cache=True, _nrt=False)
def qe_half_spread_bps(qe: KQuote, vol_bps: float, has_vol: bool, spread_clamp_bps: float) -> float:
    r = qe.rec[0]
    vol = vol_bps if has_vol else r.warmup_vol_bps
    half = py_max(py_max(r.base_spread_bps / 2, vol * r.vol_multiplier), spread_clamp_bps)
    if r.maker > 0:
        half = py_max(half, r.min_spread_fee_multiple * r.maker * 1e4)
    return half


# -- quoting ---------------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _side(
    qe: KQuote,
    side: int,
    first: float,
    step: float,
    levels: int,
    best_bid: int,
    best_ask: int,
    position: int,
    max_pos: int,
    out: np.ndarray,
    start: int,
) -> int:
    """One side's levels into ``out[start:]``; returns how many."""
    r = qe.rec[0]
    room = max_pos - position if side == BID else max_pos + position
    prev = 0
    has_prev = False
    usd = r.order_size_usd
    n = 0
    for i in range(levels):
        px = qe_round_ticks(qe, first + i * step, side)
        clamped = px
        if side == BID:
            if best_ask - 1 < clamped:  # post-only: never at or through the best ask
                clamped = best_ask - 1
            if has_prev and clamped >= prev:
                clamped = prev - 1
        else:
            if best_bid + 1 > clamped:
                clamped = best_bid + 1
            if has_prev and clamped <= prev:
                clamped = prev + 1
        if clamped != px and r.has_sig:  # a tick off a valid price may be invalid: round
            clamped = qe_round_ticks(qe, float(clamped), side)  # again, away from the touch
        px = clamped
        if px <= 0:
            break
        lots = qe_order_lots(qe, px, usd)
        if lots > room:  # shrink to the room left, if the venue minimum still allows it
            lots = room
            if lots <= 0 or _qe_below_min(qe, px, lots):
                break
        j = start + n
        if j >= out.shape[0]:
            r.err = ERR_CAPACITY
            break
        out[j].side = side
        out[j].level = i
        out[j].price = px
        out[j].qty = lots
        n += 1
        room -= lots
        prev = px
        has_prev = True
        usd *= r.level_size_multiplier
    return n


@njit(cache=True, _nrt=False)
def qe_quote(
    qe: KQuote,
    best_bid: int,
    best_ask: int,
    mid_x2: int,
    vol_bps: float,
    has_vol: bool,
    spread_clamp_bps: float,
    levels: int,
    position_multiplier: float,
    regime: int,
    signal: int,
    toxicity: float,
    threatened_side: int,
    position: int,
    allow_bids: bool,
    allow_asks: bool,
    levels_out: np.ndarray,
    qs_out: np.ndarray,
) -> tuple[int, int]:
    """``QuoteEngine.quote`` for a MarketView given field by field (``has_vol`` False:
    ``vol_bps`` is None). Levels go to ``levels_out`` (bids, then asks; it needs room for
    2 x levels rows), the QuoteSet scalars to ``qs_out[0]``; returns (bids, asks)."""
    r = qe.rec[0]
    mid = mid_x2 / 2
    half_bps = qe_half_spread_bps(qe, vol_bps, has_vol, spread_clamp_bps)
    qs = qs_out[0]
    qs.mid = mid
    qs.reservation = 0.0
    qs.half_spread_bps = half_bps
    qs.vol_bps = vol_bps if has_vol else r.warmup_vol_bps
    qs.regime = regime
    qs.signal = signal
    qs.toxicity = toxicity
    qs.n_bids = 0
    qs.n_asks = 0
    if mid <= 0:
        return 0, 0
    n_levels = levels if r.use_regimes else r.levels
    multiplier = position_multiplier if r.use_regimes else 1.0
    max_pos = qe_max_position_lots(qe, mid, multiplier)
    target = 0
    if r.inventory_target_pct != 0:
        target = _floor_checked(
            qe, r.inventory_target_pct * r.capital_usd / qe_lot_value_usd(qe, mid * r.tick)
        )
    share = 0.0
    if max_pos > 0:
        share = py_max(-1.0, py_min(1.0, (position - target) / max_pos))
    half = mid * half_bps / 1e4  # ticks
    reservation = mid - share * r.inventory_skew_factor * half
    reservation += signal * r.bias_strength * 2 * half
    qs.reservation = reservation

    bid_half = half
    ask_half = half
    if toxicity > 0:
        widen = 1 + toxicity * r.toxicity_widen
        pull = toxicity >= r.toxicity_pull_score
        if threatened_side == BID:
            bid_half *= widen
            allow_bids = allow_bids and not pull
        elif threatened_side == ASK:
            ask_half *= widen
            allow_asks = allow_asks and not pull
        else:
            bid_half *= widen
            ask_half *= widen
    price = mid * r.tick
    if r.has_price_ceiling and price > r.price_ceiling:
        allow_bids = False
    if r.has_price_floor and price < r.price_floor:
        allow_asks = False

    spacing = mid * r.level_spacing_bps / 1e4
    nb = 0
    na = 0
    if allow_bids:
        nb = _side(
            qe,
            BID,
            reservation - bid_half,
            -spacing,
            n_levels,
            best_bid,
            best_ask,
            position,
            max_pos,
            levels_out,
            0,
        )
    if allow_asks:
        na = _side(
            qe,
            ASK,
            reservation + ask_half,
            spacing,
            n_levels,
            best_bid,
            best_ask,
            position,
            max_pos,
            levels_out,
            nb,
        )
    qs.n_bids = nb
    qs.n_asks = na
    return nb, na


# -- the Python edge -------------------------------------------------------------------------
def quote_set(levels: np.ndarray, qs: np.void) -> QuoteSet:
    """The reference's QuoteSet from the kernel's output."""
    nb, na = int(qs["n_bids"]), int(qs["n_asks"])
    rows = [QuoteLevel(int(s), int(lv), int(p), int(q)) for s, lv, p, q in levels[: nb + na]]
    return QuoteSet(
        bids=rows[:nb],
        asks=rows[nb:],
        mid=float(qs["mid"]),
        reservation=float(qs["reservation"]),
        half_spread_bps=float(qs["half_spread_bps"]),
        vol_bps=float(qs["vol_bps"]),
        regime=int(qs["regime"]),
        signal=int(qs["signal"]),
        toxicity=float(qs["toxicity"]),
    )


def raise_quote_error(qe: KQuote) -> None:
    err = int(qe.rec[0]["err"])
    if err == ERR_OVERFLOW:
        raise MMError(
            "quote engine sizing left int64 (a position or order size too large for its price)",
            "check max_position_usd / order_size_usd against the price, or use the reference",
        )
    if err == ERR_CAPACITY:
        raise MMError(
            "quote engine output array too small for the levels quoted",
            "give qe_quote room for 2 x levels rows",
        )


class CompiledQuoteEngine:
    """:class:`QuoteEngine`'s interface over the kernel."""

    def __init__(self, spec: InstrumentSpec, params: StrategyParams) -> None:
        self.spec = spec
        self.params = params
        self.qe = new_quote_engine(spec, params)
        self._qs = np.zeros(1, dtype=QSET_DTYPE)
        self._levels = np.zeros(0, dtype=QLEVEL_DTYPE)

    def _check(self) -> None:
        if self.qe.rec[0]["err"]:
            raise_quote_error(self.qe)

    def max_position_lots(self, mid_ticks: float, multiplier: float = 1.0) -> int:
        v = int(qe_max_position_lots(self.qe, float(mid_ticks), float(multiplier)))
        self._check()
        return v

    def order_lots(self, price_ticks: int, usd: float) -> int:
        v = int(qe_order_lots(self.qe, int(price_ticks), float(usd)))
        self._check()
        return v

    def round_ticks(self, price_ticks: float, side: int) -> int:
        return int(qe_round_ticks(self.qe, float(price_ticks), int(side)))

    def half_spread_bps(self, view: MarketView) -> float:
        vol = view.vol_bps
        return float(
            qe_half_spread_bps(
                self.qe, 0.0 if vol is None else float(vol), vol is not None, view.spread_clamp_bps
            )
        )

    def quote(
        self, view: MarketView, position: int, allow_bids: bool = True, allow_asks: bool = True
    ) -> QuoteSet:
        levels = view.levels if self.params.quote.use_regimes else self.params.quote.levels
        if self._levels.shape[0] < 2 * levels:
            self._levels = np.zeros(2 * max(levels, 1), dtype=QLEVEL_DTYPE)
        vol = view.vol_bps
        qe_quote(
            self.qe,
            int(view.best_bid),
            int(view.best_ask),
            int(view.mid_x2),
            0.0 if vol is None else float(vol),
            vol is not None,
            float(view.spread_clamp_bps),
            int(view.levels),
            float(view.position_multiplier),
            int(view.regime),
            int(view.signal),
            float(view.toxicity),
            int(view.threatened_side),
            int(position),
            bool(allow_bids),
            bool(allow_asks),
            self._levels,
            self._qs,
        )
        self._check()
        return quote_set(self._levels, self._qs[0])
