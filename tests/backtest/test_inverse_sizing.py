"""Order sizing, position limits, pre-trade checks and the never-quote check of an inverse
contract: one lot is a contract of a fixed USD value, whatever the price.

Reference and compiled operators side by side on hand-computed cases.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from core.instruments import ASK, BID, known_instrument
from core.params import StrategyParams
from operators.orders.kernel import CompiledOrderManager
from operators.orders.manager import OrderManager
from operators.quoting.engine import MarketView, QuoteEngine, QuoteLevel, QuoteSet
from operators.quoting.feasibility import never_quote_warning
from operators.quoting.kernel import CompiledQuoteEngine

COINM = known_instrument("binance-coinm", "BTCUSD_PERP")  # 1 lot = 1 contract = 100 USD
ETH = known_instrument("binance-coinm", "ETHUSD_PERP")  # 1 contract = 10 USD
S = 1_000_000_000


def _params(**quote: object) -> StrategyParams:
    p = StrategyParams()
    q = p.quote.model_copy(update={"use_regimes": False, "warmup_vol_bps": 0.0, **quote})
    return p.model_copy(update={"quote": q})


@pytest.mark.parametrize("engine", [QuoteEngine, CompiledQuoteEngine])
def test_order_lots_and_position_limit_do_not_depend_on_the_price(engine: type) -> None:
    """250 USD = 2 contracts of 100 (floor) at 30,000 and at 90,000; the default 500 USD
    position limit is 5 contracts; ETH's 10 USD contracts give 25 and 50."""
    e = engine(COINM, _params())
    for price_ticks in (300_000, 900_000):
        assert e.order_lots(price_ticks, 250.0) == 2
        assert e.max_position_lots(float(price_ticks)) == 5
    assert e.max_position_lots(600_000.0, 0.5) == 2  # 250 USD -> floor(2.5)
    eth = engine(ETH, _params())
    assert (eth.order_lots(30_000, 250.0), eth.max_position_lots(30_000.0)) == (25, 50)
    # a venue minimum of 300 USD lifts a smaller order to 3 contracts (not price-scaled)
    big = engine(replace(COINM, min_notional=Decimal(300)), _params())
    assert big.order_lots(600_000, 100.0) == 3


@pytest.mark.parametrize("engine", [QuoteEngine, CompiledQuoteEngine])
def test_default_quotes_one_contract_a_side(engine: type) -> None:
    """Default order_size_usd 100 = one contract per level at 61,800: a linear reading
    (one lot worth 61,800 USD) would quote nothing."""
    e = engine(COINM, _params(levels=2, level_size_multiplier=2.0))
    view = MarketView(best_bid=617_999, best_ask=618_001, mid_x2=1_236_000, vol_bps=None)
    qs = e.quote(view, 0)
    assert [(lv.side, lv.qty) for lv in qs.bids + qs.asks] == [
        (BID, 1),
        (BID, 2),
        (ASK, 1),
        (ASK, 2),
    ]


@pytest.mark.parametrize("manager", [OrderManager, CompiledOrderManager])
def test_pretrade_notional_is_contracts_times_contract_size(manager: type) -> None:
    """max_order_usd 1000 (the default): 10 contracts (1,000 USD) pass, 11 are refused
    with the USD notional in the reason, at any price."""
    p = StrategyParams()
    m = manager(COINM.id, COINM, p.orders, p.quote)
    want = QuoteSet(bids=[QuoteLevel(BID, 0, 618_000, 10)], asks=[QuoteLevel(ASK, 0, 618_020, 11)])
    acts, rejections = m.reconcile(want, S, 618_010.0)
    assert [(a.side, a.qty) for a in acts] == [(BID, 10)]
    assert [r.action.qty for r in rejections] == [11]
    assert "order notional 1100.00 > max_order_usd 1000" in rejections[0].reason


def test_never_quote_check_values_an_inverse_lot_at_its_contract_size() -> None:
    p = StrategyParams()
    assert never_quote_warning(COINM, p, (61_590.3, 61_839.9)) is None  # the default
    small = p.model_copy(update={"quote": p.quote.model_copy(update={"order_size_usd": 50.0})})
    assert never_quote_warning(COINM, small, (61_590.3, 61_839.9)) == (
        "binance-coinm:BTCUSD_PERP can never quote: quote.order_size_usd 50 is below one lot, "
        "100.00 USD in the data: every order rounds to 0 lots "
        "(raise it; one lot is 1 contract of 100 USD)"
    )
