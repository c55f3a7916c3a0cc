"""Row tuples shared by venue codecs, loaders and the lake writer.

A codec turns one venue message into plain tuples in the column order of the lake
tables (``core.lake.TABLES``); a book message's rows are a :class:`BookRows` that yields
those tuples on demand. Loaders collect them; live sources turn book/trade rows into
``EVENT_DTYPE`` batches with :func:`rows_to_events`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple, overload

import numpy as np

from core.errors import MalformedLine
from core.events import EVENT_DTYPE, FIRST, LAST, Kind

# book_deltas: (recv_ts, exch_ts, ord, seq, prev_seq, first_seq, kind, side, price, qty, flags)
BookRow = tuple[int, int, int, int, int, int, int, int, int, int, int]
# trades: (recv_ts, exch_ts, ord, trade_id, price, qty, side)
TradeRow = tuple[int, int, int, str, int, int, int]
# bbo: (recv_ts, exch_ts, ord, seq, bid_price, bid_qty, ask_price, ask_qty)
BboRow = tuple[int, int, int, int, int, int, int, int]

ROW_BITS = 20  # ord = (message number << ROW_BITS) | row within message
MAX_ROWS_PER_MESSAGE = 1 << ROW_BITS


class BookRows(Sequence[BookRow]):
    """The rows of one book message, held as its shared fields plus its levels.

    It behaves as the list of ``BookRow`` tuples (iterate, index, compare, ``len``), built
    on demand; the importer reads the fields and levels straight into columns instead, so a
    level costs one small tuple, not an 11-field one.
    """

    __slots__ = ("exch_ts", "first_seq", "kind", "levels", "msg_no", "prev_seq", "recv_ts", "seq")

    def __init__(
        self,
        recv_ts: int,
        exch_ts: int,
        msg_no: int,
        seq: int,
        prev_seq: int,
        first_seq: int,
        kind: int,
        levels: list[tuple[int, int, int]],
    ) -> None:
        self.recv_ts = recv_ts
        self.exch_ts = exch_ts
        self.msg_no = msg_no
        self.seq = seq
        self.prev_seq = prev_seq
        self.first_seq = first_seq
        self.kind = kind
        self.levels = levels  # never empty: an empty message has the sentinel level

    def __len__(self) -> int:
        return len(self.levels)

    def _row(self, i: int) -> BookRow:
        side, price, qty = self.levels[i]
        last = len(self.levels) - 1
        return (
            self.recv_ts,
            self.exch_ts,
            (self.msg_no << ROW_BITS) | i,
            self.seq,
            self.prev_seq,
            self.first_seq,
            self.kind,
            side,
            price,
            qty,
            (FIRST if i == 0 else 0) | (LAST if i == last else 0),
        )

    @overload
    def __getitem__(self, i: int) -> BookRow: ...
    @overload
    def __getitem__(self, i: slice) -> list[BookRow]: ...
    def __getitem__(self, i: int | slice) -> BookRow | list[BookRow]:
        if isinstance(i, slice):
            return [self._row(j) for j in range(*i.indices(len(self.levels)))]
        n = len(self.levels)
        if not -n <= i < n:
            raise IndexError("book row index out of range")
        return self._row(i % n)

    def __iter__(self) -> Iterator[BookRow]:
        base = self.msg_no << ROW_BITS
        last = len(self.levels) - 1
        recv, exch, seq, prev, first, kind = (
            self.recv_ts,
            self.exch_ts,
            self.seq,
            self.prev_seq,
            self.first_seq,
            self.kind,
        )
        for i, (side, price, qty) in enumerate(self.levels):
            flags = (FIRST if i == 0 else 0) | (LAST if i == last else 0)
            yield (recv, exch, base | i, seq, prev, first, kind, side, price, qty, flags)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"BookRows({list(self)!r})"


class Parsed(NamedTuple):
    """Rows from one message, per table, for one symbol."""

    symbol: str
    book: Sequence[BookRow]
    trades: list[TradeRow]
    bbo: list[BboRow]


def book_rows(
    recv_ts: int,
    exch_ts: int,
    msg_no: int,
    seq: int,
    prev_seq: int,
    first_seq: int,
    kind: int,
    levels: list[tuple[int, int, int]],
) -> BookRows:
    """Rows of one book message; an empty message keeps one sentinel row (side 0).

    The sentinel matters: a Binance diff with no level changes still advances the
    ``pu`` chain, and dropping it would fake a sequence gap on replay.
    """
    if not levels:
        levels = [(0, 0, 0)]
    if len(levels) > MAX_ROWS_PER_MESSAGE:
        raise MalformedLine(f"message has {len(levels)} levels, more than {MAX_ROWS_PER_MESSAGE}")
    return BookRows(recv_ts, exch_ts, msg_no, seq, prev_seq, first_seq, kind, levels)


def rows_to_events(
    book: Sequence[BookRow], trades: list[TradeRow], bbo: list[BboRow]
) -> np.ndarray:
    """Live path: one message's rows -> an EVENT_DTYPE batch in arrival order."""
    n = len(book) + len(trades) + 2 * len(bbo)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    i = 0
    for r in book:
        ev[i] = (r[6], r[7], r[10], r[1], r[0], r[8], r[9], r[3], r[4], r[5], r[2])
        i += 1
    for t in trades:
        ev[i] = (Kind.TRADE, t[6], FIRST | LAST, t[1], t[0], t[4], t[5], -1, -1, -1, t[2])
        i += 1
    for b in bbo:
        ev[i] = (Kind.BBO, 1, FIRST, b[1], b[0], b[4], b[5], b[3], -1, -1, b[2])
        ev[i + 1] = (Kind.BBO, -1, LAST, b[1], b[0], b[6], b[7], b[3], -1, -1, b[2] + 1)
        i += 2
    return ev
