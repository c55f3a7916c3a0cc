"""What a live or paper run checks once at start, before it quotes.

A parameter set that can never quote an instrument (operators.quoting.feasibility)
would otherwise run silently, quoting nothing; the warning names the parameter and its
minimum. What one lot is worth comes from the venue's ticker at start; without it
(the ticker unavailable) only the checks that need no price are made.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.bybit.errors import BybitTransportError
from connectors.bybit.rest import BybitRest
from core.instruments import InstrumentSpec
from core.log import event, get_logger
from core.params import StrategyParams
from operators.quoting.feasibility import never_quote_warning

log = get_logger("flows.live_mm")


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


def warn_never_quote(
    rest: BybitRest,
    specs: dict[str, InstrumentSpec],
    params: dict[str, StrategyParams],
    category: str,
    positions: dict[str, Any],
) -> list[str]:
    """Log one ``never_quotes`` warning per instrument its parameters cannot quote
    (``positions``: open positions by instrument, which may still be reduced)."""
    lines = []
    for inst, spec in specs.items():
        pos = positions.get(inst)
        flat = pos is None or not pos.qty
        prices = ticker_prices(rest, spec.symbol, category)
        line = never_quote_warning(spec, params[inst], prices, flat, "at start")
        if line:
            event(log, logging.WARNING, "never_quotes", inst=inst, message=line)
            lines.append(line)
    return lines
