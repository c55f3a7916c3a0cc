"""Inventory and PnL of an inverse (coin-margined) contract, exactly, in the coin.

One lot is ``lot_size`` contracts of ``contract_size`` USD. With ``K = lot_size x
contract_size / tick_size`` (a Fraction), q lots at p ticks are worth ``q K / p`` coin,
and every money value is in the settlement coin:

    cash      = sum(side x q x K / p)                  a long's entry value, less exits
    fees      = sum(fee x K / (p x 1e8))               fee units: rate_e8 x lots (core.money)
    realized  = FIFO: n closed from a lot at lp by a fill at p, long: n K (1/lp - 1/p)
    basis     = sum(q x K / lp) of the open lots
    unreal.   = d x (basis - |position| x K / mid)       d = +1 long, -1 short
    total     = cash - position x K / mid - fees       (= realized + unrealized - fees)

(a long of q contracts bought at E and marked at X: ``q cs (1/E - 1/X)``.) The exact
values are Fractions: sums of q/p have no int64 form. The float values the run tables
and the risk inputs use are kept alongside by explicit float formulas that the compiled
loop (operators/inventory/kernel.py) repeats operation for operation, so both engines'
rows agree bit for bit; with ``k = float(K)`` and ``v(q, p) = float(q) x k / float(p)``:

    cash_f += side x v(q, p);  fees_f += float(fee) x k / float(p) / 1e8
    realized_f += d x (v(n, lp) - v(n, p));  basis_f += v(q, p) on open, -= v(n, lp) on
    close, 0.0 once flat
    unrealized_f = d x (basis_f - float(|position|) x k x 2.0 / float(mid_x2))
    total_f = cash_f - float(position) x k x 2.0 / float(mid_x2) - fees_f
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from fractions import Fraction

from core.instruments import InstrumentSpec
from core.money import FEE_SCALE, fraction_to_decimal
from operators.inventory.lots import open_lot

# exact Fractions are shown with this many significant digits (the exact value is kept)
SHOW_DIGITS = 28


def inverse_k(spec: InstrumentSpec) -> Fraction:
    """Coin value of one lot at a price of one tick: lot x contract size / tick."""
    return Fraction(spec.lot_size * spec.contract_size) / Fraction(spec.tick_size)


class InverseInventory:
    """Inventory of an inverse contract: :class:`Inventory`'s interface, values in the coin."""

    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.position = 0  # lots (contracts x lot size), + long
        self.cash = Fraction(0)  # coin
        self.fees = Fraction(0)  # coin (negative = net rebates)
        self.realized = Fraction(0)  # coin
        self.basis = Fraction(0)  # coin value of the open lots at their entry prices
        self.lots: deque[list[int]] = deque()  # open lots [price, qty], oldest first
        self.volume = 0  # lots traded
        self.fills = 0
        self.maker_fills = 0
        self.maker_qty = 0
        self.taker_qty = 0
        self.fee_units = 0  # the fills' fee units (rate_e8 x lots), summed
        self._k = inverse_k(spec)
        self._kf = float(self._k)
        self.cash_f = 0.0
        self.fees_f = 0.0
        self.realized_f = 0.0
        self.basis_f = 0.0

    def _v(self, qty: int, price: int) -> float:
        return float(qty) * self._kf / float(price)

    def fee_float(self, price: int, fee: int) -> float:
        """A fill's fee in the coin as a float: ``float(fee) x k / float(p) / 1e8``."""
        return float(fee) * self._kf / float(price) / 1e8

    def on_fill(self, side: int, price: int, qty: int, fee: int, is_maker: bool) -> None:
        k = self._k
        pos = self.position
        self.cash += Fraction(side * qty) * k / price
        self.fees += Fraction(fee) * k / (price * FEE_SCALE)
        self.cash_f += side * self._v(qty, price)
        self.fees_f += self.fee_float(price, fee)
        self.fee_units += fee
        self.volume += qty
        self.fills += 1
        if is_maker:
            self.maker_fills += 1
            self.maker_qty += qty
        else:
            self.taker_qty += qty
        rest = qty
        if pos != 0 and (pos > 0) != (side > 0):  # closes open lots, oldest first
            direction = 1 if pos > 0 else -1
            lots = self.lots
            while rest and lots:
                lot = lots[0]
                n = min(rest, lot[1])
                self.realized += direction * (Fraction(n) * k / lot[0] - Fraction(n) * k / price)
                self.basis -= Fraction(n) * k / lot[0]
                self.realized_f += direction * (self._v(n, lot[0]) - self._v(n, price))
                self.basis_f -= self._v(n, lot[0])
                rest -= n
                lot[1] -= n
                if not lot[1]:
                    lots.popleft()
        if rest:  # opens (or adds to, or flips into) a position at this price
            open_lot(self.lots, price, rest)
            self.basis += Fraction(rest) * k / price
            self.basis_f += self._v(rest, price)
        if not self.lots:
            self.basis_f = 0.0
        self.position = pos + side * qty

    @property
    def avg_entry(self) -> Fraction:
        """Average entry price (ticks) of the open lots, the contracts' harmonic mean."""
        if self.position == 0:
            return Fraction(0)
        return abs(self.position) * self._k / self.basis

    # -- marks (mid given as 2 x mid in ticks, exact) --------------------------------------
    def _mark(self, lots: int, mid_x2: int) -> Fraction:
        return Fraction(2 * lots) * self._k / mid_x2 if mid_x2 else Fraction(0)

    def unrealized(self, mid_x2: int) -> Fraction:
        if self.position == 0:
            return Fraction(0)
        direction = 1 if self.position > 0 else -1
        return direction * (self.basis - self._mark(abs(self.position), mid_x2))

    def total_units(self, mid_x2: int) -> Fraction:
        """Net PnL in the coin, fees included (exact)."""
        return self.cash - self._mark(self.position, mid_x2) - self.fees

    def total_float(self, mid_x2: int) -> float:
        mark = float(self.position) * self._kf * 2.0 / float(mid_x2) if mid_x2 else 0.0
        return self.cash_f - mark - self.fees_f

    def realized_float(self) -> float:
        return self.realized_f

    def unrealized_float(self, mid_x2: int) -> float:
        if self.position == 0:
            return 0.0
        direction = 1 if self.position > 0 else -1
        mark = float(abs(self.position)) * self._kf * 2.0 / float(mid_x2) if mid_x2 else 0.0
        return direction * (self.basis_f - mark)

    def to_quote(self, value: Fraction | int) -> Decimal:
        """An exact coin value shown as a Decimal (``SHOW_DIGITS`` significant digits)."""
        return fraction_to_decimal(Fraction(value), SHOW_DIGITS)

    def to_float(self, value: Fraction | int) -> float:
        return float(value)

    def fees_quote(self) -> Decimal:
        return self.to_quote(self.fees)

    def volume_usd(self) -> Decimal:
        """USD notional traded: contracts x contract size."""
        return self.spec.lot_size * self.volume * self.spec.contract_size

    def unrealized_bps(self, mid_x2: int) -> float | None:
        """PnL of the open lots relative to their coin cost, in bps (None when flat)."""
        if self.position == 0 or self.basis_f == 0.0:
            return None
        return self.unrealized_float(mid_x2) / self.basis_f * 1e4
