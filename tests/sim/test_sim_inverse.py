"""The simulated venue on an inverse contract: fees on contracts, minimum notional in USD.

Spec: Binance COIN-M style, tick 0.1, one lot = one contract of 100 USD, PnL in BTC.
Book: bids 600000 (60000.0) x 50 / asks 600010 x 50. Fees: maker -1.5 bp (rebate),
taker 4.5 bp, so a fill's fee units are ``lots x rate_e8`` at any price.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from sim_harness import ASK, BID, BUY, Harness

from core.events import OrderStatus, OrderUpdate
from core.instruments import InstrumentSpec
from core.money import fee_value
from operators.inventory.inverse import InverseInventory
from operators.inventory.kernel import CompiledInventory

SPEC = InstrumentSpec(
    "binance-coinm",
    "BTCUSD_PERP",
    Decimal("0.1"),
    Decimal("1"),
    Decimal("200"),  # two contracts
    quote_currency="USD",
    kind="inverse",
    contract_size=Decimal(100),
    settle_currency="BTC",
)


@pytest.fixture
def spec() -> InstrumentSpec:
    return SPEC


def test_round_trip_maker_then_taker_fees_and_coin_pnl(h: Harness) -> None:
    """Buy 3 as maker at 60000.0, sell 3 as taker into a 60100.0 bid: maker fee units
    3 x -15000, taker 3 x 45000; in BTC -300 x 1.5 bp / 60000 and 300 x 4.5 bp / 60100.
    Both inventories then hold realized 300 (1/60000 - 1/60100) less those fees."""
    h.snapshot(0, bids=[(600_000, 50)], asks=[(600_010, 50)])
    h.place(1, "b", BID, 600_000, 3)
    h.delta(11, [(ASK, 600_020, 1)])
    h.trade(12, -BUY, 600_000, 60)  # a sell of 60: 50 ahead, then our 3
    h.delta(20, [(BID, 600_000, 0), (BID, 601_000, 40), (ASK, 600_010, 0), (ASK, 601_010, 9)])
    h.place(21, "s", ASK, 601_000, 3, post_only=False)  # crosses the 60100.0 bid: a taker
    h.delta(31, [(ASK, 601_020, 1)])
    fills = h.fills(1_000)
    assert [(f.client_id, f.side, f.price, f.qty, f.is_maker, f.fee) for f in fills] == [
        ("b", BID, 600_000, 3, True, -45_000),
        ("s", ASK, 601_000, 3, False, 135_000),
    ]
    assert fee_value(SPEC, 600_000, -45_000) == Fraction(-45, 1000) / 60000
    assert fee_value(SPEC, 601_000, 135_000) == Fraction(135, 1000) / 60100
    fees = Fraction(-45, 1000) / 60000 + Fraction(135, 1000) / 60100
    realized = 300 * (Fraction(1, 60000) - Fraction(1, 60100))
    for inv in (InverseInventory(SPEC), CompiledInventory(SPEC)):
        for f in fills:
            inv.on_fill(f.side, f.price, f.qty, f.fee, f.is_maker)
        assert inv.position == 0
        assert inv.realized == realized and inv.fees == fees
        assert inv.total_units(1_202_000) == realized - fees == Fraction(16403, 2404000000)
    assert h.venue.stats.fee_units == 90_000


def test_minimum_notional_is_in_usd_whatever_the_price(h: Harness) -> None:
    """200 USD minimum = 2 contracts: 1 contract is refused at any price, 2 accepted
    (a linear reading, price x qty, would accept 1 lot at 60000.0)."""
    h.snapshot(0, bids=[(600_000, 50)], asks=[(600_010, 50)])
    h.place(1, "one", BID, 599_000, 1)
    h.place(1, "two", BID, 599_000, 2)
    h.delta(11, [(ASK, 600_020, 1)])
    got = {r.client_id: r for r in h.poll(100) if isinstance(r, OrderUpdate)}
    assert got["one"].status == OrderStatus.REJECTED
    assert "notional" in got["one"].reason
    assert got["two"].status == OrderStatus.NEW
