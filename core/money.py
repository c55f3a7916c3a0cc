"""Exact money arithmetic on integers.

Notional of ``ticks`` x ``lots`` is the integer ``ticks * lots`` in *notional units*
(one unit = tick_size x lot_size of quote currency). Fee rates are integers in parts
per 1e8, so a fee is ``notional_units * rate_e8`` *fee units* (1e-8 notional units):
exact, with no rounding anywhere between a fill and the PnL report. Python ints do
not overflow; Decimal appears only when a value is shown to a human or a venue.

Inverse (coin-margined) contracts pay fees in the coin on the USD notional, which does
not depend on the price: a fill's fee units are ``lots x rate_e8`` and its coin value is
``fee_units x lot x contract_size / (1e8 x price)``, an exact Fraction
(:func:`fee_value`).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Context, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.instruments import InstrumentSpec

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


def inverse_fee_units(qty_lots: int, rate_e8: int) -> int:
    """Fee of one inverse execution in fee units (1e-8 of a lot's USD value, paid in coin)."""
    return qty_lots * rate_e8


def fill_fee_units(inverse: bool, price_ticks: int, qty_lots: int, rate_e8: int) -> int:
    """The fee units of one execution on a linear or an inverse instrument."""
    if inverse:
        return inverse_fee_units(qty_lots, rate_e8)
    return fee_units(price_ticks, qty_lots, rate_e8)


def min_notional_units(spec: InstrumentSpec) -> int:
    """The venue minimum notional in notional units, rounded up.

    Linear: units of tick x lot (``price x qty`` of an order is compared with it).
    Inverse: lots (an order's USD notional, ``qty x lot x contract_size``, does not depend
    on its price, so ``qty`` is compared with it).
    """
    unit = spec.lot_size * spec.contract_size if spec.is_inverse else spec.tick_size * spec.lot_size
    return int((spec.min_notional / unit).to_integral_value(rounding=ROUND_CEILING))


def notional_units(inverse: bool, price_ticks: int, qty_lots: int) -> int:
    """An order's notional in the units of :func:`min_notional_units`."""
    return qty_lots if inverse else price_ticks * qty_lots


def fee_value(spec: InstrumentSpec, price_ticks: int, fee: int) -> Fraction:
    """Exact value of ``fee`` fee units in the settlement currency (quote, or the coin)."""
    if spec.is_inverse:
        return (
            Fraction(fee)
            * Fraction(spec.lot_size * spec.contract_size)
            / (Fraction(spec.tick_size) * price_ticks * FEE_SCALE)
        )
    return Fraction(fee) * Fraction(spec.tick_size * spec.lot_size) / FEE_SCALE


def fraction_to_decimal(value: Fraction, digits: int = 28) -> Decimal:
    """An exact Fraction shown as a Decimal of ``digits`` significant digits."""
    ctx = Context(prec=digits)
    return ctx.divide(Decimal(value.numerator), Decimal(value.denominator))


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
