"""tardis.dev exchange ids -> mm venues.

Only exchanges whose venue mm knows (instrument specs, book sync rules) are mapped; any
other id is refused by name rather than imported under a guessed venue.
"""

from __future__ import annotations

from core.errors import DataFormatError

EXCHANGE_VENUES: dict[str, str] = {
    "binance-futures": "binance-usdm",
    "binance-delivery": "binance-coinm",
    "bybit": "bybit",
    "hyperliquid": "hyperliquid",
}


def venue_for(exchange: str, where: str) -> str:
    """The mm venue of a tardis exchange id; an unknown id is a DataFormatError."""
    venue = EXCHANGE_VENUES.get(exchange)
    if venue is None:
        known = ", ".join(f"{k} ({v})" for k, v in EXCHANGE_VENUES.items())
        raise DataFormatError(
            f"{where}: tardis exchange {exchange!r} is not supported",
            f"known exchanges: {known}",
        )
    return venue
