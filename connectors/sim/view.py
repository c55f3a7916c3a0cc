"""The venue's freshest view of the displayed book: the trader's book plus the BBO stream.

Some venues publish a best bid/offer stream that is far more frequent than the depth
stream (the bundled Binance sample: ~190 bookTicker vs ~19 depth messages a second).
The trader's ``L2Book`` is built from depth only, so when the last BBO is newer than the
book, the top of book comes from the BBO: orders arriving then are checked for post-only
crossing, queued and matched against what the venue really showed at that moment.

Freshness uses the venue update ids when both streams carry them (Binance's bookTicker
``u`` and depth ``u`` share one sequence): a depth message older than the last BBO is
*stale at the top* (the BBO stays the fresher top of book) and a BBO older than the book
is ignored. Without ids the later arrival wins. Messages within one stream are trusted
in arrival order (book sync is the authority there), so a venue's sequence reset never
freezes the view.
"""

from __future__ import annotations

from collections.abc import Iterator

from core.l2book import ASK, BID, L2Book


class TopView:
    __slots__ = ("ask_p", "ask_q", "bbo_seq", "bid_p", "bid_q", "book_seq", "fresh")

    def __init__(self) -> None:
        self.fresh = False  # the last BBO is newer than the book
        self.bid_p = self.bid_q = self.ask_p = self.ask_q = 0  # 0 = side unknown / empty
        self.bbo_seq = -1  # update id of the last BBO
        self.book_seq = -1  # update id of the newest book message

    def on_book(self, seq: int) -> bool:
        """A depth message; returns True if it is older than the last BBO."""
        stale = self.fresh and 0 <= seq < self.bbo_seq
        if seq >= 0:
            self.book_seq = seq
        self.fresh = stale
        return stale

    def on_bbo(self, seq: int, levels: list[tuple[int, int, int]]) -> bool:
        """A best bid/offer message; returns True if it is older than the book (ignored)."""
        if 0 <= seq < self.book_seq:
            return True
        self.bbo_seq = seq
        for side, price, qty in levels:
            if price <= 0 or qty <= 0:
                price = qty = 0
            if side == BID:
                self.bid_p, self.bid_q = price, qty
            elif side == ASK:
                self.ask_p, self.ask_q = price, qty
        self.fresh = True
        return False

    def reset(self) -> None:
        """Feed lost continuity: forget the BBO until the next one."""
        self.fresh = False
        self.bid_p = self.bid_q = self.ask_p = self.ask_q = 0
        self.bbo_seq = -1

    # -- queries against the trader's book (state before the current message) --------------
    def best(self, side: int, book: L2Book) -> int | None:
        if self.fresh:
            p = self.bid_p if side == BID else self.ask_p
            if p:
                return p
        return book.best_bid() if side == BID else book.best_ask()

    def displayed(self, side: int, price: int, book: L2Book) -> tuple[int, int]:
        """(displayed qty at ``price`` on ``side``, BBO update id if it came from the BBO else -1)."""
        if self.fresh:
            if side == BID and self.bid_p:
                if price == self.bid_p:
                    return self.bid_q, self.bbo_seq
                if price > self.bid_p:
                    return 0, self.bbo_seq
            elif side == ASK and self.ask_p:
                if price == self.ask_p:
                    return self.ask_q, self.bbo_seq
                if price < self.ask_p:
                    return 0, self.bbo_seq
        return book.qty_at(side, price), -1

    def levels_within(self, side: int, limit: int, book: L2Book) -> Iterator[tuple[int, int, int]]:
        """Displayed (price, qty, BBO id or -1) of ``side`` from its best up to ``limit``."""
        top = 0
        if self.fresh:
            top, qty = (self.bid_p, self.bid_q) if side == BID else (self.ask_p, self.ask_q)
            if top:
                if (top < limit) if side == BID else (top > limit):
                    return
                yield top, qty, self.bbo_seq
        seq = -1
        if side == ASK:
            asks = book.asks
            keys = asks.irange(top, limit, (False, True)) if top else asks.irange(None, limit)
            for p in keys:
                yield p, asks[p], seq
        else:
            bids = book.bids
            keys = (
                bids.irange(limit, top, (True, False), reverse=True)
                if top
                else bids.irange(limit, None, reverse=True)
            )
            for p in keys:
                yield p, bids[p], seq
