"""Top-of-book features per book message: mid, spread, imbalance at 1 and 5 levels."""

from __future__ import annotations

import numpy as np

from core.events import Kind
from core.walk import BOOK_KINDS, messages
from operators.book.sync import BookSync, book_sync_for

FEATURE_DTYPE = np.dtype(
    [
        ("recv_ts", np.int64),
        ("exch_ts", np.int64),
        ("ord", np.int64),
        ("valid", np.bool_),
        ("best_bid", np.int64),
        ("best_ask", np.int64),
        ("bid_qty", np.int64),
        ("ask_qty", np.int64),
        ("mid", np.float64),  # price units
        ("spread_ticks", np.int64),
        ("imbalance_1", np.float64),
        ("imbalance_5", np.float64),
    ]
)


class TopOfBook:
    """Stateful per instrument: book sync + one feature row after each book message."""

    def __init__(self, venue: str, tick_size: float) -> None:
        self.sync: BookSync = book_sync_for(venue)
        self.tick_size = tick_size

    def process(self, events: np.ndarray) -> np.ndarray:
        rows = []
        sync = self.sync
        book = sync.book
        tick = self.tick_size
        for m in messages(events):
            if m.kind not in BOOK_KINDS:
                continue
            ok = sync.on_message(m.kind, m.seq, m.prev_seq, m.first_seq, m.levels)
            if ok:
                bb, bq = book.best_bid_level()  # type: ignore[misc]
                ba, aq = book.best_ask_level()  # type: ignore[misc]
                rows.append(
                    (
                        m.recv_ts,
                        m.exch_ts,
                        m.ord,
                        True,
                        bb,
                        ba,
                        bq,
                        aq,
                        (bb + ba) * tick / 2,
                        ba - bb,
                        book.imbalance(1),
                        book.imbalance(5),
                    )
                )
            else:
                rows.append(
                    (m.recv_ts, m.exch_ts, m.ord, False, 0, 0, 0, 0, np.nan, 0, np.nan, np.nan)
                )
        return np.array(rows, dtype=FEATURE_DTYPE) if rows else np.zeros(0, dtype=FEATURE_DTYPE)


__all__ = ["FEATURE_DTYPE", "Kind", "TopOfBook"]
