"""The L2 book as a compiled kernel: dense per-tick arrays over a price window.

Same behaviour as :class:`core.l2book.L2Book` (the reference, tested against it), at
array speed: setting a level is O(1); the best bid/ask is kept up to date and, when the
best level is deleted, found again by scanning towards worse prices (books are dense
near the touch). Each side remembers the index range it has touched since the last
clear, so clearing costs the book's width, not the window's.

The window ``[base, base + size)`` of prices (ticks) grows between messages, never
inside one: the compiled loop checks a message's prices with :func:`book_fits` first
and, if one falls outside, returns to Python, which calls :func:`grow_book` and resumes.
A window wider than ``MAX_SPAN`` ticks is refused with a clear error.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit
from sortedcontainers import SortedDict

from core.errors import MMError
from core.nb import NO_PRICE

BID = 1
ASK = -1
MAX_SPAN = 1 << 23  # ticks per side (64 MiB per side at int64)
MIN_SPAN = 1 << 12

BOOK_REC = np.dtype(
    [
        ("base", np.int64),  # price (ticks) of index 0
        ("size", np.int64),
        ("n_bid", np.int64),  # levels per side
        ("n_ask", np.int64),
        ("best_bid", np.int64),  # valid when n_bid > 0
        ("best_ask", np.int64),
        ("bid_lo", np.int64),  # index range touched since the last clear (lo > hi: none)
        ("bid_hi", np.int64),
        ("ask_lo", np.int64),
        ("ask_hi", np.int64),
    ]
)

KBook = namedtuple("KBook", ["rec", "bids", "asks"])


def new_book(base: int = 0, size: int = 0) -> KBook:
    rec = np.zeros(1, dtype=BOOK_REC)
    r = rec[0]
    r["base"] = base
    r["size"] = size
    r["bid_lo"] = r["ask_lo"] = size
    r["bid_hi"] = r["ask_hi"] = -1
    return KBook(rec, np.zeros(size, np.int64), np.zeros(size, np.int64))


def grow_book(bk: KBook, lo: int, hi: int) -> KBook:
    """A copy of ``bk`` whose window also covers prices ``lo..hi`` (inclusive)."""
    r = bk.rec[0]
    base, size = int(r["base"]), int(r["size"])
    if size:
        lo, hi = min(lo, base), max(hi, base + size - 1)
    span = hi - lo + 1
    margin = max(MIN_SPAN, span // 2)
    new_size = span + 2 * margin
    if new_size > MAX_SPAN:
        new_size = max(span, MAX_SPAN)
        if span > MAX_SPAN:
            raise MMError(
                f"order book prices span {span:,} ticks ({lo}..{hi}), more than the "
                f"compiled book's {MAX_SPAN:,}",
                "check the data for bogus prices, or use the reference engine",
            )
        margin = (new_size - span) // 2
    new_base = max(lo - margin, 0) if lo >= 0 else lo - margin
    out = new_book(new_base, new_size)
    shift = base - new_base
    o = out.rec[0]
    if size:
        out.bids[shift : shift + size] = bk.bids
        out.asks[shift : shift + size] = bk.asks
        for name in ("n_bid", "n_ask", "best_bid", "best_ask"):
            o[name] = r[name]
        for side in ("bid", "ask"):
            lo_i, hi_i = int(r[f"{side}_lo"]), int(r[f"{side}_hi"])
            if lo_i <= hi_i:
                o[f"{side}_lo"], o[f"{side}_hi"] = lo_i + shift, hi_i + shift
    return out


@njit(cache=True, inline="always", _nrt=False)
def book_fits(bk: KBook, price: int) -> bool:
    i = price - bk.rec[0].base
    return 0 <= i < bk.rec[0].size


@njit(cache=True, _nrt=False)
def book_set(bk: KBook, side: int, price: int, qty: int) -> None:
    """Set a level's total size; 0 deletes it. The price must fit (:func:`book_fits`),
    except for a deletion, which is a no-op outside the window."""
    r = bk.rec[0]
    i = price - r.base
    if side == BID:
        a = bk.bids
        if qty != 0:
            if a[i] == 0:
                r.n_bid += 1
                if r.n_bid == 1 or price > r.best_bid:
                    r.best_bid = price
                if i < r.bid_lo:
                    r.bid_lo = i
                if i > r.bid_hi:
                    r.bid_hi = i
            a[i] = qty
        elif 0 <= i < r.size and a[i] != 0:
            a[i] = 0
            r.n_bid -= 1
            if r.n_bid > 0 and price == r.best_bid:
                j = i - 1
                while a[j] == 0:
                    j -= 1
                r.best_bid = j + r.base
    else:
        a = bk.asks
        if qty != 0:
            if a[i] == 0:
                r.n_ask += 1
                if r.n_ask == 1 or price < r.best_ask:
                    r.best_ask = price
                if i < r.ask_lo:
                    r.ask_lo = i
                if i > r.ask_hi:
                    r.ask_hi = i
            a[i] = qty
        elif 0 <= i < r.size and a[i] != 0:
            a[i] = 0
            r.n_ask -= 1
            if r.n_ask > 0 and price == r.best_ask:
                j = i + 1
                while a[j] == 0:
                    j += 1
                r.best_ask = j + r.base


@njit(cache=True, _nrt=False)
def book_clear(bk: KBook) -> None:
    r = bk.rec[0]
    if r.bid_lo <= r.bid_hi:
        bk.bids[r.bid_lo : r.bid_hi + 1] = 0
    if r.ask_lo <= r.ask_hi:
        bk.asks[r.ask_lo : r.ask_hi + 1] = 0
    r.n_bid = 0
    r.n_ask = 0
    r.bid_lo = r.size
    r.ask_lo = r.size
    r.bid_hi = -1
    r.ask_hi = -1


@njit(cache=True, inline="always", _nrt=False)
def best_bid(bk: KBook) -> int:
    """Best bid price, or NO_PRICE."""
    r = bk.rec[0]
    return r.best_bid if r.n_bid > 0 else NO_PRICE


@njit(cache=True, inline="always", _nrt=False)
def best_ask(bk: KBook) -> int:
    r = bk.rec[0]
    return r.best_ask if r.n_ask > 0 else NO_PRICE


@njit(cache=True, inline="always", _nrt=False)
def qty_at(bk: KBook, side: int, price: int) -> int:
    r = bk.rec[0]
    i = price - r.base
    if i < 0 or i >= r.size:
        return 0
    return bk.bids[i] if side == BID else bk.asks[i]


@njit(cache=True, _nrt=False)
def next_level(bk: KBook, side: int, price: int) -> int:
    """The next worse price with a level after ``price`` on ``side`` (NO_PRICE if none).

    Bids go down, asks go up; ``price`` need not be a level itself.
    """
    r = bk.rec[0]
    i = price - r.base
    if side == BID:
        if r.n_bid == 0:
            return NO_PRICE
        if i > r.bid_hi:
            i = r.bid_hi + 1
        j = i - 1
        while j >= r.bid_lo:
            if bk.bids[j] != 0:
                return j + r.base
            j -= 1
        return NO_PRICE
    if r.n_ask == 0:
        return NO_PRICE
    if i < r.ask_lo:
        i = r.ask_lo - 1
    j = i + 1
    while j <= r.ask_hi:
        if bk.asks[j] != 0:
            return j + r.base
        j += 1
    return NO_PRICE


@njit(cache=True, _nrt=False)
def depth_qty(bk: KBook, side: int, n: int) -> int:
    """Total size of the top ``n`` levels of one side."""
    r = bk.rec[0]
    total = 0
    if n <= 0:
        return 0
    if side == BID:
        if r.n_bid == 0:
            return 0
        j = r.best_bid - r.base
        k = 0
        while j >= r.bid_lo and k < n:
            q = bk.bids[j]
            if q != 0:
                total += q
                k += 1
            j -= 1
    else:
        if r.n_ask == 0:
            return 0
        j = r.best_ask - r.base
        k = 0
        while j <= r.ask_hi and k < n:
            q = bk.asks[j]
            if q != 0:
                total += q
                k += 1
            j += 1
    return total


@njit(cache=True, _nrt=False)
def imbalance(bk: KBook, n: int) -> float:
    """(bid depth - ask depth) / total over the top ``n`` levels, in [-1, 1]."""
    b = depth_qty(bk, BID, n)
    a = depth_qty(bk, ASK, n)
    if b + a:
        return (b - a) / (b + a)
    return 0.0


@njit(cache=True, inline="always", _nrt=False)
def mid_x2(bk: KBook) -> int:
    """Twice the mid in ticks, or NO_PRICE if a side is empty."""
    r = bk.rec[0]
    if r.n_bid == 0 or r.n_ask == 0:
        return NO_PRICE
    return r.best_bid + r.best_ask


@njit(cache=True, inline="always", _nrt=False)
def is_crossed(bk: KBook) -> bool:
    r = bk.rec[0]
    return r.n_bid > 0 and r.n_ask > 0 and r.best_bid >= r.best_ask


@njit(cache=True, _nrt=False)
def _depth_into(bk: KBook, side: int, n: int, out: np.ndarray) -> int:
    k = 0
    p = best_bid(bk) if side == BID else best_ask(bk)
    while p != NO_PRICE and k < n:
        out[k, 0] = p
        out[k, 1] = qty_at(bk, side, p)
        k += 1
        p = next_level(bk, side, p)
    return k


class CompiledBook:
    """:class:`core.l2book.L2Book`'s interface over the kernel (tests and Python edges)."""

    __slots__ = ("st",)

    def __init__(self) -> None:
        self.st = new_book()

    def __getstate__(self) -> KBook:
        return self.st

    def __setstate__(self, st: KBook) -> None:
        self.st = KBook(*st)

    def ensure(self, lo: int, hi: int) -> None:
        if not (book_fits(self.st, lo) and book_fits(self.st, hi)):
            self.st = grow_book(self.st, lo, hi)

    def clear(self) -> None:
        book_clear(self.st)

    def set(self, side: int, price: int, qty: int) -> None:
        if qty:
            self.ensure(price, price)
        book_set(self.st, side, price, qty)

    def best_bid(self) -> int | None:
        p = best_bid(self.st)
        return None if p == NO_PRICE else int(p)

    def best_ask(self) -> int | None:
        p = best_ask(self.st)
        return None if p == NO_PRICE else int(p)

    def best_bid_level(self) -> tuple[int, int] | None:
        p = self.best_bid()
        return None if p is None else (p, self.qty_at(BID, p))

    def best_ask_level(self) -> tuple[int, int] | None:
        p = self.best_ask()
        return None if p is None else (p, self.qty_at(ASK, p))

    def qty_at(self, side: int, price: int) -> int:
        return int(qty_at(self.st, side, price))

    def depth(self, side: int, n: int) -> list[tuple[int, int]]:
        if n <= 0:
            return []
        r = self.st.rec[0]
        n = min(n, int(r["n_bid"] if side == BID else r["n_ask"]))
        out = np.zeros((max(n, 1), 2), np.int64)
        k = _depth_into(self.st, side, n, out)
        return [(int(p), int(q)) for p, q in out[:k]]

    def depth_qty(self, side: int, n: int) -> int:
        return int(depth_qty(self.st, side, n))

    def mid_x2(self) -> int | None:
        m = mid_x2(self.st)
        return None if m == NO_PRICE else int(m)

    def mid(self) -> float | None:
        m = self.mid_x2()
        return None if m is None else m / 2

    def spread(self) -> int | None:
        b, a = self.best_bid(), self.best_ask()
        return None if b is None or a is None else a - b

    def is_crossed(self) -> bool:
        return bool(is_crossed(self.st))

    def imbalance(self, n: int) -> float:
        return float(imbalance(self.st, n))

    def levels(self) -> tuple[dict[int, int], dict[int, int]]:
        r = self.st.rec[0]
        base = int(r["base"])
        bids = {int(i) + base: int(self.st.bids[i]) for i in np.flatnonzero(self.st.bids)}
        asks = {int(i) + base: int(self.st.asks[i]) for i in np.flatnonzero(self.st.asks)}
        return bids, asks

    def __len__(self) -> int:
        r = self.st.rec[0]
        return int(r["n_bid"] + r["n_ask"])

    @property
    def bids(self) -> SortedDict:
        """A sorted copy of the bid side (the reference's attribute; for tests and tools)."""
        return SortedDict(self.levels()[0])

    @property
    def asks(self) -> SortedDict:
        return SortedDict(self.levels()[1])
