"""Inventory and PnL, exactly.

Everything is integer or Fraction arithmetic on ticks and lots:

    cash      = -sum(side x price x qty)              notional units (tick x lot)
    fees      = sum(fee)                               fee units (1e-8 notional units)
    realized  = average-cost PnL of closed quantity    Fraction of notional units
    unreal.   = position x (mid - average entry)       Fraction, mid in half ticks
    total     = cash + position x mid - fees           (= realized + unrealized - fees)

The identity in the last line holds exactly and is tested. Conversion to Decimal or
float happens only for reporting.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from core.instruments import InstrumentSpec
from core.money import FEE_SCALE
from core.timeutil import NS_PER_S

MARKOUT_HORIZONS_S = (1, 5, 30, 60)


class Inventory:
    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.position = 0  # lots, + long
        self.cash = 0  # notional units
        self.fees = 0  # fee units (negative = net rebates)
        self.realized = Fraction(0)
        self.avg_entry = Fraction(0)  # ticks
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
        if pos == 0 or (pos > 0) == (side > 0):
            new = abs(pos) + qty
            self.avg_entry = (self.avg_entry * abs(pos) + price * qty) / new
        else:
            closed = min(qty, abs(pos))
            direction = 1 if pos > 0 else -1
            self.realized += closed * (price - self.avg_entry) * direction
            if qty > abs(pos):  # flipped: the rest opens a new position at this price
                self.avg_entry = Fraction(price)
            elif qty == abs(pos):
                self.avg_entry = Fraction(0)
        self.position = pos + side * qty

    # -- marks (mid given as 2 x mid in ticks, exact) --------------------------------------
    def unrealized(self, mid_x2: int) -> Fraction:
        if self.position == 0:
            return Fraction(0)
        return self.position * (Fraction(mid_x2, 2) - self.avg_entry)

    def total_units(self, mid_x2: int) -> Fraction:
        """Net PnL in notional units, fees included."""
        return self.cash + Fraction(self.position * mid_x2, 2) - Fraction(self.fees, FEE_SCALE)

    def to_quote(self, units: Fraction | int) -> Decimal:
        f = Fraction(units)
        return Decimal(f.numerator) / Decimal(f.denominator) * self._unit

    def to_float(self, units: Fraction | int) -> float:
        return float(units) * self._unit_f

    def fees_quote(self) -> Decimal:
        return Decimal(self.fees) * self._unit / FEE_SCALE

    def unrealized_bps(self, mid_x2: int) -> float | None:
        if self.position == 0 or self.avg_entry == 0:
            return None
        direction = 1 if self.position > 0 else -1
        return float(direction * (Fraction(mid_x2, 2) - self.avg_entry) / self.avg_entry) * 1e4


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
