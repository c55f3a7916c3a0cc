"""Volatility of the mid on a fixed time grid: EWMA std of log returns and an ATR-like range.

Why a time grid: message counts vary by venue and by the minute, so returns between
messages are not comparable; returns between fixed receive-time intervals are. Both
estimates are exponentially weighted over samples with a half-life, and bias-corrected
(divided by the total weight ``1 - lambda**n``) so the early values are proper weighted
averages of the samples seen rather than being pulled towards zero.

Gaps: an interval with no update carries the last mid (a zero return and a zero
range), so a quiet market lowers volatility. A gap longer than one half-life is capped
at ``max_carry`` (= one half-life) carried samples: missing data (a disconnect, a
recording hole) is not evidence of calm, so a gap can at most halve the weight of the
history; the price move across the gap then lands in the first sample after it.
"""

from __future__ import annotations

import math


class Volatility:
    """EWMA volatility of mid log-returns sampled on a fixed interval, plus an ATR-like range.

    ``vol_bps`` is the zero-mean (RiskMetrics-style) EWMA std of the sample returns: at
    one-second sampling the mean return is noise, and estimating it would only add noise.
    A sample is one ``sample_ms`` interval of receive time (``ts // sample_ns``); it
    closes at the first update in a later interval. Its return is
    ``log(close / previous close)`` (the first interval's previous close is the first mid
    seen); its range is the true range ``(high - low) / close`` where high and low also
    include the previous close, so a jump between two updates in adjacent intervals
    counts. An update with an older timestamp than the current interval is treated as
    part of the current interval.
    """

    MAX_CARRY_HALF_LIVES = 1.0  # gaps carry at most this many half-lives of empty samples

    __slots__ = (
        "_bucket",
        "_close",
        "_high",
        "_low",
        "_norm",
        "_prev_close",
        "_rng",
        "_var",
        "atr_bps",
        "half_life_samples",
        "lam",
        "max_carry",
        "sample_ns",
        "samples",
        "vol_bps",
        "warm",
        "warmup_samples",
    )

    def __init__(
        self, sample_ms: int = 1000, half_life_samples: float = 30.0, warmup_samples: int = 10
    ) -> None:
        if sample_ms <= 0:
            raise ValueError(f"sample_ms must be > 0, got {sample_ms}")
        if not half_life_samples > 0:
            raise ValueError(f"half_life_samples must be > 0, got {half_life_samples}")
        if warmup_samples < 1:
            raise ValueError(f"warmup_samples must be >= 1, got {warmup_samples}")
        self.sample_ns = int(sample_ms) * 1_000_000
        self.half_life_samples = float(half_life_samples)
        self.lam = 0.5 ** (1.0 / half_life_samples)  # weight kept by the past per sample
        self.max_carry = max(1, round(half_life_samples * self.MAX_CARRY_HALF_LIVES))
        self.warmup_samples = warmup_samples
        self._bucket: int | None = None
        self._prev_close = 0.0
        self._high = self._low = self._close = 0.0
        self._var = 0.0  # sum of w_i * r_i**2 (weights sum to _norm)
        self._rng = 0.0  # sum of w_i * range_i
        self._norm = 0.0  # 1 - lam**samples
        self.samples = 0
        self.warm = False
        self.vol_bps: float | None = None
        self.atr_bps: float | None = None

    def update(self, mid: float, ts: int) -> bool:
        """Feed a mid (any positive price unit) at ``ts`` ns; True if a sample closed."""
        if not mid > 0:
            raise ValueError(f"mid must be a positive price, got {mid!r}")
        b = ts // self.sample_ns
        bucket = self._bucket
        if bucket is None:
            self._bucket = b
            self._prev_close = self._high = self._low = self._close = mid
            return False
        if b <= bucket:
            if mid > self._high:
                self._high = mid
            elif mid < self._low:
                self._low = mid
            self._close = mid
            return False
        close = self._close
        self._add(math.log(close / self._prev_close), (self._high - self._low) / close, 1)
        carry = min(b - bucket - 1, self.max_carry)
        if carry:
            self._add(0.0, 0.0, carry)
        self._bucket = b
        self._prev_close = close
        self._high = max(close, mid)
        self._low = min(close, mid)
        self._close = mid
        if self.samples >= self.warmup_samples:
            self.warm = True
            self.vol_bps = math.sqrt(self._var / self._norm) * 1e4
            self.atr_bps = self._rng / self._norm * 1e4
        return True

    def _add(self, ret: float, rng: float, n: int) -> None:
        """``n`` identical samples at once (n > 1 only for carried, all-zero samples)."""
        keep = self.lam**n
        new = 1.0 - keep
        self._var = keep * self._var + new * ret * ret
        self._rng = keep * self._rng + new * rng
        self._norm = keep * self._norm + new
        self.samples += n
