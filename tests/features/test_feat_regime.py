"""Regime tertiles on constructed volatility sequences."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from operators.features.regime import (
    DEFAULT_REGIME_PARAMS,
    Regime,
    RegimeParams,
)


def test_normal_until_min_samples_then_tertiles(impl) -> None:
    d = impl.RegimeDetector(window=6, min_samples=3)
    assert d.regime is Regime.NORMAL
    assert d.update(1.0) is Regime.NORMAL  # 1 value < min_samples
    assert d.update(2.0) is Regime.NORMAL
    # [1, 2, 3]: p33 at rank 2/3 -> 1 + 2/3 = 1.667; p67 at rank 4/3 -> 2 + 1/3 = 2.333
    assert d.update(3.0) is Regime.HIGH
    assert d.low_cut == pytest.approx(5 / 3) and d.high_cut == pytest.approx(7 / 3)
    # [0.5, 1, 2, 3]: p33 at rank 1 -> 1.0; 0.5 < 1 -> LOW
    assert d.update(0.5) is Regime.LOW
    # [0.5, 1, 2, 2, 3]: p33 rank 4/3 -> 1 + 1/3; p67 rank 8/3 -> 2 + 0*2/3 = 2.0
    # 2.0 is not > 2.0 (strict) and not < 1.333 -> NORMAL
    assert d.update(2.0) is Regime.NORMAL
    assert d.high_cut == 2.0


def test_window_drops_the_oldest_value(impl) -> None:
    d = impl.RegimeDetector(window=3, min_samples=3)
    for v in (10.0, 1.0, 2.0):
        d.update(v)
    # window [1, 2, 3] (10 dropped): p67 = 2.333 -> 3 is HIGH; with 10 kept it would not be
    assert d.update(3.0) is Regime.HIGH
    assert d.high_cut == pytest.approx(7 / 3)
    # window [2, 3, 1]: sorted [1, 2, 3]; 1 < 1.667 -> LOW
    assert d.update(1.0) is Regime.LOW


def test_matches_numpy_percentiles_on_a_random_walk(impl) -> None:
    rng = random.Random(7)
    window, min_samples = 50, 10
    d = impl.RegimeDetector(window=window, min_samples=min_samples)
    values: list[float] = []
    seen = set()
    vol = 5.0
    for _ in range(400):
        vol = max(0.1, vol + rng.gauss(0, 0.5))
        values.append(vol)
        got = d.update(vol)
        last = np.array(values[-window:])
        if len(last) < min_samples:
            want = Regime.NORMAL
        else:
            lo, hi = np.percentile(last, [100 / 3, 200 / 3])
            want = Regime.LOW if vol < lo else Regime.HIGH if vol > hi else Regime.NORMAL
        assert got is want
        seen.add(got)
    assert seen == {Regime.LOW, Regime.NORMAL, Regime.HIGH}


def test_params_from_the_plan_table(impl) -> None:
    assert DEFAULT_REGIME_PARAMS[Regime.LOW] == RegimeParams(0.5, 5, 1.2)
    assert DEFAULT_REGIME_PARAMS[Regime.NORMAL] == RegimeParams(1.0, 3, 1.0)
    assert DEFAULT_REGIME_PARAMS[Regime.HIGH] == RegimeParams(2.0, 2, 0.7)
    d = impl.RegimeDetector(window=3, min_samples=3)
    for v in (1.0, 2.0, 3.0):
        d.update(v)
    assert d.params() == RegimeParams(2.0, 2, 0.7)
    custom = {r: RegimeParams(float(r), 1, 1.0) for r in Regime}
    assert d.params(custom) == RegimeParams(2.0, 1, 1.0)


def test_bad_input_is_rejected(impl) -> None:
    d = impl.RegimeDetector()
    with pytest.raises(ValueError, match="finite"):
        d.update(math.nan)
    with pytest.raises(ValueError):
        impl.RegimeDetector(window=2)
    with pytest.raises(ValueError):
        impl.RegimeDetector(window=10, min_samples=11)
