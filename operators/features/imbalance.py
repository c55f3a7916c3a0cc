"""Book pressure: microprice and a time-aware EMA of depth imbalance.

The quoter skews towards the side the book leans to; a raw imbalance flickers with
every message, so it is smoothed with an EMA whose weight depends on elapsed receive
time (not on message count), making it independent of how chatty the venue is.
"""

from __future__ import annotations

from core.l2book import L2Book


def microprice(book: L2Book) -> float | None:
    """(bid*ask_qty + ask*bid_qty) / (bid_qty + ask_qty) in ticks; None if a side is empty.

    The touch size-weighted mid: a big bid queue pulls the fair price towards the ask
    because the ask is the side more likely to be taken next.
    """
    bid = book.best_bid_level()
    ask = book.best_ask_level()
    if bid is None or ask is None:
        return None
    bp, bq = bid
    ap, aq = ask
    return (bp * aq + ap * bq) / (bq + aq)


class ImbalanceEMA:
    """Depth imbalance over the top ``levels``, smoothed with a half-life in receive time.

    ``alpha = 1 - 0.5 ** (dt / half_life)``: after one half-life without a change the
    previous value has lost half its weight. A message with the same (or an older)
    timestamp as the previous one gets ``dt = 0``, hence no weight: the value moves
    only as time passes, so a burst of messages in one instant cannot swing it.
    """

    __slots__ = ("_half_life_ns", "_last_ts", "levels", "raw", "value")

    def __init__(self, levels: int = 5, half_life_ms: float = 500.0) -> None:
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        if not half_life_ms > 0:
            raise ValueError(f"half_life_ms must be > 0, got {half_life_ms}")
        self.levels = levels
        self._half_life_ns = half_life_ms * 1e6
        self._last_ts: int | None = None
        self.value = 0.0
        self.raw = 0.0

    def update(self, book: L2Book, ts: int) -> float:
        """Feed the book after a message received at ``ts`` (ns); returns the smoothed value."""
        raw = book.imbalance(self.levels)
        self.raw = raw
        last = self._last_ts
        if last is None:
            self.value = raw
            self._last_ts = ts
            return raw
        dt = ts - last
        if dt > 0:
            alpha = 1.0 - 0.5 ** (dt / self._half_life_ns)
            self.value += alpha * (raw - self.value)
            self._last_ts = ts
        return self.value
