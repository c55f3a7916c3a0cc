"""The trader's market features as compiled kernels, bit for bit equal to the reference.

The reference operators (:mod:`.imbalance`, :mod:`.volatility`, :mod:`.regime`,
:mod:`.signal`, :mod:`.toxicity`) are ported here as numba functions over numpy state
(see :mod:`core.nb` for the conventions): each feature's state is a module-level
namedtuple built by a plain-Python ``new_<x>(...)`` constructor (same parameters and
``ValueError`` checks as the reference class); njit functions take it first. The
compiled trader loop calls them exactly where ``operators/trader.py`` calls the objects:

* ``imb_update(st, book, ts) -> value`` (``rec.raw``, ``rec.value``, ``rec.levels``);
* ``vol_update(st, mid, ts) -> closed`` (``rec.warm``: ``vol_bps``/``atr_bps`` are valid,
  the reference's None is ``warm == False``);
* ``regime_update(st, vol_bps) -> regime``, ``regime_params(table, regime)``;
* ``signal_update(st, mid, ts) -> value`` (``rec.value``);
* ``tox_on_book(st, book, ts, imbalance, has_imbalance)``, ``tox_on_trade``,
  ``tox_on_fill``, ``tox_on_mid``, ``tox_reading(st, ts) -> (score, side, reasons_mask)``
  (bit ``k`` of the mask is ``REASONS[k]``); ``tox_headroom_ok`` / ``grow_tox`` between
  messages.

Bad input the reference rejects with ``ValueError`` inside an update (a non-positive mid,
a non-finite volatility, a bad trade or fill side, a non-positive fill price) leaves the
state untouched, as the reference does, and sets ``rec.err`` (``ERR_*`` below) with the
offending value in ``rec.err_i`` / ``rec.err_f``; :func:`take_error` turns that into the
reference's exception, message included. The ``Compiled*`` classes at the end give the
reference classes' Python API over the kernels (tests, Python edges).

Exactness notes: Python's ``int / int`` is correctly rounded at any size, numba's is
``float(a) / float(b)``; :func:`int_true_div` is correctly rounded for all int64 (the
microprice numerator can pass 2**53). ``x ** n`` with an integer ``n`` is repeated
multiplication in numba but ``pow`` in CPython, so exponents are passed as floats; and
LLVM turns ``pow`` with a constant power-of-two base into ``exp2`` (not bit-equal), so
such a base is read from the state.
``max``/``min`` that may meet NaN (QQE's bands are Pine's ``na`` while warming up) use
``py_max``/``py_min``.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any

import numpy as np
from numba import njit

from core.errors import MMError
from core.l2book_kernel import ASK, BID, CompiledBook, KBook, depth_qty
from core.nb import (
    ERR_CAPACITY,
    ERR_OVERFLOW,
    INT64_MIN,
    add_overflows,
    mul_overflows,
    py_max,
    py_min,
)
from operators.features.regime import DEFAULT_REGIME_PARAMS, Regime, RegimeParams
from operators.features.signal import _KALMAN_KEYS, _QQE_KEYS
from operators.features.toxicity import REASONS, ToxicityReading

# errors an update leaves in ``rec.err`` (ERR_OVERFLOW / ERR_CAPACITY come from core.nb)
ERR_MID = 11  # "mid must be a positive price, got {err_f!r}"
ERR_VOL = 12  # "vol_bps must be finite, got {err_f!r}"
ERR_TRADE_SIDE = 13  # "trade side must be +1 or -1, got {err_i!r}"
ERR_FILL_SIDE = 14  # "fill side must be +1 or -1, got {err_i!r}"
ERR_FILL_PRICE = 15  # "fill price must be > 0, got {err_f!r}"

NAN = math.nan
_TWO53 = 1 << 53

# ---- exact arithmetic and the book ------------------------------------------------------


@njit(cache=True, _nrt=False)
def _int_true_div_slow(n: int, d: int) -> float:
    """Correctly rounded (half to even) ``n / d`` by long division: the slow path."""
    if d == 0:
        raise ZeroDivisionError("division by zero")
    if n == 0:
        return 0.0 / d
    scale = 0
    if n == INT64_MIN:  # |n| does not fit: halve it (rounding commutes with * 2)
        n = n // 2
        scale += 1
    if d == INT64_MIN:
        d = d // 2
        scale -= 1
    neg = (n < 0) != (d < 0)
    a = -n if n < 0 else n
    b = -d if d < 0 else d
    q = a // b
    rem = a - q * b
    bits = 0
    t = q
    while t:
        bits += 1
        t >>= 1
    # m: the quotient's leading 54 bits (53 + a rounding bit), truncated; sticky: the rest
    if bits >= 54:
        sh = bits - 54
        m = q >> sh
        sticky = (q & ((1 << sh) - 1)) != 0 or rem != 0
        e = sh
    else:
        m = q
        e = 0
        while bits < 54:
            if rem >= b - rem:  # 2 * rem >= b without overflow
                grew = True
                m = 2 * m + 1
                rem = rem - (b - rem)
            else:
                grew = m != 0
                m = 2 * m
                rem = rem + rem
            if grew:
                bits += 1
            e -= 1
        sticky = rem != 0
    half = m & 1
    m >>= 1
    e += 1
    if half and (sticky or (m & 1)):
        m += 1
    x = math.ldexp(float(m), e + scale)
    return -x if neg else x


@njit(cache=True, inline="always", _nrt=False)
def int_true_div(n: int, d: int) -> float:
    """Python's ``n / d`` for int64 ``n``, ``d``: correctly rounded, whatever their size."""
    if -_TWO53 <= n <= _TWO53 and -_TWO53 <= d <= _TWO53:
        return n / d  # both exact as doubles: one IEEE division is correctly rounded
    return _int_true_div_slow(n, d)


@njit(cache=True, _nrt=False)
def book_imbalance(bk: KBook, n: int) -> float:
    """:meth:`core.l2book.L2Book.imbalance` with Python's exact ``int / int``."""
    b = depth_qty(bk, BID, n)
    a = depth_qty(bk, ASK, n)
    if b + a:
        return int_true_div(b - a, b + a)
    return 0.0


@njit(cache=True, _nrt=False)
def microprice(bk: KBook) -> tuple[float, int]:
    """(microprice in ticks, 0); NaN for the reference's None (a side is empty);
    (NaN, ERR_OVERFLOW) if ``bid*ask_qty + ask*bid_qty`` leaves int64."""
    r = bk.rec[0]
    if r.n_bid == 0 or r.n_ask == 0:
        return NAN, 0
    bp = r.best_bid
    ap = r.best_ask
    bq = bk.bids[bp - r.base]
    aq = bk.asks[ap - r.base]
    if mul_overflows(bp, aq) or mul_overflows(ap, bq):
        return NAN, ERR_OVERFLOW
    x = bp * aq
    y = ap * bq
    if add_overflows(x, y) or add_overflows(bq, aq):
        return NAN, ERR_OVERFLOW
    return int_true_div(x + y, bq + aq), 0


# ---- imbalance EMA ---------------------------------------------------------------------

IMB_REC = np.dtype(
    [
        ("levels", np.int64),
        ("half_life_ns", np.float64),
        ("half", np.float64),  # 0.5, read at run time (see imb_update)
        ("has_last", np.bool_),  # False: the reference's _last_ts is None
        ("last_ts", np.int64),
        ("value", np.float64),
        ("raw", np.float64),
        ("err", np.int64),
    ]
)

KImbalance = namedtuple("KImbalance", ["rec"])


def new_imbalance(levels: int = 5, half_life_ms: float = 500.0) -> KImbalance:
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    if not half_life_ms > 0:
        raise ValueError(f"half_life_ms must be > 0, got {half_life_ms}")
    rec = np.zeros(1, IMB_REC)
    rec["levels"] = levels
    rec["half_life_ns"] = half_life_ms * 1e6
    rec["half"] = 0.5
    return KImbalance(rec)


@njit(cache=True, _nrt=False)
def imb_update(st: KImbalance, bk: KBook, ts: int) -> float:
    """:meth:`ImbalanceEMA.update`: the smoothed imbalance after a book message at ``ts``."""
    r = st.rec[0]
    raw = book_imbalance(bk, r.levels)
    r.raw = raw
    if not r.has_last:
        r.value = raw
        r.last_ts = ts
        r.has_last = True
        return raw
    dt = ts - r.last_ts
    if dt > 0:
        # the base comes from memory: LLVM rewrites pow(0.5, x) with a constant base as
        # exp2(-x), which rounds differently from CPython's pow
        alpha = 1.0 - r.half ** (dt / r.half_life_ns)
        r.value = r.value + alpha * (raw - r.value)
        r.last_ts = ts
    return r.value


# ---- volatility --------------------------------------------------------------------------

VOL_REC = np.dtype(
    [
        ("sample_ns", np.int64),
        ("half_life_samples", np.float64),
        ("lam", np.float64),
        ("max_carry", np.int64),
        ("warmup_samples", np.int64),
        ("has_bucket", np.bool_),  # False: _bucket is None
        ("bucket", np.int64),
        ("prev_close", np.float64),
        ("high", np.float64),
        ("low", np.float64),
        ("close", np.float64),
        ("var", np.float64),
        ("rng", np.float64),
        ("norm", np.float64),
        ("samples", np.int64),
        ("warm", np.bool_),  # vol_bps / atr_bps are None while False
        ("vol_bps", np.float64),
        ("atr_bps", np.float64),
        ("err", np.int64),
        ("err_f", np.float64),
    ]
)

KVolatility = namedtuple("KVolatility", ["rec"])
VOL_MAX_CARRY_HALF_LIVES = 1.0  # Volatility.MAX_CARRY_HALF_LIVES


def new_volatility(
    sample_ms: int = 1000, half_life_samples: float = 30.0, warmup_samples: int = 10
) -> KVolatility:
    if sample_ms <= 0:
        raise ValueError(f"sample_ms must be > 0, got {sample_ms}")
    if not half_life_samples > 0:
        raise ValueError(f"half_life_samples must be > 0, got {half_life_samples}")
    if warmup_samples < 1:
        raise ValueError(f"warmup_samples must be >= 1, got {warmup_samples}")
    rec = np.zeros(1, VOL_REC)
    r = rec[0]
    r["sample_ns"] = int(sample_ms) * 1_000_000
    r["half_life_samples"] = float(half_life_samples)
    r["lam"] = 0.5 ** (1.0 / half_life_samples)
    r["max_carry"] = max(1, round(half_life_samples * VOL_MAX_CARRY_HALF_LIVES))
    r["warmup_samples"] = warmup_samples
    return KVolatility(rec)


@njit(cache=True, inline="always", _nrt=False)
def _vol_add(st: KVolatility, ret: float, rng: float, n: int) -> None:
    r = st.rec[0]
    keep = r.lam ** float(n)  # CPython's float ** int is pow(), not repeated products
    new = 1.0 - keep
    r.var = keep * r.var + new * ret * ret
    r.rng = keep * r.rng + new * rng
    r.norm = keep * r.norm + new
    r.samples += n


@njit(cache=True, _nrt=False)
def vol_update(st: KVolatility, mid: float, ts: int) -> bool:
    """:meth:`Volatility.update`: True if a sample closed (ERR_MID if ``mid`` is not > 0)."""
    r = st.rec[0]
    if not mid > 0:
        r.err = ERR_MID
        r.err_f = mid
        return False
    b = ts // r.sample_ns
    if not r.has_bucket:
        r.has_bucket = True
        r.bucket = b
        r.prev_close = mid
        r.high = mid
        r.low = mid
        r.close = mid
        return False
    bucket = r.bucket
    if b <= bucket:
        if mid > r.high:
            r.high = mid
        elif mid < r.low:
            r.low = mid
        r.close = mid
        return False
    close = r.close
    _vol_add(st, math.log(close / r.prev_close), (r.high - r.low) / close, 1)
    carry = min(b - bucket - 1, r.max_carry)
    if carry:
        _vol_add(st, 0.0, 0.0, carry)
    r.bucket = b
    r.prev_close = close
    r.high = py_max(close, mid)
    r.low = py_min(close, mid)
    r.close = mid
    if r.samples >= r.warmup_samples:
        r.warm = True
        r.vol_bps = math.sqrt(r.var / r.norm) * 1e4
        r.atr_bps = r.rng / r.norm * 1e4
    return True


# ---- regime ------------------------------------------------------------------------------

REGIME_REC = np.dtype(
    [
        ("window", np.int64),
        ("min_samples", np.int64),
        ("regime", np.int64),
        ("low_cut", np.float64),
        ("high_cut", np.float64),
        ("head", np.int64),  # ring of the recent values (FIFO, the reference's deque)
        ("count", np.int64),  # values in the ring = values in ``sorted``
        ("err", np.int64),
        ("err_f", np.float64),
    ]
)

# ``sorted`` holds the window's values in the order of the reference's SortedList: an
# insert goes after equal values (bisect_right), a removal takes the first equal one
# (bisect_left), which is what SortedList.add / SortedList.remove do.
KRegime = namedtuple("KRegime", ["rec", "recent", "sorted"])
KRegimeTable = namedtuple("KRegimeTable", ["spread_clamp_bps", "levels", "position_multiplier"])


def new_regime(window: int = 300, min_samples: int = 30) -> KRegime:
    if window < 3:
        raise ValueError(f"window must be >= 3, got {window}")
    if not 1 <= min_samples <= window:
        raise ValueError(f"min_samples must be in [1, window={window}], got {min_samples}")
    rec = np.zeros(1, REGIME_REC)
    r = rec[0]
    r["window"] = window
    r["min_samples"] = min_samples
    r["regime"] = int(Regime.NORMAL)
    r["low_cut"] = r["high_cut"] = NAN
    return KRegime(rec, np.zeros(window + 1), np.zeros(window + 1))


def new_regime_table(table: dict[Regime, RegimeParams] | None = None) -> KRegimeTable:
    """A regime -> parameters table as arrays indexed by regime (default: the plan's)."""
    t = DEFAULT_REGIME_PARAMS if table is None else table
    order = list(Regime)
    return KRegimeTable(
        np.array([t[g].spread_clamp_bps for g in order], np.float64),
        np.array([t[g].levels for g in order], np.int64),
        np.array([t[g].position_multiplier for g in order], np.float64),
    )


DEFAULT_REGIME_TABLE = new_regime_table()


@njit(cache=True, inline="always", _nrt=False)
def regime_params(table: KRegimeTable, regime: int) -> tuple[float, int, float]:
    """(spread_clamp_bps, levels, position_multiplier) of ``regime``."""
    return table.spread_clamp_bps[regime], table.levels[regime], table.position_multiplier[regime]


@njit(cache=True, inline="always", _nrt=False)
def _percentile(s: np.ndarray, n: int, q: float) -> float:
    pos = q * (n - 1)
    lo = math.floor(pos)
    frac = pos - lo
    v = s[lo]
    return v if frac == 0.0 else v + (s[lo + 1] - v) * frac


@njit(cache=True, _nrt=False)
def _sorted_insert(s: np.ndarray, n: int, x: float) -> None:
    lo = 0
    hi = n
    while lo < hi:  # bisect_right
        m = (lo + hi) // 2
        if x < s[m]:
            hi = m
        else:
            lo = m + 1
    for i in range(n, lo, -1):
        s[i] = s[i - 1]
    s[lo] = x


@njit(cache=True, _nrt=False)
def _sorted_remove(s: np.ndarray, n: int, x: float) -> None:
    lo = 0
    hi = n
    while lo < hi:  # bisect_left
        m = (lo + hi) // 2
        if s[m] < x:
            lo = m + 1
        else:
            hi = m
    for i in range(lo, n - 1):
        s[i] = s[i + 1]


@njit(cache=True, _nrt=False)
def regime_update(st: KRegime, vol_bps: float) -> int:
    """:meth:`RegimeDetector.update` (ERR_VOL if ``vol_bps`` is not finite)."""
    r = st.rec[0]
    if not math.isfinite(vol_bps):
        r.err = ERR_VOL
        r.err_f = vol_bps
        return r.regime
    cap = st.recent.shape[0]
    n = r.count
    st.recent[(r.head + n) % cap] = vol_bps
    _sorted_insert(st.sorted, n, vol_bps)
    n += 1
    if n > r.window:
        old = st.recent[r.head]
        r.head = (r.head + 1) % cap
        _sorted_remove(st.sorted, n, old)
        n -= 1
    r.count = n
    if n < r.min_samples:
        r.regime = 1
        return 1
    lo = _percentile(st.sorted, n, 1.0 / 3.0)
    hi = _percentile(st.sorted, n, 2.0 / 3.0)
    r.low_cut = lo
    r.high_cut = hi
    if vol_bps < lo:
        r.regime = 0
    elif vol_bps > hi:
        r.regime = 2
    else:
        r.regime = 1
    return r.regime


# ---- directional signal: Kalman trend + QQE ------------------------------------------

KALMAN_REC = np.dtype(
    [
        ("process_var", np.float64),
        ("measurement_var", np.float64),
        ("level", np.float64),
        ("slope", np.float64),
        ("p00", np.float64),
        ("p01", np.float64),
        ("p11", np.float64),
        ("n", np.int64),
        ("first", np.float64),
    ]
)

# one Pine-style seeded average (the reference's _SeededAverage); value valid when ``has``
AVG_REC = np.dtype(
    [
        ("length", np.int64),
        ("alpha", np.float64),
        ("seen", np.int64),
        ("seed_sum", np.float64),
        ("value", np.float64),
        ("has", np.bool_),
    ]
)
QQE_AVGS = ("_up", "_down", "_rsi_ema", "_atr1", "_atr2")  # rows of KQQE.avg

QQE_REC = np.dtype(
    [
        ("rsi_period", np.int64),
        ("smoothing", np.int64),
        ("factor", np.float64),
        ("has_prev", np.bool_),  # False: _prev_price is None
        ("prev_price", np.float64),
        ("rsima1", np.float64),
        ("lb1", np.float64),
        ("lb2", np.float64),
        ("sb1", np.float64),
        ("sb2", np.float64),
        ("trend", np.int64),
        ("rsi", np.float64),
        ("rsi_ma", np.float64),
        ("trailing", np.float64),
        ("value", np.int64),
    ]
)

SIGNAL_REC = np.dtype(
    [
        ("sample_ns", np.int64),
        ("slope_threshold_bps", np.float64),
        ("has_bucket", np.bool_),
        ("bucket", np.int64),
        ("close", np.float64),
        ("samples", np.int64),
        ("slope_bps", np.float64),
        ("value", np.int64),
        ("err", np.int64),
        ("err_f", np.float64),
    ]
)

KKalman = namedtuple("KKalman", ["rec"])
KQQE = namedtuple("KQQE", ["rec", "avg"])
KSignal = namedtuple("KSignal", ["rec", "kalman", "qqe"])
SIGNAL_MAX_CARRY_SAMPLES = 30  # DirectionalSignal.MAX_CARRY_SAMPLES


def new_kalman(process_var: float = 1e-4, measurement_var: float = 1e-2) -> KKalman:
    if not process_var > 0 or not measurement_var > 0:
        raise ValueError(
            f"variances must be > 0, got process_var={process_var}, "
            f"measurement_var={measurement_var}"
        )
    rec = np.zeros(1, KALMAN_REC)
    rec["process_var"] = process_var
    rec["measurement_var"] = measurement_var
    return KKalman(rec)


def new_qqe(rsi_period: int = 14, smoothing: int = 5, factor: float = 4.236) -> KQQE:
    if rsi_period < 1 or smoothing < 1:
        raise ValueError(f"rsi_period and smoothing must be >= 1, got {rsi_period}, {smoothing}")
    if not factor > 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    rec = np.zeros(1, QQE_REC)
    r = rec[0]
    r["rsi_period"] = rsi_period
    r["smoothing"] = smoothing
    r["factor"] = factor
    for name in ("rsima1", "lb1", "lb2", "sb1", "sb2", "rsi", "rsi_ma", "trailing"):
        r[name] = NAN
    wilders = 2 * rsi_period - 1
    avg = np.zeros(len(QQE_AVGS), AVG_REC)
    lengths_alphas = (
        (rsi_period, 1.0 / rsi_period),
        (rsi_period, 1.0 / rsi_period),
        (smoothing, 2.0 / (smoothing + 1)),
        (wilders, 2.0 / (wilders + 1)),
        (wilders, 2.0 / (wilders + 1)),
    )
    for i, (length, alpha) in enumerate(lengths_alphas):
        avg[i]["length"] = length
        avg[i]["alpha"] = alpha
    return KQQE(rec, avg)


def new_signal(
    sample_ms: int = 1000, slope_threshold_bps: float = 0.1, **kalman_qqe_kwargs: Any
) -> KSignal:
    if sample_ms <= 0:
        raise ValueError(f"sample_ms must be > 0, got {sample_ms}")
    unknown = set(kalman_qqe_kwargs) - set(_KALMAN_KEYS) - set(_QQE_KEYS)
    if unknown:
        raise TypeError(
            f"unknown DirectionalSignal parameter(s): {', '.join(sorted(unknown))} "
            f"(known: {', '.join(_KALMAN_KEYS + _QQE_KEYS)})"
        )
    kalman = new_kalman(**{k: v for k, v in kalman_qqe_kwargs.items() if k in _KALMAN_KEYS})
    qqe = new_qqe(**{k: v for k, v in kalman_qqe_kwargs.items() if k in _QQE_KEYS})
    rec = np.zeros(1, SIGNAL_REC)
    rec["sample_ns"] = int(sample_ms) * 1_000_000
    rec["slope_threshold_bps"] = slope_threshold_bps
    return KSignal(rec, kalman, qqe)


@njit(cache=True, _nrt=False)
def kalman_update(st: KKalman, price: float) -> tuple[float, float]:
    """:meth:`KalmanTrend.update`: (level, slope per sample)."""
    r = st.rec[0]
    r.n += 1
    m = r.measurement_var
    if r.n == 1:
        r.first = price
        r.level = price
        return price, 0.0
    if r.n == 2:
        r.level = price
        r.slope = price - r.first
        r.p00 = m
        r.p01 = m
        r.p11 = 2.0 * m
        return r.level, r.slope
    q = r.process_var
    level = r.level + r.slope
    p00 = r.p00 + 2.0 * r.p01 + r.p11 + q
    p01 = r.p01 + r.p11
    p11 = r.p11 + q
    s = p00 + m
    k0 = p00 / s
    k1 = p01 / s
    innov = price - level
    r.level = level + k0 * innov
    r.slope = r.slope + k1 * innov
    r.p00 = (1.0 - k0) * p00
    r.p01 = (1.0 - k0) * p01
    r.p11 = p11 - k1 * p01
    return r.level, r.slope


@njit(cache=True, inline="always", _nrt=False)
def _avg_step(avg: np.ndarray, i: int, x: float) -> tuple[bool, float]:
    """One input of seeded average ``i``: (has a value, value)."""
    a = avg[i]
    if a.has:
        v = a.value + a.alpha * (x - a.value)
        a.value = v
        return True, v
    a.seen += 1
    a.seed_sum = a.seed_sum + x
    if a.seen == a.length:
        a.value = a.seed_sum / a.length
        a.has = True
    return a.has, a.value


@njit(cache=True, inline="always", _nrt=False)
def _cross(x: float, x1: float, y: float, y1: float) -> bool:
    return (x > y and x1 <= y1) or (x < y and x1 >= y1)


@njit(cache=True, _nrt=False)
def qqe_update(st: KQQE, price: float) -> int:
    """:meth:`QQE.update`: +1 / -1 / 0."""
    r = st.rec[0]
    avg = st.avg
    if not r.has_prev:
        r.has_prev = True
        r.prev_price = price
        return 0
    prev = r.prev_price
    r.prev_price = price
    change = price - prev
    has_up, up = _avg_step(avg, 0, change if change > 0 else 0.0)
    has_down, down = _avg_step(avg, 1, -change if change < 0 else 0.0)
    if not has_up or not has_down:
        return 0
    if down == 0.0:
        rsi = 50.0 if up == 0.0 else 100.0
    elif up == 0.0:
        rsi = 0.0
    else:
        rsi = 100.0 - 100.0 / (1.0 + up / down)
    r.rsi = rsi
    has_ma, rsima = _avg_step(avg, 2, rsi)
    if not has_ma:
        return 0
    r.rsi_ma = rsima
    rsima1 = r.rsima1
    r.rsima1 = rsima
    if rsima1 != rsima1:  # first RsiMa: AtrRsi needs the previous one
        return 0
    has_atr, ma_atr = _avg_step(avg, 3, abs(rsima - rsima1))
    has_dar = False
    dar_base = 0.0
    if has_atr:
        has_dar, dar_base = _avg_step(avg, 4, ma_atr)
    if has_dar:
        dar = dar_base * r.factor
        new_long = rsima - dar
        new_short = rsima + dar
    else:
        new_long = NAN
        new_short = NAN
    lb1 = r.lb1
    lb2 = r.lb2
    sb1 = r.sb1
    sb2 = r.sb2
    lb = py_max(lb1, new_long) if (rsima1 > lb1 and rsima > lb1) else new_long
    sb = py_min(sb1, new_short) if (rsima1 < sb1 and rsima < sb1) else new_short
    if r.trend == 0:
        if has_dar:  # first trailing line: start on RsiMa's side of 50
            r.trend = 1 if rsima >= 50.0 else -1
    elif _cross(rsima, rsima1, sb1, sb2):
        r.trend = 1
    elif _cross(lb1, lb2, rsima, rsima1):
        r.trend = -1
    r.lb2 = lb1
    r.lb1 = lb
    r.sb2 = sb1
    r.sb1 = sb
    if r.trend == 1:
        trailing = lb
    elif r.trend == -1:
        trailing = sb
    else:
        trailing = NAN
    r.trailing = trailing
    if rsima > trailing and rsima > 50.0:
        r.value = 1
    elif rsima < trailing and rsima < 50.0:
        r.value = -1
    else:
        r.value = 0
    return r.value


@njit(cache=True, _nrt=False)
def _signal_sample(st: KSignal, price: float) -> None:
    r = st.rec[0]
    r.samples += 1
    level, slope = kalman_update(st.kalman, price)
    q = qqe_update(st.qqe, price)
    slope_bps = slope / level * 1e4
    r.slope_bps = slope_bps
    th = r.slope_threshold_bps
    if slope_bps > th and q == 1:
        r.value = 1
    elif slope_bps < -th and q == -1:
        r.value = -1
    else:
        r.value = 0


@njit(cache=True, _nrt=False)
def signal_update(st: KSignal, mid: float, ts: int) -> int:
    """:meth:`DirectionalSignal.update` (ERR_MID if ``mid`` is not > 0)."""
    r = st.rec[0]
    if not mid > 0:
        r.err = ERR_MID
        r.err_f = mid
        return r.value
    b = ts // r.sample_ns
    if not r.has_bucket:
        r.has_bucket = True
        r.bucket = b
    elif b > r.bucket:
        close = r.close
        for _ in range(1 + min(b - r.bucket - 1, SIGNAL_MAX_CARRY_SAMPLES)):
            _signal_sample(st, close)
        r.bucket = b
    r.close = mid
    return r.value


# ---- toxicity ----------------------------------------------------------------------------

TOX_REC = np.dtype(
    [
        ("drift_bps", np.float64),
        ("imbalance_threshold", np.float64),
        ("depth_levels", np.int64),
        ("aggressor_threshold", np.float64),
        ("aggressor_window", np.int64),
        ("markout_scale_bps", np.float64),
        ("markout_alpha", np.float64),
        ("markout_threshold", np.float64),
        ("lo_ns", np.int64),
        ("hi_ns", np.int64),
        ("horizon_ns", np.int64),
        ("m_head", np.int64),  # ring of (ts, microprice): micro_ts / micro_mp
        ("m_count", np.int64),
        ("s_head", np.int64),  # ring of aggressor sides
        ("s_count", np.int64),
        ("buys", np.int64),
        ("sells", np.int64),
        ("p_head", np.int64),  # ring of pending fills: pend_ts / pend_side / pend_price
        ("p_count", np.int64),
        ("imbalance", np.float64),
        ("markout_ema", np.float64),
        ("markouts", np.int64),
        ("err", np.int64),
        ("err_i", np.int64),
        ("err_f", np.float64),
    ]
)

# micro and pending rings have power-of-two capacities and grow between messages
KToxicity = namedtuple(
    "KToxicity", ["rec", "micro_ts", "micro_mp", "sides", "pend_ts", "pend_side", "pend_price"]
)
TOX_MICRO_CAPACITY = 256
TOX_PENDING_CAPACITY = 256
TOX_FILL_HEADROOM = 64  # free pending slots tox_headroom_ok asks for (fills per message)
REASON_BITS = {name: 1 << i for i, name in enumerate(REASONS)}


def new_toxicity(
    drift_bps: float = 3.0,
    drift_window_ms: tuple[int, int] = (200, 400),
    imbalance_threshold: float = 0.65,
    depth_levels: int = 5,
    aggressor_threshold: float = 0.7,
    aggressor_window: int = 50,
    markout_horizon_ms: int = 1000,
    markout_scale_bps: float = 5.0,
    markout_alpha: float = 0.2,
    markout_threshold: float = 0.5,
) -> KToxicity:
    lo, hi = drift_window_ms
    if not 0 <= lo <= hi:
        raise ValueError(
            f"drift_window_ms must be (lo, hi) with 0 <= lo <= hi, got {drift_window_ms}"
        )
    if depth_levels < 1 or aggressor_window < 1:
        raise ValueError(
            f"depth_levels and aggressor_window must be >= 1, got {depth_levels}, {aggressor_window}"
        )
    if not 0 < markout_alpha <= 1:
        raise ValueError(f"markout_alpha must be in (0, 1], got {markout_alpha}")
    if not markout_scale_bps > 0:
        raise ValueError(f"markout_scale_bps must be > 0, got {markout_scale_bps}")
    if markout_horizon_ms < 0:
        raise ValueError(f"markout_horizon_ms must be >= 0, got {markout_horizon_ms}")
    rec = np.zeros(1, TOX_REC)
    r = rec[0]
    r["drift_bps"] = drift_bps
    r["imbalance_threshold"] = imbalance_threshold
    r["depth_levels"] = depth_levels
    r["aggressor_threshold"] = aggressor_threshold
    r["aggressor_window"] = aggressor_window
    r["markout_scale_bps"] = markout_scale_bps
    r["markout_alpha"] = markout_alpha
    r["markout_threshold"] = markout_threshold
    r["lo_ns"] = int(lo) * 1_000_000
    r["hi_ns"] = int(hi) * 1_000_000
    r["horizon_ns"] = int(markout_horizon_ms) * 1_000_000
    m, p = TOX_MICRO_CAPACITY, TOX_PENDING_CAPACITY
    return KToxicity(
        rec,
        np.zeros(m, np.int64),
        np.zeros(m, np.float64),
        np.zeros(aggressor_window + 1, np.int64),
        np.zeros(p, np.int64),
        np.zeros(p, np.int64),
        np.zeros(p, np.float64),
    )


def _unrolled(a: np.ndarray, head: int, count: int, size: int) -> np.ndarray:
    out = np.zeros(size, a.dtype)
    out[:count] = np.roll(a, -head)[:count]
    return out


def grow_tox(st: KToxicity) -> KToxicity:
    """A copy of ``st`` with twice the room in each ring that lacks headroom."""
    rec = st.rec.copy()
    r = rec[0]
    m_head, m_count, p_head, p_count = (
        int(r[k]) for k in ("m_head", "m_count", "p_head", "p_count")
    )
    m_size, p_size = len(st.micro_ts), len(st.pend_ts)
    if m_count >= m_size:
        m_size *= 2
    if p_count + TOX_FILL_HEADROOM > p_size:
        p_size *= 2
        while p_count + TOX_FILL_HEADROOM > p_size:
            p_size *= 2
    r["m_head"] = r["p_head"] = 0
    return KToxicity(
        rec,
        _unrolled(st.micro_ts, m_head, m_count, m_size),
        _unrolled(st.micro_mp, m_head, m_count, m_size),
        st.sides.copy(),
        _unrolled(st.pend_ts, p_head, p_count, p_size),
        _unrolled(st.pend_side, p_head, p_count, p_size),
        _unrolled(st.pend_price, p_head, p_count, p_size),
    )


@njit(cache=True, _nrt=False)
def tox_headroom_ok(st: KToxicity) -> bool:
    """Room for one more message: a microprice and TOX_FILL_HEADROOM fills."""
    r = st.rec[0]
    return r.m_count < st.micro_ts.shape[0] and r.p_count + TOX_FILL_HEADROOM <= st.pend_ts.shape[0]


@njit(cache=True, _nrt=False)
def tox_on_book(st: KToxicity, bk: KBook, ts: int, imbalance: float, has_imbalance: bool) -> None:
    """:meth:`ToxicityDetector.on_book`; ``has_imbalance`` False = the reference's None."""
    r = st.rec[0]
    mp, e = microprice(bk)
    if e:
        r.err = e
        return
    if mp == mp:
        cap = st.micro_ts.shape[0]
        if r.m_count == cap:
            r.err = ERR_CAPACITY
            return
        mask = cap - 1
        i = (r.m_head + r.m_count) & mask
        st.micro_ts[i] = ts
        st.micro_mp[i] = mp
        r.m_count += 1
        cutoff = ts - r.hi_ns
        while st.micro_ts[r.m_head] < cutoff:  # the new record itself is never older
            r.m_head = (r.m_head + 1) & mask
            r.m_count -= 1
    r.imbalance = imbalance if has_imbalance else book_imbalance(bk, r.depth_levels)


@njit(cache=True, _nrt=False)
def tox_on_trade(st: KToxicity, side: int, qty: int, ts: int) -> None:
    """:meth:`ToxicityDetector.on_trade` (ERR_TRADE_SIDE unless ``side`` is +1 or -1)."""
    r = st.rec[0]
    if side == 1:
        r.buys += 1
    elif side == -1:
        r.sells += 1
    else:
        r.err = ERR_TRADE_SIDE
        r.err_i = side
        return
    cap = st.sides.shape[0]
    st.sides[(r.s_head + r.s_count) % cap] = side
    r.s_count += 1
    if r.s_count > r.aggressor_window:
        old = st.sides[r.s_head]
        r.s_head = (r.s_head + 1) % cap
        r.s_count -= 1
        if old == 1:
            r.buys -= 1
        else:
            r.sells -= 1


@njit(cache=True, _nrt=False)
def tox_on_fill(st: KToxicity, side: int, price: float, ts: int) -> None:
    """:meth:`ToxicityDetector.on_fill` (ERR_FILL_SIDE / ERR_FILL_PRICE on bad input)."""
    r = st.rec[0]
    if side != 1 and side != -1:
        r.err = ERR_FILL_SIDE
        r.err_i = side
        return
    if not price > 0:
        r.err = ERR_FILL_PRICE
        r.err_f = price
        return
    cap = st.pend_ts.shape[0]
    if r.p_count == cap:
        r.err = ERR_CAPACITY
        return
    i = (r.p_head + r.p_count) & (cap - 1)
    st.pend_ts[i] = ts
    st.pend_side[i] = side
    st.pend_price[i] = price
    r.p_count += 1


@njit(cache=True, _nrt=False)
def tox_on_mid(st: KToxicity, mid: float, ts: int) -> None:
    """:meth:`ToxicityDetector.on_mid`: mark out fills at least the horizon old."""
    r = st.rec[0]
    if r.p_count == 0:
        return
    horizon = r.horizon_ns
    alpha = r.markout_alpha
    scale = r.markout_scale_bps
    mask = st.pend_ts.shape[0] - 1
    while r.p_count and ts - st.pend_ts[r.p_head] >= horizon:
        i = r.p_head
        side = st.pend_side[i]
        price = st.pend_price[i]
        r.p_head = (i + 1) & mask
        r.p_count -= 1
        adverse_bps = -side * (mid - price) / price * 1e4
        toxic = py_min(py_max(adverse_bps / scale, 0.0), 1.0)
        r.markout_ema = r.markout_ema + alpha * (toxic - r.markout_ema)
        r.markouts += 1


@njit(cache=True, _nrt=False)
def tox_drift(st: KToxicity, ts: int) -> tuple[bool, float]:
    """:meth:`ToxicityDetector.drift`: (has a reference, drift bps)."""
    r = st.rec[0]
    mask = st.micro_ts.shape[0] - 1
    oldest_allowed = ts - r.hi_ns
    for k in range(r.m_count):
        i = (r.m_head + k) & mask
        t = st.micro_ts[i]
        if t >= oldest_allowed:
            if ts - t < r.lo_ns:
                return False, NAN
            mp = st.micro_mp[i]
            last = st.micro_mp[(r.m_head + r.m_count - 1) & mask]
            return True, (last - mp) * 1e4 / mp
    return False, NAN


@njit(cache=True, _nrt=False)
def tox_reading(st: KToxicity, ts: int) -> tuple[float, int, int]:
    """:meth:`ToxicityDetector.reading`: (score, threatened side, reasons bitmask)."""
    r = st.rec[0]
    reasons = 0
    rising = False
    falling = False
    score = r.markout_ema
    if score > r.markout_threshold:
        reasons |= 1
    has_d, d = tox_drift(st, ts)
    if has_d and abs(d) > r.drift_bps:
        reasons |= 2
        rising = rising or d > 0
        falling = falling or d < 0
    imb = r.imbalance
    if abs(imb) > r.imbalance_threshold:
        reasons |= 4
        rising = rising or imb > 0
        falling = falling or imb < 0
    n = r.s_count
    if n == r.aggressor_window:
        if r.buys / n > r.aggressor_threshold:
            reasons |= 8
            rising = True
        elif r.sells / n > r.aggressor_threshold:
            reasons |= 16
            falling = True
    if rising or falling:
        score = 1.0
    if rising and not falling:
        side = -1
    elif falling and not rising:
        side = 1
    else:
        side = 0
    return py_min(score, 1.0), side, reasons


def reasons_from_mask(mask: int) -> tuple[str, ...]:
    """The reference's reasons tuple (in REASONS order) from a reading's bitmask."""
    return tuple(name for i, name in enumerate(REASONS) if mask >> i & 1)


# ---- errors at the edge --------------------------------------------------------------------


def feature_error(code: int, value: Any) -> Exception:
    """The reference's exception for an error code and the offending input."""
    if code == ERR_MID:
        return ValueError(f"mid must be a positive price, got {value!r}")
    if code == ERR_VOL:
        return ValueError(f"vol_bps must be finite, got {value!r}")
    if code == ERR_TRADE_SIDE:
        return ValueError(f"trade side must be +1 or -1, got {value!r}")
    if code == ERR_FILL_SIDE:
        return ValueError(f"fill side must be +1 or -1, got {value!r}")
    if code == ERR_FILL_PRICE:
        return ValueError(f"fill price must be > 0, got {value!r}")
    if code == ERR_OVERFLOW:
        return MMError(
            "book microprice numerator (bid x ask size + ask x bid size) exceeds int64",
            "check the data for bogus sizes, or use the reference engine",
        )
    if code == ERR_CAPACITY:
        return MMError(
            "toxicity ring full inside one message", "call tox_headroom_ok/grow_tox per message"
        )
    return MMError(f"feature kernel error code {code}")


def take_error(rec: np.ndarray) -> Exception | None:
    """The exception for ``rec.err`` (None if 0), built from ``err_i``/``err_f``; clears it."""
    r = rec[0]
    code = int(r["err"])
    if not code:
        return None
    r["err"] = 0
    names = rec.dtype.names or ()
    if code in (ERR_TRADE_SIDE, ERR_FILL_SIDE):
        value: Any = int(r["err_i"])
    elif "err_f" in names:
        value = float(r["err_f"])
    else:
        value = None
    return feature_error(code, value)


def _check(rec: np.ndarray, value: Any) -> None:
    """Raise what the reference raises for the input ``value`` (as the caller passed it)."""
    r = rec[0]
    code = int(r["err"])
    if code:
        r["err"] = 0
        raise feature_error(code, value)


# ---- Python wrappers (the reference classes' API over the kernels) ----------------------


def _f(name: str, conv: Any = float, part: str = "rec") -> property:
    """A read-only attribute backed by field ``name`` of ``self.st.<part>[0]``."""

    def get(self: Any) -> Any:
        return conv(getattr(self.st, part)[0][name])

    return property(get)


def _opt(name: str, flag: str, conv: Any = float) -> property:
    """A field that is None while the ``flag`` field is False."""

    def get(self: Any) -> Any:
        r = self.st.rec[0]
        return conv(r[name]) if r[flag] else None

    return property(get)


def _side(x: Any) -> int:
    """An integral side as int; anything else as 0 (which every kernel rejects)."""
    try:
        i = int(x)
    except (TypeError, ValueError, OverflowError):
        return 0
    return i if i == x else 0


class _Stateful:
    __slots__ = ("st",)

    def __getstate__(self) -> Any:
        return self.st

    def __setstate__(self, st: Any) -> None:
        self.st = st


def compiled_microprice(book: CompiledBook) -> float | None:
    """:func:`operators.features.imbalance.microprice` of a compiled book."""
    mp, err = microprice(book.st)
    if err:
        raise feature_error(int(err), None)
    return None if mp != mp else float(mp)


class CompiledImbalanceEMA(_Stateful):
    __slots__ = ()

    def __init__(self, levels: int = 5, half_life_ms: float = 500.0) -> None:
        self.st = new_imbalance(levels, half_life_ms)

    levels = _f("levels", int)
    value = _f("value")
    raw = _f("raw")
    _half_life_ns = _f("half_life_ns")
    _last_ts = _opt("last_ts", "has_last", int)

    def update(self, book: CompiledBook, ts: int) -> float:
        return float(imb_update(self.st, book.st, int(ts)))


class CompiledVolatility(_Stateful):
    __slots__ = ()
    MAX_CARRY_HALF_LIVES = VOL_MAX_CARRY_HALF_LIVES

    def __init__(
        self, sample_ms: int = 1000, half_life_samples: float = 30.0, warmup_samples: int = 10
    ) -> None:
        self.st = new_volatility(sample_ms, half_life_samples, warmup_samples)

    sample_ns = _f("sample_ns", int)
    half_life_samples = _f("half_life_samples")
    lam = _f("lam")
    max_carry = _f("max_carry", int)
    warmup_samples = _f("warmup_samples", int)
    samples = _f("samples", int)
    warm = _f("warm", bool)
    vol_bps = _opt("vol_bps", "warm")
    atr_bps = _opt("atr_bps", "warm")
    _bucket = _opt("bucket", "has_bucket", int)
    _prev_close = _f("prev_close")
    _high = _f("high")
    _low = _f("low")
    _close = _f("close")
    _var = _f("var")
    _rng = _f("rng")
    _norm = _f("norm")

    def update(self, mid: float, ts: int) -> bool:
        closed = vol_update(self.st, float(mid), int(ts))
        _check(self.st.rec, mid)
        return bool(closed)


class CompiledRegimeDetector(_Stateful):
    __slots__ = ()

    def __init__(self, window: int = 300, min_samples: int = 30) -> None:
        self.st = new_regime(window, min_samples)

    window = _f("window", int)
    min_samples = _f("min_samples", int)
    low_cut = _f("low_cut")
    high_cut = _f("high_cut")

    @property
    def regime(self) -> Regime:
        return Regime(int(self.st.rec[0]["regime"]))

    @property
    def _recent(self) -> list[float]:
        r = self.st.rec[0]
        head, n, cap = int(r["head"]), int(r["count"]), len(self.st.recent)
        return [float(self.st.recent[(head + k) % cap]) for k in range(n)]

    @property
    def _sorted(self) -> list[float]:
        return [float(x) for x in self.st.sorted[: int(self.st.rec[0]["count"])]]

    def update(self, vol_bps: float) -> Regime:
        g = regime_update(self.st, float(vol_bps))
        _check(self.st.rec, vol_bps)
        return Regime(int(g))

    def params(self, table: dict[Regime, RegimeParams] | None = None) -> RegimeParams:
        default = table is None or table is DEFAULT_REGIME_PARAMS
        t = DEFAULT_REGIME_TABLE if default else new_regime_table(table)
        clamp, levels, mult = regime_params(t, int(self.st.rec[0]["regime"]))
        return RegimeParams(float(clamp), int(levels), float(mult))


class CompiledKalmanTrend(_Stateful):
    __slots__ = ()

    def __init__(self, process_var: float = 1e-4, measurement_var: float = 1e-2) -> None:
        self.st = new_kalman(process_var, measurement_var)

    process_var = _f("process_var")
    measurement_var = _f("measurement_var")
    level = _f("level")
    slope = _f("slope")
    p00 = _f("p00")
    p01 = _f("p01")
    p11 = _f("p11")
    n = _f("n", int)
    _first = _f("first")

    def update(self, price: float) -> tuple[float, float]:
        level, slope = kalman_update(self.st, float(price))
        return float(level), float(slope)


class _AvgView:
    """One seeded average of a compiled QQE, with _SeededAverage's attributes."""

    __slots__ = ("avg", "i")

    def __init__(self, avg: np.ndarray, i: int) -> None:
        self.avg, self.i = avg, i

    @property
    def length(self) -> int:
        return int(self.avg[self.i]["length"])

    @property
    def alpha(self) -> float:
        return float(self.avg[self.i]["alpha"])

    @property
    def seen(self) -> int:
        return int(self.avg[self.i]["seen"])

    @property
    def seed_sum(self) -> float:
        return float(self.avg[self.i]["seed_sum"])

    @property
    def value(self) -> float | None:
        a = self.avg[self.i]
        return float(a["value"]) if a["has"] else None


def _avg_view(i: int) -> property:
    return property(lambda self: _AvgView(self.st.avg, i))


class CompiledQQE(_Stateful):
    __slots__ = ()

    def __init__(self, rsi_period: int = 14, smoothing: int = 5, factor: float = 4.236) -> None:
        self.st = new_qqe(rsi_period, smoothing, factor)

    rsi_period = _f("rsi_period", int)
    smoothing = _f("smoothing", int)
    factor = _f("factor")
    trend = _f("trend", int)
    rsi = _f("rsi")
    rsi_ma = _f("rsi_ma")
    trailing = _f("trailing")
    value = _f("value", int)
    _prev_price = _opt("prev_price", "has_prev")
    _rsima1 = _f("rsima1")
    _lb1 = _f("lb1")
    _lb2 = _f("lb2")
    _sb1 = _f("sb1")
    _sb2 = _f("sb2")
    _up = _avg_view(0)
    _down = _avg_view(1)
    _rsi_ema = _avg_view(2)
    _atr1 = _avg_view(3)
    _atr2 = _avg_view(4)

    def update(self, price: float) -> int:
        return int(qqe_update(self.st, float(price)))


class CompiledDirectionalSignal(_Stateful):
    __slots__ = ()
    MAX_CARRY_SAMPLES = SIGNAL_MAX_CARRY_SAMPLES

    def __init__(
        self, sample_ms: int = 1000, slope_threshold_bps: float = 0.1, **kalman_qqe_kwargs: Any
    ) -> None:
        self.st = new_signal(sample_ms, slope_threshold_bps, **kalman_qqe_kwargs)

    sample_ns = _f("sample_ns", int)
    slope_threshold_bps = _f("slope_threshold_bps")
    samples = _f("samples", int)
    slope_bps = _f("slope_bps")
    value = _f("value", int)
    _bucket = _opt("bucket", "has_bucket", int)
    _close = _f("close")

    @property
    def kalman(self) -> CompiledKalmanTrend:
        k = CompiledKalmanTrend.__new__(CompiledKalmanTrend)
        k.st = self.st.kalman
        return k

    @property
    def qqe(self) -> CompiledQQE:
        q = CompiledQQE.__new__(CompiledQQE)
        q.st = self.st.qqe
        return q

    def update(self, mid: float, ts: int) -> int:
        v = signal_update(self.st, float(mid), int(ts))
        _check(self.st.rec, mid)
        return int(v)


class CompiledToxicityDetector(_Stateful):
    __slots__ = ()

    def __init__(
        self,
        drift_bps: float = 3.0,
        drift_window_ms: tuple[int, int] = (200, 400),
        imbalance_threshold: float = 0.65,
        depth_levels: int = 5,
        aggressor_threshold: float = 0.7,
        aggressor_window: int = 50,
        markout_horizon_ms: int = 1000,
        markout_scale_bps: float = 5.0,
        markout_alpha: float = 0.2,
        markout_threshold: float = 0.5,
    ) -> None:
        self.st = new_toxicity(
            drift_bps,
            drift_window_ms,
            imbalance_threshold,
            depth_levels,
            aggressor_threshold,
            aggressor_window,
            markout_horizon_ms,
            markout_scale_bps,
            markout_alpha,
            markout_threshold,
        )

    drift_bps = _f("drift_bps")
    imbalance_threshold = _f("imbalance_threshold")
    depth_levels = _f("depth_levels", int)
    aggressor_threshold = _f("aggressor_threshold")
    aggressor_window = _f("aggressor_window", int)
    markout_scale_bps = _f("markout_scale_bps")
    markout_alpha = _f("markout_alpha")
    markout_threshold = _f("markout_threshold")
    imbalance = _f("imbalance")
    markout_ema = _f("markout_ema")
    markouts = _f("markouts", int)
    _lo_ns = _f("lo_ns", int)
    _hi_ns = _f("hi_ns", int)
    _horizon_ns = _f("horizon_ns", int)
    _buys = _f("buys", int)
    _sells = _f("sells", int)

    def _ring(self, head: str, count: str, *arrays: np.ndarray) -> list[Any]:
        r = self.st.rec[0]
        h, n, cap = int(r[head]), int(r[count]), len(arrays[0])
        idx = [(h + k) % cap for k in range(n)]
        return [a[idx].tolist() for a in arrays]

    @property
    def _micro(self) -> list[tuple[int, float]]:
        ts, mp = self._ring("m_head", "m_count", self.st.micro_ts, self.st.micro_mp)
        return list(zip(ts, mp, strict=True))

    @property
    def _sides(self) -> list[int]:
        return self._ring("s_head", "s_count", self.st.sides)[0]

    @property
    def _pending(self) -> list[tuple[int, int, float]]:
        st = self.st
        cols = self._ring("p_head", "p_count", st.pend_ts, st.pend_side, st.pend_price)
        return list(zip(*cols, strict=True))

    def _room(self) -> None:
        if not tox_headroom_ok(self.st):
            self.st = grow_tox(self.st)

    def on_book(self, book: CompiledBook, ts: int, imbalance: float | None = None) -> None:
        self._room()
        has = imbalance is not None
        tox_on_book(self.st, book.st, int(ts), float(imbalance) if has else 0.0, has)
        _check(self.st.rec, None)

    def on_trade(self, side: int, qty: int, ts: int) -> None:
        tox_on_trade(self.st, _side(side), int(qty), int(ts))
        _check(self.st.rec, side)

    def on_fill(self, side: int, price: float, ts: int) -> None:
        self._room()
        tox_on_fill(self.st, _side(side), float(price), int(ts))
        bad_side = int(self.st.rec[0]["err"]) == ERR_FILL_SIDE
        _check(self.st.rec, side if bad_side else price)

    def on_mid(self, mid: float, ts: int) -> None:
        tox_on_mid(self.st, float(mid), int(ts))

    def drift(self, ts: int) -> float | None:
        has, d = tox_drift(self.st, int(ts))
        return float(d) if has else None

    def reading(self, ts: int) -> ToxicityReading:
        score, side, mask = tox_reading(self.st, int(ts))
        return ToxicityReading(float(score), reasons_from_mask(int(mask)), int(side))
