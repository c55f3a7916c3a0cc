"""tardis.dev book rows -> book messages with a sequencing the venue's book sync accepts.

tardis ``incremental_book_L2`` has one row per level change and no update ids: the rows
of one message share ``local_timestamp``, a false -> true flip of ``is_snapshot`` starts
a new snapshot (the book is cleared), and amount 0 deletes a level. The replay's sync
checks venue rules on ``seq``/``prev_seq``/``first_seq`` (operators.book.sync), so each
file gets a chain that satisfies all of them without faking gaps:

* a snapshot gets ``seq = S`` (its receive ns, raised above the chain if need be),
  kind BOOK_SNAPSHOT;
* each later message ``seq = last + 1``, ``prev_seq = first_seq = last``: Bybit's
  ``u + 1`` rule, Binance's ``U <= lastUpdateId <= u`` anchor and ``pu`` chain all hold;
* messages before a file's first snapshot cannot be chained to anything (tardis has no
  ids to prove continuity with another file), so they start with ``prev_seq = -2``:
  the sync reports a gap, or drops them before its first snapshot, never applies them
  silently. tardis' daily files begin with a snapshot, so this is only a split file.

Chains are per file, so a file's rows do not depend on which other files are imported
with it or in what order (idempotent re-imports of any subset).

A venue whose sync takes every message as a full book (Hyperliquid) gets full books:
the levels are kept here and each message is emitted as a snapshot of the whole book.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.rows import Parsed, book_rows
from core.events import ASK, BID, Kind

NO_PREV = -2  # prev_seq of a message no snapshot in its file anchors


@dataclass
class _Chain:
    """Per-(venue, symbol) sequencing state within one file."""

    last: int | None = None
    in_snapshot: bool = False
    full: dict[tuple[int, int], int] | None = None  # snapshot-only venues: the whole book


@dataclass
class _Pending:
    """The message being collected: rows sharing (local_timestamp, is_snapshot)."""

    line_no: int
    recv: int
    exch: int
    snapshot: bool
    levels: dict[tuple[int, int], int] = field(default_factory=dict)


class BookAssembler:
    """Collects one file's book rows per instrument into messages."""

    def __init__(self, snapshot_only: bool) -> None:
        self.snapshot_only = snapshot_only
        self.unanchored = 0  # messages before the first snapshot of their file
        self._chains: dict[str, _Chain] = {}
        self._pending: dict[str, _Pending] = {}

    def add(
        self,
        line_no: int,
        symbol: str,
        recv: int,
        exch: int,
        snapshot: bool,
        level: tuple[int, int, int],
    ) -> _Pending | None:
        """Add one row; returns the message it completed (of ``symbol``), if any."""
        done = None
        p = self._pending.get(symbol)
        if p is not None and (p.recv != recv or p.snapshot != snapshot):
            done = p
            p = None
        if p is None:
            p = self._pending[symbol] = _Pending(line_no, recv, exch, snapshot)
        side, price, qty = level
        p.levels[(side, price)] = qty  # a level twice in one message: the last row wins
        return done

    def held(self) -> list[tuple[str, _Pending]]:
        """Messages still being collected (the end of the file)."""
        out = sorted(self._pending.items(), key=lambda kv: kv[1].line_no)
        self._pending.clear()
        return out

    def rows(self, symbol: str, p: _Pending) -> Parsed | None:
        """The lake rows of a complete message (None: nothing a replay could use)."""
        chain = self._chains.get(symbol)
        if chain is None:
            chain = self._chains[symbol] = _Chain()
        new_snapshot = p.snapshot and not chain.in_snapshot
        chain.in_snapshot = p.snapshot
        levels = [(side, price, qty) for (side, price), qty in p.levels.items()]
        if self.snapshot_only:
            return self._full_book(symbol, chain, p, new_snapshot, levels)
        if new_snapshot:
            seq = p.recv if chain.last is None else max(p.recv, chain.last + 1)
            chain.last = seq
            return Parsed(
                symbol,
                book_rows(p.recv, p.exch, p.line_no, seq, -1, -1, Kind.BOOK_SNAPSHOT, levels),
                [],
                [],
            )
        if chain.last is None:
            self.unanchored += 1
            seq, prev = p.recv, NO_PREV
        else:
            seq, prev = chain.last + 1, chain.last
        chain.last = seq
        return Parsed(
            symbol,
            book_rows(p.recv, p.exch, p.line_no, seq, prev, prev, Kind.BOOK_DELTA, levels),
            [],
            [],
        )

    def _full_book(
        self,
        symbol: str,
        chain: _Chain,
        p: _Pending,
        new_snapshot: bool,
        levels: list[tuple[int, int, int]],
    ) -> Parsed | None:
        if new_snapshot:
            chain.full = {}
        if chain.full is None:
            self.unanchored += 1
            return None  # no book to apply the change to
        book = chain.full
        for side, price, qty in levels:
            if qty:
                book[(side, price)] = qty
            else:
                book.pop((side, price), None)
        bids = sorted(((s, px, q) for (s, px), q in book.items() if s == BID), key=lambda r: -r[1])
        asks = sorted(((s, px, q) for (s, px), q in book.items() if s == ASK), key=lambda r: r[1])
        seq = p.recv if chain.last is None else max(p.recv, chain.last + 1)
        chain.last = seq
        return Parsed(
            symbol,
            book_rows(p.recv, p.exch, p.line_no, seq, -1, -1, Kind.BOOK_SNAPSHOT, bids + asks),
            [],
            [],
        )
