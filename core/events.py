"""The event model: one fixed numpy dtype for market data, small records for own orders.

Items in a flow are per-instrument micro-batches: a numpy structured array of
``EVENT_DTYPE`` rows in receive-time order. One row is one book level change, one trade,
or one side of a best-bid/offer message. Rows of one venue message are contiguous and
flagged ``FIRST``/``LAST`` so operators act once per message, as a live bot would.

Prices are integer ticks, sizes integer lots, times integer nanoseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Kind(IntEnum):
    BOOK_SNAPSHOT = 1  # a level of a full book snapshot; the first row of a snapshot resets
    BOOK_DELTA = 2  # a level update; qty 0 deletes the level
    TRADE = 3  # a public trade; side is the aggressor (+1 buy, -1 sell)
    BBO = 4  # one side of the venue's own best bid/offer message
    FEED_RESET = 5  # live feed lost continuity (reconnect): the book is invalid until a snapshot


# Row flags
FIRST = 1  # first row of a venue message
LAST = 2  # last row of a venue message

BUY = BID = 1
SELL = ASK = -1

EVENT_DTYPE = np.dtype(
    [
        ("kind", np.uint8),
        ("side", np.int8),
        ("flags", np.uint8),
        ("exch_ts", np.int64),  # venue timestamp, ns
        ("recv_ts", np.int64),  # local receive timestamp, ns (replay order)
        ("price", np.int64),  # ticks
        ("qty", np.int64),  # lots
        ("seq", np.int64),  # venue update id (Bybit u, Binance u / bookTicker u), -1 if none
        ("prev_seq", np.int64),  # Binance pu, -1 if none
        ("first_seq", np.int64),  # Binance U, -1 if none
        ("ord", np.int64),  # arrival order within a recording (tie-break for equal recv_ts)
    ]
)


def empty_events(n: int = 0) -> np.ndarray:
    return np.zeros(n, dtype=EVENT_DTYPE)


def message_bounds(events: np.ndarray) -> np.ndarray:
    """Indices one past the last row of each message in ``events``."""
    return np.flatnonzero(events["flags"] & LAST) + 1


# ---- own orders ---------------------------------------------------------------------


class OrderStatus(IntEnum):
    NEW = 1  # acknowledged, resting
    PARTIALLY_FILLED = 2
    FILLED = 3
    CANCELED = 4
    REJECTED = 5
    AMENDED = 6


@dataclass(slots=True)
class OrderUpdate:
    """A venue's report on one of our orders (ack, amend, cancel, reject)."""

    inst: str
    client_id: str
    status: OrderStatus
    side: int
    price: int  # ticks
    qty: int  # lots, current order quantity
    filled: int  # lots, cumulative
    exch_ts: int
    recv_ts: int
    venue_order_id: str = ""
    reason: str = ""


@dataclass(slots=True)
class Fill:
    """One execution of one of our orders. ``fee`` is in fee units (see core.money)."""

    inst: str
    client_id: str
    side: int
    price: int  # ticks
    qty: int  # lots
    fee: int  # exact fee in fee units; negative = rebate received
    is_maker: bool
    exch_ts: int
    recv_ts: int
    exec_id: str = ""


@dataclass(slots=True)
class Tick:
    """A timer event (live): lets the trader act when the market is quiet."""

    ts: int
