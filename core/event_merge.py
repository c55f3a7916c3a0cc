"""Merge sorted event streams into one replay stream, a bounded chunk at a time.

A day of one instrument is several sorted runs (one per table file). Replaying it must
not hold the day in memory, yet must give exactly the order of a stable sort of all runs
concatenated by ``(recv_ts, ord)``: ties go to the earlier run, then the earlier row.
So the merge keys every row by ``(recv_ts, ord, run index, row)`` and repeatedly emits
everything up to the smallest "last buffered key" of the open runs; nothing still unread
can sort before that. Runs are opened only when the merge reaches their first time, so
files that follow each other in time are read one after the other, not all at once.

A chunk boundary can fall inside a venue message (rows flagged FIRST..LAST);
:func:`align_messages` holds such a tail back so every chunk ends on a message end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from core.errors import LakeError
from core.events import EVENT_DTYPE, LAST


@dataclass(frozen=True)
class SortedRun:
    """One source of events sorted by ``(recv_ts, ord)``, opened when first needed.

    ``first_recv`` is a lower bound of its first ``recv_ts`` (from file statistics);
    ``name`` appears in the error raised if the run turns out not to be sorted.
    """

    first_recv: int
    open: Callable[[], Iterator[np.ndarray]]
    name: str = "run"


class _Cursor:
    """The buffered, not yet emitted head of one open run."""

    __slots__ = ("buf", "chunks", "index", "last_ord", "last_recv", "name")

    def __init__(self, index: int, run: SortedRun) -> None:
        self.index = index
        self.name = run.name
        self.chunks = run.open()
        self.buf = np.zeros(0, dtype=EVENT_DTYPE)
        self.last_recv = self.last_ord = -(1 << 63)

    def fill(self) -> bool:
        """Make ``buf`` non-empty; False when the run is exhausted."""
        while not len(self.buf):
            chunk = next(self.chunks, None)
            if chunk is None:
                return False
            if not len(chunk):
                continue
            _check_sorted(chunk, self.last_recv, self.last_ord, self.name)
            self.buf = chunk
            self.last_recv = int(chunk["recv_ts"][-1])
            self.last_ord = int(chunk["ord"][-1])
        return True

    def key(self) -> tuple[int, int, int]:
        return self.last_recv, self.last_ord, self.index

    def cut(self, recv: int, order: int, inclusive: bool) -> int:
        """Rows of ``buf`` before key (recv, order) (``inclusive``: or equal to it)."""
        r = self.buf["recv_ts"]
        lo = int(np.searchsorted(r, recv, "left"))
        hi = int(np.searchsorted(r, recv, "right"))
        if lo == hi:
            return lo
        o = self.buf["ord"][lo:hi]
        return lo + int(np.searchsorted(o, order, "right" if inclusive else "left"))


def _check_sorted(chunk: np.ndarray, prev_recv: int, prev_ord: int, name: str) -> None:
    r = chunk["recv_ts"]
    o = chunk["ord"]
    dr = np.diff(r)
    bad = (dr < 0) | ((dr == 0) & (np.diff(o) < 0))
    first_bad = int(r[0]) < prev_recv or (int(r[0]) == prev_recv and int(o[0]) < prev_ord)
    if first_bad or bad.any():
        raise LakeError(
            f"{name} is not sorted by (recv_ts, ord)",
            "the lake writers always sort; rewrite the partition with `mm compact`",
        )


def merge_runs(runs: list[SortedRun]) -> Iterator[np.ndarray]:
    """Chunks of all runs' events in stable ``(recv_ts, ord)`` order (runs in list order)."""
    pending = sorted(range(len(runs)), key=lambda i: (runs[i].first_recv, i))
    pending.reverse()  # pop() takes the run that starts first
    active: list[_Cursor] = []  # open runs, kept in run order
    while True:
        if not active:
            if not pending:
                return
            _open(pending.pop(), runs, active)
            continue
        front = min(active, key=_Cursor.key)
        # a run not yet open may start at or before the frontier: open it first
        if pending and runs[pending[-1]].first_recv <= front.last_recv:
            _open(pending.pop(), runs, active)
            continue
        recv, order = front.last_recv, front.last_ord
        parts = []
        for c in active:
            n = len(c.buf) if c is front else c.cut(recv, order, c.index < front.index)
            if n:
                parts.append(c.buf[:n])
                c.buf = c.buf[n:]
        if len(parts) == 1:
            yield parts[0]
        else:
            out = np.concatenate(parts)
            yield out[np.lexsort((out["ord"], out["recv_ts"]))]  # stable: run order on ties
        active = [c for c in active if c.fill()]


def _open(i: int, runs: list[SortedRun], active: list[_Cursor]) -> None:
    c = _Cursor(i, runs[i])
    if c.fill():
        active.append(c)
        active.sort(key=lambda a: a.index)


def align_messages(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """The same rows re-cut so that every chunk ends on a message's LAST row.

    The tail of a chunk after its last message end waits for the next chunk; whatever
    is left at the end (a message cut off in the recording) comes out as it is.
    """
    carry = np.zeros(0, dtype=EVENT_DTYPE)
    for chunk in chunks:
        if len(carry):
            chunk = np.concatenate((carry, chunk))
        ends = np.flatnonzero(chunk["flags"] & LAST)
        if not len(ends):
            carry = chunk
            continue
        stop = int(ends[-1]) + 1
        carry = chunk[stop:]
        yield chunk[:stop]
    if len(carry):
        yield carry


def stream_batches(chunks: Iterable[np.ndarray], target_rows: int) -> Iterator[np.ndarray]:
    """``message_batches`` over a stream of chunks: the very same batches as over their
    concatenation, holding only about one batch plus one chunk at a time."""
    target = max(target_rows, 1)  # 0 would yield empty batches forever
    buf = np.zeros(0, dtype=EVENT_DTYPE)
    for chunk in chunks:
        buf = np.concatenate((buf, chunk)) if len(buf) else chunk
        ends = np.flatnonzero(buf["flags"] & LAST) + 1
        start = 0
        while True:
            want = start + target
            if want >= len(buf):
                break  # more rows may still join this batch
            i = int(np.searchsorted(ends, want))
            if i >= len(ends):
                break  # its message does not end in what we have yet
            stop = int(ends[i])
            yield buf[start:stop]
            start = stop
        buf = buf[start:]
    start, n = 0, len(buf)
    ends = np.flatnonzero(buf["flags"] & LAST) + 1
    while start < n:
        want = start + target
        if want >= n:
            yield buf[start:]
            return
        i = int(np.searchsorted(ends, want))
        stop = int(ends[i]) if i < len(ends) else n
        yield buf[start:stop]
        start = stop


def drop_rows(chunks: Iterator[np.ndarray], n: int) -> tuple[Iterator[np.ndarray], int]:
    """Skip the first ``n`` rows of a chunk stream: (the rest, rows still to skip)."""
    for chunk in chunks:
        if n < len(chunk):
            return _chain(chunk[n:], chunks), 0
        n -= len(chunk)
    return iter(()), n


def _chain(head: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    if len(head):
        yield head
    yield from rest
