"""Inverse (coin-margined) inventory: hand-computed coin PnL, and compiled = reference."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from core.instruments import known_instrument
from core.money import fee_value, fill_fee_units, min_notional_units, notional_units
from operators.inventory.inverse import InverseInventory
from operators.inventory.kernel import CompiledInventory
from operators.inventory.tracker import inventory_for

SPEC = known_instrument("binance-coinm", "BTCUSD_PERP")  # tick 0.1, 1 contract = 100 USD
MAKER_E8, TAKER_E8 = 10_000, 50_000  # 1 bp and 5 bp


def _both() -> list[InverseInventory | CompiledInventory]:
    return [InverseInventory(SPEC), CompiledInventory(SPEC)]


def test_round_trip_with_maker_and_taker_fees_exact() -> None:
    """Buy 3 contracts (300 USD) at 60000.0 as maker, sell them at 60100.0 as taker:
    realized = 300 (1/60000 - 1/60100) BTC, fees 300 x 1 bp / 60000 + 300 x 5 bp / 60100
    BTC, net = realized - fees; flat, so nothing is unrealized."""
    buy_fee = fill_fee_units(True, 600_000, 3, MAKER_E8)
    sell_fee = fill_fee_units(True, 601_000, 3, TAKER_E8)
    assert (buy_fee, sell_fee) == (30_000, 150_000)  # lots x rate, whatever the price
    assert fee_value(SPEC, 600_000, buy_fee) == Fraction(300, 60000) / 10_000
    realized = 300 * (Fraction(1, 60000) - Fraction(1, 60100))
    fees = Fraction(3, 100) / 60000 + Fraction(15, 100) / 60100
    assert realized == Fraction(1, 120200) and fees == Fraction(1, 2000000) + Fraction(3, 1202000)
    for inv in _both():
        inv.on_fill(1, 600_000, 3, buy_fee, True)
        assert inv.position == 3
        assert inv.cash == Fraction(300, 60000)
        # marked at 60050.0 (mid_x2 in ticks): 300 (1/60000 - 1/60050)
        assert inv.unrealized(1_201_000) == 300 * (Fraction(1, 60000) - Fraction(1, 60050))
        inv.on_fill(-1, 601_000, 3, sell_fee, False)
        assert inv.position == 0 and not inv.lots
        assert inv.realized == realized
        assert inv.fees == fees
        assert inv.unrealized(1_201_000) == 0
        assert inv.total_units(1_201_000) == realized - fees
        assert realized - fees == Fraction(6399, 1202000000)
        assert inv.to_quote(realized - fees) == Decimal("0.000005323627287853577371048252912")
        assert (inv.fills, inv.maker_fills, inv.maker_qty, inv.taker_qty) == (2, 1, 3, 3)
        assert inv.volume_usd() == Decimal(600)
        # the floats: the documented formulas, close to the exact values
        assert inv.realized_float() == pytest.approx(float(realized), rel=1e-12)
        assert inv.total_float(1_201_000) == pytest.approx(float(realized - fees), rel=1e-12)


def test_short_partial_close_fifo_and_marks() -> None:
    """Sell 2 at 50000.0 then 2 at 40000.0 (short 4), buy 3 at 45000.0: FIFO closes the
    50000 lot (gain 200 (1/45000 - 1/50000)) and 1 of the 40000 lot (a loss of
    100 (1/40000 - 1/45000)); one contract stays short from 40000."""
    for inv in _both():
        inv.on_fill(-1, 500_000, 2, 0, True)
        inv.on_fill(-1, 400_000, 2, 0, True)
        inv.on_fill(1, 450_000, 3, 0, True)
        assert inv.position == -1
        assert list(inv.lots) == [[400_000, 1]]
        gain = 200 * (Fraction(1, 45000) - Fraction(1, 50000))
        loss = 100 * (Fraction(1, 40000) - Fraction(1, 45000))
        assert inv.realized == gain - loss
        assert inv.avg_entry == 400_000
        mid_x2 = 2 * 420_000  # 42000.0: the short from 40000 loses 100 (1/40000 - 1/42000)
        assert inv.unrealized(mid_x2) == -100 * (Fraction(1, 40000) - Fraction(1, 42000))
        assert inv.total_units(mid_x2) == inv.realized + inv.unrealized(mid_x2)


def test_compiled_matches_reference_bit_for_bit_on_random_fills() -> None:
    """3k random fills: positions, lots and exact Fractions equal; every float by repr."""
    rng = np.random.default_rng(11)
    ref, fast = InverseInventory(SPEC), CompiledInventory(SPEC)
    for step in range(3_000):
        side = 1 if rng.random() < (0.65 if (step // 300) % 2 else 0.35) else -1
        price = int(rng.integers(590_000, 630_000))
        qty = int(rng.integers(1, 12))
        fee = fill_fee_units(True, price, qty, MAKER_E8 if step % 3 else -TAKER_E8)
        ref.on_fill(side, price, qty, fee, bool(step % 3))
        fast.on_fill(side, price, qty, fee, bool(step % 3))
        mid_x2 = 2 * price + int(rng.integers(-50, 50))
        assert fast.position == ref.position
        assert list(fast.lots) == list(ref.lots)
        for name in ("total_float", "unrealized_float", "unrealized_bps"):
            assert repr(getattr(fast, name)(mid_x2)) == repr(getattr(ref, name)(mid_x2)), name
        assert repr(fast.realized_float()) == repr(ref.realized_float())
    assert fast.total_units(1_200_000) == ref.total_units(1_200_000)
    assert fast.realized == ref.realized and fast.fees == ref.fees
    # the floats stay within rounding of the exact values
    assert ref.total_float(1_200_000) == pytest.approx(float(ref.total_units(1_200_000)), abs=1e-9)


def test_inventory_for_picks_the_kind_and_the_minimum_notional_is_in_lots() -> None:
    assert isinstance(inventory_for(SPEC), InverseInventory)
    bybit = known_instrument("bybit", "BTCUSDT")
    assert type(inventory_for(bybit)).__name__ == "Inventory"
    # inverse: min notional in lots of lot x contract size USD; an order's notional is qty
    from dataclasses import replace

    spec = replace(SPEC, min_notional=Decimal(250))
    assert min_notional_units(spec) == 3  # ceil(250 / 100)
    assert notional_units(True, 600_000, 2) == 2 and notional_units(False, 600_000, 2) == 1_200_000
