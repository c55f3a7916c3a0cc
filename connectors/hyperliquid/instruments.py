"""Instrument specs from Hyperliquid's ``POST /info {"type": "meta"}`` (perpetuals).

``universe[]`` gives each coin's ``name`` and ``szDecimals``. Hyperliquid publishes no tick
size: a price has at most 5 significant figures and at most ``6 - szDecimals`` decimals,
so the tick (the decimal grid) is ``10^-(6 - szDecimals)`` and the significant-figure rule
is ``price_sig_figs = 5``. The lot is ``10^-szDecimals``; orders need 10 USDC of notional.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.errors import MMError
from core.instruments import InstrumentSpec

VENUE = "hyperliquid"
MAX_PRICE_DECIMALS = 6  # perpetuals (spot: 8)
PRICE_SIG_FIGS = 5
MIN_NOTIONAL = Decimal(10)
QUOTE = "USDC"


def spec_from_asset(asset: dict[str, Any]) -> InstrumentSpec:
    """One ``universe[]`` entry -> InstrumentSpec."""
    name = str(asset.get("name") or "")
    sz = asset.get("szDecimals")
    if not name:
        raise MMError(f"meta universe entry {asset!r} has no name")
    if isinstance(sz, bool) or not isinstance(sz, int) or not 0 <= sz <= MAX_PRICE_DECIMALS:
        raise MMError(f"meta szDecimals {sz!r} for {name} is not a whole number from 0 to 6")
    return InstrumentSpec(
        VENUE,
        name,
        Decimal(1).scaleb(-(MAX_PRICE_DECIMALS - sz)),
        Decimal(1).scaleb(-sz),
        MIN_NOTIONAL,
        price_sig_figs=PRICE_SIG_FIGS,
        quote_currency=QUOTE,
    )
