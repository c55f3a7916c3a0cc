"""MM_SYMBOLS names -> Hyperliquid coins, and the coins' specs from the fake's meta."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fake_hyperliquid import FakeHyperliquid
from hl_helpers import config_for

from connectors.hyperliquid.instruments import HyperliquidInstruments, coin_for_symbol
from connectors.hyperliquid.rest import HyperliquidRest, HyperliquidTransportError
from core.errors import MMError


@pytest.mark.parametrize(
    ("symbol", "coin"),
    [
        ("BTC", "BTC"),
        ("eth", "ETH"),
        ("BTCUSDT", "BTC"),
        ("BTCUSDC", "BTC"),
        ("BTCUSD", "BTC"),
        ("BTC-PERP", "BTC"),
        ("btc-perp", "BTC"),
        ("ETH-USD", "ETH"),
        ("ETH/USDC:USDC", "ETH"),
        ("SOL_USDT", "SOL"),
        ("hyperliquid:BTC", "BTC"),
        ("kPEPE", "KPEPE"),  # matched against meta's own spelling (kPEPE) when loading
    ],
)
def test_symbol_names_map_to_the_coin(symbol: str, coin: str) -> None:
    assert coin_for_symbol(symbol) == coin


@pytest.mark.parametrize(
    ("symbol", "message"),
    [
        ("BTC-27DEC24", "symbol 'BTC-27DEC24' is not a Hyperliquid perpetual"),
        ("@107", "symbol '@107' is not a Hyperliquid perpetual"),
        ("BTC/ETH", "symbol 'BTC/ETH' is not a Hyperliquid perpetual"),
        ("", "symbol '' is not a Hyperliquid perpetual"),
        ("USDT", "symbol 'USDT' is a quote currency, not a coin"),
    ],
)
def test_unknown_shapes_are_refused_by_name(symbol: str, message: str) -> None:
    with pytest.raises(MMError) as err:
        coin_for_symbol(symbol)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_specs_come_from_meta_and_an_unknown_coin_is_one_line(fake: FakeHyperliquid) -> None:
    rest = HyperliquidRest(config_for(fake))
    inst = HyperliquidInstruments(rest, ["BTC", "ETH"])
    specs = inst.load()
    assert (specs["BTC"].lot_size, specs["BTC"].tick_size) == (Decimal("0.00001"), Decimal("0.1"))
    assert (specs["ETH"].lot_size, specs["ETH"].tick_size) == (Decimal("0.0001"), Decimal("0.01"))
    assert specs["BTC"].id == "hyperliquid:BTC" and inst.max_leverage == {"BTC": 40, "ETH": 25}
    with pytest.raises(MMError, match=r"^Hyperliquid has no perpetual DOGE \(check MM_SYMBOLS"):
        HyperliquidInstruments(rest, ["DOGE"]).load()
    with pytest.raises(HyperliquidTransportError, match=r"POST /info openOrders answered HTTP 422"):
        rest.info({"type": "openOrders", "user": "0x0"})
    fake.kill()
    with pytest.raises(
        HyperliquidTransportError, match=r"POST /info meta failed: .*HYPERLIQUID_API_URL"
    ):
        rest.info({"type": "meta"})
