"""Exact inventory and PnL on hand-computed fills (integer ticks and lots)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from core.instruments import InstrumentSpec
from core.money import fee_units, rate_to_e8
from operators.inventory.kernel import CompiledInventory
from operators.inventory.tracker import Inventory, MarkoutTracker

# tick 0.5, lot 0.01: one notional unit is 0.005 quote
SPEC = InstrumentSpec("bybit", "TESTUSDT", Decimal("0.5"), Decimal("0.01"), Decimal("0"))
MAKER = rate_to_e8("-0.00015")  # -15,000 per 1e8
TAKER = rate_to_e8("0.00045")  # 45,000 per 1e8

InvType = type[Inventory] | type[CompiledInventory]


@pytest.fixture(params=[Inventory, CompiledInventory], ids=["reference", "compiled"])
def Inv(request: pytest.FixtureRequest) -> InvType:
    """Every inventory test runs against the reference and the compiled kernel."""
    return request.param


def test_fifo_realized_unrealized_and_flip(Inv: InvType) -> None:
    inv = Inv(SPEC)
    inv.on_fill(1, 100, 3, 0, True)  # buy 3 @ 100
    inv.on_fill(1, 104, 1, 0, True)  # buy 1 @ 104 -> lots [100 x 3, 104 x 1], basis 404
    assert inv.avg_entry == 101 and inv.position == 4 and inv.basis == 404
    inv.on_fill(-1, 110, 2, 0, True)  # sell 2 @ 110 closes 2 of the 100s: realized 2 x 10 = 20
    assert inv.realized == 20 and inv.position == 2
    assert list(inv.lots) == [[100, 1], [104, 1]] and inv.avg_entry == 102
    # sell 4 @ 90: closes 100 x 1 (-10) and 104 x 1 (-14) -> realized -4; opens short 2 @ 90
    inv.on_fill(-1, 90, 4, 0, True)
    assert inv.realized == -4 and inv.position == -2 and inv.avg_entry == 90
    assert list(inv.lots) == [[90, 2]] and inv.basis == 180
    # cash = -300 - 104 + 220 + 360 = 176; mark at mid 95 (mid_x2 190)
    assert inv.cash == 176
    assert inv.unrealized(190) == -10  # -2 x (95 - 90)
    assert inv.total_units(190) == 176 - 2 * 95 == inv.realized + inv.unrealized(190)
    assert inv.total_float(190) == -14.0 and inv.unrealized_float(190) == -10.0


def test_fifo_identity_holds_on_a_random_walk(Inv: InvType) -> None:
    """cash + position x mid - fees == realized + unrealized - fees, exactly, after every
    fill of a long random sequence that adds, reduces and flips."""
    import random

    rnd = random.Random(3)
    inv = Inv(SPEC)
    for _ in range(2_000):
        side = rnd.choice((1, -1))
        inv.on_fill(side, rnd.randint(90, 110), rnd.randint(1, 7), rnd.randint(-50, 50), True)
        mid_x2 = rnd.randint(180, 220)
        fees = Fraction(inv.fees, 10**8)
        assert inv.total_units(mid_x2) == inv.realized + inv.unrealized(mid_x2) - fees
        assert sum(q for _, q in inv.lots) == abs(inv.position)
        assert inv.basis == sum(p * q for p, q in inv.lots)


def test_half_tick_mid_is_exact(Inv: InvType) -> None:
    inv = Inv(SPEC)
    inv.on_fill(1, 100, 3, 0, True)
    # mid 100.5 ticks (mid_x2 201): unrealized 3 x 0.5 = 3/2 exactly
    assert inv.unrealized(201) == Fraction(3, 2)
    assert inv.to_quote(inv.unrealized(201)) == Decimal("0.0075")  # 1.5 units x 0.005


def test_fees_and_rebates_exact(Inv: InvType) -> None:
    inv = Inv(SPEC)
    buy_fee = fee_units(100, 3, MAKER)  # 300 units x -15,000 = -4,500,000 fee units (a rebate)
    sell_fee = fee_units(102, 3, TAKER)  # 306 x 45,000 = 13,770,000
    assert (buy_fee, sell_fee) == (-4_500_000, 13_770_000)
    inv.on_fill(1, 100, 3, buy_fee, True)
    inv.on_fill(-1, 102, 3, sell_fee, False)
    assert inv.fees == 9_270_000
    # fees in quote: 9,270,000 / 1e8 units x 0.005 = 0.0004635
    assert inv.fees_quote() == Decimal("0.0004635")
    # net = realized 6 units - 0.0927 units = 5.9073 units = 0.0295365 quote
    assert inv.total_units(204) == Fraction(6) - Fraction(9_270_000, 10**8)
    assert inv.to_quote(inv.total_units(204)) == Decimal("0.0295365")
    assert inv.maker_fills == 1 and inv.maker_qty == 3 and inv.taker_qty == 3


def test_unrealized_bps_by_direction(Inv: InvType) -> None:
    inv = Inv(SPEC)
    inv.on_fill(-1, 200, 1, 0, True)  # short at 200; mid 198 -> +100 bps for us
    assert inv.unrealized_bps(396) == 100.0


def test_markouts_take_first_mid_at_or_after_each_horizon() -> None:
    s = 1_000_000_000
    mt = MarkoutTracker()
    mt.add({"id": 1}, ts=0)
    assert mt.on_mid(10.0, s - 1) == []  # not yet due
    assert mt.on_mid(11.0, s) == []  # 1 s resolved with 11.0
    assert mt.on_mid(12.0, 7 * s) == []  # 5 s resolved with 12.0 (first mid after 5 s)
    assert mt.on_mid(13.0, 30 * s) == []
    (row,) = mt.on_mid(14.0, 61 * s)
    assert (row["mid_1s"], row["mid_5s"], row["mid_30s"], row["mid_60s"]) == (
        11.0,
        12.0,
        13.0,
        14.0,
    )


def test_markout_flush_marks_unresolved_as_nan() -> None:
    mt = MarkoutTracker()
    mt.add({"id": 1}, ts=0)
    mt.on_mid(5.0, 2_000_000_000)
    (row,) = mt.flush()
    assert row["mid_1s"] == 5.0 and row["mid_60s"] != row["mid_60s"]  # NaN
    assert mt.pending() == 0
