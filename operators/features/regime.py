"""Volatility regime: where the current EWMA volatility sits among its recent values.

From the mm-bot optimization plan: regimes are the tertiles of the volatility EWMA,
and each regime selects its own minimum half spread, quote levels per side and
position-limit multiplier. Tertiles of a rolling window make the classification
relative to the instrument's own recent history, so one rule fits BTC and an altcoin.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import IntEnum

from sortedcontainers import SortedList


class Regime(IntEnum):
    LOW = 0
    NORMAL = 1
    HIGH = 2


@dataclass(frozen=True)
class RegimeParams:
    spread_clamp_bps: float  # the regime's minimum half spread, bps
    levels: int  # quote levels per side
    position_multiplier: float  # scales the position limit


DEFAULT_REGIME_PARAMS: dict[Regime, RegimeParams] = {
    Regime.LOW: RegimeParams(0.5, 5, 1.2),
    Regime.NORMAL: RegimeParams(1.0, 3, 1.0),
    Regime.HIGH: RegimeParams(2.0, 2, 0.7),
}


def _percentile(sorted_values: SortedList, q: float) -> float:
    """Linear-interpolation percentile (numpy's default method) of a sorted list."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    frac = pos - lo
    v = sorted_values[lo]
    return v if frac == 0.0 else v + (sorted_values[lo + 1] - v) * frac


class RegimeDetector:
    """Rolling tertiles of the last ``window`` volatility values (the current one included).

    LOW when the value is strictly below the 1/3 percentile, HIGH when strictly above
    the 2/3 percentile, NORMAL otherwise and until ``min_samples`` values were seen.
    Percentiles interpolate linearly between ranks, like ``numpy.percentile``.
    """

    def __init__(self, window: int = 300, min_samples: int = 30) -> None:
        if window < 3:
            raise ValueError(f"window must be >= 3, got {window}")
        if not 1 <= min_samples <= window:
            raise ValueError(f"min_samples must be in [1, window={window}], got {min_samples}")
        self.window = window
        self.min_samples = min_samples
        self._recent: deque[float] = deque()
        self._sorted = SortedList()
        self.regime = Regime.NORMAL
        self.low_cut = math.nan  # the last tertile boundaries (nan until min_samples)
        self.high_cut = math.nan

    def update(self, vol_bps: float) -> Regime:
        """Call once per closed volatility sample."""
        if not math.isfinite(vol_bps):
            raise ValueError(f"vol_bps must be finite, got {vol_bps!r}")
        self._recent.append(vol_bps)
        self._sorted.add(vol_bps)
        if len(self._recent) > self.window:
            self._sorted.remove(self._recent.popleft())
        if len(self._recent) < self.min_samples:
            self.regime = Regime.NORMAL
            return self.regime
        lo = self.low_cut = _percentile(self._sorted, 1.0 / 3.0)
        hi = self.high_cut = _percentile(self._sorted, 2.0 / 3.0)
        if vol_bps < lo:
            self.regime = Regime.LOW
        elif vol_bps > hi:
            self.regime = Regime.HIGH
        else:
            self.regime = Regime.NORMAL
        return self.regime

    def params(self, table: dict[Regime, RegimeParams] | None = None) -> RegimeParams:
        """The current regime's parameters (from ``table``, default the plan's table)."""
        return (DEFAULT_REGIME_PARAMS if table is None else table)[self.regime]
