"""Inventory and PnL, exactly.

Everything is integer arithmetic on ticks and lots:

    cash      = -sum(side x price x qty)              notional units (tick x lot)
    fees      = sum(fee)                               fee units (1e-8 notional units)
    realized  = FIFO PnL of closed quantity            notional units (an integer)
    basis     = sum(price x qty) of the open lots      notional units
    unreal.   = position x mid - side x basis          half notional units (mid in half ticks)
    total     = cash + position x mid - fees           (= realized + unrealized - fees)

Inverse (coin-margined) contracts keep their PnL in the coin: :mod:`operators.inventory.inverse`
(:func:`inventory_for` picks the class from the spec).

Closed quantity is matched first in, first out: every number stays an integer that
fits int64, so the compiled loop keeps it exactly. (Average-cost accounting keeps a
rational average entry whose denominator grows with every add after a partial close;
its realized/unrealized split differs from FIFO's, the total never does.)
The identity in the last line holds exactly and is tested. Floats are derived only
for reporting and for the float-valued risk inputs, by the explicit formulas of the
``*_float`` methods, which the compiled loop reproduces bit for bit.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from core.instruments import InstrumentSpec
from core.money import FEE_SCALE
from core.timeutil import NS_PER_S
from operators.inventory.inverse import InverseInventory
from operators.inventory.lots import open_lot

MARKOUT_HORIZONS_S = (1, 5, 30, 60)


class Inventory:
    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.position = 0  # lots, + long
        self.cash = 0  # notional units
        self.fees = 0  # fee units (negative = net rebates)
        self.realized = 0  # notional units
        self.basis = 0  # notional units of the open lots (>= 0)
        self.lots: deque[list[int]] = deque()  # open lots [price, qty], oldest first
        self.volume = 0  # notional units traded
        self.fills = 0
        self.maker_fills = 0
        self.maker_qty = 0
        self.taker_qty = 0
        self._unit = spec.tick_size * spec.lot_size
        self._unit_f = float(self._unit)

    def on_fill(self, side: int, price: int, qty: int, fee: int, is_maker: bool) -> None:
        pos = self.position
        self.cash -= side * price * qty
        self.fees += fee
        self.volume += price * qty
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
                self.realized += n * (price - lot[0]) * direction
                self.basis -= n * lot[0]
                rest -= n
                lot[1] -= n
                if not lot[1]:
                    lots.popleft()
        if rest:  # opens (or adds to, or flips into) a position at this price
            open_lot(self.lots, price, rest)
            self.basis += price * rest
        self.position = pos + side * qty

    @property
    def avg_entry(self) -> Fraction:
        """Average price (ticks) of the open lots; 0 when flat."""
        if self.position == 0:
            return Fraction(0)
        return Fraction(self.basis, abs(self.position))

    # -- marks (mid given as 2 x mid in ticks, exact) --------------------------------------
    def _unrealized_x2(self, mid_x2: int) -> int:
        sign = 1 if self.position > 0 else -1
        return self.position * mid_x2 - 2 * sign * self.basis

    def unrealized(self, mid_x2: int) -> Fraction:
        if self.position == 0:
            return Fraction(0)
        return Fraction(self._unrealized_x2(mid_x2), 2)

    def total_units(self, mid_x2: int) -> Fraction:
        """Net PnL in notional units, fees included."""
        return self.cash + Fraction(self.position * mid_x2, 2) - Fraction(self.fees, FEE_SCALE)

    def total_float(self, mid_x2: int) -> float:
        """``total_units`` as a float (notional units), by a formula the kernel repeats."""
        return float(2 * self.cash + self.position * mid_x2) / 2.0 - float(self.fees) / 1e8

    def realized_float(self) -> float:
        return float(self.realized)

    def unrealized_float(self, mid_x2: int) -> float:
        if self.position == 0:
            return 0.0
        return float(self._unrealized_x2(mid_x2)) / 2.0

    def to_quote(self, units: Fraction | int) -> Decimal:
        f = Fraction(units)
        return Decimal(f.numerator) / Decimal(f.denominator) * self._unit

    def to_float(self, units: Fraction | int) -> float:
        return float(units) * self._unit_f

    def fees_quote(self) -> Decimal:
        return Decimal(self.fees) * self._unit / FEE_SCALE

    def volume_usd(self) -> Decimal:
        """Quote-currency notional traded."""
        return self.to_quote(self.volume)

    def unrealized_bps(self, mid_x2: int) -> float | None:
        """PnL of the open lots relative to their cost, in bps (None when flat)."""
        if self.position == 0 or self.basis == 0:
            return None
        direction = 1 if self.position > 0 else -1
        num = direction * (mid_x2 * abs(self.position) - 2 * self.basis)
        return float(num) / float(2 * self.basis) * 1e4


def inventory_for(spec: InstrumentSpec) -> Inventory | InverseInventory:
    """The reference inventory for ``spec``: linear/spot in the quote, inverse in the coin."""
    return InverseInventory(spec) if spec.is_inverse else Inventory(spec)


@dataclass(slots=True)
class PendingMarkout:
    row: dict
    fill_ts: int
    mids: list[float] = field(default_factory=lambda: [float("nan")] * len(MARKOUT_HORIZONS_S))
    resolved: int = 0


class MarkoutTracker:
    """Mid price at fill time + 1 s / 5 s / 30 s / 60 s (the first mid at or after it)."""

    def __init__(self, horizons_s: tuple[int, ...] = MARKOUT_HORIZONS_S) -> None:
        self.horizons = tuple(h * NS_PER_S for h in horizons_s)
        self._queues: list[deque[PendingMarkout]] = [deque() for _ in self.horizons]
        self._open: deque[PendingMarkout] = deque()

    def add(self, row: dict, ts: int) -> None:
        p = PendingMarkout(row, ts)
        for q in self._queues:
            q.append(p)
        self._open.append(p)

    def on_mid(self, mid: float, ts: int) -> list[dict]:
        """Record ``mid`` for every horizon now due; return rows whose horizons are all done."""
        for i, (h, q) in enumerate(zip(self.horizons, self._queues, strict=True)):
            while q and q[0].fill_ts + h <= ts:
                p = q.popleft()
                p.mids[i] = mid
                p.resolved += 1
        done = []
        while self._open and self._open[0].resolved == len(self.horizons):
            done.append(self._finish(self._open.popleft()))
        return done

    def flush(self) -> list[dict]:
        """At the end of the data: emit the rest, unresolved horizons as NaN."""
        for q in self._queues:
            q.clear()
        out = [self._finish(p) for p in self._open]
        self._open.clear()
        return out

    def _finish(self, p: PendingMarkout) -> dict:
        for name, mid in zip(("mid_1s", "mid_5s", "mid_30s", "mid_60s"), p.mids, strict=False):
            p.row[name] = mid
        return p.row

    def pending(self) -> int:
        return len(self._open)
