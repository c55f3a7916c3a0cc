"""Instrument specs and exact price/size <-> integer tick/lot conversion.

Inside the system prices are integer ticks and sizes integer lots. Conversions from
venue strings or Decimals refuse anything inexact: silently rounding a recorded price
would corrupt a book, and rounding an order price is a decision for the quoting code
(which rounds *away from the touch* explicitly), never an accident.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    Context,
    Decimal,
    DecimalException,
    Inexact,
    InvalidOperation,
    Rounded,
)
from fractions import Fraction

from core.errors import InexactValueError, MMError

BID = 1
ASK = -1

KINDS = ("linear", "inverse", "spot")

# Largest price in ticks and size in lots a conversion accepts: floor(sqrt(2**63 - 1)), so
# the notional ticks x lots of any two accepted values fits an int64 (the lake's integer
# columns, DuckDB's BIGINT arithmetic, numba kernels). That is 1,000x the largest value in
# the bundled captures (6.2 M ticks, 2.0 M lots); anything above it is a corrupt number
# (1e15, 1e30, 1e400), refused like an off-tick one instead of overflowing later. Fees
# (notional x a rate in 1e-8 units) are computed per fill of our own orders in Python ints
# (core.money); a bound that kept them inside int64 for *market* rows too would refuse
# real data (the bundled Binance snapshot has a level of 2.1e12 notional units).
MAX_UNITS = 3_037_000_499

# str -> units entries a converter keeps (bounded memory on a day of distinct sizes)
CACHE_ENTRIES = 200_000

# exact arithmetic for the conversion: any rounding (e.g. a remainder below the exponent
# range) is an error, never a silent zero
_EXACT = Context(prec=60, traps=[InvalidOperation, Inexact, Rounded])


def _to_decimal(value: Decimal | str | int, what: str, inst: str) -> Decimal:
    if isinstance(value, float):
        raise InexactValueError(
            f"{what} {value!r} for {inst} is a float",
            "pass a str or Decimal; floats cannot carry exact prices",
        )
    if isinstance(value, bool):  # an int to Python, never a price or size
        raise InexactValueError(f"{what} {value!r} for {inst} is not a number")
    try:
        d = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise InexactValueError(f"{what} {value!r} for {inst} is not a number") from None
    if not d.is_finite():
        raise InexactValueError(f"{what} {value!r} for {inst} is not finite")
    if d < 0:
        raise InexactValueError(f"{what} {value!r} for {inst} is negative")
    return d


def _to_decimal_lenient(value: Decimal | float | str, what: str, inst: str) -> Decimal:
    """Like ``_to_decimal`` but accepts floats (rounding inputs come from float maths)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InexactValueError(f"{what} {value!r} for {inst} is not finite")
        if value < 0:
            raise InexactValueError(f"{what} {value!r} for {inst} is negative")
        return Decimal(str(value))
    return _to_decimal(value, what, inst)


class StepScaler:
    """Converts decimal strings to integer multiples of ``step``, exactly, with a cache.

    Recorded data repeats the same price strings millions of times; the cache makes the
    exact conversion cost a dict lookup.
    """

    __slots__ = ("_cache", "_max", "inst", "step", "what")

    def __init__(self, step: Decimal, what: str, inst: str) -> None:
        self.step = step
        self.what = what
        self.inst = inst
        self._max = _EXACT.multiply(step, MAX_UNITS)
        self._cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        units = self._cache.get(text)
        if units is None:
            units = self.convert(text)
            if type(text) is str:  # never a float or bool that compares equal to an int key
                if len(self._cache) >= CACHE_ENTRIES:
                    self._cache.clear()
                self._cache[text] = units
        return units

    def convert(self, value: Decimal | str | int) -> int:
        d = _to_decimal(value, self.what, self.inst)
        if d > self._max:
            unit = "ticks" if self.what == "price" else "lots"
            raise InexactValueError(
                f"{self.what} {value} for {self.inst} is out of range: "
                f"more than {MAX_UNITS:,} {unit} of {self.step}"
            )
        try:
            quotient, remainder = _EXACT.divmod(d, self.step)
        except DecimalException:
            raise InexactValueError(
                f"{self.what} {value} for {self.inst} cannot be converted exactly "
                f"to {self.what_unit} {self.step}"
            ) from None
        if remainder != 0:
            raise InexactValueError(
                f"{self.what} {value} is not a multiple of {self.what_unit} {self.step} "
                f"for {self.inst}",
                f"round it onto the {self.what_unit} grid first",
            )
        return int(quotient)

    @property
    def cache(self) -> dict[str, int]:
        """Strings converted so far (read-only use: hot loops look values up directly)."""
        return self._cache

    @property
    def what_unit(self) -> str:
        return "tick size" if self.what == "price" else "lot size"


@dataclass(frozen=True)
class InstrumentSpec:
    """Trading rules of one instrument on one venue.

    ``price_sig_figs`` models venues such as Hyperliquid where a price may carry at most
    N significant figures (integers always allowed) on top of the decimal-places tick.

    ``kind`` is how one lot is valued. A *linear* (or spot) lot of ``lot_size`` base coin
    is worth ``price x lot_size`` quote currency and PnL settles in the quote currency. An
    *inverse* (coin-margined) lot is ``lot_size`` contracts of ``contract_size`` quote
    currency (USD) each: its USD notional does not depend on the price, its value in the
    coin is ``qty x contract_size / price``, and PnL settles in the coin
    (``qty x contract_size x (1/entry - 1/exit)`` for a long).
    """

    venue: str
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal = Decimal(0)
    price_sig_figs: int | None = None
    quote_currency: str = "USDT"
    kind: str = "linear"
    contract_size: Decimal = Decimal(1)
    settle_currency: str = ""  # default: the quote currency (linear, spot)
    _price: StepScaler = field(init=False, repr=False, compare=False)
    _size: StepScaler = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("tick_size", "lot_size", "min_notional"):
            raw = getattr(self, name)
            try:
                value = Decimal(raw) if not isinstance(raw, Decimal) else raw
            except (InvalidOperation, TypeError, ValueError):
                raise MMError(
                    f"{name} {raw!r} for {self.venue}:{self.symbol} is not a number"
                ) from None
            if not value.is_finite() or value < 0 or (name != "min_notional" and value == 0):
                shown = repr(str(raw)) if isinstance(raw, Decimal) else repr(raw)
                raise MMError(f"{name} {shown} for {self.venue}:{self.symbol} must be positive")
            object.__setattr__(self, name, value)
        if self.kind not in KINDS:
            raise MMError(
                f"instrument kind {self.kind!r} for {self.venue}:{self.symbol} is not known",
                f"use one of {', '.join(KINDS)}",
            )
        try:
            cs = Decimal(str(self.contract_size))
        except (InvalidOperation, TypeError, ValueError):
            cs = Decimal("NaN")
        if not cs.is_finite() or cs <= 0:
            raise MMError(
                f"contract_size {self.contract_size!r} for {self.venue}:{self.symbol} "
                "must be positive"
            )
        if self.kind != "inverse" and cs != 1:
            raise MMError(
                f"contract_size {cs} for {self.kind} {self.venue}:{self.symbol}: only inverse "
                "contracts have a contract size"
            )
        object.__setattr__(self, "contract_size", cs)
        if not self.settle_currency:
            if self.kind == "inverse":
                raise MMError(
                    f"inverse {self.venue}:{self.symbol} needs its settle_currency (the coin)"
                )
            object.__setattr__(self, "settle_currency", self.quote_currency)
        object.__setattr__(self, "_price", StepScaler(self.tick_size, "price", self.id))
        object.__setattr__(self, "_size", StepScaler(self.lot_size, "size", self.id))

    def __getstate__(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "venue",
                "symbol",
                "tick_size",
                "lot_size",
                "min_notional",
                "price_sig_figs",
                "quote_currency",
                "kind",
                "contract_size",
                "settle_currency",
            )
        }

    def __setstate__(self, state: dict) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)
        self.__post_init__()

    @property
    def id(self) -> str:
        return f"{self.venue}:{self.symbol}"

    # -- exact conversions -------------------------------------------------------------
    def price_to_ticks(self, price: Decimal | str | int) -> int:
        """Exact price -> ticks; raises InexactValueError for off-tick prices."""
        if isinstance(price, str):
            return self._price(price)
        return self._price.convert(price)

    def size_to_lots(self, size: Decimal | str | int) -> int:
        """Exact size -> lots; raises InexactValueError for off-lot sizes."""
        if isinstance(size, str):
            return self._size(size)
        return self._size.convert(size)

    def ticks_to_price(self, ticks: int) -> Decimal:
        return self.tick_size * ticks

    def lots_to_size(self, lots: int) -> Decimal:
        return self.lot_size * lots

    def contract_terms(self) -> tuple[Decimal, Decimal, str, Decimal]:
        """What stored rows mean: two specs that differ here cannot share a lake."""
        return (self.tick_size, self.lot_size, self.kind, self.contract_size)

    def describe_terms(self) -> str:
        text = f"tick {self.tick_size} / lot {self.lot_size}"
        if self.kind != "linear":
            text += f" / {self.kind}"
        if self.kind == "inverse":
            text += f" contract {self.contract_size} {self.quote_currency}"
        return text

    @property
    def is_inverse(self) -> bool:
        return self.kind == "inverse"

    @property
    def pnl_currency(self) -> str:
        """The currency PnL, fees and cash settle in (the coin of an inverse contract)."""
        return self.settle_currency

    def notional(self, ticks: int, lots: int) -> Decimal:
        """Quote-currency (USD) notional: price x size, or contracts x contract size."""
        if self.kind == "inverse":
            return self.lot_size * lots * self.contract_size
        return self.tick_size * ticks * self.lot_size * lots

    def settle_value(self, ticks: int, lots: int) -> Fraction:
        """Exact value of ``lots`` at ``ticks`` in the settlement currency.

        Linear: price x size (quote). Inverse: contracts x contract size / price (coin).
        """
        if self.kind == "inverse":
            if ticks <= 0:
                raise InexactValueError(f"price {ticks} ticks for {self.id} must be positive")
            return Fraction(self.lot_size * lots * self.contract_size) / Fraction(
                self.tick_size * ticks
            )
        return Fraction(self.tick_size * ticks * self.lot_size * lots)

    @property
    def price_parser(self) -> StepScaler:
        """Cached str -> ticks converter for hot import loops."""
        return self._price

    @property
    def size_parser(self) -> StepScaler:
        return self._size

    # -- rounding for order entry ------------------------------------------------------
    def round_price(self, price: Decimal | float | str, side: int) -> int:
        """Round a desired price onto the venue's grid *away from the touch*.

        A bid rounds down and an ask rounds up, so rounding never makes a quote more
        aggressive than intended (and never makes a post-only order cross).
        """
        d = _to_decimal_lenient(price, "price", self.id)
        quantum = self._price_quantum(d)
        mode = ROUND_FLOOR if side == BID else ROUND_CEILING
        rounded = (d / quantum).to_integral_value(rounding=mode) * quantum
        if rounded <= 0:
            if side == BID:  # lifting it to one tick would make the bid more aggressive
                raise InexactValueError(
                    f"bid price {price} for {self.id} rounds down to zero",
                    f"no bid can be placed below one tick ({self.tick_size})",
                )
            rounded = quantum
        return int(rounded / self.tick_size)

    def _price_quantum(self, price: Decimal) -> Decimal:
        if self.price_sig_figs is None or price <= 0:
            return self.tick_size
        exponent = price.adjusted()  # floor(log10(price))
        sig_quantum = Decimal(1).scaleb(exponent - self.price_sig_figs + 1)
        sig_quantum = min(sig_quantum, Decimal(1))  # integer prices are always allowed
        return max(self.tick_size, sig_quantum)

    def round_ticks(self, price_ticks: float, side: int) -> int:
        """Fast path of :meth:`round_price` for a price already in (fractional) ticks.

        Used by the quoting engine on every requote; exact for tick-grid venues and
        honours significant-figure venues through the price quantum.
        """
        quantum = 1
        if self.price_sig_figs is not None and price_ticks > 0:
            quantum = self._quantum_ticks(price_ticks)
        if side == BID:  # may be 0 or less: the caller must not quote it
            return math.floor(price_ticks / quantum + 1e-9) * quantum
        return max(math.ceil(price_ticks / quantum - 1e-9), 1) * quantum

    def _quantum_ticks(self, price_ticks: float) -> int:
        price = Decimal(repr(price_ticks)) * self.tick_size
        return int(self._price_quantum(price) / self.tick_size)

    def is_valid_price_ticks(self, ticks: int) -> bool:
        """True if ``ticks`` is an orderable price (tick grid and significant figures)."""
        if ticks <= 0:
            return False
        price = self.ticks_to_price(ticks)
        return price % self._price_quantum(price) == 0

    def floor_size_to_lots(self, size: Decimal | float | str) -> int:
        """Largest whole number of lots not above ``size`` (never oversize an order)."""
        d = _to_decimal_lenient(size, "size", self.id)
        return int((d / self.lot_size).to_integral_value(rounding=ROUND_FLOOR))

    def to_dict(self) -> dict[str, str | int | None]:
        return {
            "venue": self.venue,
            "symbol": self.symbol,
            "tick_size": str(self.tick_size),
            "lot_size": str(self.lot_size),
            "min_notional": str(self.min_notional),
            "price_sig_figs": self.price_sig_figs,
            "quote_currency": self.quote_currency,
            "kind": self.kind,
            "contract_size": str(self.contract_size),
            "settle_currency": self.settle_currency,
        }

    @classmethod
    def from_dict(cls, d: dict) -> InstrumentSpec:
        sig = d.get("price_sig_figs")
        return cls(
            venue=str(d["venue"]),
            symbol=str(d["symbol"]),
            tick_size=Decimal(str(d["tick_size"])),
            lot_size=Decimal(str(d["lot_size"])),
            min_notional=Decimal(str(d.get("min_notional") or 0)),
            price_sig_figs=None if sig is None or sig != sig else int(sig),
            quote_currency=str(d.get("quote_currency") or "USDT"),
            kind=str(d.get("kind") or "linear"),
            contract_size=Decimal(str(d.get("contract_size") or 1)),
            settle_currency=str(d.get("settle_currency") or ""),
        )


def instrument_id(venue: str, symbol: str) -> str:
    return f"{venue}:{symbol}"


def split_instrument_id(inst_id: str) -> tuple[str, str]:
    venue, sep, symbol = inst_id.partition(":")
    if not sep or not venue or not symbol:
        raise MMError(f"bad instrument id {inst_id!r}", "use VENUE:SYMBOL, e.g. bybit:BTCUSDT")
    return venue, symbol


VENUES = ("bybit", "binance-usdm", "binance-coinm", "hyperliquid")


class _Catalog(Mapping[str, InstrumentSpec]):
    """Read-only view of the instrument catalog (``core.instrument_catalog``), read lazily.

    The entries live in ``core/catalog/instruments.json`` and the user's
    ``$MM_HOME/instruments.json`` (which wins); nothing is read until first use.
    """

    def _specs(self) -> dict[str, InstrumentSpec]:
        from core.instrument_catalog import catalog

        return catalog()

    def __getitem__(self, inst: str) -> InstrumentSpec:
        venue, _, symbol = inst.partition(":")
        spec = known_instrument(venue, symbol) if venue and symbol else None
        if spec is None:
            raise KeyError(inst)
        return spec

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs())

    def __len__(self) -> int:
        return len(self._specs())

    def __repr__(self) -> str:
        return f"<instrument catalog: {len(self)} instruments>"


# Specs of the instruments mm knows without being told: the bundled recordings' and the
# common ones of each venue, as the venues published them. Live connectors fetch current
# specs from the venue instead.
KNOWN_INSTRUMENTS: Mapping[str, InstrumentSpec] = _Catalog()


def known_instrument(venue: str, symbol: str) -> InstrumentSpec | None:
    """The catalog's spec of ``venue:symbol`` (the user's entry if any), else None."""
    from core.instrument_catalog import lookup

    return lookup(venue, symbol)
