"""Plain, picklable state records of the simulated venue: orders, levels, counters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(slots=True)
class SimOrder:
    """A resting order as the venue sees it.

    ``ahead`` is the displayed (market) quantity in front of the order at its price, in
    lots; an int under the risk-averse model, an expected value (float) under the
    probabilistic ones. ``cum_trade`` is the traded quantity at the order's price not yet
    reflected in a depth update (the probabilistic models subtract it from the next
    level decrease). ``ts`` is the venue time the order joined its current queue.
    """

    client_id: str
    venue_order_id: str
    side: int
    price: int  # ticks
    qty: int  # lots, total (including filled)
    filled: int = 0
    post_only: bool = True
    reduce_only: bool = False
    ahead: float = 0
    cum_trade: int = 0
    ts: int = 0
    priority: int = 0  # time priority at the level: lower joined earlier

    @property
    def leaves(self) -> int:
        return self.qty - self.filled


@dataclass(slots=True)
class Level:
    """The venue's knowledge of one displayed price level it cares about.

    Tracked while we rest orders at it (``orders``, same side) or have consumed some of
    its liquidity (``taken``: lots of the displayed quantity already used to fill us,
    as taker or as a crossed maker, so the same liquidity never fills twice).
    ``qty`` is the last displayed quantity. ``bbo_seq`` is the update id of the BBO
    message it came from (-1 if it came from depth or the BBO has no ids): depth
    information older than that is ignored, the BBO stream being the fresher one.
    """

    qty: int
    bbo_seq: int = -1
    taken: int = 0
    orders: list[SimOrder] = field(default_factory=list)


@dataclass
class SimStats:
    messages: int = 0
    actions: int = 0
    placed: int = 0  # PLACE actions accepted (resting or taking)
    amended: int = 0
    canceled: int = 0  # resting orders canceled (cancel, cancel-all, amend to <= filled)
    expired: int = 0  # immediate-or-cancel remainders
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count
    fills: int = 0
    maker_fills: int = 0
    taker_fills: int = 0
    filled_qty: int = 0  # lots
    maker_qty: int = 0
    taker_qty: int = 0
    fee_units: int = 0  # total fees paid (negative = rebates received), core.money units

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["rejected_total"] = self.rejected_total
        return d
