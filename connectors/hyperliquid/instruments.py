"""Instrument specs from Hyperliquid's ``POST /info {"type": "meta"}`` (perpetuals).

``universe[]`` gives each coin's ``name`` and ``szDecimals``. Hyperliquid publishes no tick
size: a price has at most 5 significant figures and at most ``6 - szDecimals`` decimals,
so the tick (the decimal grid) is ``10^-(6 - szDecimals)`` and the significant-figure rule
is ``price_sig_figs = 5``. The lot is ``10^-szDecimals``; orders need 10 USDC of notional.

``HyperliquidInstruments`` keeps the traded coins' specs (and ``maxLeverage``) fresh for a
live run; ``coin_for_symbol`` maps the symbol names settings use to Hyperliquid coins.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from core.errors import MMError
from core.instruments import InstrumentSpec
from core.log import event, get_logger

log = get_logger(__name__)

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


# Settings name symbols the way other venues do (BTCUSDT, BTC-PERP); Hyperliquid's perps
# are named by coin (BTC). The quote is always USDC, so any of these quote suffixes maps
# to the coin; anything else (a dated future, another quote, spot "@107") is refused.
_SUFFIXES = ("USDT", "USDC", "USD", "PERP")
_SEPARATED = re.compile(r"^([A-Za-z0-9]+)[-/_](USDT|USDC|USD|PERP)(:USDC)?$", re.IGNORECASE)
_BARE = re.compile(r"^[A-Za-z0-9]+$")


def coin_for_symbol(symbol: str) -> str:
    """``BTC``, ``BTCUSDT``, ``BTCUSDC``, ``BTCUSD``, ``BTC-PERP``, ``BTC/USDC:USDC`` ->
    ``BTC``; ``hyperliquid:BTC`` -> ``BTC``. MMError naming the symbol otherwise."""
    raw = symbol.strip()
    if raw.lower().startswith(VENUE + ":"):
        raw = raw[len(VENUE) + 1 :]
    m = _SEPARATED.match(raw)
    if m:
        return m.group(1).upper()
    if not _BARE.match(raw):
        raise MMError(
            f"symbol {symbol!r} is not a Hyperliquid perpetual",
            "name the coin (BTC) or COINUSDT / COINUSDC / COIN-PERP",
        )
    up = raw.upper()
    for suffix in _SUFFIXES:
        if up.endswith(suffix) and len(up) > len(suffix):
            return up[: -len(suffix)]
    if up in _SUFFIXES:
        raise MMError(f"symbol {symbol!r} is a quote currency, not a coin", "name the coin (BTC)")
    return up


def match_coin(coin: str, names: list[str]) -> str | None:
    """The venue's own spelling of ``coin`` (``KPEPE`` -> ``kPEPE``), None if not listed."""
    exact = [n for n in names if n == coin]
    if exact:
        return exact[0]
    folded = [n for n in names if n.upper() == coin.upper()]
    return folded[0] if len(folded) == 1 else None


def _same(a: InstrumentSpec, b: InstrumentSpec) -> bool:
    return a.to_dict() == b.to_dict()


class HyperliquidInstruments:
    """Specs (and max leverage) of the traded coins from ``meta``; ``refresh_if_due``
    re-reads them every ``refresh_s`` and logs each change as ``instrument_changed``."""

    def __init__(
        self,
        rest: Any,
        coins: list[str],
        refresh_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rest = rest
        self.coins = list(coins)
        self.refresh_s = refresh_s
        self.clock = clock
        self.specs: dict[str, InstrumentSpec] = {}
        self.max_leverage: dict[str, int] = {}
        self.loaded_at: float | None = None

    def fetch(self) -> tuple[dict[str, InstrumentSpec], dict[str, int]]:
        meta = self.rest.info({"type": "meta"})
        universe = meta.get("universe") if isinstance(meta, dict) else None
        if not isinstance(universe, list):
            raise MMError("Hyperliquid meta answer has no universe list")
        by_name = {str(a.get("name")): a for a in universe if isinstance(a, dict)}
        specs, leverage = {}, {}
        for coin in self.coins:
            name = match_coin(coin, list(by_name))
            if name is None:
                raise MMError(
                    f"Hyperliquid has no perpetual {coin}",
                    'check MM_SYMBOLS against POST /info {"type": "meta"}',
                )
            asset = by_name[name]
            if asset.get("isDelisted"):
                raise MMError(f"Hyperliquid {name} is delisted")
            specs[coin] = spec_from_asset(asset)
            leverage[coin] = int(asset.get("maxLeverage") or 0)
        return specs, leverage

    def load(self) -> dict[str, InstrumentSpec]:
        self.specs, self.max_leverage = self.fetch()
        self.loaded_at = self.clock()
        return dict(self.specs)

    def get(self, coin: str) -> InstrumentSpec:
        if not self.specs:
            self.load()
        return self.specs[coin]

    def refresh_if_due(self) -> list[str]:
        """Re-read meta when ``refresh_s`` has passed; returns coins whose spec changed."""
        if self.loaded_at is not None and self.clock() - self.loaded_at < self.refresh_s:
            return []
        old, old_lev = self.specs, self.max_leverage
        try:
            new, lev = self.fetch()
        except (MMError, OSError) as exc:
            event(log, logging.WARNING, "instruments_refresh_failed", venue=VENUE,
                  error=str(exc))  # fmt: skip
            self.loaded_at = self.clock()  # keep the old specs; try again next period
            return []
        self.specs, self.max_leverage, self.loaded_at = new, lev, self.clock()
        changed = []
        for c in new:
            if c in old and (not _same(old[c], new[c]) or old_lev.get(c) != lev[c]):
                changed.append(c)
                event(log, logging.WARNING, "instrument_changed", venue=VENUE, symbol=c,
                      old={**old[c].to_dict(), "max_leverage": old_lev.get(c)},
                      new={**new[c].to_dict(), "max_leverage": lev[c]})  # fmt: skip
        return changed
