"""Sampled EWMA volatility and ATR: exact values on a constructed mid path."""

from __future__ import annotations

import math

import pytest

MS = 1_000_000
SEC = 1_000_000_000


def test_exact_ewma_on_a_constructed_path(impl) -> None:
    # half-life 1 sample -> lambda = 0.5; warm after 2 samples
    v = impl.Volatility(sample_ms=1000, half_life_samples=1.0, warmup_samples=2)
    assert v.update(100.0, 200 * MS) is False  # interval 0 opens at 100
    assert v.update(101.0, 700 * MS) is False
    assert v.update(99.0, 900 * MS) is False  # interval 0: high 101, low 99, close 99
    # interval 1 starts: sample 1 closes. r1 = ln(99/100), range1 = (101-99)/99
    assert v.update(102.0, 1100 * MS) is True
    assert v.samples == 1 and not v.warm and v.vol_bps is None and v.atr_bps is None
    # interval 2 starts: sample 2 closes. Interval 1 true range includes the previous
    # close 99: high 102, low 99 -> range2 = 3/102; r2 = ln(102/99)
    assert v.update(102.0, 2500 * MS) is True
    r1, r2 = math.log(99 / 100), math.log(102 / 99)
    g1, g2 = 2 / 99, 3 / 102
    # weights (1-lam)*lam**k: sample 2 -> 0.5, sample 1 -> 0.25; total 0.75
    assert v.samples == 2 and v.warm
    assert v.vol_bps == pytest.approx(math.sqrt((0.25 * r1**2 + 0.5 * r2**2) / 0.75) * 1e4)
    assert v.atr_bps == pytest.approx((0.25 * g1 + 0.5 * g2) / 0.75 * 1e4)
    # jump to interval 5: interval 2 closes flat (r3 = 0, range 0); intervals 3 and 4
    # are empty but half-life 1 caps the carry at 1 sample -> 4 samples in all.
    # weights: s4 0.5, s3 0.25, s2 0.125, s1 0.0625; total 0.9375
    assert v.update(103.0, 5200 * MS) is True
    assert v.samples == 4
    assert v.vol_bps == pytest.approx(math.sqrt((0.0625 * r1**2 + 0.125 * r2**2) / 0.9375) * 1e4)
    assert v.atr_bps == pytest.approx((0.0625 * g1 + 0.125 * g2) / 0.9375 * 1e4)


def test_intervals_close_exactly_on_boundaries(impl) -> None:
    v = impl.Volatility(sample_ms=1000, half_life_samples=10.0, warmup_samples=1)
    v.update(100.0, 0)
    assert v.update(100.0, SEC - 1) is False  # still interval 0
    assert v.update(100.0, SEC) is True  # floor(ts / 1 s) changed
    assert v.samples == 1
    assert v.vol_bps == 0.0 and v.atr_bps == 0.0


def test_gap_within_the_cap_carries_every_empty_interval(impl) -> None:
    v = impl.Volatility(sample_ms=100, half_life_samples=5.0, warmup_samples=1)  # cap = 5
    v.update(100.0, 0)
    v.update(101.0, 100 * MS)  # interval 0 (only 100) closes: r = 0
    assert v.samples == 1 and v.vol_bps == 0.0
    # at 500 ms interval 1 closes (r = ln(1.01), true range 1/101), then intervals
    # 2..4 are carried flat (3 <= cap 5): 5 samples
    assert v.update(101.0, 500 * MS) is True
    assert v.samples == 5
    lam = 0.5 ** (1 / 5)
    w2 = (1 - lam) * lam**3 / (1 - lam**5)  # sample 2's share of the total weight
    assert v.vol_bps == pytest.approx(math.log(1.01) * math.sqrt(w2) * 1e4)
    assert v.atr_bps == pytest.approx(w2 / 101 * 1e4)
    # a 20-interval gap: interval 5 closes flat and only 5 of the 19 empty ones count
    v.update(101.0, 2500 * MS)
    assert v.samples == 11


def test_quiet_market_decays_volatility(impl) -> None:
    v = impl.Volatility(sample_ms=1000, half_life_samples=3.0, warmup_samples=1)
    v.update(100.0, 0)
    v.update(110.0, 500 * MS)
    v.update(110.0, SEC)  # sample 1: r = ln(1.1)
    first = v.vol_bps
    assert first == pytest.approx(math.log(1.1) * 1e4)
    assert first is not None
    for k in range(2, 12):
        v.update(110.0, k * SEC)
        assert v.vol_bps is not None and v.vol_bps < first
        first = v.vol_bps


def test_out_of_order_update_stays_in_the_current_interval(impl) -> None:
    v = impl.Volatility(sample_ms=1000, half_life_samples=10.0, warmup_samples=1)
    v.update(100.0, 5 * SEC)
    assert v.update(100.5, 4 * SEC) is False  # older: part of interval 5
    assert v.update(100.5, 6 * SEC) is True
    assert v.vol_bps == pytest.approx(math.log(100.5 / 100) * 1e4)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan])
def test_non_positive_mid_is_rejected(impl, bad: float) -> None:
    v = impl.Volatility()
    with pytest.raises(ValueError, match="positive"):
        v.update(bad, 0)


@pytest.mark.parametrize(
    "kwargs", [{"sample_ms": 0}, {"half_life_samples": 0.0}, {"warmup_samples": 0}]
)
def test_bad_parameters_are_rejected(impl, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        impl.Volatility(**kwargs)  # type: ignore[arg-type]
