"""Instrument specs from ``GET /v5/market/instruments-info``, loaded at start, refreshed hourly.

Linear: tick = ``priceFilter.tickSize``, lot = ``lotSizeFilter.qtyStep``, min notional
= ``lotSizeFilter.minNotionalValue``. Spot: lot = ``lotSizeFilter.basePrecision``, min
notional = ``lotSizeFilter.minOrderAmt``. Inverse: lot = ``qtyStep`` contracts of 1 USD each,
settled in ``settleCoin``. A refresh that changes a spec is reported
(tick or lot changes invalidate every price/size in ticks/lots held downstream).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.bybit.errors import BybitError
from connectors.bybit.rest import BybitRest
from core.errors import MMError
from core.instruments import InstrumentSpec, known_instrument
from core.log import event, get_logger

log = get_logger(__name__)
VENUE = "bybit"
INVERSE_CONTRACT_USD = Decimal(1)  # a Bybit inverse contract is worth 1 USD


def _dec(value: Any, what: str, symbol: str) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise MMError(f"instruments-info {what} {value!r} for {symbol} is not a number") from None
    return d


def refuse_inverse(symbols: list[str]) -> None:
    """Live and paper trading speak Bybit's ``linear`` (and ``spot``) category only.

    Inverse contracts (``BTCUSD``) backtest from recordings; trading them live would need
    the ``inverse`` category's endpoints, batch limits and coin-margined account checks,
    so a known inverse symbol is refused before anything connects.
    """
    inverse = [s for s in symbols if (k := known_instrument(VENUE, s)) is not None and k.is_inverse]
    if inverse:
        raise MMError(
            f"{', '.join(inverse)} on bybit: inverse (coin-margined) contracts cannot be "
            "traded live or on paper yet",
            "backtest them from a recording (mm import / mm backtest), or trade a USDT contract",
        )


def spec_from_info(item: dict[str, Any], category: str = "linear") -> InstrumentSpec:
    """One ``result.list`` entry -> InstrumentSpec (exact Decimals)."""
    symbol = str(item.get("symbol", ""))
    pf = item.get("priceFilter") or {}
    lf = item.get("lotSizeFilter") or {}
    tick = _dec(pf.get("tickSize"), "tickSize", symbol)
    if category == "inverse":
        coin = str(item.get("settleCoin") or item.get("baseCoin") or "")
        return InstrumentSpec(
            VENUE,
            symbol,
            tick,
            _dec(lf.get("qtyStep"), "qtyStep", symbol),
            quote_currency=str(item.get("quoteCoin") or "USD"),
            kind="inverse",
            contract_size=INVERSE_CONTRACT_USD,
            settle_currency=coin,
        )
    if category == "spot":
        lot = _dec(lf.get("basePrecision"), "basePrecision", symbol)
        min_notional = _dec(lf.get("minOrderAmt") or "0", "minOrderAmt", symbol)
    else:
        lot = _dec(lf.get("qtyStep"), "qtyStep", symbol)
        min_notional = _dec(lf.get("minNotionalValue") or "0", "minNotionalValue", symbol)
    return InstrumentSpec(
        VENUE, symbol, tick, lot, min_notional, quote_currency=str(item.get("quoteCoin") or "USDT")
    )


def _same(a: InstrumentSpec, b: InstrumentSpec) -> bool:
    return a.to_dict() == b.to_dict()


class BybitInstruments:
    """Specs of the traded symbols; ``refresh_if_due`` re-reads them every ``refresh_s``."""

    def __init__(
        self,
        rest: BybitRest,
        symbols: list[str],
        category: str = "linear",
        refresh_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rest = rest
        self.symbols = [s.upper() for s in symbols]
        self.category = category
        self.refresh_s = refresh_s
        self.clock = clock
        self.specs: dict[str, InstrumentSpec] = {}
        self.loaded_at: float | None = None

    def fetch(self, symbol: str) -> InstrumentSpec:
        resp = self.rest.call(
            "/v5/market/instruments-info", {"category": self.category, "symbol": symbol}
        )
        if not resp.ok:
            raise BybitError(resp.ret_code, resp.ret_msg)
        items = [i for i in resp.result.get("list") or [] if i.get("symbol") == symbol]
        if not items:
            raise MMError(
                f"Bybit has no {self.category} instrument {symbol}",
                "check the symbol and BYBIT_CATEGORY",
            )
        status = items[0].get("status", "Trading")
        if status != "Trading":
            raise MMError(f"Bybit {symbol} is not trading (status {status})")
        return spec_from_info(items[0], self.category)

    def load(self) -> dict[str, InstrumentSpec]:
        self.specs = {s: self.fetch(s) for s in self.symbols}
        self.loaded_at = self.clock()
        return dict(self.specs)

    def get(self, symbol: str) -> InstrumentSpec:
        if not self.specs:
            self.load()
        return self.specs[symbol.upper()]

    def refresh_if_due(self) -> list[str]:
        """Re-read specs when ``refresh_s`` has passed; returns symbols whose spec changed."""
        if self.loaded_at is not None and self.clock() - self.loaded_at < self.refresh_s:
            return []
        old = self.specs
        try:
            new = {s: self.fetch(s) for s in self.symbols}
        except (MMError, OSError) as exc:
            event(log, logging.WARNING, "instruments_refresh_failed", venue="bybit",
                  error=str(exc))  # fmt: skip
            self.loaded_at = self.clock()  # keep the old specs; try again next period
            return []
        self.specs, self.loaded_at = new, self.clock()
        changed = [s for s in new if s in old and not _same(old[s], new[s])]
        for s in changed:
            event(log, logging.WARNING, "instrument_changed", venue="bybit", symbol=s,
                  old=old[s].to_dict(), new=new[s].to_dict())  # fmt: skip
        return changed
