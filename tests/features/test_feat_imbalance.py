"""Microprice and the time-aware imbalance EMA."""

from __future__ import annotations

import pytest

MS = 1_000_000


def test_microprice_weights_towards_the_thin_side(impl, make_book) -> None:
    # bid 100 x 3, ask 102 x 1: (100*1 + 102*3) / 4 = 406 / 4 = 101.5 (pulled to the ask)
    assert impl.microprice(make_book({100: 3}, {102: 1})) == 101.5
    # equal sizes: the plain mid, (9999*10 + 10001*10) / 20 = 10000
    assert impl.microprice(make_book({9999: 10}, {10001: 10})) == 10000.0
    # deeper levels do not matter: only the touch
    assert impl.microprice(make_book({100: 3, 99: 1000}, {102: 1, 103: 1000})) == 101.5


def test_microprice_none_when_a_side_is_empty(impl, make_book) -> None:
    assert impl.microprice(make_book({100: 3}, {})) is None
    assert impl.microprice(make_book({}, {102: 1})) is None
    assert impl.microprice(make_book()) is None


def test_ema_follows_half_life_in_receive_time(impl, make_book) -> None:
    ema = impl.ImbalanceEMA(levels=2, half_life_ms=500.0)
    assert ema.value == 0.0 and ema.raw == 0.0
    # levels=2: bids 3+1 = 4, asks 1+1 = 2 -> (4-2)/6 = 1/3; the third bid level is ignored
    heavy_bid = make_book({100: 3, 99: 1, 98: 50}, {101: 1, 102: 1})
    assert ema.update(heavy_bid, 0) == pytest.approx(1 / 3, abs=1e-15)  # first sets value
    # raw (1-3)/4 = -0.5; dt = 500 ms = one half-life -> alpha 0.5:
    # 1/3 + 0.5 * (-0.5 - 1/3) = -1/12
    heavy_ask = make_book({100: 1}, {101: 3})
    assert ema.update(heavy_ask, 500 * MS) == pytest.approx(-1 / 12, abs=1e-15)
    assert ema.raw == -0.5
    # dt = 1000 ms = two half-lives -> alpha 0.75: -1/12 + 0.75 * (-0.5 + 1/12) = -19/48
    assert ema.update(heavy_ask, 1500 * MS) == pytest.approx(-19 / 48, abs=1e-15)
    assert ema.value == pytest.approx(-19 / 48, abs=1e-15)


def test_same_or_older_timestamp_gives_no_weight(impl, make_book) -> None:
    ema = impl.ImbalanceEMA(levels=1, half_life_ms=100.0)
    ema.update(make_book({100: 1}, {101: 1}), 10 * MS)  # raw 0
    # same instant: raw changes to (9-1)/10 = 0.8 but dt = 0 -> value stays 0
    assert ema.update(make_book({100: 9}, {101: 1}), 10 * MS) == 0.0
    assert ema.raw == 0.8
    # older timestamp: also no weight, and the clock does not go back
    assert ema.update(make_book({100: 9}, {101: 1}), 5 * MS) == 0.0
    # 100 ms after the last accepted timestamp: alpha 0.5 -> 0.4
    assert ema.update(make_book({100: 9}, {101: 1}), 110 * MS) == pytest.approx(0.4)


def test_empty_book_reads_zero_imbalance(impl, make_book) -> None:
    ema = impl.ImbalanceEMA()
    assert ema.update(make_book(), 0) == 0.0


@pytest.mark.parametrize(("levels", "half_life"), [(0, 500.0), (5, 0.0), (5, -1.0)])
def test_bad_parameters_are_rejected(impl, levels: int, half_life: float) -> None:
    with pytest.raises(ValueError):
        impl.ImbalanceEMA(levels=levels, half_life_ms=half_life)
