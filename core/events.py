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


class ResetReason(IntEnum):
    """Why a live feed sent FEED_RESET; carried in the reset row's ``qty`` column."""

    UNKNOWN = 0
    CONNECT = 1  # first connect: no book yet
    DISCONNECT = 2  # the websocket dropped (or reconnected)
    GAP = 3  # an update-id gap
    STALE = 4  # no book message for the feed's watchdog bound
    BAD_MESSAGE = 5  # a book message that does not parse (NaN/inf/negative size, ...)
    SPEC_CHANGE = 6  # tick or lot size changed
    RESYNC = 7  # a resync the trader asked for (unusable book for too long)


RESET_TEXT = {
    ResetReason.UNKNOWN: "feed reset",
    ResetReason.CONNECT: "feed reset (connect)",
    ResetReason.DISCONNECT: "feed reset (reconnect)",
    ResetReason.GAP: "feed reset (update id gap)",
    ResetReason.STALE: "feed reset (stale feed)",
    ResetReason.BAD_MESSAGE: "feed reset (bad book message)",
    ResetReason.SPEC_CHANGE: "feed reset (instrument spec changed)",
    ResetReason.RESYNC: "feed reset (resync requested)",
}


def reset_text(code: int) -> str:
    """The book's unusable-reason for a FEED_RESET row's reason code."""
    try:
        return RESET_TEXT[ResetReason(code)]
    except ValueError:
        return RESET_TEXT[ResetReason.UNKNOWN]


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
class ResyncRequest:
    """The trader's request to the live public source: resubscribe this instrument's book
    (a fresh snapshot), because it has been unusable for too long (``reason`` says why).
    ``attempt`` counts requests in the same unusable spell (1, 2, ...)."""

    inst: str
    reason: str
    attempt: int
    recv_ts: int


@dataclass(slots=True)
class Tick:
    """A timer event (live): lets the trader act when the market is quiet."""

    ts: int
