"""Kalman trend, QQE and the combined directional signal."""

from __future__ import annotations

import math
import random

import pytest

from operators.features.signal import DirectionalSignal

SEC = 1_000_000_000
MS = 1_000_000

# ---- Kalman ------------------------------------------------------------------------


def test_kalman_first_steps_by_hand(impl) -> None:
    k = impl.KalmanTrend(process_var=1.0, measurement_var=1.0)
    assert k.update(10.0) == (10.0, 0.0)
    # diffuse start: level = 12, slope = 12 - 10, P = [[1, 1], [1, 2]]
    assert k.update(12.0) == (12.0, 2.0)
    # predict: level 14, P = [[1+2+2+1, 1+2], [., 2+1]] = [[6, 3], [., 3]]
    # S = 6 + 1 = 7, K = (6/7, 3/7), innovation 15 - 14 = 1
    level, slope = k.update(15.0)
    assert level == pytest.approx(14 + 6 / 7)
    assert slope == pytest.approx(2 + 3 / 7)
    # P = [[(1-6/7)*6, (1-6/7)*3], [., 3 - 3/7*3]] = [[6/7, 3/7], [., 12/7]]
    assert (k.p00, k.p01, k.p11) == pytest.approx((6 / 7, 3 / 7, 12 / 7))


def test_kalman_is_exact_on_a_linear_ramp(impl) -> None:
    k = impl.KalmanTrend()
    for i in range(50):
        level, slope = k.update(100.0 + 0.25 * i)
    assert level == pytest.approx(100.0 + 0.25 * 49, abs=1e-9)
    assert slope == pytest.approx(0.25, abs=1e-9)


def test_kalman_slope_converges_after_a_trend_starts(impl) -> None:
    k = impl.KalmanTrend()  # q/r = 0.01
    for _ in range(100):
        k.update(1000.0)
    assert k.slope == pytest.approx(0.0, abs=1e-12)
    slopes = []
    for i in range(1, 301):
        slopes.append(k.update(1000.0 + 0.5 * i)[1])
    assert slopes[4] < 0.5  # still adapting a few samples in
    assert slopes[-1] == pytest.approx(0.5, rel=1e-3)  # converged to the ramp's slope
    assert k.level == pytest.approx(1150.0, rel=1e-6)


def test_kalman_slope_on_a_noisy_ramp(impl) -> None:
    rng = random.Random(3)
    k = impl.KalmanTrend(process_var=1e-4, measurement_var=1e-2)
    for i in range(2000):
        k.update(500.0 + 0.2 * i + rng.gauss(0.0, 0.1))  # noise std = sqrt(1e-2)
    assert k.slope == pytest.approx(0.2, abs=0.02)


# ---- QQE ---------------------------------------------------------------------------


def zigzag(n: int, start: float, up: float, down: float) -> list[float]:
    """A trending path with pullbacks: one step of ``down`` then two of ``up``, repeated."""
    out, p = [], start
    for i in range(n):
        p += up if i % 3 else down
        out.append(p)
    return out


def test_qqe_rsi_is_wilders(impl) -> None:
    q = impl.QQE(rsi_period=2, smoothing=1)
    q.update(10.0)
    q.update(11.0)  # change +1
    q.update(10.5)  # change -0.5: seeds up = (1 + 0)/2 = 0.5, down = (0 + 0.5)/2 = 0.25
    assert q.rsi == pytest.approx(100 - 100 / (1 + 2))  # rs = 2 -> 66.67
    q.update(11.5)  # +1: up = 0.5 + (1 - 0.5)/2 = 0.75, down = 0.25 - 0.25/2 = 0.125
    assert q.rsi == pytest.approx(100 - 100 / (1 + 6))  # rs = 6 -> 85.71
    assert q.rsi_ma == q.rsi  # smoothing 1: the EMA is the value itself


def test_qqe_bullish_on_a_rising_series_and_bearish_on_a_falling_one(impl) -> None:
    rising, falling = impl.QQE(), impl.QQE()
    up = [rising.update(p) for p in zigzag(150, 100.0, 2.0, -1.0)]
    down = [falling.update(p) for p in zigzag(150, 400.0, -2.0, 1.0)]
    # the trailing line exists from price 5*14 + 5 - 3 = 72 on: zero before
    assert up[:71] == [0] * 71 and down[:71] == [0] * 71
    assert up[71:] == [1] * (150 - 71)
    assert down[71:] == [-1] * (150 - 71)
    assert rising.rsi_ma > 50 and rising.rsi_ma > rising.trailing
    assert falling.rsi_ma < 50 and falling.rsi_ma < falling.trailing


def test_qqe_flat_series_is_neutral(impl) -> None:
    q = impl.QQE()
    assert {q.update(100.0) for _ in range(200)} == {0}
    assert q.rsi == 50.0


def test_qqe_turns_when_the_trend_reverses(impl) -> None:
    q = impl.QQE()
    path = zigzag(120, 100.0, 2.0, -1.0)
    path += zigzag(120, path[-1], -2.0, 1.0)
    out = [q.update(p) for p in path]
    assert out[119] == 1
    assert out[-1] == -1
    first_bear = out.index(-1)
    assert 120 < first_bear < 160
    assert all(v == 1 for v in out[71:120])


def pine_qqe(prices: list[float], n: int, sf: int, factor: float) -> list[int]:
    """Batch transcription of the Pine script, bar by bar over whole series (nan = na)."""
    nan = math.nan
    size = len(prices)

    def seeded(src: list[float], length: int, alpha: float) -> list[float]:
        out, window, prev = [nan] * size, [], nan
        for i, x in enumerate(src):
            if x == x:
                if prev != prev:
                    window.append(x)
                    if len(window) == length:
                        prev = sum(window) / length
                else:
                    prev = alpha * x + (1 - alpha) * prev
            out[i] = prev
        return out

    change = [nan] + [prices[i] - prices[i - 1] for i in range(1, size)]
    up = seeded([max(c, 0.0) if c == c else nan for c in change], n, 1 / n)
    dn = seeded([max(-c, 0.0) if c == c else nan for c in change], n, 1 / n)
    rsi = [
        nan
        if u != u
        else (50.0 if u == 0 else 100.0)
        if d == 0
        else 0.0
        if u == 0
        else 100 - 100 / (1 + u / d)
        for u, d in zip(up, dn, strict=True)
    ]
    rsima = seeded(rsi, sf, 2 / (sf + 1))
    atr = [nan] + [abs(rsima[i - 1] - rsima[i]) for i in range(1, size)]
    w = 2 * n - 1
    dar = [m * factor for m in seeded(seeded(atr, w, 2 / (w + 1)), w, 2 / (w + 1))]
    lb, sb, trend, sig = [nan] * size, [nan] * size, [0] * size, [0] * size

    def at(series: list, i: int, default: float) -> float:
        return series[i] if i >= 0 else default

    def cross(x: float, x1: float, y: float, y1: float) -> bool:
        return (x > y and x1 <= y1) or (x < y and x1 >= y1)

    for i in range(size):
        r, r1 = rsima[i], at(rsima, i - 1, nan)
        lb1, lb2, sb1, sb2 = (
            at(lb, i - 1, nan),
            at(lb, i - 2, nan),
            at(sb, i - 1, nan),
            at(sb, i - 2, nan),
        )
        lb[i] = max(lb1, r - dar[i]) if (r1 > lb1 and r > lb1) else r - dar[i]
        sb[i] = min(sb1, r + dar[i]) if (r1 < sb1 and r < sb1) else r + dar[i]
        t1 = int(at(trend, i - 1, 0))
        if t1 == 0:
            trend[i] = (1 if r >= 50 else -1) if dar[i] == dar[i] else 0
        elif cross(r, r1, sb1, sb2):
            trend[i] = 1
        elif cross(lb1, lb2, r, r1):
            trend[i] = -1
        else:
            trend[i] = t1
        tl = lb[i] if trend[i] == 1 else sb[i] if trend[i] == -1 else nan
        sig[i] = 1 if (r > tl and r > 50) else -1 if (r < tl and r < 50) else 0
    return sig


@pytest.mark.parametrize(("n", "sf", "factor"), [(14, 5, 4.236), (4, 2, 1.5)])
def test_qqe_streaming_matches_the_batch_pine_transcription(
    impl, n: int, sf: int, factor: float
) -> None:
    rng = random.Random(11)
    prices, p = [], 1000.0
    for _ in range(1500):
        p += rng.gauss(0.0, 1.0) + 0.05 * math.sin(len(prices) / 40)
        prices.append(p)
    q = impl.QQE(rsi_period=n, smoothing=sf, factor=factor)
    got = [q.update(x) for x in prices]
    want = pine_qqe(prices, n, sf, factor)
    assert got == want
    assert {1, -1, 0} <= set(got)  # the comparison covered all three outputs


# ---- DirectionalSignal -------------------------------------------------------------


def feed(sig: DirectionalSignal, mids: list[float], step_ns: int = SEC) -> list[int]:
    """One mid per interval, 1 ms into it."""
    return [sig.update(m, i * step_ns + MS) for i, m in enumerate(mids)]


def test_signal_up_on_a_rising_market_down_on_a_falling_one(impl) -> None:
    up = feed(impl.DirectionalSignal(), zigzag(150, 10_000.0, 2.0, -1.0))
    down = feed(impl.DirectionalSignal(), zigzag(150, 10_000.0, -2.0, 1.0))
    # a sample closes one update late, so QQE's 72nd price is seen at update 73
    assert up[:72] == [0] * 72 and up[72:] == [1] * (150 - 72)
    assert down[:72] == [0] * 72 and down[72:] == [-1] * (150 - 72)


def test_signal_needs_the_slope_above_the_threshold(impl) -> None:
    s = impl.DirectionalSignal(slope_threshold_bps=2.0)
    # trend (2 + 2 - 1) / 3 = 1 tick per sample at 10000 ticks = 1 bps per sample < 2 bps
    out = feed(s, zigzag(150, 10_000.0, 2.0, -1.0))
    assert s.qqe.value == 1
    assert 0.5 < s.slope_bps < 1.5
    assert set(out) == {0}


def test_signal_flat_market_is_neutral(impl) -> None:
    s = impl.DirectionalSignal()
    assert set(feed(s, [10_000.0] * 200)) == {0}


def test_signal_samples_the_last_mid_of_each_interval(impl) -> None:
    a, b = impl.DirectionalSignal(), impl.DirectionalSignal()
    closes = zigzag(120, 10_000.0, 2.0, -1.0)
    for i, c in enumerate(closes):
        # noise inside the interval, then the close: only the close may count
        a.update(c + 50.0, i * SEC + 1 * MS)
        a.update(c - 50.0, i * SEC + 500 * MS)
        a.update(c, i * SEC + 999 * MS)
        b.update(c, i * SEC + 999 * MS)
    assert (a.value, a.samples, a.slope_bps) == (b.value, b.samples, b.slope_bps)
    assert a.kalman.level == b.kalman.level and a.qqe.rsi_ma == b.qqe.rsi_ma


def test_signal_gap_carries_a_bounded_number_of_flat_samples(impl) -> None:
    s = impl.DirectionalSignal(sample_ms=1000)
    s.update(10_000.0, 0)
    s.update(10_000.0, 5 * SEC)  # interval 0 closes, 4 empty ones carried
    assert s.samples == 5
    s.update(10_000.0, 200 * SEC)  # interval 5 closes, 194 empty: capped at 30
    assert s.samples == 5 + 1 + impl.DirectionalSignal.MAX_CARRY_SAMPLES


def test_signal_routes_keyword_parameters(impl) -> None:
    s = impl.DirectionalSignal(rsi_period=3, smoothing=2, factor=2.0, process_var=0.5)
    assert (s.qqe.rsi_period, s.qqe.smoothing, s.qqe.factor) == (3, 2, 2.0)
    assert (s.kalman.process_var, s.kalman.measurement_var) == (0.5, 1e-2)
    with pytest.raises(TypeError, match="rsi_len"):
        impl.DirectionalSignal(rsi_len=3)


def test_signal_rejects_bad_mid(impl) -> None:
    with pytest.raises(ValueError, match="positive"):
        impl.DirectionalSignal().update(0.0, 0)
