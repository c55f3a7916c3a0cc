"""Import of CSV market-data files: a header line, then one row per line.

Unlike a capture (one websocket message per line, handled by ``connectors.capture.Loader``)
a CSV row is one level, trade or quote, and a message may span rows (tardis.dev book
rows of one message share ``local_timestamp``), so a CSV loader may hold rows back until
the message ends. One loader instance reads every file of an import, one ``start_file``
at a time, so state that spans files (a book's sequence chain) carries across them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from connectors.capture import I64_MAX, SpecResolver
from connectors.rows import Parsed
from core.errors import MalformedLine
from core.instruments import InstrumentSpec

Output = list[tuple[str, Parsed]]  # (venue, rows of one message)
RowReader = Callable[[int, list[str]], Output]  # (line number, fields) -> completed messages

NS_PER_US = 1_000
NS_PER_S = 1_000_000_000


class CsvLoader(ABC):
    """Turns the rows of CSV files into lake rows, per (venue, message)."""

    format_name: str
    has_recv_time: bool = True  # False: recv_ts is the exchange time (no receive time)

    def __init__(self, resolve_spec: SpecResolver) -> None:
        self._resolve = resolve_spec
        self._specs: dict[tuple[str, str], InstrumentSpec] = {}

    def spec(self, venue: str, symbol: str) -> InstrumentSpec:
        spec = self._specs.get((venue, symbol))
        if spec is None:
            spec = self._specs[(venue, symbol)] = self._resolve(venue, symbol)
        return spec

    @staticmethod
    @abstractmethod
    def sniff(header: list[str]) -> bool:
        """True if ``header`` (the first line's fields) is this format's."""

    @abstractmethod
    def start_file(self, name: str, header: list[str]) -> RowReader:
        """A new file begins: the function that reads its rows (``row`` or a faster one
        for this header); raises DataFormatError if the header cannot be read."""

    @abstractmethod
    def row(self, line_no: int, fields: list[str]) -> Output:
        """Messages completed by this row (often none: the row is held).

        Raises MalformedLine for a bad row (skipped), DataFormatError for a file that
        cannot be imported at all (unsorted, another exchange).
        """

    def end_file(self) -> list[tuple[int, str, Parsed | MalformedLine]]:
        """Messages still held at the end of the file: (line, venue, rows or error)."""
        return []

    def notes(self) -> list[str]:
        """Facts about the imported data the user must know (shown in the report)."""
        return []


def us_to_ns(text: str, column: str) -> int:
    """A tardis microsecond timestamp -> ns."""
    if not text.isdigit():
        raise MalformedLine(f"column {column!r} ({text!r}) is not integer microseconds")
    ns = int(text) * NS_PER_US
    if ns > I64_MAX:
        raise MalformedLine(f"column {column!r} ({text}) is out of the microsecond time range")
    return ns


def seconds_to_ns(text: str, column: str) -> int:
    """Decimal seconds (``1723161599.9123``) -> ns, exactly; finer than 1 ns is refused."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise MalformedLine(f"column {column!r} ({text!r}) is not a time in seconds") from None
    ns = value * NS_PER_S
    if not value.is_finite() or ns != ns.to_integral_value() or not 0 <= ns <= I64_MAX:
        raise MalformedLine(f"column {column!r} ({text!r}) is not a whole-ns time in range")
    return int(ns)


def parse_units(parser: object, text: str, column: str) -> int:
    """A decimal string -> exact integer ticks/lots (``StepScaler``), else the row is bad."""
    try:
        return parser.cache.get(text) or parser(text)  # type: ignore[attr-defined, operator, no-any-return]
    except (ValueError, TypeError) as exc:  # InexactValueError is a ValueError
        raise MalformedLine(f"column {column!r}: {exc}") from None
