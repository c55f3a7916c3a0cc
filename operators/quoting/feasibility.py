"""Parameter sets that can never quote an instrument, found before a run starts.

A run whose every order rounds to 0 lots, exceeds the position limit or fails a
pre-trade check places nothing and says nothing: it looks quiet, not broken. Each
check mirrors the quote engine and the order manager and fires only when the outcome
is certain from the parameters, the instrument spec and the range of prices the run
sees (what a lot is worth); whatever depends on the market as it unfolds (volatility,
regime, toxicity, fills) is left alone.

With M the largest regime position multiplier, b the price band, N the venue minimum
notional and every mid in [lo, hi]:

* an order passes the band only at a price within mid (1 -/+ b), so its price is in
  [lo (1 - b), hi (1 + b)], and its size the whole lots the engine gives it: at least
  one, and at least ceil(N / (price x lot)) (a smaller order is rounded up to that);
* without a venue minimum, a level sized below one lot rounds to 0 lots;
* the position limit is k = floor(max_position x M / (mid x lot)) lots and a level is
  cut to it, or dropped if the cut order is below N: nothing is quoted when k is 0 at
  every mid, or when k lots stay below N at every price;
* a quote is at least half spread x (1 - skew factor - 2 bias strength) from mid (no
  skew while flat, without a target inventory).

An inverse lot (contracts of a USD contract size) is worth lot x contract size USD at
any price: the checks run with that lot value at a constant price of 1 and no band.

The warning shows the figures at the prices of the data (without the band's margin),
which is what a parameter must reach in practice; the checks keep the margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.instruments import InstrumentSpec
from core.params import StrategyParams
from operators.features.regime import DEFAULT_REGIME_PARAMS


@dataclass(frozen=True, slots=True)
class Blocker:
    """One parameter that alone prevents every quote, and what it must reach."""

    key: str  # "quote.order_size_usd"
    value: float
    minimum: str  # "one lot, 61.59 to 61.84 USD in the data"
    effect: str  # "every order rounds to 0 lots"

    def describe(self) -> str:
        return f"{self.key} {self.value:g} is below {self.minimum}: {self.effect}"


def _num(x: float) -> str:
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.6g}"


def _span(a: float, b: float, unit: str) -> str:
    a, b = min(a, b), max(a, b)
    return f"{_num(a)} {unit}" if _num(a) == _num(b) else f"{_num(a)} to {_num(b)} {unit}"


def _lots(a: int, b: int) -> str:
    a, b = min(a, b), max(a, b)
    return ("1 lot" if b == 1 else f"{b} lots") if a == b else f"{a} to {b} lots"


def order_lots(n_min: float, lot: float, price: float) -> int:
    """Whole lots of the smallest order the engine sends at ``price``."""
    return max(1, math.ceil(n_min / (price * lot) - 1e-9)) if n_min > 0 else 1


def smallest_order(n_min: float, lot: float, lo: float, hi: float) -> float:
    """Least notional of the smallest order at a price in [lo, hi]."""
    c_lo, c_hi = order_lots(n_min, lot, hi), order_lots(n_min, lot, lo)
    # where the lot count steps, some price makes n_min / (price x lot) whole: exactly n_min
    return n_min if c_hi > c_lo else c_lo * lot * lo


def max_notional_in_limit(limit: float, lot: float, lo: float, hi: float, band: float) -> float:
    """Largest notional an order cut to the position limit can have, mids in [lo, hi]:
    k x lot x mid x (1 + b), k = floor(limit / (mid x lot)) (the engine's floor)."""
    k_lo = math.floor(limit / (hi * lot) + 1e-9)
    k_hi = math.floor(limit / (lo * lot) + 1e-9)
    # where k steps, some mid makes limit / (mid x lot) whole: k x lot x mid = limit; with
    # one k across the range, the highest mid is best
    best = limit if k_hi > k_lo else k_lo * lot * hi
    return best * (1 + band)


def never_quote_blockers(
    spec: InstrumentSpec,
    params: StrategyParams,
    prices: tuple[float, float] | None = None,
    flat: bool = True,
    price_source: str = "in the data",
) -> list[Blocker]:
    """Parameters that make quoting ``spec`` impossible.

    ``prices``: the lowest and highest price (quote currency) the run sees; None if
    unknown, and then only the checks that need no price are made. ``flat``: the run
    starts without a position (backtest, paper; live with none open). Nothing fills
    while nothing quotes, so it stays flat: no inventory skew (unless a target inventory
    is set), and a position limit of 0 lots quotes nothing; an open position could
    still be reduced, so those checks need a flat start.
    """
    q, risk, orders = params.quote, params.risk, params.orders
    regimes = DEFAULT_REGIME_PARAMS.values()
    mult = max(r.position_multiplier for r in regimes) if q.use_regimes else 1.0
    levels = max(r.levels for r in regimes) if q.use_regimes else q.levels
    band = orders.price_band_bps / 1e4
    lot = size_lot = float(spec.lot_size)  # a lot's value at price 1, and its size
    n_min = float(spec.min_notional)
    ccy = spec.quote_currency
    lo, hi = prices if prices is not None and min(prices) > 0 else (0.0, 0.0)
    if spec.is_inverse:  # a lot's USD value does not move with the price
        lot = float(spec.lot_size * spec.contract_size)
        lo, hi, band = 1.0, 1.0, 0.0
    priced = lo > 0
    # an admitted order's price range, and the smallest order the engine sends in it
    q_lo, q_hi = lo * (1 - band), hi * (1 + band)
    c_lo, c_hi = (order_lots(n_min, lot, hi), order_lots(n_min, lot, lo)) if priced else (1, 1)
    if priced:
        worth = _span(c_lo * lot * hi, c_hi * lot * lo, ccy)
        least = f"the smallest order, {_lots(c_lo, c_hi)} = {worth} {price_source}"
    else:
        least = f"the venue's minimum order, {_num(n_min)} {ccy}"
    out: list[Blocker] = []

    largest_level = q.order_size_usd * max(1.0, q.level_size_multiplier) ** (levels - 1)
    if n_min == 0 and priced and largest_level < q_lo * lot:
        minimum = f"one lot, {_span(lo * lot, hi * lot, ccy)} {price_source}"
        out.append(Blocker("quote.order_size_usd", q.order_size_usd, minimum,
                           "every order rounds to 0 lots"))  # fmt: skip
    cheapest = smallest_order(n_min, lot, q_lo, q_hi) if priced else n_min
    if cheapest > 0 and orders.max_order_usd < cheapest:
        out.append(Blocker("orders.max_order_usd", orders.max_order_usd, least,
                           "every order fails the pre-trade check"))  # fmt: skip
    units = risk.max_position_units
    if flat and units is not None:
        k = math.floor(units * mult / size_lot + 1e-9)
        if k == 0 or (priced and k * lot * q_hi < n_min):
            size = _span(c_lo * size_lot, c_hi * size_lot, spec.symbol)
            minimum = f"the smallest order, {_lots(c_lo, c_hi)} = {size}"
            out.append(Blocker("risk.max_position_units", units, minimum,
                               "the position limit holds no order"))  # fmt: skip
    reach = risk.max_position_usd * mult
    if priced:
        never = math.floor(reach / (lo * lot) + 1e-9) == 0 or (
            max_notional_in_limit(reach, lot, lo, hi, band) < n_min
        )
    else:
        never = reach * (1 + band) < n_min
    if flat and never:
        out.append(Blocker("risk.max_position_usd", risk.max_position_usd, least,
                           "the position limit holds no order"))  # fmt: skip
    half = q.base_spread_bps / 2
    if q.use_regimes:
        half = max(half, min(r.spread_clamp_bps for r in regimes))
    if params.fees.maker > 0:
        half = max(half, q.min_spread_fee_multiple * params.fees.maker * 1e4)
    skew = 0.0 if flat and q.inventory_target_pct == 0 else q.inventory_skew_factor
    closest = half * (1 - skew - 2 * q.bias_strength)
    if orders.price_band_bps < closest:
        minimum = f"the closest a quote gets to mid, {_num(closest)} bps"
        out.append(Blocker("orders.price_band_bps", orders.price_band_bps, minimum,
                           "every order fails the price band"))  # fmt: skip
    return out


def never_quote_warning(
    spec: InstrumentSpec,
    params: StrategyParams,
    prices: tuple[float, float] | None = None,
    flat: bool = True,
    price_source: str = "in the data",
) -> str | None:
    """One line naming every parameter that prevents quoting, or None if none does."""
    blockers = never_quote_blockers(spec, params, prices, flat, price_source)
    if not blockers:
        return None
    line = f"{spec.id} can never quote: " + "; ".join(b.describe() for b in blockers)
    hint = "raise it" if len(blockers) == 1 else "raise them"
    lot = f"{spec.lot_size} {spec.symbol}"
    if spec.is_inverse:
        lot = f"{spec.lot_size} contract of {spec.contract_size} {spec.quote_currency}"
    return f"{line} ({hint}; one lot is {lot})"
