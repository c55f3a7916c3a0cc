"""Avellaneda-Stoikov style quote engine.

    half spread  = max(base_spread/2, vol x vol_multiplier, regime clamp, fee floor)
    reservation  = mid - inventory share x skew_factor x half spread
                       + signal x bias_strength x full spread
    level i      = reservation -/+ (half spread + i x level spacing)

Inventory share is (position - target) / max position, in [-1, 1], so at the position
limit the reservation moves by skew_factor half spreads: the engine leans against
inventory without a unit-dependent constant. Toxicity widens the threatened side or
pulls it; a price ceiling/floor quotes one side only outside the band.

Prices are rounded onto the venue grid *away from the touch* (bids down, asks up)
and never cross the opposite best (post-only safe); on significant-figure venues
(Hyperliquid) a price pulled back from the touch or from the previous level is rounded
again, so every quote is a price the venue accepts; sizes round down onto lots and
up to the venue minimum notional; cumulative size per side never takes the position
past its limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from core.instruments import ASK, BID, InstrumentSpec
from core.money import min_notional_units, notional_units
from core.params import StrategyParams


@dataclass(slots=True)
class MarketView:
    """What the engine needs to know about the market at one instant."""

    best_bid: int  # ticks
    best_ask: int
    mid_x2: int  # 2 x mid in ticks
    vol_bps: float | None  # None while the estimate warms up
    spread_clamp_bps: float = 0.0  # regime minimum half spread
    levels: int = 1  # regime levels per side
    position_multiplier: float = 1.0  # regime scaling of the position limit
    regime: int = 1
    signal: int = 0  # -1 / 0 / +1
    toxicity: float = 0.0  # 0..1
    threatened_side: int = 0  # BID: our bids at risk, ASK: our asks, 0: none/both


@dataclass(slots=True)
class QuoteLevel:
    side: int
    level: int
    price: int  # ticks
    qty: int  # lots


@dataclass(slots=True)
class QuoteSet:
    bids: list[QuoteLevel] = field(default_factory=list)
    asks: list[QuoteLevel] = field(default_factory=list)
    mid: float = 0.0  # ticks
    reservation: float = 0.0  # ticks
    half_spread_bps: float = 0.0
    vol_bps: float = 0.0
    regime: int = 1
    signal: int = 0
    toxicity: float = 0.0

    def levels(self) -> list[QuoteLevel]:
        return self.bids + self.asks

    def key(self) -> tuple[tuple[int, int, int, int], ...]:
        """Identity of the quoted prices and sizes (to log only changes)."""
        return tuple((q.side, q.level, q.price, q.qty) for q in self.bids + self.asks)


class QuoteEngine:
    def __init__(self, spec: InstrumentSpec, params: StrategyParams) -> None:
        self.spec = spec
        self.params = params
        self._tick = float(spec.tick_size)
        self._lot = float(spec.lot_size)
        # inverse: a lot is lot x contract size USD at any price; the minimum notional is
        # then in lots (core.money.notional_units)
        self._inverse = spec.is_inverse
        self._lot_usd = float(spec.lot_size * spec.contract_size)
        # minimum notional in notional units (ticks x lots; inverse: lots), rounded up
        self._min_units = min_notional_units(spec)

    def lot_value_usd(self, price: float) -> float:
        """USD value of one lot at ``price`` (quote currency): ``price x lot``, or the
        contract value of an inverse lot (independent of the price)."""
        return self._lot_usd if self._inverse else price * self._lot

    def _below_min(self, price_ticks: int, lots: int) -> bool:
        return notional_units(self._inverse, price_ticks, lots) < self._min_units

    def _min_lots(self, price_ticks: int) -> int:
        """The fewest lots that reach the venue minimum notional at ``price_ticks``."""
        if self._inverse:
            return self._min_units
        return -(-self._min_units // price_ticks)  # ceil

    # -- sizing --------------------------------------------------------------------------
    def max_position_lots(self, mid_ticks: float, multiplier: float = 1.0) -> int:
        """Position limit in lots: the tighter of the USD and unit limits, scaled by regime."""
        risk = self.params.risk
        price = mid_ticks * self._tick
        lots = risk.max_position_usd * multiplier / self.lot_value_usd(price) if price > 0 else 0.0
        if risk.max_position_units is not None:
            lots = min(lots, risk.max_position_units * multiplier / self._lot)
        return max(0, math.floor(lots + 1e-9))

    def order_lots(self, price_ticks: int, usd: float) -> int:
        price = price_ticks * self._tick
        lots = math.floor(usd / self.lot_value_usd(price) + 1e-9) if price > 0 else 0
        if self._below_min(price_ticks, lots):
            lots = self._min_lots(price_ticks)  # the venue minimum notional
        return lots

    # -- quoting -------------------------------------------------------------------------
    def half_spread_bps(self, view: MarketView) -> float:
        q = self.params.quote
        vol = view.vol_bps if view.vol_bps is not None else q.warmup_vol_bps
        half = max(q.base_spread_bps / 2, vol * q.vol_multiplier, view.spread_clamp_bps)
        maker = self.params.fees.maker
        if maker > 0:
            half = max(half, q.min_spread_fee_multiple * maker * 1e4)
        return half

    def quote(
        self,
        view: MarketView,
        position: int,
        allow_bids: bool = True,
        allow_asks: bool = True,
    ) -> QuoteSet:
        """Desired quotes for the current view and position (lots)."""
        q = self.params.quote
        mid = view.mid_x2 / 2
        half_bps = self.half_spread_bps(view)
        out = QuoteSet(
            mid=mid,
            half_spread_bps=half_bps,
            vol_bps=view.vol_bps if view.vol_bps is not None else q.warmup_vol_bps,
            regime=view.regime,
            signal=view.signal,
            toxicity=view.toxicity,
        )
        if mid <= 0:
            return out
        levels = view.levels if q.use_regimes else q.levels
        multiplier = view.position_multiplier if q.use_regimes else 1.0
        max_pos = self.max_position_lots(mid, multiplier)
        target = 0
        if q.inventory_target_pct:
            target = math.floor(
                q.inventory_target_pct * q.capital_usd / self.lot_value_usd(mid * self._tick)
            )
        share = 0.0
        if max_pos > 0:
            share = max(-1.0, min(1.0, (position - target) / max_pos))
        half = mid * half_bps / 1e4  # ticks
        reservation = mid - share * q.inventory_skew_factor * half
        reservation += view.signal * q.bias_strength * 2 * half
        out.reservation = reservation

        bid_half = ask_half = half
        if view.toxicity > 0:
            widen = 1 + view.toxicity * q.toxicity_widen
            pull = view.toxicity >= q.toxicity_pull_score
            if view.threatened_side == BID:
                bid_half *= widen
                allow_bids = allow_bids and not pull
            elif view.threatened_side == ASK:
                ask_half *= widen
                allow_asks = allow_asks and not pull
            else:
                bid_half *= widen
                ask_half *= widen
        price = mid * self._tick
        if q.price_ceiling is not None and price > q.price_ceiling:
            allow_bids = False
        if q.price_floor is not None and price < q.price_floor:
            allow_asks = False

        spacing = mid * q.level_spacing_bps / 1e4
        if allow_bids:
            out.bids = self._side(
                BID, reservation - bid_half, -spacing, levels, view, position, max_pos
            )
        if allow_asks:
            out.asks = self._side(
                ASK, reservation + ask_half, spacing, levels, view, position, max_pos
            )
        return out

    def _side(
        self,
        side: int,
        first: float,
        step: float,
        levels: int,
        view: MarketView,
        position: int,
        max_pos: int,
    ) -> list[QuoteLevel]:
        q = self.params.quote
        # room left before the position limit in this side's direction
        room = max_pos - position if side == BID else max_pos + position
        out: list[QuoteLevel] = []
        prev: int | None = None
        usd = q.order_size_usd
        rnd = self.spec.round_ticks
        sig = self.spec.price_sig_figs is not None
        for i in range(levels):
            px = rnd(first + i * step, side)
            if side == BID:
                clamped = min(px, view.best_ask - 1)  # post-only: never at/through the ask
                if prev is not None and clamped >= prev:
                    clamped = prev - 1
            else:
                clamped = max(px, view.best_bid + 1)
                if prev is not None and clamped <= prev:
                    clamped = prev + 1
            if clamped != px and sig:  # one tick off a valid price may not be valid: round
                clamped = rnd(clamped, side)  # again, away from the touch
            px = clamped
            if px <= 0:
                break
            lots = self.order_lots(px, usd)
            if lots > room:  # shrink to the room left, if the venue minimum still allows it
                lots = room
                if lots <= 0 or self._below_min(px, lots):
                    break
            out.append(QuoteLevel(side, i, px, lots))
            room -= lots
            prev = px
            usd *= q.level_size_multiplier
        return out
