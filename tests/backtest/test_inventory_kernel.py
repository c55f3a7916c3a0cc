"""The compiled inventory against the reference, bit for bit, and its integer limits."""

from __future__ import annotations

import pickle
from decimal import Decimal

import numpy as np
import pytest

from core.errors import MMError
from core.instruments import InstrumentSpec
from operators.inventory.kernel import (
    CompiledInventory,
    inv_headroom_ok,
    inv_on_fill,
    new_inventory,
)
from operators.inventory.tracker import Inventory

SPEC = InstrumentSpec("bybit", "TESTUSDT", Decimal("0.5"), Decimal("0.01"), Decimal("0"))
INTS = ("position", "cash", "fees", "realized", "basis", "volume", "fills", "maker_fills")
INTS += ("maker_qty", "taker_qty")


def _same(ref: Inventory, fast: CompiledInventory, mid_x2: int) -> None:
    for name in INTS:
        assert getattr(fast, name) == getattr(ref, name), name
    assert list(fast.lots) == list(ref.lots)
    assert fast.avg_entry == ref.avg_entry
    assert fast.unrealized(mid_x2) == ref.unrealized(mid_x2)
    assert fast.total_units(mid_x2) == ref.total_units(mid_x2)
    assert fast.to_quote(fast.total_units(mid_x2)) == ref.to_quote(ref.total_units(mid_x2))
    assert fast.fees_quote() == ref.fees_quote()
    # floats by repr: the same bits (and -0.0 is not 0.0)
    assert repr(fast.total_float(mid_x2)) == repr(ref.total_float(mid_x2))
    assert repr(fast.realized_float()) == repr(ref.realized_float())
    assert repr(fast.unrealized_float(mid_x2)) == repr(ref.unrealized_float(mid_x2))
    assert repr(fast.unrealized_bps(mid_x2)) == repr(ref.unrealized_bps(mid_x2))


@pytest.mark.parametrize("scale", [1, 10**6], ids=["small", "large-prices"])
def test_compiled_inventory_matches_reference_on_random_fills(scale: int) -> None:
    """Differential: 5k random fills (adds, partial closes, flips, repeated prices that
    merge lots, maker/taker, rebates and fees, qty 0) at small and at BTC-like prices in
    ticks; every exact integer, the lots, the Fractions/Decimals and every float agree.
    The ring starts at 64 lots and grows through long one-sided runs."""
    rng = np.random.default_rng(5 + scale)
    ref, fast = Inventory(SPEC), CompiledInventory(SPEC)
    trend = 1
    for step in range(5_000):
        if step % 500 == 0:
            trend = -trend
        side = trend if rng.random() < 0.7 else -trend
        base = 100 * scale
        price = int(rng.integers(base - 20 * scale // 10 - 5, base + 20 * scale // 10 + 5))
        if rng.random() < 0.3:
            price = base  # repeated prices merge into the newest lot
        qty = int(rng.integers(0, 9))
        fee = int(rng.integers(-(10**7), 10**7)) * scale
        maker = bool(rng.random() < 0.6)
        ref.on_fill(side, price, qty, fee, maker)
        fast.on_fill(side, price, qty, fee, maker)
        mid_x2 = 2 * base + int(rng.integers(-40, 41)) * max(scale // 10, 1)
        if step % 7 == 0 or abs(ref.position) < 3:
            _same(ref, fast, mid_x2)
        if step == 2500:  # a Bytewax snapshot: the state pickles and carries on
            fast = pickle.loads(pickle.dumps(fast))
    assert max(len(ref.lots), 0) and fast.st.lot_price.shape[0] >= 64
    _same(ref, fast, 2 * 100 * scale)


def test_lot_ring_grows_between_messages_and_keeps_fifo_order() -> None:
    # 200 buys at distinct prices (200 lots), then sells that close them oldest first
    ref, fast = Inventory(SPEC), CompiledInventory(SPEC)
    for i in range(200):
        ref.on_fill(1, 1000 + i, 2, 0, True)
        fast.on_fill(1, 1000 + i, 2, 0, True)
    assert fast.st.lot_price.shape[0] >= 400 and list(fast.lots) == list(ref.lots)
    for _ in range(130):
        ref.on_fill(-1, 1500, 3, 0, True)
        fast.on_fill(-1, 1500, 3, 0, True)
        assert list(fast.lots) == list(ref.lots)
    assert fast.realized == ref.realized and fast.position == ref.position == 10
    # the kernel itself: a full ring inside a message is an error, never a lost lot
    st = new_inventory(4)
    for i in range(4):
        inv_on_fill(st, 1, 10 + i, 1, 0, True)
    assert not inv_headroom_ok(st) and st.rec[0]["err"] == 0
    inv_on_fill(st, 1, 99, 1, 0, True)
    assert st.rec[0]["err"] == 2  # ERR_CAPACITY


def test_int64_overflow_is_a_clear_error() -> None:
    # the reference's Python ints would go on; the kernel refuses rather than wrap
    fast = CompiledInventory(SPEC)
    with pytest.raises(MMError, match="left int64"):
        fast.on_fill(1, 10**10, 10**9, 0, True)  # price x qty = 1e19 notional units
    fast = CompiledInventory(SPEC)
    fast.on_fill(1, 5 * 10**9, 10**9, 0, True)  # 5e18: fits
    with pytest.raises(MMError, match="left int64"):
        fast.on_fill(1, 5 * 10**9, 10**9, 0, True)  # volume (and cash) 1e19: does not
    fast = CompiledInventory(SPEC)
    fast.on_fill(1, 4 * 10**9, 10**9, 0, True)  # long 1e9 lots, cash -4e18
    assert fast.total_float(8 * 10**9) == Inventory_total(4 * 10**9, 10**9, 8 * 10**9)
    with pytest.raises(MMError, match="left int64"):
        fast.total_float(10**10)  # position x mid_x2 = 1e19


def Inventory_total(price: int, qty: int, mid_x2: int) -> float:
    ref = Inventory(SPEC)
    ref.on_fill(1, price, qty, 0, True)
    return ref.total_float(mid_x2)
