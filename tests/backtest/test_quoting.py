"""Quote engine: hand-computed prices and sizes on the Binance BTCUSDT grid.

Instrument: tick 0.1, lot 0.001, min notional 100 USDT -> min 1,000,000 notional units.
Book: best bid 618000 (61800.0), best ask 618001 (61800.1), mid = 618000.5 ticks.
"""

from __future__ import annotations

import pytest

from core.instruments import ASK, BID, KNOWN_INSTRUMENTS
from core.params import StrategyParams
from operators.quoting.engine import MarketView, QuoteEngine
from operators.quoting.kernel import CompiledQuoteEngine

EngineType = type[QuoteEngine] | type[CompiledQuoteEngine]

SPEC = KNOWN_INSTRUMENTS["binance-usdm:BTCUSDT"]


@pytest.fixture(params=[QuoteEngine, CompiledQuoteEngine], ids=["reference", "compiled"])
def Engine(request: pytest.FixtureRequest) -> EngineType:
    """Every test runs against the reference engine and the compiled kernel."""
    return request.param


def params(**quote: object) -> StrategyParams:
    p = StrategyParams()
    q = {"use_regimes": False, **quote}
    return p.model_copy(update={"quote": p.quote.model_copy(update=q)})


def view(**kw: object) -> MarketView:
    base = {"best_bid": 618000, "best_ask": 618001, "mid_x2": 1236001, "vol_bps": 1.0}
    return MarketView(**{**base, **kw})  # type: ignore[arg-type]


def test_symmetric_quote_flat_inventory(Engine: EngineType) -> None:
    # half spread = max(2/2, 1.0 x 1.5) = 1.5 bps; in ticks 618000.5 x 1.5e-4 = 92.700075
    # bid 617907.799925 -> floor 617907; ask 618093.200075 -> ceil 618094
    # size: 100 USD / 61790.7 = 1.618 -> 1 lot = 61.79 USDT < 100 min notional -> ceil to 2 lots
    qs = Engine(SPEC, params()).quote(view(), position=0)
    assert [(q.price, q.qty) for q in qs.bids] == [(617907, 2)]
    assert [(q.price, q.qty) for q in qs.asks] == [(618094, 2)]
    assert qs.half_spread_bps == 1.5
    assert qs.reservation == 618000.5


def test_inventory_skews_reservation_down_when_long(Engine: EngineType) -> None:
    # max position = floor(500 / (61800.05 x 0.001)) = 8 lots; position 4 -> share 0.5
    # reservation = 618000.5 - 0.5 x 0.5 x 92.700075 = 617977.32498125
    # bid 617884.62490625 -> 617884; ask 618070.02505625 -> 618071
    eng = Engine(SPEC, params())
    assert eng.max_position_lots(618000.5) == 8
    qs = eng.quote(view(), position=4)
    assert qs.reservation == 618000.5 - 0.25 * 92.700075
    assert [q.price for q in qs.bids] == [617884]
    assert [q.price for q in qs.asks] == [618071]


def test_position_room_limits_the_bid_side(Engine: EngineType) -> None:
    # long 7 of max 8: the bid may add 1 lot, but 1 lot is below the 100 USDT minimum -> no bid
    qs = Engine(SPEC, params()).quote(view(), position=7)
    assert qs.bids == []
    assert [q.qty for q in qs.asks] == [2]


def test_signal_shift_never_crosses_the_touch(Engine: EngineType) -> None:
    # bias 1.0, signal +1: reservation += 2 x 92.700075 -> bid 618093.2 would cross the ask;
    # post-only clamp puts it at best ask - 1 tick = 618000; ask 618278.600225 -> 618279
    qs = Engine(SPEC, params(bias_strength=1.0)).quote(view(signal=1), position=0)
    assert [q.price for q in qs.bids] == [618000]
    assert [q.price for q in qs.asks] == [618279]


def test_toxicity_widens_then_pulls_the_threatened_side(Engine: EngineType) -> None:
    eng = Engine(SPEC, params())
    # score 0.5, bids threatened: bid half = 92.700075 x 1.5 = 139.0501125 -> 617861.4498875 -> 617861
    qs = eng.quote(view(toxicity=0.5, threatened_side=BID), position=0)
    assert [q.price for q in qs.bids] == [617861]
    assert [q.price for q in qs.asks] == [618094]
    qs = eng.quote(view(toxicity=0.95, threatened_side=ASK), position=0)
    assert qs.asks == [] and [q.price for q in qs.bids] == [617907]


def test_price_band_quotes_one_side(Engine: EngineType) -> None:
    qs = Engine(SPEC, params(price_ceiling=61000.0)).quote(view(), position=0)
    assert qs.bids == [] and len(qs.asks) == 1
    qs = Engine(SPEC, params(price_floor=62000.0)).quote(view(), position=0)
    assert qs.asks == [] and len(qs.bids) == 1


def test_positive_maker_fee_sets_a_spread_floor(Engine: EngineType) -> None:
    p = params()
    p = p.model_copy(update={"fees": p.fees.model_copy(update={"maker": 0.0002})})
    # half spread >= 1 x 2 bps fee, above the 1.5 bps from volatility
    assert Engine(SPEC, p).half_spread_bps(view()) == 2.0


def test_warmup_volatility_fallback_keeps_quoting(Engine: EngineType) -> None:
    # no estimate yet: warmup_vol_bps 2.0 x 1.5 = 3.0 bps half spread
    qs = Engine(SPEC, params()).quote(view(vol_bps=None), position=0)
    assert qs.half_spread_bps == 3.0 and qs.bids and qs.asks


def test_regime_layers_are_strictly_ordered_and_sized(Engine: EngineType) -> None:
    # regime: 3 levels, clamp 2 bps -> half = 2 bps = 123.6001 ticks, spacing 1 bp = 61.80005
    # bids: 617876.8999 -> 617876, 617815.09985 -> 617815, 617753.2998 -> 617753
    p = params(use_regimes=True, level_size_multiplier=2.0)
    qs = Engine(SPEC, p).quote(
        view(levels=3, spread_clamp_bps=2.0, position_multiplier=1.0), position=0
    )
    assert [q.price for q in qs.bids] == [617876, 617815, 617753]
    assert [q.level for q in qs.bids] == [0, 1, 2]
    # sizes: 100 USD -> 2 lots (min notional), 200 USD -> 3 lots, 400 USD -> 6 lots: 11 > 8 max -> 3rd trimmed to 3
    assert [q.qty for q in qs.bids] == [2, 3, 3]
    assert all(a.price > b.price for a, b in zip(qs.asks[1:], qs.asks, strict=False))


def test_hyperliquid_sig_fig_rounding_away_from_touch(Engine: EngineType) -> None:
    spec = KNOWN_INSTRUMENTS["hyperliquid:BTC"]
    # mid 105055.5 (ticks of 0.1: bid 1050550, ask 1050560); prices above 1e5 must be integers
    v = MarketView(best_bid=1050550, best_ask=1050560, mid_x2=2101110, vol_bps=1.0)
    qs = Engine(spec, params()).quote(v, position=0)
    assert all(q.price % 10 == 0 for q in qs.bids + qs.asks)
    assert all(spec.is_valid_price_ticks(q.price) for q in qs.bids + qs.asks)
