"""Tick/lot maths of core.instruments: exact conversions, refusals, rounding away from the touch."""

from __future__ import annotations

import pickle
from decimal import Decimal

import pytest

from core.errors import InexactValueError, MMError
from core.instruments import (
    ASK,
    BID,
    KNOWN_INSTRUMENTS,
    InstrumentSpec,
    known_instrument,
    split_instrument_id,
)


@pytest.fixture
def btc() -> InstrumentSpec:
    spec = known_instrument("binance-usdm", "BTCUSDT")
    assert spec is not None
    return spec


@pytest.fixture
def hl_btc() -> InstrumentSpec:
    spec = known_instrument("hyperliquid", "BTC")
    assert spec is not None
    return spec


# ---- exact conversions ------------------------------------------------------------------


def test_price_and_size_convert_exactly(btc: InstrumentSpec) -> None:
    # tick 0.10: 61800.20 / 0.10 = 618002; lot 0.001: 2.909 / 0.001 = 2909
    assert btc.price_to_ticks("61800.20") == 618_002
    assert btc.price_to_ticks("61800.2") == 618_002
    assert btc.price_to_ticks(Decimal("61800.2")) == 618_002
    assert btc.price_to_ticks(61800) == 618_000
    assert btc.size_to_lots("2.909") == 2_909
    assert btc.size_to_lots("0") == 0
    assert btc.ticks_to_price(618_002) == Decimal("61800.2")
    assert btc.lots_to_size(2_909) == Decimal("2.909")
    # notional = 61800.2 * 2.909 = 179776.7818 exactly
    assert btc.notional(618_002, 2_909) == Decimal("179776.7818")


def test_cached_parser_agrees_with_uncached_conversion(btc: InstrumentSpec) -> None:
    parse = btc.price_parser
    assert parse("61800.20") == parse("61800.20") == btc.price_parser.convert("61800.20")
    assert btc.size_parser("0.014") == 14


def test_off_tick_price_is_refused_with_a_clear_message(btc: InstrumentSpec) -> None:
    with pytest.raises(InexactValueError) as err:
        btc.price_to_ticks("61800.25")
    assert str(err.value) == (
        "price 61800.25 is not a multiple of tick size 0.10 for binance-usdm:BTCUSDT "
        "(round it onto the tick size grid first)"
    )
    # refused again on the cached path (an error is never cached as a value)
    with pytest.raises(InexactValueError, match=r"61800\.25 is not a multiple of tick size"):
        btc.price_parser("61800.25")


def test_off_lot_size_is_refused(btc: InstrumentSpec) -> None:
    with pytest.raises(InexactValueError) as err:
        btc.size_to_lots("0.0015")
    assert str(err.value) == (
        "size 0.0015 is not a multiple of lot size 0.001 for binance-usdm:BTCUSDT "
        "(round it onto the lot size grid first)"
    )


@pytest.mark.parametrize("method", ["price_to_ticks", "size_to_lots"])
def test_floats_are_refused(btc: InstrumentSpec, method: str) -> None:
    what = "price" if method == "price_to_ticks" else "size"
    with pytest.raises(
        InexactValueError, match=rf"^{what} 0\.1 for binance-usdm:BTCUSDT is a float"
    ):
        getattr(btc, method)(0.1)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("-0.1", "is negative"),
        (-1, "is negative"),
        (Decimal("-61800.2"), "is negative"),
        ("abc", "is not a number"),
        ("", "is not a number"),
        (None, "is not a number"),
        ("NaN", "is not finite"),
        ("Infinity", "is not finite"),
    ],
)
def test_negative_and_non_numbers_are_refused(
    btc: InstrumentSpec, value: object, reason: str
) -> None:
    with pytest.raises(InexactValueError, match=reason):
        btc.price_to_ticks(value)  # type: ignore[arg-type]
    with pytest.raises(InexactValueError, match=reason):
        btc.size_to_lots(value)  # type: ignore[arg-type]


def test_spec_rejects_bad_tick_and_lot() -> None:
    with pytest.raises(MMError, match="tick_size '0' for x:Y must be positive"):
        InstrumentSpec("x", "Y", "0", "1")  # type: ignore[arg-type]
    with pytest.raises(MMError, match="lot_size '-1' for x:Y must be positive"):
        InstrumentSpec("x", "Y", "1", "-1")  # type: ignore[arg-type]
    with pytest.raises(MMError, match="tick_size 'abc' for x:Y is not a number"):
        InstrumentSpec("x", "Y", "abc", "1")  # type: ignore[arg-type]
    # strings are accepted and normalised to Decimal
    spec = InstrumentSpec("x", "Y", "0.5", "2")  # type: ignore[arg-type]
    assert spec.tick_size == Decimal("0.5") and isinstance(spec.lot_size, Decimal)
    assert spec.price_to_ticks("1.5") == 3


# ---- rounding away from the touch -------------------------------------------------------


def test_bid_floors_and_ask_ceils(btc: InstrumentSpec) -> None:
    # 61800.27 lies between ticks 618002 (61800.2) and 618003 (61800.3)
    assert btc.round_price("61800.27", BID) == 618_002
    assert btc.round_price("61800.27", ASK) == 618_003
    assert btc.round_price(61800.27, BID) == 618_002  # floats allowed when rounding
    assert btc.round_price(61800.21, ASK) == 618_003
    # on the grid: unchanged either way
    assert btc.round_price("61800.2", BID) == btc.round_price("61800.2", ASK) == 618_002
    assert btc.round_price(Decimal("61800.20"), ASK) == 618_002


def test_rounding_refuses_bad_inputs(btc: InstrumentSpec) -> None:
    for bad in (-1.0, "-1", float("nan"), float("inf")):
        with pytest.raises(InexactValueError):
            btc.round_price(bad, BID)
        with pytest.raises(InexactValueError):
            btc.round_price(bad, ASK)
    # a bid below one tick cannot be lifted to a tick: that would be more aggressive
    with pytest.raises(InexactValueError, match="rounds down to zero"):
        btc.round_price("0.04", BID)
    assert btc.round_price("0.04", ASK) == 1  # an ask rounds up to the first tick


def test_hyperliquid_five_significant_figures(hl_btc: InstrumentSpec) -> None:
    # BTC tick 0.1, 5 significant figures: at 105055.3 the 5th figure is the units digit,
    # so the quantum is 1 (= 10 ticks): bid 105055 -> 1050550 ticks, ask 105056 -> 1050560.
    assert hl_btc.round_price("105055.3", BID) == 1_050_550
    assert hl_btc.round_price("105055.3", ASK) == 1_050_560
    # at 9876.54 the 5th figure is the first decimal: quantum 0.1 = the tick.
    assert hl_btc.round_price("9876.54", BID) == 98_765
    assert hl_btc.round_price("9876.54", ASK) == 98_766
    # integer prices are always allowed, even with more than 5 figures: 123456.7 -> 123456
    assert hl_btc.round_price("123456.7", BID) == 1_234_560
    assert hl_btc.round_price("123456.7", ASK) == 1_234_570
    # an ask rounding across a power of ten: 99999.5 -> 100000
    assert hl_btc.round_price("99999.5", ASK) == 1_000_000


def test_is_valid_price_ticks(hl_btc: InstrumentSpec, btc: InstrumentSpec) -> None:
    assert hl_btc.is_valid_price_ticks(1_050_550)  # 105055
    assert not hl_btc.is_valid_price_ticks(1_050_553)  # 105055.3 has 6 figures
    assert hl_btc.is_valid_price_ticks(98_765)  # 9876.5
    assert hl_btc.is_valid_price_ticks(1_234_560)  # integer 123456
    assert not hl_btc.is_valid_price_ticks(0)
    assert not hl_btc.is_valid_price_ticks(-10)
    assert btc.is_valid_price_ticks(618_003)  # no sig-fig rule on Binance
    # every rounded price is valid
    for price in ("105055.3", "9876.54", "123.456", "99999.5", "10000.05"):
        for side in (BID, ASK):
            assert hl_btc.is_valid_price_ticks(hl_btc.round_price(price, side)), (price, side)


def test_floor_size_to_lots(btc: InstrumentSpec) -> None:
    assert btc.floor_size_to_lots("0.0019") == 1  # never oversize: 1.9 lots -> 1
    assert btc.floor_size_to_lots(0.0019) == 1
    assert btc.floor_size_to_lots("0.002") == 2
    assert btc.floor_size_to_lots(Decimal("0.0009")) == 0
    for bad in (-0.5, "-0.5", float("nan"), float("inf")):
        with pytest.raises(InexactValueError):
            btc.floor_size_to_lots(bad)


# ---- identity, pickling -----------------------------------------------------------------


def test_pickle_round_trip(hl_btc: InstrumentSpec) -> None:
    hl_btc.price_parser("105055.0")  # warm the cache: it must not break pickling
    clone = pickle.loads(pickle.dumps(hl_btc))
    assert clone == hl_btc and hash(clone) == hash(hl_btc)
    assert clone.id == "hyperliquid:BTC"
    assert clone.price_sig_figs == 5 and clone.quote_currency == "USDC"
    assert clone.price_to_ticks("105055.0") == 1_050_550
    assert clone.round_price("105055.3", ASK) == 1_050_560
    with pytest.raises(InexactValueError, match=r"tick size 0\.1 for hyperliquid:BTC"):
        clone.price_to_ticks("105055.05")


def test_dict_round_trip_and_ids() -> None:
    for spec in KNOWN_INSTRUMENTS.values():
        assert InstrumentSpec.from_dict(spec.to_dict()) == spec
    assert split_instrument_id("bybit:XRPUSDT") == ("bybit", "XRPUSDT")
    with pytest.raises(MMError, match="bad instrument id 'XRPUSDT'"):
        split_instrument_id("XRPUSDT")
