"""Exact money arithmetic on integers.

Notional of ``ticks`` x ``lots`` is the integer ``ticks * lots`` in *notional units*
(one unit = tick_size x lot_size of quote currency). Fee rates are integers in parts
per 1e8, so a fee is ``notional_units * rate_e8`` *fee units* (1e-8 notional units):
exact, with no rounding anywhere between a fill and the PnL report. Python ints do
not overflow; Decimal appears only when a value is shown to a human or a venue.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from core.errors import ConfigError

FEE_SCALE = 10**8  # fee units per notional unit


def rate_to_e8(rate: float | str | Decimal, name: str = "fee rate") -> int:
    """Fee rate (e.g. -0.00015 for a 1.5 bp rebate) -> integer parts per 1e8, exactly."""
    d = Decimal(str(rate))
    scaled = d * FEE_SCALE
    if scaled != scaled.to_integral_value():
        raise ConfigError(f"{name} {rate} has more than 8 decimal places")
    return int(scaled)


def fee_units(price_ticks: int, qty_lots: int, rate_e8: int) -> int:
    """Fee of one execution in fee units; negative is a rebate received."""
    return price_ticks * qty_lots * rate_e8


def units_to_quote(
    notional_units: int | Fraction, tick_size: Decimal, lot_size: Decimal
) -> Decimal:
    """Notional units (possibly a Fraction) -> quote currency Decimal for display."""
    if isinstance(notional_units, Fraction):
        return (
            Decimal(notional_units.numerator)
            / Decimal(notional_units.denominator)
            * tick_size
            * lot_size
        )
    return Decimal(notional_units) * tick_size * lot_size


def fee_units_to_quote(fee: int, tick_size: Decimal, lot_size: Decimal) -> Decimal:
    return Decimal(fee) * tick_size * lot_size / FEE_SCALE
