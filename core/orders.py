"""Order actions: what the order manager asks a venue (real or simulated) to do.

Prices are ticks and sizes lots; a gateway converts them to Decimal strings at the
exchange boundary. Client order ids are unique per run and idempotent: sending the
same place twice never creates two orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ActionType(IntEnum):
    PLACE = 1
    AMEND = 2
    CANCEL = 3
    CANCEL_ALL = 4


@dataclass(slots=True)
class OrderAction:
    """One request to a venue.

    PLACE: new limit order (post-only unless ``post_only`` is False, then it may take).
    AMEND: change price and/or qty of a resting order (``client_id`` names it).
    CANCEL: cancel one order. CANCEL_ALL: cancel every order of the instrument.
    """

    type: ActionType
    inst: str
    client_id: str
    side: int = 0
    price: int = 0  # ticks
    qty: int = 0  # lots
    post_only: bool = True
    reduce_only: bool = False
    reason: str = ""  # why the order manager sent it (for logs and the orders table)


@dataclass(slots=True)
class Rejection:
    """A pre-trade check refused an action before it left the process."""

    action: OrderAction
    reason: str
