"""Compiled feature kernels against the reference operators: bit for bit, state included.

Randomized differential runs (fixed seeds, thousands of updates each) feed the same
inputs to a reference object and its compiled wrapper and compare every output and
every attribute after each step: numbers by their float64 bit patterns (so -0.0 != 0.0
and NaN must be NaN), bools and enums by value and type (feat_compare.exact). Inputs cover gaps, equal and
older timestamps, flat stretches, jumps, bad input (same exception, same message) and
rings that must grow. The kernel-level API the compiled trader loop calls (error codes,
reason masks, the regime table) is checked directly too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from feat_compare import assert_same_state, exact
from numba import njit

from core.errors import MMError
from core.l2book import ASK, BID, L2Book
from core.l2book_kernel import CompiledBook
from operators.features import kernel as K
from operators.features.imbalance import ImbalanceEMA, microprice
from operators.features.regime import DEFAULT_REGIME_PARAMS, Regime, RegimeDetector
from operators.features.signal import QQE, DirectionalSignal, KalmanTrend
from operators.features.toxicity import REASONS, ToxicityDetector
from operators.features.volatility import Volatility

MS = 1_000_000
SEC = 1_000_000_000


def outcome(f: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    try:
        return ("ok", exact(f(*args)))
    except Exception as e:  # any exception must be reproduced, message included
        return ("raise", type(e), str(e))


def call_both(
    f: Callable[..., Any], g: Callable[..., Any], *args: Any, fast_args: tuple | None = None
) -> None:
    """``f(*args)`` (reference) and ``g(*fast_args or args)``: same result, or the same
    exception with the same message."""
    assert outcome(g, args if fast_args is None else fast_args) == outcome(f, args)


# ---- random markets ------------------------------------------------------------------


def timestamps(rng: np.random.Generator, n: int, t0: int = 10**18) -> list[int]:
    """Receive times with bursts (equal), small steps, older ones and long gaps."""
    out, t = [], t0
    for _ in range(n):
        u = rng.random()
        if u < 0.15:
            dt = 0
        elif u < 0.22:
            dt = -int(rng.integers(1, 3 * SEC))
        elif u < 0.9:
            dt = int(rng.integers(1, 400 * MS))
        elif u < 0.97:
            dt = int(rng.integers(1, 5 * SEC))
        else:
            dt = int(rng.integers(5 * SEC, 200 * SEC))
        t += dt
        out.append(t)
    return out


def mids(rng: np.random.Generator, n: int, start: float = 20_000.0) -> list[Any]:
    """Half-tick mids: random walk, flat stretches, jumps, now and then a bad mid."""
    out: list[Any] = []
    m = start
    flat = 0
    for _ in range(n):
        if flat:
            flat -= 1
        elif rng.random() < 0.02:
            flat = int(rng.integers(5, 80))
        else:
            u = rng.random()
            step = float(rng.integers(-3, 4)) / 2 if u < 0.97 else float(rng.integers(-400, 401))
            m = max(1.0, m + step)
        u = rng.random()
        if u < 0.003:
            out.append(float(rng.choice([0.0, -m, math.nan])))
        elif u < 0.004:
            out.append(int(m))  # an int mid is accepted too
        else:
            out.append(m)
    return out


class Books:
    """A reference and a compiled book changed by the same random level updates."""

    def __init__(self, rng: np.random.Generator, center: int = 20_000) -> None:
        self.rng, self.center = rng, center
        self.ref, self.fast = L2Book(), CompiledBook()

    def set(self, side: int, price: int, qty: int) -> None:
        self.ref.set(side, price, qty)
        self.fast.set(side, price, qty)

    def step(self) -> None:
        rng = self.rng
        if rng.random() < 0.005:
            self.ref.clear()
            self.fast.clear()
        self.center += int(rng.integers(-3, 4))
        heavy = rng.random()
        for _ in range(int(rng.integers(1, 6))):
            side = BID if rng.random() < 0.5 else ASK
            off = int(rng.integers(1, 12))
            price = self.center - off if side == BID else self.center + off
            big = (side == BID) == (heavy < 0.3) and heavy < 0.6
            qty = 0 if rng.random() < 0.3 else int(rng.integers(1, 400 if big else 40))
            self.set(side, price, qty)
        # keep the book uncrossed around the center, as a synced book would be
        for p, _ in self.ref.depth(BID, 50):
            if p >= self.center:
                self.set(BID, p, 0)
        for p, _ in self.ref.depth(ASK, 50):
            if p <= self.center:
                self.set(ASK, p, 0)


# ---- exact int / int ---------------------------------------------------------------------


@njit(cache=True)
def _divide(n: np.ndarray, d: np.ndarray, out: np.ndarray) -> None:
    for i in range(n.shape[0]):
        out[i] = K.int_true_div(n[i], d[i])


def test_int_true_div_is_pythons_correctly_rounded_division() -> None:
    rng = np.random.default_rng(1)
    cases = [
        (2**54 + 1, 1),  # a tie: rounds to even (2**54)
        (2**54 + 3, 1),  # a tie: rounds to even (2**54 + 4)
        (2**53 + 1, 2),
        (-(2**63), 3),
        (2**63 - 1, -(2**63)),
        (-(2**63), -(2**63)),
        (1, 2**63 - 1),
        (0, -(2**60)),  # Python gives -0.0
        (3 * 2**60 + 1, 3),
        (10**18 + 7, 10**18 + 3),
    ]
    for _ in range(20_000):
        bits_n, bits_d = rng.integers(1, 64, size=2)
        n = int(rng.integers(0, 2 ** int(bits_n) - 1, endpoint=True))
        d = int(rng.integers(1, 2 ** int(bits_d) - 1, endpoint=True))
        cases.append((n * (1 if rng.random() < 0.5 else -1), d * (1 if rng.random() < 0.7 else -1)))
    n, d = (np.array(c, np.int64) for c in zip(*cases, strict=True))
    got = np.zeros(len(cases))
    _divide(n, d, got)
    for (a, b), x in zip(cases, got.tolist(), strict=True):
        assert exact(x) == exact(a / b), (a, b)


def test_microprice_above_2_53_and_overflow() -> None:
    ref, fast = L2Book(), CompiledBook()
    # 10**7 x 3 * 10**9 + (10**7 + 1) x (10**9 + 7): about 4e16 > 2**53, not a float op
    for b in (ref, fast):
        b.set(BID, 10**7, 10**9 + 7)
        b.set(ASK, 10**7 + 1, 3 * 10**9)
    assert exact(K.compiled_microprice(fast)) == exact(microprice(ref))
    imb = K.CompiledImbalanceEMA(levels=1)
    assert exact(imb.update(fast, 0)) == exact(ImbalanceEMA(levels=1).update(ref, 0))
    fast.set(ASK, 10**7 + 1, 10**12)  # 10**7 * 10**12 = 1e19 > int64
    with pytest.raises(MMError, match="exceeds int64"):
        K.compiled_microprice(fast)
    with pytest.raises(MMError, match="exceeds int64"):
        K.CompiledToxicityDetector().on_book(fast, 0)


# ---- imbalance -----------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "levels", "half_life_ms"), [(1, 5, 500.0), (2, 1, 7.5)])
def test_imbalance_ema_differential(seed: int, levels: int, half_life_ms: float) -> None:
    rng = np.random.default_rng(seed)
    books = Books(rng)
    ref, fast = ImbalanceEMA(levels, half_life_ms), K.CompiledImbalanceEMA(levels, half_life_ms)
    assert_same_state(ref, fast)
    for ts in timestamps(rng, 4000):
        books.step()
        call_both(
            ref.update,
            fast.update,
            books.ref,
            ts,
            fast_args=(
                books.fast,
                ts,
            ),
        )
        call_both(microprice, K.compiled_microprice, books.ref, fast_args=(books.fast,))
        assert_same_state(ref, fast)


# ---- volatility ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "sample_ms", "half_life", "warmup"),
    [(3, 1000, 30.0, 10), (4, 100, 2.5, 1), (5, 250, 7, 3)],
)
def test_volatility_differential(seed: int, sample_ms: int, half_life: float, warmup: int) -> None:
    rng = np.random.default_rng(seed)
    ref, fast = (
        Volatility(sample_ms, half_life, warmup),
        K.CompiledVolatility(sample_ms, half_life, warmup),
    )
    assert_same_state(ref, fast)
    closed = 0
    for ts, mid in zip(timestamps(rng, 6000, t0=0), mids(rng, 6000), strict=True):
        call_both(ref.update, fast.update, mid, ts)
        assert_same_state(ref, fast)
        closed = ref.samples
    assert closed > 100 and ref.warm


# ---- regime --------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "window", "min_samples"), [(6, 300, 30), (7, 3, 3), (8, 25, 1)])
def test_regime_differential(seed: int, window: int, min_samples: int) -> None:
    """Random vols with many exact ties (and -0.0 next to 0.0: SortedList's order of
    equal values shows in the cuts' sign bits), now and then a non-finite one."""
    rng = np.random.default_rng(seed)
    ref, fast = RegimeDetector(window, min_samples), K.CompiledRegimeDetector(window, min_samples)
    seen = set()
    for i in range(4000):
        u = rng.random()
        if u < 0.2:
            v: Any = float(rng.integers(0, 6))  # ties
        elif u < 0.25:
            v = -0.0 if rng.random() < 0.5 else 0.0
        elif u < 0.253:
            v = float(rng.choice([math.nan, math.inf, -math.inf]))
        elif u < 0.26:
            v = int(rng.integers(0, 5))
        else:
            v = float(rng.lognormal(1.0, 0.5))
        call_both(ref.update, fast.update, v)
        assert_same_state(ref, fast, rings=i % 16 == 0)
        assert exact(ref.params()) == exact(fast.params())
        seen.add(ref.regime)
    assert seen == set(Regime)


# ---- signal --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "kwargs"),
    [
        (9, {}),
        (10, {"sample_ms": 100, "rsi_period": 3, "smoothing": 2, "factor": 1.5}),
        (11, {"sample_ms": 1, "slope_threshold_bps": 0.0, "rsi_period": 1, "smoothing": 1}),
        (12, {"process_var": 0.5, "measurement_var": 2.0, "slope_threshold_bps": 2}),
    ],
)
def test_directional_signal_differential(seed: int, kwargs: dict[str, Any]) -> None:
    rng = np.random.default_rng(seed)
    ref, fast = DirectionalSignal(**kwargs), K.CompiledDirectionalSignal(**kwargs)
    values = set()
    for ts, mid in zip(timestamps(rng, 5000, t0=0), mids(rng, 5000), strict=True):
        call_both(ref.update, fast.update, mid, ts)
        assert_same_state(ref, fast)
        values.add(ref.value)
    assert ref.samples > 500 and ref.qqe.trend != 0
    assert len(values) >= 2 and (values == {-1, 0, 1} or kwargs)  # it moved


def test_kalman_and_qqe_alone_differential() -> None:
    rng = np.random.default_rng(13)
    k_ref, k_fast = KalmanTrend(0.01, 0.3), K.CompiledKalmanTrend(0.01, 0.3)
    q_ref, q_fast = QQE(5, 3, 2.0), K.CompiledQQE(5, 3, 2.0)
    p = 500.0
    for i in range(5000):
        u = rng.random()
        if u < 0.1:  # flat stretches: RSI 50, zero ATR, bands at the RSI
            pass
        elif u < 0.12:
            p = p + float(rng.choice([-1e3, 1e3]))
        else:
            p = max(1.0, p + float(rng.normal(0, 1)))
        x: Any = int(p) if i % 97 == 0 else p
        call_both(k_ref.update, k_fast.update, x)
        call_both(q_ref.update, q_fast.update, x)
        assert_same_state(k_ref, k_fast)
        assert_same_state(q_ref, q_fast)


# ---- toxicity ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "kwargs"),
    [
        (14, {}),
        (15, {"drift_window_ms": (0, 50), "depth_levels": 2, "aggressor_window": 3}),
        (16, {"drift_bps": 0.5, "markout_horizon_ms": 0, "markout_alpha": 1.0}),
        (17, {"drift_window_ms": (100, 100), "imbalance_threshold": 0.2, "markout_threshold": 0}),
    ],
)
def test_toxicity_differential(seed: int, kwargs: dict[str, Any]) -> None:
    """Book messages, trades, fills and mids interleaved at random, as the trader feeds
    them; the trader's shared imbalance is passed on some book messages."""
    rng = np.random.default_rng(seed)
    books = Books(rng, center=10_000)
    ref, fast = ToxicityDetector(**kwargs), K.CompiledToxicityDetector(**kwargs)
    shared_ref, shared_fast = (
        ImbalanceEMA(ref.depth_levels),
        K.CompiledImbalanceEMA(ref.depth_levels),
    )
    buy_share = 0.5
    reasons: set[str] = set()
    sides = set()
    for i, ts in enumerate(timestamps(rng, 6000)):
        u = rng.random()
        if u < 0.45:
            books.step()
            if rng.random() < 0.5:
                shared_ref.update(books.ref, ts)
                shared_fast.update(books.fast, ts)
                call_both(
                    ref.on_book,
                    fast.on_book,
                    books.ref,
                    ts,
                    shared_ref.raw,
                    fast_args=(
                        books.fast,
                        ts,
                        shared_fast.raw,
                    ),
                )
            else:
                call_both(
                    ref.on_book,
                    fast.on_book,
                    books.ref,
                    ts,
                    fast_args=(
                        books.fast,
                        ts,
                    ),
                )
            mid = books.ref.mid()
            if mid is not None:
                call_both(ref.on_mid, fast.on_mid, mid, ts)
        elif u < 0.85:
            if rng.random() < 0.02:
                buy_share = float(rng.choice([0.05, 0.5, 0.95]))
            side: Any = 1 if rng.random() < buy_share else -1
            if rng.random() < 0.003:
                side = int(rng.choice([0, 2, -2]))
            qty = int(rng.integers(1, 100))
            call_both(ref.on_trade, fast.on_trade, side, qty, ts)
        elif u < 0.93:
            side = 1 if rng.random() < 0.5 else -1
            price: Any = books.center + float(rng.integers(-20, 21)) / 2
            if rng.random() < 0.01:
                side = 0
            elif rng.random() < 0.01:
                price = float(rng.choice([0.0, -5.0, math.nan]))
            call_both(ref.on_fill, fast.on_fill, side, price, ts)
        else:
            mid = books.center + float(rng.integers(-30, 31)) / 2
            call_both(ref.on_mid, fast.on_mid, mid, ts)
        t = ts + int(rng.integers(-100 * MS, 500 * MS))  # readings at other times, too
        for when in (ts, t):
            call_both(ref.drift, fast.drift, when)
            call_both(ref.reading, fast.reading, when)
        r = ref.reading(ts)
        reasons.update(r.reasons)
        sides.add(r.threatened_side)
        assert_same_state(ref, fast, rings=i % 16 == 0)
    assert_same_state(ref, fast)
    assert sides == {-1, 0, 1}
    assert len(reasons) >= 4, reasons


def test_toxicity_rings_grow_beyond_their_initial_capacity() -> None:
    """More microprices within the window and more pending fills than the preallocated
    rings hold: the wrapper grows them between calls and nothing is lost."""
    ref, fast = ToxicityDetector(), K.CompiledToxicityDetector()
    rb, fb = L2Book(), CompiledBook()
    for b in (rb, fb):
        b.set(BID, 9_999, 10)
        b.set(ASK, 10_001, 10)
    n = 3 * K.TOX_MICRO_CAPACITY
    for k in range(n):  # a burst: all in the same 1 ms
        for b in (rb, fb):
            b.set(BID, 9_999, 10 + k)
        ref.on_book(rb, 5 * MS)
        fast.on_book(fb, 5 * MS)
    for k in range(3 * K.TOX_PENDING_CAPACITY):
        ref.on_fill(1 if k % 3 else -1, 10_000.0 + k % 7, k * MS)
        fast.on_fill(1 if k % 3 else -1, 10_000.0 + k % 7, k * MS)
    assert len(fast._micro) == n and len(fast._pending) == 3 * K.TOX_PENDING_CAPACITY
    assert_same_state(ref, fast)
    ref.on_mid(10_003.0, 2 * SEC)
    fast.on_mid(10_003.0, 2 * SEC)
    assert_same_state(ref, fast)
    assert fast.markouts == 3 * K.TOX_PENDING_CAPACITY
    assert fast.reading(2 * SEC) == ref.reading(2 * SEC)
    assert K.tox_headroom_ok(fast.st)


# ---- the kernel API the compiled trader loop calls ----------------------------------------


def test_kernel_errors_carry_the_reference_message() -> None:
    """Bad input inside an update sets rec.err (state untouched); take_error rebuilds the
    reference's exception from the record alone, as the loop's edge does."""
    cases: list[tuple[Callable[[], Any], Callable[[], Any], Any]] = []
    vol_ref, vol = Volatility(), K.new_volatility()
    sig_ref, sig = DirectionalSignal(), K.new_signal()
    reg_ref, reg = RegimeDetector(), K.new_regime()
    tox_ref, tox = ToxicityDetector(), K.new_toxicity()
    cases = [
        (lambda: vol_ref.update(-2.5, 0), lambda: K.vol_update(vol, -2.5, 0), vol),
        (lambda: sig_ref.update(0.0, 0), lambda: K.signal_update(sig, 0.0, 0), sig),
        (lambda: reg_ref.update(math.inf), lambda: K.regime_update(reg, math.inf), reg),
        (lambda: tox_ref.on_trade(0, 1, 0), lambda: K.tox_on_trade(tox, 0, 1, 0), tox),
        (lambda: tox_ref.on_fill(3, 1.0, 0), lambda: K.tox_on_fill(tox, 3, 1.0, 0), tox),
        (lambda: tox_ref.on_fill(1, -1.0, 0), lambda: K.tox_on_fill(tox, 1, -1.0, 0), tox),
    ]
    for t in range(0, 40 * SEC, 300 * MS):  # some state to disturb
        K.vol_update(vol, 100.0 + t % 7, t)
        K.signal_update(sig, 100.0 + t % 5, t)
        K.regime_update(reg, float(t % 11))
        K.tox_on_trade(tox, 1 if t % 3 else -1, 1, t)
        K.tox_on_fill(tox, 1, 100.0, t)
    for ref_call, kernel_call, st in cases:
        before = snapshot(st)
        with pytest.raises(ValueError) as want:
            ref_call()
        kernel_call()
        got = K.take_error(st.rec)
        assert type(got) is ValueError and str(got) == str(want.value)
        assert K.take_error(st.rec) is None  # cleared
        after = snapshot(st)
        assert len(after) == len(before)
        for a, b in zip(before, after, strict=True):
            assert a.tobytes() == b.tobytes()  # untouched, bit for bit


def snapshot(st: Any) -> list[np.ndarray]:
    """Copies of every array of a kernel state (nested ones too), error fields zeroed."""
    out = []
    for a in st:
        if isinstance(a, np.ndarray):
            a = a.copy()
            for name in ("err", "err_i", "err_f"):
                if a.dtype.names and name in a.dtype.names:
                    a[name] = 0
            out.append(a)
        else:
            out.extend(snapshot(a))
    return out


def test_reason_mask_and_regime_table() -> None:
    assert K.reasons_from_mask(0) == ()
    assert K.reasons_from_mask(0b11111) == REASONS
    assert K.reasons_from_mask(K.REASON_BITS["markout"] | K.REASON_BITS["aggressor_sell"]) == (
        "markout",
        "aggressor_sell",
    )
    for g in Regime:
        clamp, levels, mult = K.regime_params(K.DEFAULT_REGIME_TABLE, int(g))
        p = DEFAULT_REGIME_PARAMS[g]
        assert (clamp, levels, mult) == (p.spread_clamp_bps, p.levels, p.position_multiplier)


def cbook(bids: dict[int, int], asks: dict[int, int]) -> Any:
    b = CompiledBook()
    for p, q in bids.items():
        b.set(BID, p, q)
    for p, q in asks.items():
        b.set(ASK, p, q)
    return b


def test_reading_mask_matches_reference_reasons() -> None:
    """tox_reading's mask bit k is REASONS[k]: every rule at once sets all four bits."""
    t = K.new_toxicity()
    for _ in range(4):
        K.tox_on_fill(t, -1, 10_000.0, 0)
    K.tox_on_mid(t, 10_010.0, SEC)
    for i in range(50):
        K.tox_on_trade(t, 1 if i < 40 else -1, 5, i)
    K.tox_on_book(t, cbook({10000: 10}, {10002: 10}).st, 700 * MS, 0.0, False)
    K.tox_on_book(t, cbook({10005: 90}, {10007: 10}).st, SEC, 0.0, False)
    score, side, mask = K.tox_reading(t, SEC)
    assert (score, side) == (1.0, -1)
    assert K.reasons_from_mask(mask) == (
        "markout",
        "microprice_drift",
        "book_imbalance",
        "aggressor_buy",
    )
    # has_imbalance: the caller's value is used instead of the book's
    K.tox_on_book(t, cbook({10005: 90}, {10007: 10}).st, SEC, -0.9, True)
    assert t.rec[0]["imbalance"] == -0.9
