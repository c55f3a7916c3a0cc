"""Book sync as a compiled kernel: the venue rules of :mod:`operators.book.sync` over a KBook.

Same states, statistics and reasons as the reference (differential-tested against it):
Bybit's update-id chain and ``u == 1`` re-sends, Binance's buffered diffs with the
``U <= lastUpdateId <= u`` anchor and ``pu`` chain, Hyperliquid's snapshot-only rule, and
the generic snapshot + delta rules. A message is rows ``ev[start:end]`` of an
``EVENT_DTYPE`` batch; Binance diffs received out of sync are copied into a ring
(``buf_*``, bounded like the reference's ``deque(maxlen=5000)``) until a snapshot.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from core.events import EVENT_DTYPE, FIRST, LAST, RESET_TEXT
from core.l2book_kernel import CompiledBook, KBook, book_clear, book_set, is_crossed
from core.reasons import R, StringTable, reason_fields, record_reason
from operators.book.sync import BookStats, SyncState

RULE_BASE, RULE_BYBIT, RULE_BINANCE, RULE_SNAPSHOT_ONLY = 0, 1, 2, 3
VENUE_RULES = {
    "bybit": RULE_BYBIT,
    "binance-usdm": RULE_BINANCE,
    "binance-coinm": RULE_BINANCE,  # COIN-M diffs chain like USD-M's (U / u / pu)
    "hyperliquid": RULE_SNAPSHOT_ONLY,
}
BUFFER = 5_000  # Binance diffs kept while waiting for a snapshot (the reference's maxlen)

SYNC_REC = np.dtype(
    [
        ("rule", np.int64),
        ("state", np.int64),
        ("last_seq", np.int64),
        ("crossed", np.bool_),
        ("has_anchor", np.bool_),
        ("anchor", np.int64),
        ("messages", np.int64),
        ("snapshots", np.int64),
        ("gaps", np.int64),
        ("resyncs", np.int64),
        ("n_crossed", np.int64),
        ("dropped_unsynced", np.int64),
        ("dropped_stale", np.int64),
        *reason_fields("lr_"),  # last_reason
        # buffered Binance diffs: message ring and row ring
        ("buf_head", np.int64),  # oldest message slot
        ("buf_len", np.int64),
        ("row_head", np.int64),  # first row of the oldest message
        ("row_len", np.int64),
        ("err", np.int64),
    ]
)
BUF_MSG = np.dtype(
    [
        ("seq", np.int64),
        ("prev_seq", np.int64),
        ("first_seq", np.int64),
        ("rows", np.int64),
    ]
)
BUF_ROW = np.dtype([("side", np.int8), ("price", np.int64), ("qty", np.int64)])

KSync = namedtuple("KSync", ["rec", "buf", "rows"])


def new_sync(venue: str, row_capacity: int = 1 << 14) -> KSync:
    rec = np.zeros(1, dtype=SYNC_REC)
    r = rec[0]
    r["rule"] = VENUE_RULES.get(venue, RULE_BASE)
    r["state"] = int(SyncState.WAITING)
    r["last_seq"] = -1
    r["lr_code"] = int(R.SYNC_NO_SNAPSHOT)
    r["lr_tok"] = -1
    buf = np.zeros(BUFFER if r["rule"] == RULE_BINANCE else 1, dtype=BUF_MSG)
    return KSync(rec, buf, np.zeros(row_capacity if r["rule"] == RULE_BINANCE else 1, BUF_ROW))


@njit(cache=True, _nrt=False)
def sync_headroom_ok(sy: KSync, rows: int) -> bool:
    """Room to buffer a diff of ``rows`` rows (only Binance buffers)."""
    r = sy.rec[0]
    if r.rule != RULE_BINANCE:
        return True
    return r.row_len + rows <= len(sy.rows)


def grow_sync(sy: KSync, rows: int) -> KSync:
    """A copy with a row ring large enough for ``rows`` more buffered rows."""
    r = sy.rec[0]
    cap = len(sy.rows)
    need = int(r["row_len"]) + rows
    new_cap = max(cap * 2, need)
    out = np.zeros(new_cap, BUF_ROW)
    n, head = int(r["row_len"]), int(r["row_head"])
    idx = (head + np.arange(n)) % cap
    out[:n] = sy.rows[idx]
    rec = sy.rec.copy()
    rec[0]["row_head"] = 0
    return KSync(rec, sy.buf.copy(), out)


@njit(cache=True, inline="always", _nrt=False)
def sync_usable(sy: KSync) -> bool:
    r = sy.rec[0]
    return r.state == 1 and not r.crossed


@njit(cache=True, _nrt=False)
def _set_reason(r, code, i0, i1, f0, tok):  # type: ignore[no-untyped-def]
    r.lr_code = code
    r.lr_sub = 0
    r.lr_i0 = i0
    r.lr_i1 = i1
    r.lr_f0 = f0
    r.lr_f1 = 0.0
    r.lr_f2 = 0.0
    r.lr_tok = tok


@njit(cache=True, _nrt=False)
def _apply_ev(bk: KBook, ev: np.ndarray, start: int, end: int) -> None:
    for i in range(start, end):
        side = ev[i].side
        if side != 0:
            book_set(bk, side, ev[i].price, ev[i].qty)


@njit(cache=True, _nrt=False)
def _reset_ev(sy: KSync, bk: KBook, ev: np.ndarray, start: int, end: int, seq: int) -> None:
    r = sy.rec[0]
    r.snapshots += 1
    if r.state == 2:
        r.resyncs += 1
    book_clear(bk)
    _apply_ev(bk, ev, start, end)
    r.last_seq = seq
    r.state = 1


@njit(cache=True, _nrt=False)
def _gap(sy: KSync, bk: KBook, code: int, i0: int, i1: int) -> None:
    r = sy.rec[0]
    r.gaps += 1
    r.state = 2
    _set_reason(r, code, i0, i1, 0.0, -1)
    book_clear(bk)
    r.crossed = False


@njit(cache=True, _nrt=False)
def _apply_buf(sy: KSync, bk: KBook, row0: int, n: int) -> None:
    cap = len(sy.rows)
    for k in range(n):
        row = sy.rows[(row0 + k) % cap]
        if row.side != 0:
            book_set(bk, row.side, row.price, row.qty)


@njit(cache=True, _nrt=False)
def _binance_delta(
    sy: KSync,
    bk: KBook,
    seq: int,
    prev_seq: int,
    first_seq: int,
    ev: np.ndarray,
    start: int,
    end: int,
    buf_row0: int,
    from_buf: bool,
) -> None:
    """One Binance diff, from the batch (``ev[start:end]``) or the buffer (``buf_row0``)."""
    r = sy.rec[0]
    if r.state != 1:
        # buffered (only diffs from the batch reach here: replays run while SYNCED)
        n = end - start
        if r.buf_len == BUFFER:  # deque(maxlen): the oldest falls out
            old = sy.buf[r.buf_head]
            r.row_head = (r.row_head + old.rows) % len(sy.rows)
            r.row_len -= old.rows
            r.buf_head = (r.buf_head + 1) % BUFFER
            r.buf_len -= 1
        slot = (r.buf_head + r.buf_len) % BUFFER
        m = sy.buf[slot]
        m.seq = seq
        m.prev_seq = prev_seq
        m.first_seq = first_seq
        m.rows = n
        cap = len(sy.rows)
        pos = (r.row_head + r.row_len) % cap
        for k in range(n):
            dst = sy.rows[(pos + k) % cap]
            src = ev[start + k]
            dst.side = src.side
            dst.price = src.price
            dst.qty = src.qty
        r.row_len += n
        r.buf_len += 1
        r.dropped_unsynced += 1
        return
    if r.has_anchor:
        if seq < r.anchor:
            r.dropped_stale += 1
            return
        if first_seq > r.anchor:
            _gap(sy, bk, R.SYNC_FIRST_DIFF, first_seq, r.anchor)
            r.has_anchor = False
            return
        r.has_anchor = False
    elif prev_seq != r.last_seq:
        if seq <= r.last_seq:
            r.dropped_stale += 1
            return
        _gap(sy, bk, R.SYNC_PU_BROKEN, prev_seq, r.last_seq)
        return
    if from_buf:
        _apply_buf(sy, bk, buf_row0, end - start)
    else:
        _apply_ev(bk, ev, start, end)
    r.last_seq = seq


@njit(cache=True, _nrt=False)
def _binance_snapshot(sy: KSync, bk: KBook, ev: np.ndarray, start: int, end: int, seq: int) -> None:
    r = sy.rec[0]
    if r.state == 1 and not r.has_anchor and seq <= r.last_seq:
        return  # our book is already newer than this snapshot
    _reset_ev(sy, bk, ev, start, end, seq)
    r.has_anchor = True
    r.anchor = seq
    n = r.buf_len
    head = r.buf_head
    row0 = r.row_head
    # the buffer is taken whole (the reference copies and clears it first)
    r.buf_len = 0
    r.buf_head = 0
    r.row_len = 0
    r.row_head = 0
    r.dropped_unsynced -= n
    cap = len(sy.rows)
    for i in range(n):
        if r.state != 1:
            r.dropped_unsynced += n - i
            break
        m = sy.buf[(head + i) % BUFFER]
        _binance_delta(sy, bk, m.seq, m.prev_seq, m.first_seq, ev, 0, m.rows, row0, True)
        row0 = (row0 + m.rows) % cap


@njit(cache=True, _nrt=False)
def sync_on_message(sy: KSync, bk: KBook, ev: np.ndarray, start: int, end: int) -> bool:
    """Apply one book message (rows ``ev[start:end]``); returns ``usable`` afterwards."""
    r = sy.rec[0]
    r.messages += 1
    kind = ev[start].kind
    seq = ev[start].seq
    rule = r.rule
    if kind == 1:  # snapshot
        if rule == RULE_BINANCE:
            _binance_snapshot(sy, bk, ev, start, end, seq)
        else:
            _reset_ev(sy, bk, ev, start, end, seq)
    elif rule == RULE_BINANCE:
        _binance_delta(
            sy, bk, seq, ev[start].prev_seq, ev[start].first_seq, ev, start, end, 0, False
        )
    elif rule == RULE_SNAPSHOT_ONLY:
        _reset_ev(sy, bk, ev, start, end, seq)
    elif rule == RULE_BYBIT:
        if seq == 1:  # service restart: full re-send of the book
            _reset_ev(sy, bk, ev, start, end, seq)
        elif r.state != 1:
            r.dropped_unsynced += 1
        elif seq <= r.last_seq:
            r.dropped_stale += 1
        elif seq != r.last_seq + 1:
            _gap(sy, bk, R.SYNC_GAP, r.last_seq, seq)
        else:
            _apply_ev(bk, ev, start, end)
            r.last_seq = seq
    else:
        if r.state != 1:
            r.dropped_unsynced += 1
        else:
            _apply_ev(bk, ev, start, end)
            r.last_seq = seq
    crossed = r.state == 1 and is_crossed(bk)
    if crossed:
        r.n_crossed += 1
    r.crossed = crossed
    return r.state == 1 and not r.crossed


@njit(cache=True, _nrt=False)
def sync_force_out(sy: KSync, bk: KBook, code: int, i0: int, f0: float, tok: int) -> None:
    """A reconnect or stale feed invalidates the book (the reference's force_out_of_sync)."""
    r = sy.rec[0]
    if r.state == 1:
        r.state = 2
    _set_reason(r, code, i0, 0, f0, tok)
    book_clear(bk)
    r.crossed = False


def sync_reason_text(sy: KSync, strings: list[str] | tuple[str, ...] = ()) -> str:
    """The reference's ``reason`` (empty when usable)."""
    r = sy.rec[0]
    if r["state"] == 1 and not r["crossed"]:
        return ""
    if r["state"] == 1:
        return "crossed book"
    return record_reason(r, "lr_", strings)


def sync_stats(sy: KSync) -> BookStats:
    r = sy.rec[0]
    return BookStats(
        messages=int(r["messages"]),
        snapshots=int(r["snapshots"]),
        gaps=int(r["gaps"]),
        resyncs=int(r["resyncs"]),
        crossed=int(r["n_crossed"]),
        dropped_unsynced=int(r["dropped_unsynced"]),
        dropped_stale=int(r["dropped_stale"]),
    )


def message_events(kind: int, seq: int, prev_seq: int, first_seq: int, levels: list) -> np.ndarray:
    """One message as EVENT_DTYPE rows (for callers holding Python level lists)."""
    n = max(len(levels), 1)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["kind"] = kind
    ev["seq"] = seq
    ev["prev_seq"] = prev_seq
    ev["first_seq"] = first_seq
    if levels:
        arr = np.asarray(levels, dtype=np.int64).reshape(-1, 3)
        ev["side"] = arr[:, 0]
        ev["price"] = arr[:, 1]
        ev["qty"] = arr[:, 2]
    ev["flags"][0] |= FIRST
    ev["flags"][-1] |= LAST
    return ev


class CompiledBookSync:
    """:class:`operators.book.sync.BookSync`'s interface over the kernel."""

    def __init__(self, venue: str = "") -> None:
        self.book = CompiledBook()
        self.st = new_sync(venue)
        self.strings = StringTable()

    # -- reference attributes ------------------------------------------------------------
    @property
    def state(self) -> SyncState:
        return SyncState(int(self.st.rec[0]["state"]))

    @property
    def last_seq(self) -> int:
        return int(self.st.rec[0]["last_seq"])

    @property
    def crossed(self) -> bool:
        return bool(self.st.rec[0]["crossed"])

    @property
    def stats(self) -> BookStats:
        return sync_stats(self.st)

    @property
    def usable(self) -> bool:
        return bool(sync_usable(self.st))

    @property
    def reason(self) -> str:
        return sync_reason_text(self.st, self.strings.strings)

    @property
    def last_reason(self) -> str:
        return record_reason(self.st.rec[0], "lr_", self.strings.strings)

    # -- inputs ----------------------------------------------------------------------------
    def on_message(self, kind: int, seq: int, prev_seq: int, first_seq: int, levels: list) -> bool:
        ev = message_events(kind, seq, prev_seq, first_seq, levels)
        return self.on_events(ev, 0, len(ev) if levels else 0)

    def on_events(self, ev: np.ndarray, start: int, end: int) -> bool:
        rows = ev[start:end]
        live = rows[rows["qty"] != 0]
        if len(live):
            self.book.ensure(int(live["price"].min()), int(live["price"].max()))
        if not sync_headroom_ok(self.st, end - start):
            self.st = grow_sync(self.st, end - start)
        if end == start:  # an empty message still counts (and a snapshot still resets)
            ev = message_events(int(ev[start]["kind"]), int(ev[start]["seq"]),
                                int(ev[start]["prev_seq"]), int(ev[start]["first_seq"]), [])  # fmt: skip
            ev["side"] = 0
            return bool(sync_on_message(self.st, self.book.st, ev, 0, 0))
        return bool(sync_on_message(self.st, self.book.st, ev, start, end))

    def force_out_of_sync(self, reason: str) -> None:
        for code, text in RESET_TEXT.items():
            if reason == text:
                sync_force_out(self.st, self.book.st, int(R.SYNC_RESET), int(code), 0.0, -1)
                return
        tok = self.strings.tok(reason)
        sync_force_out(self.st, self.book.st, int(R.EXTERNAL), 0, 0.0, tok)
