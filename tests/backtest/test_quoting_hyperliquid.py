"""Hyperliquid prices: every quote is one the venue accepts, in both engines.

Hyperliquid allows at most 5 significant figures and at most 6 - szDecimals decimals
(integer prices always). A quote rounded onto that grid and then pulled back one tick
from the touch or from the previous level (``best_ask - 1``, ``prev - 1``) can land off
it (100000.9 has 7 significant figures); the engines round such a price again, away from
the touch. The table covers szDecimals 0..5 and prices 0.0001..100,000, with quotes
forced onto the touch (a full-strength signal) and stacked 3 levels deep.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.hyperliquid.instruments import spec_from_asset
from connectors.sim.config import SimConfig
from connectors.sim.kernel import new_sim, sim_valid_price
from core.instruments import ASK, BID, InstrumentSpec
from core.params import StrategyParams
from operators.quoting.engine import MarketView, QuoteEngine
from operators.quoting.kernel import CompiledQuoteEngine

PRICES = ("0.0001", "0.00012345", "0.0123", "0.5", "1", "9.99995", "12.3456", "99.999",
          "123.45", "999.99", "1234.56", "9999.95", "12345.6", "99999.5", "100000")  # fmt: skip
ENGINES = (QuoteEngine, CompiledQuoteEngine)
CASES = [  # (signal, spread bps, levels): at the mid, pushed onto the ask, onto the bid
    (0, 0.0, 3),
    (1, 2.0, 3),
    (-1, 2.0, 3),
]


def _params(spread_bps: float, levels: int) -> StrategyParams:
    p = StrategyParams()
    q = p.quote.model_copy(
        update={
            "use_regimes": False,
            "levels": levels,
            "base_spread_bps": spread_bps,
            "vol_multiplier": 0.0,
            "warmup_vol_bps": 0.0,
            "bias_strength": 1.0,  # a signal moves the reservation a full spread
            "level_spacing_bps": 0.001,  # levels closer than a tick: each is prev -/+ 1
            "order_size_usd": 20.0,
        }
    )
    r = p.risk.model_copy(update={"max_position_usd": 1e6})
    return p.model_copy(update={"quote": q, "risk": r})


def _touch(spec: InstrumentSpec, price: str) -> tuple[int, int]:
    """A tight valid book around ``price``: the best bid and the next valid price above."""
    bid = spec.round_price(Decimal(price), BID)
    ask = spec.round_ticks(bid + 1, ASK)
    return bid, ask


@pytest.mark.parametrize("sz", range(6))
def test_quotes_are_valid_hyperliquid_prices_in_both_engines(sz: int) -> None:
    spec = spec_from_asset({"name": f"C{sz}", "szDecimals": sz})
    venue = new_sim(spec, SimConfig())
    engines = {(E, c): E(spec, _params(c[1], c[2])) for E in ENGINES for c in CASES}
    checked = clamped = 0
    for price in PRICES:
        if Decimal(price) < 10 * spec.tick_size:
            continue  # not a price this szDecimals trades at (fewer than 10 ticks)
        bid, ask = _touch(spec, price)
        assert spec.is_valid_price_ticks(bid) and spec.is_valid_price_ticks(ask)
        clamped += not spec.is_valid_price_ticks(ask - 1) or not spec.is_valid_price_ticks(bid + 1)
        for case in CASES:
            signal, _, levels = case
            view = MarketView(bid, ask, bid + ask, 0.0, signal=signal)
            got = []
            for E in ENGINES:
                qs = engines[(E, case)].quote(view, position=0)
                got.append([(q.side, q.level, q.price, q.qty) for q in qs.bids + qs.asks])
            ref, fast = got
            assert ref == fast, (price, case)
            assert len(ref) == 2 * levels, (price, case, ref)
            bids = [px for side, _, px, _ in ref if side == BID]
            asks = [px for side, _, px, _ in ref if side == ASK]
            assert all(px < ask for px in bids) and all(px > bid for px in asks), (price, case)
            assert bids == sorted(bids, reverse=True) and len(set(bids)) == levels
            assert asks == sorted(asks) and len(set(asks)) == levels
            for px in bids + asks:
                assert spec.is_valid_price_ticks(px), (price, case, px)
                assert sim_valid_price(venue, px), (price, case, px)
            checked += 1
    assert checked >= 3 * 9
    assert clamped  # the table has books where one tick off the touch is not a valid price
