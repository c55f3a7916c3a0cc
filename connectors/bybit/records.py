"""Private-stream records that core.events has no type for (small, slotted, picklable)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal


@dataclass(slots=True)
class PositionUpdate:
    """The venue's view of one position (one-way mode). ``qty`` is signed lots: + long."""

    inst: str
    qty: int
    entry_price: Decimal  # average entry; not on the tick grid in general
    mark_price: Decimal
    unrealised_pnl: Decimal
    cum_realised_pnl: Decimal
    exch_ts: int
    recv_ts: int
    seq: int = -1


@dataclass(slots=True)
class DcpStatus:
    """A ``dcp.*`` stream message: Disconnected-Cancel-All state for a product."""

    product: str
    status: str
    time_window_s: int
    exch_ts: int
    recv_ts: int


@dataclass(slots=True)
class PrivateReady:
    """The private stream is subscribed for the first time: own orders, fills and positions
    are seen from now on, so quoting may start (an order placed before could fill unseen)."""

    inst: str
    recv_ts: int


@dataclass(slots=True)
class PrivateDown:
    """The private stream is gone: fills are not seen until it is back (a PrivateReset)."""

    inst: str
    reason: str
    recv_ts: int


@dataclass(slots=True)
class PrivateReset:
    """The private stream reconnected: messages may have been missed, reconcile via REST."""

    inst: str
    reason: str
    recv_ts: int


def session_up(insts: Iterable[str], was_ready: bool, now: int) -> list[tuple[str, object]]:
    """What a private feed says per instrument once it is subscribed: PrivateReady the
    first time, PrivateReset after a reconnect (messages may have been missed)."""
    return [
        (
            i,
            PrivateReset(i, "private stream reconnected", now)
            if was_ready
            else PrivateReady(i, now),
        )
        for i in insts
    ]


def session_down(insts: Iterable[str], reason: str, now: int) -> list[tuple[str, object]]:
    """PrivateDown per instrument: the moment a subscribed private connection is lost."""
    return [(i, PrivateDown(i, reason, now)) for i in insts]
