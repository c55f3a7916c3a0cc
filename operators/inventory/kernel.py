"""Inventory and PnL as a compiled kernel: FIFO lots in a ring, every number an int64.

Same behaviour as :class:`operators.inventory.tracker.Inventory` (the reference, tested
against it bit for bit). The exact integers (position, cash, fees, realized, basis,
volume, counters) live in ``rec``; the edge reads them and computes the reference's
Fractions and Decimals exactly. The ``*_float`` functions repeat the reference's float
formulas operation for operation. Every sum and product that could leave int64 is
checked: on overflow ``rec.err`` becomes ``ERR_OVERFLOW`` and the edge raises.

Open lots (price, qty), oldest first, live in a ring. A fill appends at most one lot;
the loop checks :func:`inv_headroom_ok` between messages and, when it is false, returns
to Python for :func:`grow_inventory` (a bigger copy). A full ring inside a message sets
``ERR_CAPACITY`` instead of losing a lot.

Inverse (coin-margined) contracts (``rec.inverse``): the money values are coin sums of
``q x K / p`` that no int64 holds, so the kernel keeps them as the float64 mirrors
``cash_f``, ``fees_f``, ``realized_f``, ``basis_f`` by the formulas of
:mod:`operators.inventory.inverse` (the reference, repeated operation for operation;
``rec.k = float(K)``); its integer money fields stay 0 and ``volume`` counts lots. The
exact coin values come from the fills at the edge (the compiled trader replays its fill
rows into an :class:`InverseInventory`).
"""

from __future__ import annotations

from collections import deque, namedtuple
from decimal import Decimal
from fractions import Fraction

import numpy as np
from numba import njit

from core.errors import MMError
from core.instruments import InstrumentSpec
from core.money import FEE_SCALE
from core.nb import ERR_CAPACITY, ERR_OVERFLOW, add_overflows, mul_overflows
from operators.inventory.inverse import InverseInventory, inverse_k

INV_REC = np.dtype(
    [
        ("position", np.int64),  # lots, + long
        ("cash", np.int64),  # notional units
        ("fees", np.int64),  # fee units
        ("realized", np.int64),  # notional units
        ("basis", np.int64),  # notional units of the open lots
        ("volume", np.int64),  # notional units traded
        ("fills", np.int64),
        ("maker_fills", np.int64),
        ("maker_qty", np.int64),
        ("taker_qty", np.int64),
        ("head", np.int64),  # ring index of the oldest open lot
        ("count", np.int64),  # open lots
        ("err", np.int64),
        # inverse contracts: float mirrors in the coin (see the module docstring)
        ("inverse", np.bool_),
        ("k", np.float64),  # float(lot x contract size / tick)
        ("cash_f", np.float64),
        ("fees_f", np.float64),
        ("realized_f", np.float64),
        ("basis_f", np.float64),
    ]
)

KInventory = namedtuple("KInventory", ["rec", "lot_price", "lot_qty"])

MIN_LOTS = 64


def new_inventory(capacity: int = MIN_LOTS) -> KInventory:
    capacity = max(int(capacity), 2)
    return KInventory(
        np.zeros(1, dtype=INV_REC), np.zeros(capacity, np.int64), np.zeros(capacity, np.int64)
    )


def new_inventory_for(spec: InstrumentSpec, capacity: int = MIN_LOTS) -> KInventory:
    """An empty inventory valuing ``spec``'s lots (linear, or inverse in the coin)."""
    st = new_inventory(capacity)
    if spec.is_inverse:
        st.rec[0]["inverse"] = True
        st.rec[0]["k"] = float(inverse_k(spec))
    return st


@njit(cache=True, _nrt=False)
def inv_headroom_ok(st: KInventory) -> bool:
    """True while the lot ring is at most half full (a message may append many lots)."""
    return st.rec[0].count <= st.lot_price.shape[0] // 2


def grow_inventory(st: KInventory) -> KInventory:
    """A copy of ``st`` with a ring twice as large (lots re-laid oldest first at 0)."""
    r = st.rec[0]
    cap = st.lot_price.shape[0]
    n = int(r["count"])
    new_cap = cap * 2
    while n > new_cap // 2:
        new_cap *= 2
    out = new_inventory(new_cap)
    out.rec[0] = r
    idx = (int(r["head"]) + np.arange(n)) % cap
    out.lot_price[:n] = st.lot_price[idx]
    out.lot_qty[:n] = st.lot_qty[idx]
    out.rec[0]["head"] = 0
    return out


@njit(cache=True, _nrt=False)
def _lots_take(st: KInventory, n: int) -> None:
    """Take ``n`` lots off the oldest open lot, dropping it when it is used up."""
    r = st.rec[0]
    h = r.head
    st.lot_qty[h] -= n
    if st.lot_qty[h] == 0:
        r.head = (h + 1) % st.lot_price.shape[0]
        r.count -= 1


@njit(cache=True, _nrt=False)
def _lots_add(st: KInventory, price: int, qty: int) -> bool:
    """Open ``qty`` lots at ``price`` (merged into the newest lot at that price).

    False when the ring is full (nothing changed).
    """
    r = st.rec[0]
    cap = st.lot_price.shape[0]
    last = (r.head + r.count - 1) % cap
    if r.count and st.lot_price[last] == price:
        st.lot_qty[last] += qty
        return True
    if r.count == cap:
        return False
    j = (r.head + r.count) % cap
    st.lot_price[j] = price
    st.lot_qty[j] = qty
    r.count += 1
    return True


@njit(cache=True, _nrt=False)
def inv_on_fill(st: KInventory, side: int, price: int, qty: int, fee: int, is_maker: bool) -> None:
    """Book one execution (``Inventory.on_fill``)."""
    r = st.rec[0]
    if r.err:
        return
    if r.inverse:
        _inv_on_fill_inverse(st, side, price, qty, fee, is_maker)
        return
    if mul_overflows(price, qty):
        r.err = ERR_OVERFLOW
        return
    pq = price * qty
    if (
        add_overflows(r.cash, -side * pq)
        or add_overflows(r.fees, fee)
        or add_overflows(r.volume, pq)
        or add_overflows(r.position, side * qty)
        or add_overflows(r.maker_qty + r.taker_qty, qty)
    ):
        r.err = ERR_OVERFLOW
        return
    pos = r.position
    r.cash -= side * pq
    r.fees += fee
    r.volume += pq
    r.fills += 1
    if is_maker:
        r.maker_fills += 1
        r.maker_qty += qty
    else:
        r.taker_qty += qty
    rest = qty
    if pos != 0 and (pos > 0) != (side > 0):  # closes open lots, oldest first
        direction = 1 if pos > 0 else -1
        while rest and r.count:
            lp = st.lot_price[r.head]
            lq = st.lot_qty[r.head]
            n = rest if rest < lq else lq
            diff = price - lp
            if mul_overflows(n, diff):
                r.err = ERR_OVERFLOW
                return
            gain = n * diff * direction
            if add_overflows(r.realized, gain):
                r.err = ERR_OVERFLOW
                return
            r.realized += gain
            r.basis -= n * lp
            rest -= n
            _lots_take(st, n)
    if rest:  # opens (or adds to, or flips into) a position at this price
        add = price * rest
        if add_overflows(r.basis, add):
            r.err = ERR_OVERFLOW
            return
        if not _lots_add(st, price, rest):
            r.err = ERR_CAPACITY
            return
        r.basis += add
    r.position = pos + side * qty


@njit(cache=True, _nrt=False)
def _inv_v(k: float, qty: int, price: int) -> float:
    """Coin value of ``qty`` lots at ``price`` ticks: ``float(q) x k / float(p)``."""
    return float(qty) * k / float(price)


@njit(cache=True, _nrt=False)
def _inv_on_fill_inverse(
    st: KInventory, side: int, price: int, qty: int, fee: int, is_maker: bool
) -> None:
    """``InverseInventory.on_fill``'s float mirrors and the lot ring (exact ints)."""
    r = st.rec[0]
    if (
        add_overflows(r.fees, fee)
        or add_overflows(r.volume, qty)
        or add_overflows(r.position, side * qty)
        or add_overflows(r.maker_qty + r.taker_qty, qty)
    ):
        r.err = ERR_OVERFLOW
        return
    k = r.k
    pos = r.position
    r.cash_f += side * _inv_v(k, qty, price)
    r.fees_f += float(fee) * k / float(price) / 1e8
    r.fees += fee  # fee units, summed (their coin value depends on each fill's price)
    r.volume += qty
    r.fills += 1
    if is_maker:
        r.maker_fills += 1
        r.maker_qty += qty
    else:
        r.taker_qty += qty
    rest = qty
    if pos != 0 and (pos > 0) != (side > 0):  # closes open lots, oldest first
        direction = 1 if pos > 0 else -1
        while rest and r.count:
            lp = st.lot_price[r.head]
            lq = st.lot_qty[r.head]
            n = rest if rest < lq else lq
            r.realized_f += direction * (_inv_v(k, n, lp) - _inv_v(k, n, price))
            r.basis_f -= _inv_v(k, n, lp)
            rest -= n
            _lots_take(st, n)
    if rest:  # opens (or adds to, or flips into) a position at this price
        if not _lots_add(st, price, rest):
            r.err = ERR_CAPACITY
            return
        r.basis_f += _inv_v(k, rest, price)
    if r.count == 0:
        r.basis_f = 0.0
    r.position = pos + side * qty


@njit(cache=True, _nrt=False)
def _inv_mark(r: np.void, lots: int, mid_x2: int) -> float:
    """``float(lots) x k x 2.0 / float(mid_x2)``: coin value of ``lots`` at the mid."""
    if mid_x2 == 0:
        return 0.0
    return float(lots) * r.k * 2.0 / float(mid_x2)


@njit(cache=True, _nrt=False)
def inv_unrealized_x2(st: KInventory, mid_x2: int) -> int:
    """``position x mid_x2 - 2 x sign x basis`` (twice the unrealized PnL in units)."""
    r = st.rec[0]
    sign = 1 if r.position > 0 else -1
    if mul_overflows(r.position, mid_x2) or mul_overflows(2 * sign, r.basis):
        r.err = ERR_OVERFLOW
        return 0
    a = r.position * mid_x2
    b = 2 * sign * r.basis
    if add_overflows(a, -b):
        r.err = ERR_OVERFLOW
        return 0
    return a - b


@njit(cache=True, _nrt=False)
def inv_total_float(st: KInventory, mid_x2: int) -> float:
    """``Inventory.total_float``: net PnL in notional units (inverse: coin), fees included."""
    r = st.rec[0]
    if r.inverse:
        return r.cash_f - _inv_mark(r, r.position, mid_x2) - r.fees_f
    if mul_overflows(2, r.cash) or mul_overflows(r.position, mid_x2):
        r.err = ERR_OVERFLOW
        return 0.0
    a = 2 * r.cash
    b = r.position * mid_x2
    if add_overflows(a, b):
        r.err = ERR_OVERFLOW
        return 0.0
    return float(a + b) / 2.0 - float(r.fees) / 1e8


@njit(cache=True, _nrt=False)
def inv_realized_float(st: KInventory) -> float:
    if st.rec[0].inverse:
        return st.rec[0].realized_f
    return float(st.rec[0].realized)


@njit(cache=True, _nrt=False)
def inv_unrealized_float(st: KInventory, mid_x2: int) -> float:
    r = st.rec[0]
    if r.position == 0:
        return 0.0
    if r.inverse:
        direction = 1 if r.position > 0 else -1
        return direction * (r.basis_f - _inv_mark(r, abs(r.position), mid_x2))
    return float(inv_unrealized_x2(st, mid_x2)) / 2.0


@njit(cache=True, _nrt=False)
def inv_unrealized_bps(st: KInventory, mid_x2: int) -> float:
    """``Inventory.unrealized_bps``; NaN where the reference returns None (flat)."""
    r = st.rec[0]
    if r.inverse:
        if r.position == 0 or r.basis_f == 0.0:
            return np.nan
        return inv_unrealized_float(st, mid_x2) / r.basis_f * 1e4
    if r.position == 0 or r.basis == 0:
        return np.nan
    direction = 1 if r.position > 0 else -1
    ap = abs(r.position)
    if mul_overflows(mid_x2, ap) or mul_overflows(2, r.basis):
        r.err = ERR_OVERFLOW
        return np.nan
    a = mid_x2 * ap
    b = 2 * r.basis
    if add_overflows(a, -b):
        r.err = ERR_OVERFLOW
        return np.nan
    num = direction * (a - b)
    return float(num) / float(b) * 1e4


@njit(cache=True, _nrt=False)
def inv_has_unrealized_bps(st: KInventory) -> bool:
    """False where the reference's ``unrealized_bps`` is None."""
    r = st.rec[0]
    if r.inverse:
        return r.position != 0 and r.basis_f != 0.0
    return r.position != 0 and r.basis != 0


@njit(cache=True, _nrt=False)
def inv_cash_float(st: KInventory, unit: float) -> float:
    """The PnL row's cash: ``cash x unit`` (quote), or the coin mirror (inverse)."""
    r = st.rec[0]
    return r.cash_f if r.inverse else r.cash * unit


@njit(cache=True, _nrt=False)
def inv_fees_float(st: KInventory, unit: float) -> float:
    """The PnL row's fees: ``fees x unit / 1e8`` (quote), or the coin mirror (inverse)."""
    r = st.rec[0]
    return r.fees_f if r.inverse else r.fees * unit / 1e8


def raise_inventory_error(st: KInventory) -> None:
    err = int(st.rec[0]["err"])
    if err == ERR_OVERFLOW:
        raise MMError(
            "inventory arithmetic left int64 (position, cash, fees or PnL too large)",
            "check the fills for bogus prices or sizes, or use the reference engine",
        )
    if err == ERR_CAPACITY:
        raise MMError(
            "inventory lot ring filled up inside one message",
            "call grow_inventory between messages (inv_headroom_ok)",
        )


def inv_lots(st: KInventory) -> list[list[int]]:
    """Open lots ``[price, qty]``, oldest first (the reference's ``lots`` deque)."""
    r = st.rec[0]
    cap = st.lot_price.shape[0]
    head, n = int(r["head"]), int(r["count"])
    return [
        [int(st.lot_price[(head + i) % cap]), int(st.lot_qty[(head + i) % cap])] for i in range(n)
    ]


class CompiledInventory:
    """:class:`Inventory`'s interface over the kernel; exact values from the exact ints.

    Inverse contracts: the exact coin values come from ``exact``, an
    :class:`InverseInventory` fed the same fills (by :meth:`on_fill`, or by the compiled
    trader from its fill rows); the floats and the integers from the kernel.
    """

    def __init__(self, spec: InstrumentSpec, exact: InverseInventory | None = None) -> None:
        self.spec = spec
        self.st = new_inventory_for(spec)
        self._unit = spec.tick_size * spec.lot_size
        self._unit_f = float(self._unit)
        self.exact = exact if exact is not None or not spec.is_inverse else InverseInventory(spec)

    def _int(self, name: str) -> int:
        return int(self.st.rec[0][name])

    def _money(self, name: str) -> int | Fraction:
        """An exact money value: the kernel's integer, or the exact ledger's coin value."""
        return getattr(self.exact, name) if self.exact is not None else self._int(name)

    position = property(lambda self: self._int("position"))
    cash = property(lambda self: self._money("cash"))
    fees = property(lambda self: self._money("fees"))
    realized = property(lambda self: self._money("realized"))
    basis = property(lambda self: self._money("basis"))
    volume = property(lambda self: self._int("volume"))
    fills = property(lambda self: self._int("fills"))
    maker_fills = property(lambda self: self._int("maker_fills"))
    maker_qty = property(lambda self: self._int("maker_qty"))
    taker_qty = property(lambda self: self._int("taker_qty"))

    @property
    def lots(self) -> deque[list[int]]:
        return deque(inv_lots(self.st))

    def _check(self) -> None:
        if self.st.rec[0]["err"]:
            raise_inventory_error(self.st)

    def on_fill(self, side: int, price: int, qty: int, fee: int, is_maker: bool) -> None:
        inv_on_fill(self.st, int(side), int(price), int(qty), int(fee), bool(is_maker))
        self._check()
        if self.exact is not None:
            self.exact.on_fill(int(side), int(price), int(qty), int(fee), bool(is_maker))
        if not inv_headroom_ok(self.st):
            self.st = grow_inventory(self.st)

    @property
    def avg_entry(self) -> Fraction:
        if self.exact is not None:
            return self.exact.avg_entry
        if self.position == 0:
            return Fraction(0)
        return Fraction(self.basis, abs(self.position))

    def unrealized(self, mid_x2: int) -> Fraction:
        if self.exact is not None:
            return self.exact.unrealized(mid_x2)
        if self.position == 0:
            return Fraction(0)
        sign = 1 if self.position > 0 else -1
        return Fraction(self.position * mid_x2 - 2 * sign * self.basis, 2)

    def total_units(self, mid_x2: int) -> Fraction:
        if self.exact is not None:
            return self.exact.total_units(mid_x2)
        return self.cash + Fraction(self.position * mid_x2, 2) - Fraction(self.fees, FEE_SCALE)

    def total_float(self, mid_x2: int) -> float:
        v = inv_total_float(self.st, int(mid_x2))
        self._check()
        return float(v)

    def realized_float(self) -> float:
        return float(inv_realized_float(self.st))

    def unrealized_float(self, mid_x2: int) -> float:
        v = inv_unrealized_float(self.st, int(mid_x2))
        self._check()
        return float(v)

    def to_quote(self, units: Fraction | int) -> Decimal:
        if self.exact is not None:
            return self.exact.to_quote(units)
        f = Fraction(units)
        return Decimal(f.numerator) / Decimal(f.denominator) * self._unit

    def to_float(self, units: Fraction | int) -> float:
        if self.exact is not None:
            return float(units)
        return float(units) * self._unit_f

    def fees_quote(self) -> Decimal:
        if self.exact is not None:
            return self.exact.fees_quote()
        return Decimal(self.fees) * self._unit / FEE_SCALE

    def volume_usd(self) -> Decimal:
        """Quote-currency notional traded (inverse: contracts x contract size, USD)."""
        if self.exact is None:
            return self.to_quote(self.volume)
        return self.spec.lot_size * self.volume * self.spec.contract_size

    def unrealized_bps(self, mid_x2: int) -> float | None:
        v = inv_unrealized_bps(self.st, int(mid_x2))
        self._check()
        return None if not inv_has_unrealized_bps(self.st) else float(v)
