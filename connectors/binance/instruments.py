"""Instrument specs from Binance futures ``exchangeInfo`` (USD-M ``/fapi``, COIN-M ``/dapi``).

Both list ``symbols[]`` with ``filters[]``: tick = ``PRICE_FILTER.tickSize``, lot =
``LOT_SIZE.stepSize``. USD-M is linear with min notional ``MIN_NOTIONAL.notional``;
COIN-M is inverse: one lot is one contract of ``contractSize`` USD, settled in
``marginAsset``, and it has no notional minimum.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import MMError
from core.instruments import InstrumentSpec

USDM = "binance-usdm"
COINM = "binance-coinm"


def _dec(value: Any, what: str, symbol: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise MMError(f"exchangeInfo {what} {value!r} for {symbol} is not a number") from None


def _filters(item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(f.get("filterType")): f for f in item.get("filters") or [] if isinstance(f, dict)}


def is_trading(item: dict[str, Any]) -> bool:
    """USD-M says ``status``, COIN-M ``contractStatus``."""
    return (item.get("status") or item.get("contractStatus")) == "TRADING"


def spec_from_symbol(item: dict[str, Any], venue: str) -> InstrumentSpec:
    """One ``symbols[]`` entry -> InstrumentSpec (exact Decimals from the strings)."""
    symbol = str(item.get("symbol", ""))
    filters = _filters(item)
    price = filters.get("PRICE_FILTER")
    lot = filters.get("LOT_SIZE")
    if price is None or lot is None:
        raise MMError(f"exchangeInfo entry {symbol} lacks its PRICE_FILTER or LOT_SIZE filter")
    tick = _dec(price.get("tickSize"), "tickSize", symbol)
    step = _dec(lot.get("stepSize"), "stepSize", symbol)
    if venue == COINM:
        return InstrumentSpec(
            venue,
            symbol,
            tick,
            step,
            quote_currency=str(item.get("quoteAsset") or "USD"),
            kind="inverse",
            contract_size=_dec(item.get("contractSize"), "contractSize", symbol),
            settle_currency=str(item.get("marginAsset") or item.get("baseAsset") or ""),
        )
    notional = (filters.get("MIN_NOTIONAL") or {}).get("notional") or "0"
    return InstrumentSpec(
        venue,
        symbol,
        tick,
        step,
        _dec(notional, "MIN_NOTIONAL", symbol),
        quote_currency=str(item.get("quoteAsset") or "USDT"),
    )
