"""A hand-driven harness for the simulated venue: messages built by hand, times in ms.

``Harness`` plays the trader: each market message goes to ``venue.on_market`` first and
is then applied to the harness's own book (a snapshot replaces it), exactly the order the
trader uses. ``impl`` picks the venue: ``"reference"`` (``SimVenue`` with an ``L2Book``)
or ``"compiled"`` (``CompiledSimVenue`` with a ``CompiledBook``); every test runs on both. Default spec: tick 0.1, lot 1, min notional 10, so a price of
1000 ticks is 100.0 and the notional of ``ticks x lots`` must reach 100 units.
"""

from __future__ import annotations

import numpy as np

from connectors.sim.config import SimConfig
from connectors.sim.kernel import CompiledSimVenue
from connectors.sim.venue import SimVenue
from core.events import Fill, Kind, OrderStatus, OrderUpdate
from core.instruments import InstrumentSpec
from core.l2book import L2Book
from core.l2book_kernel import CompiledBook
from core.orders import ActionType, OrderAction
from core.walk import Message

MS = 1_000_000
BUY = BID = 1
SELL = ASK = -1
IMPLS = ("reference", "compiled")
Venue = SimVenue | CompiledSimVenue


def make_venue(
    impl: str, spec: InstrumentSpec, config: SimConfig
) -> tuple[Venue, L2Book | CompiledBook]:
    """A venue of implementation ``impl`` and the matching (empty) book type."""
    if impl == "reference":
        return SimVenue(spec, config), L2Book()
    if impl == "compiled":
        return CompiledSimVenue(spec, config), CompiledBook()
    raise ValueError(f"unknown venue implementation {impl!r}")


def ns(t_ms: float) -> int:
    return round(t_ms * MS)


class Harness:
    def __init__(self, spec: InstrumentSpec, impl: str = "reference", **config: object) -> None:
        cfg = {"order_latency_ms": 5.0, "response_latency_ms": 5.0, "md_latency_ms": 5.0}
        cfg.update(config)
        self.spec = spec
        self.impl = impl
        self.venue, self.book = make_venue(impl, spec, SimConfig(**cfg))  # type: ignore[arg-type]
        self._ord = 0

    # -- market data ---------------------------------------------------------------------
    def feed(
        self,
        kind: int,
        t: float,
        rows: list[tuple[int, int, int]],
        seq: int = -1,
        exch: float | None = None,
    ) -> None:
        self._ord += 1
        recv = ns(t)
        m = Message(kind, 0, len(rows), recv, recv if exch is None else ns(exch), self._ord,
                    seq, -1, -1, rows)  # fmt: skip
        self.venue.on_market(m, self.book)
        if kind in (Kind.BOOK_SNAPSHOT, Kind.FEED_RESET):
            self.book.clear()
        if kind in (Kind.BOOK_SNAPSHOT, Kind.BOOK_DELTA):
            for side, price, qty in rows:
                self.book.set(side, price, qty)

    def snapshot(
        self,
        t: float,
        bids: list[tuple[int, int]],
        asks: list[tuple[int, int]],
        seq: int = -1,
        exch: float | None = None,
    ) -> None:
        rows = [(BID, p, q) for p, q in bids] + [(ASK, p, q) for p, q in asks]
        self.feed(Kind.BOOK_SNAPSHOT, t, rows, seq, exch)

    def delta(self, t: float, rows: list[tuple[int, int, int]], seq: int = -1) -> None:
        self.feed(Kind.BOOK_DELTA, t, rows, seq)

    def trade(
        self, t: float, aggressor: int, price: int, qty: int, exch: float | None = None
    ) -> None:
        self.feed(Kind.TRADE, t, [(aggressor, price, qty)], -1, exch)

    def bbo(self, t: float, bid: tuple[int, int], ask: tuple[int, int], seq: int = -1) -> None:
        self.feed(Kind.BBO, t, [(BID, *bid), (ASK, *ask)], seq)

    # -- order entry ---------------------------------------------------------------------
    def send(self, t: float, action: OrderAction) -> None:
        self.venue.send(action, ns(t))

    def place(
        self,
        t: float,
        cid: str,
        side: int,
        price: int,
        qty: int,
        post_only: bool = True,
        reduce_only: bool = False,
    ) -> None:
        self.send(t, OrderAction(ActionType.PLACE, self.spec.id, cid, side, price, qty,
                                 post_only=post_only, reduce_only=reduce_only))  # fmt: skip

    def amend(self, t: float, cid: str, price: int = 0, qty: int = 0) -> None:
        self.send(t, OrderAction(ActionType.AMEND, self.spec.id, cid, 0, price, qty))

    def cancel(self, t: float, cid: str) -> None:
        self.send(t, OrderAction(ActionType.CANCEL, self.spec.id, cid))

    def cancel_all(self, t: float) -> None:
        self.send(t, OrderAction(ActionType.CANCEL_ALL, self.spec.id, ""))

    # -- responses -----------------------------------------------------------------------
    def poll(self, t: float) -> list[OrderUpdate | Fill]:
        return self.venue.poll(ns(t))

    def fills(self, t: float) -> list[Fill]:
        return [r for r in self.poll(t) if isinstance(r, Fill)]

    def ahead(self, cid: str) -> float:
        return self.venue.open_orders()[cid].ahead


def replay_with_quoter(
    events: np.ndarray,
    spec: InstrumentSpec,
    config: SimConfig,
    pickle_at: int | None = None,
    impl: str = "reference",
) -> tuple[list[OrderUpdate | Fill], Venue]:
    """Replay recorded events as the trader does, with a toy quoter.

    Every 100 ms of local time it cancels its orders and places 2 post-only orders per
    side at the touch and one tick behind (the smallest qty above min notional). With
    ``pickle_at``, the venue is pickled and restored after that many messages (as a
    Bytewax snapshot would), which must not change anything. ``impl`` as for Harness (the
    compiled venue reads a CompiledBook kept by the same book sync).
    """
    import pickle

    from core.walk import BOOK_KINDS, messages
    from operators.book.sync import book_sync_for

    venue, book = make_venue(impl, spec, config)
    sync = book_sync_for(spec.venue)
    sync.book = book  # type: ignore[assignment]
    out: list[OrderUpdate | Fill] = []
    live: dict[str, int] = {}
    next_quote = 0
    n = 0
    units = spec.min_notional / (spec.tick_size * spec.lot_size)
    for i, m in enumerate(messages(events)):
        if pickle_at is not None and i == pickle_at:
            venue = pickle.loads(pickle.dumps(venue))
        if isinstance(venue, CompiledSimVenue):  # the same message, as rows of the batch
            venue.on_rows(events, m.start, m.end, book)
        else:
            venue.on_market(m, book)
        if m.kind in BOOK_KINDS:
            sync.on_message(m.kind, m.seq, m.prev_seq, m.first_seq, m.levels)
        now = m.recv_ts
        if now >= next_quote and sync.usable:
            next_quote = now + 100 * MS
            for cid in list(live):
                venue.send(OrderAction(ActionType.CANCEL, spec.id, cid), now)
                del live[cid]
            for side, touch in ((BID, book.best_bid()), (ASK, book.best_ask())):
                assert touch is not None
                for lvl in (0, 1):
                    n += 1
                    price = touch - side * lvl
                    qty = int(units / price) + 1
                    venue.send(
                        OrderAction(ActionType.PLACE, spec.id, f"q{n}", side, price, qty), now
                    )
                    live[f"q{n}"] = side
        for r in venue.poll(now):
            out.append(r)
            if isinstance(r, OrderUpdate) and r.status in (
                OrderStatus.FILLED,
                OrderStatus.CANCELED,
                OrderStatus.REJECTED,
            ):
                live.pop(r.client_id, None)
    end = int(events["recv_ts"][-1]) + 1_000 * MS
    venue.advance(end, book)
    out.extend(venue.poll(end))
    return out, venue
