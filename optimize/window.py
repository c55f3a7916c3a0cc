"""Time windows (``START/END``) and their market events, loaded once per process.

A trial replays the same events many times, so a window is read from the lake once into
message-aligned batches (cut exactly as ``mm backtest``'s replay source cuts them).

A window that starts after the day's first book message would begin without a book
(the recording's snapshot lies before it) and never quote, so it is *seeded*: the book
messages before the start are replayed through the venue's own sync rules and the
window begins with one synthetic snapshot of that book. The trader sees no trade, quote
or fill from before the start: nothing of the training window leaks into a test window
except the order book a live bot would also have had.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import MMError
from core.event_merge import stream_batches
from core.events import BID, EVENT_DTYPE, FIRST, LAST, Kind, message_bounds
from core.instruments import InstrumentSpec
from core.lake import day_window, event_days, iter_events_day, read_instrument
from core.lake_span import require_data
from core.timeutil import date_to_ns, ns_to_iso, parse_time

BATCH_ROWS = 16_384  # the replay source's batch size: the same batches as `mm backtest`


class WindowError(MMError):
    """A bad ``START/END`` interval or a set of windows that cannot be used together."""


@dataclass(frozen=True)
class Window:
    """A half-open time range ``[start_ns, end_ns)``."""

    start_ns: int
    end_ns: int

    @property
    def text(self) -> str:
        return f"{_iso(self.start_ns)}/{_iso(self.end_ns)}"

    @property
    def length_ns(self) -> int:
        return self.end_ns - self.start_ns

    def shifted(self, ns: int) -> Window:
        return Window(self.start_ns + ns, self.end_ns + ns)


def _iso(ns: int) -> str:
    return ns_to_iso(ns).replace("+00:00", "Z")


def parse_window(text: str, what: str = "window") -> Window:
    """``START/END`` in ISO 8601 (UTC unless a zone is given); END must be after START."""
    start, sep, end = str(text).partition("/")
    if not sep or not start.strip() or not end.strip():
        raise WindowError(
            f"{what} {text!r} is not an interval",
            "write START/END, e.g. 2024-08-08T23:54:30Z/2024-08-08T23:57:30Z",
        )
    lo, hi = parse_time(start.strip()), parse_time(end.strip())
    assert lo is not None and hi is not None
    if lo >= hi:
        raise WindowError(
            f"{what} {text!r} is empty: its start is not before its end",
            "give a start earlier than the end",
        )
    return Window(lo, hi)


def check_train_test(train: Window, test: Window) -> None:
    """The test window must lie wholly after the training window: never score on tuned data."""
    if test.start_ns < train.end_ns:
        raise WindowError(
            f"the test window {test.text} overlaps the training window {train.text}",
            "start the test window at or after the end of the training window",
        )


@dataclass
class WindowData:
    """One window's events as replay batches, plus what the evaluator needs to know."""

    spec: InstrumentSpec
    window: Window
    batches: list[np.ndarray]
    seeded: bool

    @property
    def events(self) -> int:
        return sum(len(b) for b in self.batches)


def check_window(lake: Path, venue: str, symbol: str, window: Window, what: str = "window") -> None:
    """Raise LakeError (naming the lake's span) if the window holds no data; reads footers."""
    try:
        require_data(lake, venue, symbol, window.start_ns, window.end_ns)
    except MMError as exc:
        raise type(exc)(f"{what}: {exc.message}", exc.hint) from None


def load_window(
    lake: Path, venue: str, symbol: str, window: Window, what: str = "window"
) -> WindowData:
    """The window's events (raises LakeError naming the lake's span if it holds none)."""
    check_window(lake, venue, symbol, window, what)
    spec = read_instrument(lake, venue, symbol)
    chunks: list[np.ndarray] = []
    for day in event_days(lake, venue, symbol, window.start_ns, window.end_ns):
        chunks.extend(
            iter_events_day(
                lake, venue, symbol, day, day_window(day, window.start_ns), window.end_ns
            )
        )
    seed = _seed_snapshot(lake, spec, window.start_ns, chunks)
    if seed is not None:
        chunks.insert(0, seed)
    batches = list(stream_batches(iter(chunks), BATCH_ROWS))
    return WindowData(spec, window, batches, seed is not None)


def _seed_snapshot(
    lake: Path, spec: InstrumentSpec, start_ns: int, chunks: list[np.ndarray]
) -> np.ndarray | None:
    """A snapshot of the book as of ``start_ns``, or None when none is needed or possible.

    Needed when the start's day holds book messages before the start. The snapshot's
    update id is chosen so that the venue's sync accepts the next delta as its successor.
    """
    from operators.book.kernel import CompiledBookSync

    venue, symbol = spec.venue, spec.symbol
    day = next(iter(event_days(lake, venue, symbol, start_ns, start_ns + 1)), None)
    if day is None or start_ns <= date_to_ns(day):
        return None
    prefix = list(iter_events_day(lake, venue, symbol, day, None, start_ns, ("book_deltas",)))
    if not prefix:
        return None
    sync = CompiledBookSync(venue)
    for ev in prefix:
        lo = 0
        for hi in message_bounds(ev):
            sync.on_events(ev, lo, int(hi))
            lo = int(hi)
    if not sync.usable:
        return None
    bids = sync.book.depth(BID, 1 << 30)
    asks = sync.book.depth(-BID, 1 << 30)
    if not bids and not asks:
        return None
    seq = sync.last_seq
    if venue == "binance-usdm":  # the anchor rule wants U <= lastUpdateId of the next diff
        nxt = _first_book_delta(chunks)
        if nxt is not None:
            seq = int(nxt["first_seq"])
    first = _first_row(chunks)
    ts = start_ns if first is None else int(first["recv_ts"])
    rows = np.zeros(len(bids) + len(asks), dtype=EVENT_DTYPE)
    levels = [(BID, p, q) for p, q in bids] + [(-BID, p, q) for p, q in asks]
    arr = np.asarray(levels, dtype=np.int64).reshape(-1, 3)
    rows["kind"] = Kind.BOOK_SNAPSHOT
    rows["side"], rows["price"], rows["qty"] = arr[:, 0], arr[:, 1], arr[:, 2]
    rows["recv_ts"] = ts
    rows["exch_ts"] = ts if first is None else int(first["exch_ts"])
    rows["seq"], rows["prev_seq"], rows["first_seq"] = seq, -1, -1
    rows["ord"] = -1 if first is None else int(first["ord"]) - 1
    rows["flags"][0] |= FIRST
    rows["flags"][-1] |= LAST
    return rows


def _first_row(chunks: list[np.ndarray]) -> np.void | None:
    for c in chunks:
        if len(c):
            return c[0]
    return None


def _first_book_delta(chunks: list[np.ndarray]) -> np.void | None:
    for c in chunks:
        idx = np.flatnonzero(c["kind"] == Kind.BOOK_DELTA)
        if len(idx):
            return c[idx[0]]
    return None
