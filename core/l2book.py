"""An L2 order book in integer ticks and lots.

Levels live in sorted maps, so setting a level is O(1) when it exists and O(log n)
when it is new or deleted; best bid/ask is an O(1)-amortised peek; depth at N levels
is O(log n + N). This is the reference implementation every faster one is tested
against.
"""

from __future__ import annotations

from itertools import islice

from sortedcontainers import SortedDict

BID = 1
ASK = -1


class L2Book:
    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()  # price ticks -> qty lots; best is the last key
        self.asks: SortedDict = SortedDict()  # best is the first key

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()

    def set(self, side: int, price: int, qty: int) -> None:
        """Set a level's total size; 0 deletes it (absent levels are ignored)."""
        levels = self.bids if side == BID else self.asks
        if qty:
            levels[price] = qty
        else:
            levels.pop(price, None)

    def best_bid(self) -> int | None:
        return self.bids.peekitem(-1)[0] if self.bids else None

    def best_ask(self) -> int | None:
        return self.asks.peekitem(0)[0] if self.asks else None

    def best_bid_level(self) -> tuple[int, int] | None:
        return self.bids.peekitem(-1) if self.bids else None

    def best_ask_level(self) -> tuple[int, int] | None:
        return self.asks.peekitem(0) if self.asks else None

    def qty_at(self, side: int, price: int) -> int:
        return (self.bids if side == BID else self.asks).get(price, 0)

    def depth(self, side: int, n: int) -> list[tuple[int, int]]:
        """Top ``n`` levels of one side, best first (O(log n + N): iterates from the touch)."""
        if n <= 0:
            return []
        levels = self.bids if side == BID else self.asks
        keys = islice(reversed(levels) if side == BID else iter(levels), n)
        return [(p, levels[p]) for p in keys]

    def depth_qty(self, side: int, n: int) -> int:
        return sum(q for _, q in self.depth(side, n))

    def mid_x2(self) -> int | None:
        """Twice the mid price in ticks: exact even when the mid is a half tick."""
        if not self.bids or not self.asks:
            return None
        return self.bids.peekitem(-1)[0] + self.asks.peekitem(0)[0]

    def mid(self) -> float | None:
        m = self.mid_x2()
        return None if m is None else m / 2

    def spread(self) -> int | None:
        if not self.bids or not self.asks:
            return None
        return self.asks.peekitem(0)[0] - self.bids.peekitem(-1)[0]

    def is_crossed(self) -> bool:
        return bool(
            self.bids and self.asks and self.bids.peekitem(-1)[0] >= self.asks.peekitem(0)[0]
        )

    def imbalance(self, n: int) -> float:
        """(bid depth - ask depth) / total over the top ``n`` levels, in [-1, 1]."""
        b = self.depth_qty(BID, n)
        a = self.depth_qty(ASK, n)
        return (b - a) / (b + a) if b + a else 0.0

    def levels(self) -> tuple[dict[int, int], dict[int, int]]:
        """Plain copies of both sides (for tests and snapshots)."""
        return dict(self.bids), dict(self.asks)

    def __len__(self) -> int:
        return len(self.bids) + len(self.asks)
