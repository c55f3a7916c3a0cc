"""Toxicity rules, each in isolation, with their boundaries; markout EMA by hand."""

from __future__ import annotations

import pytest

from operators.features.toxicity import ToxicityDetector, ToxicityReading

MS = 1_000_000
CLEAN = ToxicityReading(0.0, (), 0)


def symmetric(make_book, bid: int, ask: int):
    """One level a side, equal sizes: microprice = mid, imbalance 0."""
    return make_book({bid: 10}, {ask: 10})


# ---- microprice drift ----------------------------------------------------------------


def test_drift_of_exactly_3_bps_does_not_trigger(impl, make_book) -> None:
    t = impl.ToxicityDetector()
    t.on_book(symmetric(make_book, 9999, 10001), 0)  # microprice 10000
    t.on_book(symmetric(make_book, 10002, 10004), 300 * MS)  # 10003: +3 bps exactly
    assert t.drift(300 * MS) == 3.0
    assert t.reading(300 * MS) == CLEAN


def test_rising_drift_above_3_bps_threatens_asks(impl, make_book) -> None:
    t = impl.ToxicityDetector()
    t.on_book(symmetric(make_book, 9999, 10001), 0)
    t.on_book(symmetric(make_book, 10003, 10004), 300 * MS)  # 10003.5: +3.5 bps
    assert t.drift(300 * MS) == pytest.approx(3.5)
    assert t.reading(300 * MS) == ToxicityReading(1.0, ("microprice_drift",), -1)


def test_falling_drift_threatens_bids(impl, make_book) -> None:
    t = impl.ToxicityDetector()
    t.on_book(symmetric(make_book, 9999, 10001), 0)
    t.on_book(symmetric(make_book, 9995, 9996), 250 * MS)  # 9995.5: -4.5 bps
    assert t.reading(250 * MS) == ToxicityReading(1.0, ("microprice_drift",), 1)


def test_drift_reference_age_window(impl, make_book) -> None:
    t = impl.ToxicityDetector()
    t.on_book(symmetric(make_book, 9999, 10001), 0)  # 10000
    t.on_book(symmetric(make_book, 10009, 10011), 100 * MS)  # 10010
    t.on_book(symmetric(make_book, 10019, 10021), 150 * MS)  # 10020 (current)
    # at 199 ms the oldest record is 199 ms old: too young, no reference
    assert t.drift(199 * MS) is None
    assert t.reading(199 * MS) == CLEAN
    # at 200 ms and at 400 ms the record at 0 is the reference: (10020-10000)/10000 = 20 bps
    assert t.drift(200 * MS) == pytest.approx(20.0)
    assert t.drift(400 * MS) == pytest.approx(20.0)
    # at 450 ms the record at 0 is 450 ms old; the oldest within 400 ms is the one at
    # 100 ms (350 ms old): (10020 - 10010) / 10010 * 1e4
    assert t.drift(450 * MS) == pytest.approx(10 / 10010 * 1e4)
    # at 551 ms the one at 150 ms is 401 ms old and nothing else is left in the window
    assert t.drift(551 * MS) is None


def test_old_microprices_are_pruned(impl, make_book) -> None:
    t = impl.ToxicityDetector()
    for k in range(1000):
        t.on_book(symmetric(make_book, 9999, 10001), k * 10 * MS)
    assert len(t._micro) <= 41  # 400 ms of 10 ms updates, both ends included


# ---- book imbalance ------------------------------------------------------------------


def test_imbalance_of_exactly_0_65_does_not_trigger(impl, make_book) -> None:
    t = impl.ToxicityDetector()
    t.on_book(make_book({100: 100, 99: 65}, {101: 35}), 0)  # (165-35)/200 = 0.65
    assert t.imbalance == 0.65
    assert t.reading(0) == CLEAN


def test_bid_heavy_book_threatens_asks(impl, make_book) -> None:
    t = impl.ToxicityDetector()
    t.on_book(make_book({100: 100, 99: 66}, {101: 34}), 0)  # 132/200 = 0.66
    assert t.reading(0) == ToxicityReading(1.0, ("book_imbalance",), -1)


def test_ask_heavy_book_threatens_bids(impl, make_book) -> None:
    t = impl.ToxicityDetector()
    t.on_book(make_book({100: 34}, {101: 100, 102: 66}), 0)  # -0.66
    assert t.reading(0) == ToxicityReading(1.0, ("book_imbalance",), 1)


def test_imbalance_counts_only_depth_levels(impl, make_book) -> None:
    t = impl.ToxicityDetector(depth_levels=2)
    # top 2 bid levels 10+10 vs asks 10+10: balanced; the 1000 lots at level 3 are ignored
    t.on_book(make_book({100: 10, 99: 10, 98: 1000}, {101: 10, 102: 10}), 0)
    assert t.imbalance == 0.0
    assert t.reading(0) == CLEAN


# ---- aggressor ratio ---------------------------------------------------------------


def trades(t: ToxicityDetector, buys: int, sells: int) -> None:
    for i in range(buys):
        t.on_trade(1, 5, i)
    for i in range(sells):
        t.on_trade(-1, 5, buys + i)


def test_35_of_50_buys_does_not_trigger(impl) -> None:
    t = impl.ToxicityDetector()
    trades(t, 35, 15)  # 35/50 = 0.70, not > 0.70
    assert t.reading(0) == CLEAN


def test_36_of_50_buys_threatens_asks(impl) -> None:
    t = impl.ToxicityDetector()
    trades(t, 36, 14)
    assert t.reading(0) == ToxicityReading(1.0, ("aggressor_buy",), -1)


def test_36_of_50_sells_threatens_bids(impl) -> None:
    t = impl.ToxicityDetector()
    trades(t, 14, 36)
    assert t.reading(0) == ToxicityReading(1.0, ("aggressor_sell",), 1)


def test_aggressor_rule_needs_a_full_window_and_rolls(impl) -> None:
    t = impl.ToxicityDetector()
    trades(t, 49, 0)  # 49 buys: 100 % but only 49 trades
    assert t.reading(0) == CLEAN
    t.on_trade(-1, 1, 100)  # 50 trades, 49 buys
    assert t.reading(0).reasons == ("aggressor_buy",)
    for i in range(14):  # 14 sells push out 14 buys: 35 buys of 50
        t.on_trade(-1, 1, 101 + i)
    assert t.reading(0) == CLEAN


def test_bad_trade_side_is_rejected(impl) -> None:
    with pytest.raises(ValueError, match="side"):
        impl.ToxicityDetector().on_trade(0, 1, 0)


# ---- markout -------------------------------------------------------------------------


def test_markout_ema_after_known_fills(impl) -> None:
    t = impl.ToxicityDetector()  # horizon 1 s, scale 5 bps, alpha 0.2
    t.on_fill(1, 10_000.0, 0)  # we bought at 10000
    t.on_mid(9_995.0, 999 * MS)  # too early: pending
    assert t.markouts == 0 and t.markout_ema == 0.0
    # adverse = -1 * (9995 - 10000) / 10000 * 1e4 = 5 bps -> toxic 5/5 = 1 -> ema 0.2
    t.on_mid(9_995.0, 1000 * MS)
    assert t.markouts == 1
    assert t.markout_ema == pytest.approx(0.2)
    # sold at 10000, mid 10002.5 a second later: adverse 2.5 bps -> 0.5
    # ema = 0.2 + 0.2 * (0.5 - 0.2) = 0.26
    t.on_fill(-1, 10_000.0, 1000 * MS)
    t.on_mid(10_002.5, 2000 * MS)
    assert t.markout_ema == pytest.approx(0.26)
    # bought at 10000, mid 10010: favourable (-10 bps) -> 0; ema = 0.8 * 0.26 = 0.208
    t.on_fill(1, 10_000.0, 2000 * MS)
    t.on_mid(10_010.0, 3000 * MS)
    assert t.markout_ema == pytest.approx(0.208)
    # a 20 bps adverse fill is clipped at 1: 0.208 + 0.2 * 0.792 = 0.3664
    t.on_fill(-1, 10_000.0, 3000 * MS)
    t.on_mid(10_020.0, 4000 * MS)
    assert t.markout_ema == pytest.approx(0.3664)
    # score carries the EMA below the threshold, with no reason
    assert t.reading(4000 * MS) == ToxicityReading(pytest.approx(0.3664), (), 0)


def test_markout_rule_triggers_above_threshold(impl) -> None:
    t = impl.ToxicityDetector()
    # fully toxic fills from 0: ema = 1 - 0.8**k: 0.2, 0.36, 0.488, 0.5904
    for k in range(3):
        t.on_fill(1, 10_000.0, k * 1000 * MS)
    t.on_mid(9_990.0, 3000 * MS)  # resolves all three at once
    assert t.markouts == 3
    assert t.markout_ema == pytest.approx(0.488)
    assert t.reading(3000 * MS).reasons == ()
    t.on_fill(1, 10_000.0, 3000 * MS)
    t.on_mid(9_990.0, 4000 * MS)
    reading = t.reading(4000 * MS)
    assert reading.reasons == ("markout",)
    assert reading.score == pytest.approx(0.5904)
    assert reading.threatened_side == 0


def test_bad_fill_is_rejected(impl) -> None:
    t = impl.ToxicityDetector()
    with pytest.raises(ValueError, match="side"):
        t.on_fill(0, 100.0, 0)
    with pytest.raises(ValueError, match="price"):
        t.on_fill(1, 0.0, 0)


# ---- combination -----------------------------------------------------------------------


def test_conflicting_pressure_threatens_neither_side(impl, make_book) -> None:
    t = impl.ToxicityDetector()
    # falling microprice (-5 bps) while the book is bid heavy (+0.8)
    t.on_book(make_book({9999: 10}, {10001: 10}), 0)
    t.on_book(make_book({9994: 90}, {9996: 10}), 300 * MS)  # microprice 9995.8
    r = t.reading(300 * MS)
    assert r.reasons == ("microprice_drift", "book_imbalance")
    assert r.score == 1.0 and r.threatened_side == 0


def test_agreeing_rules_keep_the_side_and_list_every_reason(impl, make_book) -> None:
    t = impl.ToxicityDetector()
    for _ in range(4):  # markout over threshold
        t.on_fill(-1, 10_000.0, 0)
    t.on_mid(10_010.0, 1000 * MS)
    trades(t, 40, 10)  # buy aggressors
    t.on_book(make_book({10000: 10}, {10002: 10}), 700 * MS)
    t.on_book(make_book({10005: 90}, {10007: 10}), 1000 * MS)  # rising and bid heavy
    r = t.reading(1000 * MS)
    assert r.reasons == ("markout", "microprice_drift", "book_imbalance", "aggressor_buy")
    assert r.score == 1.0 and r.threatened_side == -1


def test_reading_does_not_change_state(impl, make_book) -> None:
    t = impl.ToxicityDetector()
    t.on_book(symmetric(make_book, 9999, 10001), 0)
    t.on_book(symmetric(make_book, 10003, 10004), 300 * MS)
    assert t.reading(300 * MS) == t.reading(300 * MS) == t.reading(300 * MS)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"drift_window_ms": (400, 200)},
        {"depth_levels": 0},
        {"aggressor_window": 0},
        {"markout_alpha": 0.0},
        {"markout_scale_bps": 0.0},
        {"markout_horizon_ms": -1},
    ],
)
def test_bad_parameters_are_rejected(impl, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        impl.ToxicityDetector(**kwargs)  # type: ignore[arg-type]
