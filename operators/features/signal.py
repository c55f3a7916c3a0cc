"""Directional bias: a Kalman trend filter confirmed by QQE, on mids sampled on a time grid.

The quoter shifts both quotes a little in the trend direction (botmm's
``shift = signal * bias_strength * spread``). Two independent views must agree before
the bias is non-zero: the Kalman slope says the price drifts, QQE says momentum is on
the same side of neutral. Disagreement gives 0, so the signal errs towards symmetric
quoting.
"""

from __future__ import annotations

import math
from typing import Any


class KalmanTrend:
    """Local linear trend Kalman filter: state (level, slope), one price per sample.

    Model: ``level' = level + slope + w1``, ``slope' = slope + w2``, ``price = level + v``
    with ``w1, w2 ~ N(0, process_var)`` independent and ``v ~ N(0, measurement_var)``.
    The first two prices give the exact diffuse-prior start (level = second price,
    slope = their difference, covariance ``[[r, r], [r, 2r]]``), so the gains depend
    only on ``process_var / measurement_var`` and the filter works in any price unit.
    """

    __slots__ = (
        "_first",
        "level",
        "measurement_var",
        "n",
        "p00",
        "p01",
        "p11",
        "process_var",
        "slope",
    )

    def __init__(self, process_var: float = 1e-4, measurement_var: float = 1e-2) -> None:
        if not process_var > 0 or not measurement_var > 0:
            raise ValueError(
                f"variances must be > 0, got process_var={process_var}, "
                f"measurement_var={measurement_var}"
            )
        self.process_var = process_var
        self.measurement_var = measurement_var
        self.level = 0.0
        self.slope = 0.0
        self.p00 = self.p01 = self.p11 = 0.0  # state covariance (symmetric)
        self.n = 0
        self._first = 0.0

    def update(self, price: float) -> tuple[float, float]:
        """Filter one sampled price; returns (level, slope per sample)."""
        self.n += 1
        r = self.measurement_var
        if self.n == 1:
            self._first = self.level = price
            return price, 0.0
        if self.n == 2:
            self.level = price
            self.slope = price - self._first
            self.p00, self.p01, self.p11 = r, r, 2.0 * r
            return self.level, self.slope
        q = self.process_var
        # predict: x = F x, P = F P F' + Q with F = [[1, 1], [0, 1]]
        level = self.level + self.slope
        p00 = self.p00 + 2.0 * self.p01 + self.p11 + q
        p01 = self.p01 + self.p11
        p11 = self.p11 + q
        # update with H = [1, 0]
        s = p00 + r
        k0 = p00 / s
        k1 = p01 / s
        innov = price - level
        self.level = level + k0 * innov
        self.slope += k1 * innov
        self.p00 = (1.0 - k0) * p00
        self.p01 = (1.0 - k0) * p01
        self.p11 = p11 - k1 * p01
        return self.level, self.slope


class _SeededAverage:
    """Pine-style exponential average: seeded with the SMA of the first ``length`` inputs."""

    __slots__ = ("alpha", "length", "seed_sum", "seen", "value")

    def __init__(self, length: int, alpha: float) -> None:
        self.length = length
        self.alpha = alpha
        self.seen = 0
        self.seed_sum = 0.0
        self.value: float | None = None

    def step(self, x: float) -> float | None:
        v = self.value
        if v is not None:
            v += self.alpha * (x - v)
            self.value = v
            return v
        self.seen += 1
        self.seed_sum += x
        if self.seen == self.length:
            self.value = self.seed_sum / self.length
        return self.value


def _cross(x: float, x1: float, y: float, y1: float) -> bool:
    """Pine ``ta.cross``: x crossed y (either way) between the previous and this sample."""
    return (x > y and x1 <= y1) or (x < y and x1 >= y1)


class QQE:
    """Quantitative Qualitative Estimation (R. Ignatov), as in TradingView's "QQE" by Glaz.

    Reference (Pine v4, TradingView "QQE" / "QQE MOD" by Glaz)::

        Wilders_Period = RSI_Period * 2 - 1
        Rsi = rsi(src, RSI_Period)                  // Wilder RSI (RMA, alpha 1/n)
        RsiMa = ema(Rsi, SF)
        AtrRsi = abs(RsiMa[1] - RsiMa)
        MaAtrRsi = ema(AtrRsi, Wilders_Period)
        dar = ema(MaAtrRsi, Wilders_Period) * QQE
        newlongband = RsiMa - dar ; newshortband = RsiMa + dar
        longband := RsiMa[1] > longband[1] and RsiMa > longband[1]
                    ? max(longband[1], newlongband) : newlongband
        shortband := RsiMa[1] < shortband[1] and RsiMa < shortband[1]
                    ? min(shortband[1], newshortband) : newshortband
        trend := cross(RsiMa, shortband[1]) ? 1 : cross(longband[1], RsiMa) ? -1 : nz(trend[1], 1)
        FastAtrRsiTL = trend == 1 ? longband : shortband

    An EMA of length ``2n - 1`` has alpha ``1/n``: the "Wilders period" makes the two
    ATR smoothings Wilder averages of period n. Every average is seeded, as in Pine,
    with the simple mean of its first ``length`` inputs, so the output is 0 until the
    trailing line exists: from price number ``5 * rsi_period + smoothing - 3`` on (72
    with the defaults). One deliberate deviation: an RSI with no up and no down move
    at all (a flat start) is 50, not Pine's 100. And the trend starts on the side of
    50 the smoothed RSI is on when the trailing line first exists, where Pine starts at
    ``nz(trend[1], 1)`` = up: a chart has long history before anyone reads it, a live
    filter starts at the warm-up, and an up start would hide a downtrend already under
    way until the RSI crossed the long band.

    ``update`` returns +1 when the smoothed RSI is above the trailing line and above
    50, -1 when below it and below 50, else 0.
    """

    __slots__ = (
        "_atr1",
        "_atr2",
        "_down",
        "_lb1",
        "_lb2",
        "_prev_price",
        "_rsi_ema",
        "_rsima1",
        "_sb1",
        "_sb2",
        "_up",
        "factor",
        "rsi",
        "rsi_ma",
        "rsi_period",
        "smoothing",
        "trailing",
        "trend",
        "value",
    )

    def __init__(self, rsi_period: int = 14, smoothing: int = 5, factor: float = 4.236) -> None:
        if rsi_period < 1 or smoothing < 1:
            raise ValueError(
                f"rsi_period and smoothing must be >= 1, got {rsi_period}, {smoothing}"
            )
        if not factor > 0:
            raise ValueError(f"factor must be > 0, got {factor}")
        self.rsi_period = rsi_period
        self.smoothing = smoothing
        self.factor = factor
        wilders = 2 * rsi_period - 1
        self._up = _SeededAverage(rsi_period, 1.0 / rsi_period)
        self._down = _SeededAverage(rsi_period, 1.0 / rsi_period)
        self._rsi_ema = _SeededAverage(smoothing, 2.0 / (smoothing + 1))
        self._atr1 = _SeededAverage(wilders, 2.0 / (wilders + 1))
        self._atr2 = _SeededAverage(wilders, 2.0 / (wilders + 1))
        self._prev_price: float | None = None
        self._rsima1 = math.nan  # RsiMa one sample ago (nan = Pine's na)
        self._lb1 = self._lb2 = math.nan  # longband one and two samples ago
        self._sb1 = self._sb2 = math.nan
        self.trend = 0  # 0 until the trailing line exists
        self.rsi = math.nan
        self.rsi_ma = math.nan
        self.trailing = math.nan
        self.value = 0

    def update(self, price: float) -> int:
        """Feed one sampled price; returns +1 / -1 / 0 (0 while warming up)."""
        prev = self._prev_price
        self._prev_price = price
        if prev is None:
            return 0
        change = price - prev
        up = self._up.step(change if change > 0 else 0.0)
        down = self._down.step(-change if change < 0 else 0.0)
        if up is None or down is None:
            return 0
        if down == 0.0:
            rsi = 50.0 if up == 0.0 else 100.0
        elif up == 0.0:
            rsi = 0.0
        else:
            rsi = 100.0 - 100.0 / (1.0 + up / down)
        self.rsi = rsi
        rsima = self._rsi_ema.step(rsi)
        if rsima is None:
            return 0
        self.rsi_ma = rsima
        rsima1 = self._rsima1
        self._rsima1 = rsima
        if rsima1 != rsima1:  # first RsiMa: AtrRsi needs the previous one
            return 0
        ma_atr = self._atr1.step(abs(rsima - rsima1))
        dar_base = None if ma_atr is None else self._atr2.step(ma_atr)
        if dar_base is None:
            new_long = new_short = math.nan
        else:
            dar = dar_base * self.factor
            new_long = rsima - dar
            new_short = rsima + dar
        lb1, lb2, sb1, sb2 = self._lb1, self._lb2, self._sb1, self._sb2
        lb = max(lb1, new_long) if (rsima1 > lb1 and rsima > lb1) else new_long
        sb = min(sb1, new_short) if (rsima1 < sb1 and rsima < sb1) else new_short
        if self.trend == 0:
            if dar_base is not None:  # first trailing line: start on RsiMa's side of 50
                self.trend = 1 if rsima >= 50.0 else -1
        elif _cross(rsima, rsima1, sb1, sb2):
            self.trend = 1
        elif _cross(lb1, lb2, rsima, rsima1):
            self.trend = -1
        self._lb2, self._lb1, self._sb2, self._sb1 = lb1, lb, sb1, sb
        trailing = self.trailing = lb if self.trend == 1 else sb if self.trend == -1 else math.nan
        if rsima > trailing and rsima > 50.0:
            self.value = 1
        elif rsima < trailing and rsima < 50.0:
            self.value = -1
        else:
            self.value = 0  # includes a nan trailing line while warming up
        return self.value


_KALMAN_KEYS = ("process_var", "measurement_var")
_QQE_KEYS = ("rsi_period", "smoothing", "factor")


class DirectionalSignal:
    """-1/0/+1 bias from the mid sampled every ``sample_ms`` of receive time.

    A sample is the last mid of an interval (``ts // sample_ns``), taken at the first
    update in a later interval. Intervals with no update carry the last mid (a flat
    sample), at most ``MAX_CARRY_SAMPLES`` of them per gap so a long data hole costs
    bounded work and does not flatten the indicators completely.
    +1 needs the Kalman slope (in bps of the level per sample) above
    ``slope_threshold_bps`` and QQE bullish; -1 needs slope below minus the threshold
    and QQE bearish. Extra keyword arguments go to KalmanTrend (process_var,
    measurement_var) and QQE (rsi_period, smoothing, factor).
    """

    MAX_CARRY_SAMPLES = 30

    __slots__ = (
        "_bucket",
        "_close",
        "kalman",
        "qqe",
        "sample_ns",
        "samples",
        "slope_bps",
        "slope_threshold_bps",
        "value",
    )

    def __init__(
        self, sample_ms: int = 1000, slope_threshold_bps: float = 0.1, **kalman_qqe_kwargs: Any
    ) -> None:
        if sample_ms <= 0:
            raise ValueError(f"sample_ms must be > 0, got {sample_ms}")
        unknown = set(kalman_qqe_kwargs) - set(_KALMAN_KEYS) - set(_QQE_KEYS)
        if unknown:
            raise TypeError(
                f"unknown DirectionalSignal parameter(s): {', '.join(sorted(unknown))} "
                f"(known: {', '.join(_KALMAN_KEYS + _QQE_KEYS)})"
            )
        self.kalman = KalmanTrend(
            **{k: v for k, v in kalman_qqe_kwargs.items() if k in _KALMAN_KEYS}
        )
        self.qqe = QQE(**{k: v for k, v in kalman_qqe_kwargs.items() if k in _QQE_KEYS})
        self.sample_ns = int(sample_ms) * 1_000_000
        self.slope_threshold_bps = slope_threshold_bps
        self._bucket: int | None = None
        self._close = 0.0
        self.samples = 0
        self.slope_bps = 0.0
        self.value = 0

    def update(self, mid: float, ts: int) -> int:
        """Feed a mid at ``ts`` ns; returns the current signal (changes only when a sample closes)."""
        if not mid > 0:
            raise ValueError(f"mid must be a positive price, got {mid!r}")
        b = ts // self.sample_ns
        bucket = self._bucket
        if bucket is None:
            self._bucket = b
        elif b > bucket:
            close = self._close
            for _ in range(1 + min(b - bucket - 1, self.MAX_CARRY_SAMPLES)):
                self._sample(close)
            self._bucket = b
        self._close = mid
        return self.value

    def _sample(self, price: float) -> None:
        self.samples += 1
        level, slope = self.kalman.update(price)
        q = self.qqe.update(price)
        slope_bps = self.slope_bps = slope / level * 1e4
        th = self.slope_threshold_bps
        if slope_bps > th and q == 1:
            self.value = 1
        elif slope_bps < -th and q == -1:
            self.value = -1
        else:
            self.value = 0
