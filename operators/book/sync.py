"""Keeping an L2 book in sync with each venue's rules.

* Bybit V5: a snapshot resets the book; deltas upsert levels (size 0 deletes); each
  delta's ``u`` must be the previous ``u`` + 1, else the book is out of sync until the
  next snapshot; ``u == 1`` is a full re-send (a snapshot in all but name).
* Binance USD-M futures: diffs are buffered until a REST snapshot arrives; diffs with
  ``u`` < ``lastUpdateId`` are dropped, the first applied must have
  ``U <= lastUpdateId <= u``, and every next diff's ``pu`` must equal the previous ``u``.
* Hyperliquid: every ``l2Book`` message is a full snapshot.

Out of sync, the book is empty and ``usable`` is False, so nothing downstream can
quote from it. A crossed book (best bid >= best ask) is also unusable, and counted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from enum import IntEnum

from core.events import Kind
from core.l2book import L2Book

Level = tuple[int, int, int]  # (side, price ticks, qty lots); side 0 = no level (sentinel)


class SyncState(IntEnum):
    WAITING = 0  # no snapshot yet
    SYNCED = 1
    OUT_OF_SYNC = 2  # a gap was seen; waiting for a fresh snapshot


@dataclass
class BookStats:
    messages: int = 0
    snapshots: int = 0
    gaps: int = 0
    resyncs: int = 0
    crossed: int = 0  # messages after which the book was crossed
    dropped_unsynced: int = 0  # deltas received while not in sync
    dropped_stale: int = 0  # deltas older than the book (duplicates, pre-snapshot)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class BookSync:
    """Base rules: snapshots reset, deltas apply (no sequence check)."""

    def __init__(self) -> None:
        self.book = L2Book()
        self.state = SyncState.WAITING
        self.last_seq = -1
        self.crossed = False
        self.stats = BookStats()
        self.last_reason = "no snapshot yet"

    @property
    def usable(self) -> bool:
        return self.state == SyncState.SYNCED and not self.crossed

    @property
    def reason(self) -> str:
        """Why the book is unusable (empty string when usable)."""
        if self.usable:
            return ""
        return "crossed book" if self.state == SyncState.SYNCED else self.last_reason

    def on_message(
        self, kind: int, seq: int, prev_seq: int, first_seq: int, levels: list[Level]
    ) -> bool:
        """Apply one venue message; returns ``usable`` afterwards."""
        self.stats.messages += 1
        if kind == Kind.BOOK_SNAPSHOT:
            self._on_snapshot(seq, levels)
        else:
            self._on_delta(seq, prev_seq, first_seq, levels)
        self._check_crossed()
        return self.usable

    # -- rules ---------------------------------------------------------------------------
    def _on_snapshot(self, seq: int, levels: list[Level]) -> None:
        self._reset(levels, seq)

    def _on_delta(self, seq: int, prev_seq: int, first_seq: int, levels: list[Level]) -> None:
        if self.state != SyncState.SYNCED:
            self.stats.dropped_unsynced += 1
            return
        self._apply(levels)
        self.last_seq = seq

    # -- helpers -------------------------------------------------------------------------
    def _reset(self, levels: list[Level], seq: int) -> None:
        self.stats.snapshots += 1
        if self.state == SyncState.OUT_OF_SYNC:
            self.stats.resyncs += 1
        self.book.clear()
        self._apply(levels)
        self.last_seq = seq
        self.state = SyncState.SYNCED

    def _apply(self, levels: list[Level]) -> None:
        book_set = self.book.set
        for side, price, qty in levels:
            if side:
                book_set(side, price, qty)

    def _gap(self, reason: str) -> None:
        self.stats.gaps += 1
        self.state = SyncState.OUT_OF_SYNC
        self.last_reason = reason
        self.book.clear()
        self.crossed = False

    def _check_crossed(self) -> None:
        crossed = self.state == SyncState.SYNCED and self.book.is_crossed()
        if crossed:
            self.stats.crossed += 1
        self.crossed = crossed

    def force_out_of_sync(self, reason: str) -> None:
        """For live sources: a reconnect or stale feed invalidates the book."""
        if self.state == SyncState.SYNCED:
            self.state = SyncState.OUT_OF_SYNC
        self.last_reason = reason
        self.book.clear()
        self.crossed = False


class BybitSync(BookSync):
    def _on_delta(self, seq: int, prev_seq: int, first_seq: int, levels: list[Level]) -> None:
        if seq == 1:  # service restart: full re-send of the book
            self._reset(levels, seq)
            return
        if self.state != SyncState.SYNCED:
            self.stats.dropped_unsynced += 1
            return
        if seq <= self.last_seq:
            self.stats.dropped_stale += 1
            return
        if seq != self.last_seq + 1:
            self._gap(f"update id gap: {self.last_seq} -> {seq}")
            return
        self._apply(levels)
        self.last_seq = seq


class BinanceFuturesSync(BookSync):
    BUFFER = 5_000  # diffs kept while waiting for a snapshot

    def __init__(self) -> None:
        super().__init__()
        self._buffer: deque[tuple[int, int, int, list[Level]]] = deque(maxlen=self.BUFFER)
        self._anchor: int | None = None  # snapshot lastUpdateId awaiting its first diff

    def _on_snapshot(self, seq: int, levels: list[Level]) -> None:
        if self.state == SyncState.SYNCED and self._anchor is None and seq <= self.last_seq:
            return  # our book is already newer than this snapshot
        self._reset(levels, seq)
        self._anchor = seq
        buffered = list(self._buffer)
        self._buffer.clear()
        # held, not dropped: each is now applied or counted as stale (or dropped below)
        self.stats.dropped_unsynced -= len(buffered)
        for i, item in enumerate(buffered):
            if self.state != SyncState.SYNCED:
                self.stats.dropped_unsynced += len(buffered) - i
                break
            self._on_delta(*item)

    def _on_delta(self, seq: int, prev_seq: int, first_seq: int, levels: list[Level]) -> None:
        if self.state != SyncState.SYNCED:
            self._buffer.append((seq, prev_seq, first_seq, levels))
            self.stats.dropped_unsynced += 1
            return
        if self._anchor is not None:
            if seq < self._anchor:
                self.stats.dropped_stale += 1
                return
            if first_seq > self._anchor:
                self._gap(
                    f"first diff after snapshot starts at U={first_seq} > lastUpdateId={self._anchor}"
                )
                self._anchor = None
                return
            self._anchor = None
        elif prev_seq != self.last_seq:
            if seq <= self.last_seq:
                self.stats.dropped_stale += 1
                return
            self._gap(f"pu chain broken: pu={prev_seq}, previous u={self.last_seq}")
            return
        self._apply(levels)
        self.last_seq = seq


class SnapshotOnlySync(BookSync):
    """Hyperliquid: every message is a full book."""

    def _on_delta(self, seq: int, prev_seq: int, first_seq: int, levels: list[Level]) -> None:
        self._reset(levels, seq)


SYNC_RULES: dict[str, type[BookSync]] = {
    "bybit": BybitSync,
    "binance-usdm": BinanceFuturesSync,
    "binance-coinm": BinanceFuturesSync,  # COIN-M diffs chain like USD-M's (U / u / pu)
    "hyperliquid": SnapshotOnlySync,
}


def book_sync_for(venue: str) -> BookSync:
    """The venue's sync rules (generic snapshot+delta rules for an unknown venue)."""
    return SYNC_RULES.get(venue, BookSync)()
