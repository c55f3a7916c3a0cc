"""What the live flow needs from each venue before the trader starts (MM_VENUE dispatch).

``VenueMarket`` is the market side: instrument specs by the symbol names settings use,
the public Bytewax source (answering the trader's resync requests), the clock offset to
the venue, and what the start line reports. flows/live_mm.py builds the same dataflow
on top of any of them; live trading adds the venue's gateway, private source and order
sink next to it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from bytewax.inputs import FixedPartitionedSource

from connectors.hyperliquid.config import HyperliquidConfig, load_hyperliquid_config
from connectors.hyperliquid.data import HyperliquidPublicSource
from connectors.hyperliquid.instruments import HyperliquidInstruments, coin_for_symbol
from connectors.hyperliquid.rest import HyperliquidRest, HyperliquidTransportError
from core.errors import ConfigError
from core.instruments import InstrumentSpec
from core.log import event, get_logger

log = get_logger("flows.live_mm")

LIVE_VENUES = ("bybit", "hyperliquid")


@dataclass
class VenueMarket:
    venue: str
    specs: dict[str, InstrumentSpec]  # by the symbol as MM_SYMBOLS names it
    public: FixedPartitionedSource[Any, Any]
    clock_offset_ns: int
    network: str
    rest_url: str
    rest: Any = None  # the venue's REST client (live trading and start checks use it)
    config: Any = None  # the venue's connection settings


def hyperliquid_market(
    symbols: list[str], resync_bus: str, cfg: HyperliquidConfig | None = None
) -> VenueMarket:
    """Coins from MM_SYMBOLS (BTC, BTCUSDT, BTC-PERP -> BTC), their specs from ``meta``
    (one request), one public websocket per coin."""
    cfg = cfg or load_hyperliquid_config()
    coins = {s: coin_for_symbol(s) for s in symbols}
    if len(set(coins.values())) != len(coins):
        raise ConfigError(
            f"MM_SYMBOLS {','.join(symbols)} name one Hyperliquid coin twice",
            "list each coin once",
        )
    rest = HyperliquidRest(cfg)
    instruments = HyperliquidInstruments(rest, list(coins.values()), cfg.meta_refresh_s)
    by_coin = instruments.load()
    specs = {s: by_coin[c] for s, c in coins.items()}
    venue_coins = {s.symbol: s for s in by_coin.values()}  # meta's own spelling (kPEPE)
    public = HyperliquidPublicSource(
        list(venue_coins), True, cfg, venue_coins, resync_bus=resync_bus
    )
    offset = measure_hyperliquid_clock_offset(rest, next(iter(venue_coins)))
    return VenueMarket("hyperliquid", specs, public, offset, cfg.network, cfg.rest_url, rest, cfg)


def measure_hyperliquid_clock_offset(rest: HyperliquidRest, coin: str, tries: int = 3) -> int:
    """Local clock minus Hyperliquid's, in ns, from the ``time`` of an ``l2Book`` info
    answer (the venue has no server-time call; the book's time is its latest block, so
    the estimate also carries up to one block of age). Shortest round trip wins; 0 if
    the venue does not answer."""
    best: tuple[int, int] | None = None
    for _ in range(tries):
        t0 = time.time_ns()
        try:
            book = rest.info({"type": "l2Book", "coin": coin})
            server = int(book.get("time") or 0) * 1_000_000 if isinstance(book, dict) else 0
        except (HyperliquidTransportError, ValueError, TypeError):
            server = 0
        t1 = time.time_ns()
        if server > 0 and (best is None or t1 - t0 < best[0]):
            best = (t1 - t0, (t0 + t1) // 2 - server)
    if best is None:
        event(log, logging.WARNING, "clock_offset_unknown", venue="hyperliquid", hint="assuming 0")
        return 0
    event(log, logging.INFO, "clock_offset", venue="hyperliquid",
          offset_ms=round(best[1] / 1e6, 3), rtt_ms=round(best[0] / 1e6, 3))  # fmt: skip
    return best[1]
