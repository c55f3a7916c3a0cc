"""What a live or paper run checks once at start, before it quotes.

A parameter set that can never quote an instrument (operators.quoting.feasibility)
would otherwise run silently, quoting nothing; the warning names the parameter and its
minimum. What one lot is worth comes from the venue at start (Bybit's ticker,
Hyperliquid's l2Book); without it (the venue unavailable) only the checks that need no
price are made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.bybit.errors import BybitTransportError
from connectors.bybit.rest import BybitRest
from connectors.hyperliquid.rest import HyperliquidRest, HyperliquidTransportError
from core.instruments import InstrumentSpec
from core.log import event, get_logger
from core.params import StrategyParams
from operators.quoting.feasibility import never_quote_warning

log = get_logger("flows.live_mm")
# an instrument -> the lowest and highest price it trades at now (None: unknown)
PriceSource = Callable[[InstrumentSpec], "tuple[float, float] | None"]


def ticker_prices(rest: BybitRest, symbol: str, category: str) -> tuple[float, float] | None:
    """Lowest and highest of the best bid, best ask and last price now; None if unknown."""
    try:
        resp = rest.call("/v5/market/tickers", {"category": category, "symbol": symbol})
    except BybitTransportError:
        return None
    items = [i for i in resp.result.get("list") or [] if i.get("symbol") == symbol]
    if not resp.ok or not items:
        return None
    prices = []
    for key in ("bid1Price", "ask1Price", "lastPrice"):
        try:
            p = Decimal(str(items[0].get(key) or "0"))
        except InvalidOperation:
            continue
        if p.is_finite() and p > 0:
            prices.append(float(p))
    return (min(prices), max(prices)) if prices else None


def l2book_prices(rest: HyperliquidRest, coin: str) -> tuple[float, float] | None:
    """Hyperliquid: the best bid and best ask of an ``l2Book`` answer; None if unknown."""
    try:
        book = rest.info({"type": "l2Book", "coin": coin})
    except HyperliquidTransportError:
        return None
    levels = book.get("levels") if isinstance(book, dict) else None
    prices = []
    for side in levels if isinstance(levels, list) else []:
        try:
            p = Decimal(str(side[0]["px"])) if side else Decimal(0)
        except (InvalidOperation, KeyError, TypeError, IndexError):
            continue
        if p.is_finite() and p > 0:
            prices.append(float(p))
    return (min(prices), max(prices)) if prices else None


def venue_prices(venue: str, rest: Any, category: str = "linear") -> PriceSource:
    """The start-up price source of a venue's REST client."""
    if venue == "hyperliquid":
        return lambda spec: l2book_prices(rest, spec.symbol)
    return lambda spec: ticker_prices(rest, spec.symbol, category)


def warn_never_quote(
    prices_of: PriceSource,
    specs: dict[str, InstrumentSpec],
    params: dict[str, StrategyParams],
    positions: dict[str, Any],
) -> list[str]:
    """Log one ``never_quotes`` warning per instrument its parameters cannot quote
    (``positions``: open positions by instrument, which may still be reduced)."""
    lines = []
    for inst, spec in specs.items():
        pos = positions.get(inst)
        flat = pos is None or not pos.qty
        prices = prices_of(spec)
        line = never_quote_warning(spec, params[inst], prices, flat, "at start")
        if line:
            event(log, logging.WARNING, "never_quotes", inst=inst, message=line)
            lines.append(line)
    return lines
