"""Walk an event batch message by message (shared by the trader, the book and the sim venue).

Operators act once per venue message (as a live bot does), so the walker groups the
rows of each message and hands book messages to a BookSync. Columns are converted to
Python lists once per batch: per-row numpy scalar access would dominate the cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from core.events import LAST, Kind

BOOK_KINDS = (Kind.BOOK_SNAPSHOT, Kind.BOOK_DELTA)


class Message(NamedTuple):
    kind: int
    start: int  # first row index in the batch
    end: int  # one past the last row
    recv_ts: int
    exch_ts: int
    ord: int  # ord of the last row
    seq: int
    prev_seq: int
    first_seq: int
    levels: list[tuple[int, int, int]]  # (side, price, qty) per row


def messages(events: np.ndarray) -> Iterator[Message]:
    n = len(events)
    if n == 0:
        return
    kind = events["kind"].tolist()
    flags = events["flags"].tolist()
    side = events["side"].tolist()
    price = events["price"].tolist()
    qty = events["qty"].tolist()
    recv = events["recv_ts"].tolist()
    exch = events["exch_ts"].tolist()
    seq = events["seq"].tolist()
    prev = events["prev_seq"].tolist()
    first = events["first_seq"].tolist()
    order = events["ord"].tolist()
    i = 0
    while i < n:
        j = i
        while not flags[j] & LAST and j + 1 < n:
            j += 1
        levels = [(side[r], price[r], qty[r]) for r in range(i, j + 1)]
        yield Message(
            kind[i], i, j + 1, recv[i], exch[i], order[j], seq[i], prev[i], first[i], levels
        )
        i = j + 1
