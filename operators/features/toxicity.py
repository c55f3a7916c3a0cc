"""Order-flow toxicity: is someone better informed about to run over our quotes?

Rules from the mm-bot optimization plan, each a strict ``>`` test:

* microprice drift: ``|drift| > drift_bps`` between the current microprice and the
  oldest one recorded 200-400 ms ago (a fast, one-way move of the fair price);
* book imbalance: ``|bid depth - ask depth| / total > 0.65`` over ``depth_levels``;
* aggressor ratio: buy (or sell) aggressors ``> 0.7`` of the last 50 trades, by count;
* markout: EMA over our fills of how far the mid moved against each fill within
  ``markout_horizon_ms``, scaled to [0, 1], ``> markout_threshold``.

Score is the max over components: 1.0 per triggered market rule, and ``markout_ema``
itself (so fills that keep going wrong raise the score before they trip the rule).
Direction: rising pressure (positive drift, bid-heavy book, buy aggressors) threatens
our asks (-1), falling pressure our bids (+1); conflicting rules give 0. The markout
rule carries no direction.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from core.l2book import L2Book
from operators.features.imbalance import microprice


@dataclass(frozen=True)
class ToxicityReading:
    score: float  # 0 (clean) .. 1 (toxic)
    reasons: tuple[str, ...]  # subset of REASONS, in that order
    threatened_side: int  # +1: our bids at risk (price falling), -1: our asks, 0: none/both


REASONS = ("markout", "microprice_drift", "book_imbalance", "aggressor_buy", "aggressor_sell")


class ToxicityDetector:
    """Per-instrument toxicity state, fed by the trader loop; ``reading`` is side-effect free.

    The aggressor rule needs a full window of ``aggressor_window`` trades (a ratio of
    three trades says nothing). Fills are resolved by the first ``on_mid`` at least
    ``markout_horizon_ms`` after them; ``markout_ema`` starts at 0, so one fully toxic
    fill moves it to ``markout_alpha``.
    """

    def __init__(
        self,
        drift_bps: float = 3.0,
        drift_window_ms: tuple[int, int] = (200, 400),
        imbalance_threshold: float = 0.65,
        depth_levels: int = 5,
        aggressor_threshold: float = 0.7,
        aggressor_window: int = 50,
        markout_horizon_ms: int = 1000,
        markout_scale_bps: float = 5.0,
        markout_alpha: float = 0.2,
        markout_threshold: float = 0.5,
    ) -> None:
        lo, hi = drift_window_ms
        if not 0 <= lo <= hi:
            raise ValueError(
                f"drift_window_ms must be (lo, hi) with 0 <= lo <= hi, got {drift_window_ms}"
            )
        if depth_levels < 1 or aggressor_window < 1:
            raise ValueError(
                f"depth_levels and aggressor_window must be >= 1, got {depth_levels}, {aggressor_window}"
            )
        if not 0 < markout_alpha <= 1:
            raise ValueError(f"markout_alpha must be in (0, 1], got {markout_alpha}")
        if not markout_scale_bps > 0:
            raise ValueError(f"markout_scale_bps must be > 0, got {markout_scale_bps}")
        if markout_horizon_ms < 0:
            raise ValueError(f"markout_horizon_ms must be >= 0, got {markout_horizon_ms}")
        self.drift_bps = drift_bps
        self.imbalance_threshold = imbalance_threshold
        self.depth_levels = depth_levels
        self.aggressor_threshold = aggressor_threshold
        self.aggressor_window = aggressor_window
        self.markout_scale_bps = markout_scale_bps
        self.markout_alpha = markout_alpha
        self.markout_threshold = markout_threshold
        self._lo_ns = int(lo) * 1_000_000
        self._hi_ns = int(hi) * 1_000_000
        self._horizon_ns = int(markout_horizon_ms) * 1_000_000
        self._micro: deque[tuple[int, float]] = deque()  # (ts, microprice), <= hi old
        self.imbalance = 0.0  # signed depth imbalance of the last book
        self._sides: deque[int] = deque()
        self._buys = 0
        self._sells = 0
        self._pending: deque[tuple[int, int, float]] = deque()  # (ts, side, price) of fills
        self.markout_ema = 0.0
        self.markouts = 0  # fills resolved so far

    # -- inputs ----------------------------------------------------------------------
    def on_book(self, book: L2Book, ts: int, imbalance: float | None = None) -> None:
        """Record the microprice (for drift) and the depth imbalance after a book message.

        ``imbalance``: the book's imbalance over ``depth_levels``, if the caller already has
        it (the trader's ImbalanceEMA computes the same number on every book message).
        """
        mp = microprice(book)
        if mp is not None:
            micro = self._micro
            micro.append((ts, mp))
            cutoff = ts - self._hi_ns
            while micro[0][0] < cutoff:
                micro.popleft()
        self.imbalance = book.imbalance(self.depth_levels) if imbalance is None else imbalance

    def on_trade(self, side: int, qty: int, ts: int) -> None:
        """A public trade; ``side`` is the aggressor (+1 buy, -1 sell). Counted, not sized."""
        if side == 1:
            self._buys += 1
        elif side == -1:
            self._sells += 1
        else:
            raise ValueError(f"trade side must be +1 or -1, got {side!r}")
        sides = self._sides
        sides.append(side)
        if len(sides) > self.aggressor_window:
            if sides.popleft() == 1:
                self._buys -= 1
            else:
                self._sells -= 1

    def on_fill(self, side: int, price: float, ts: int) -> None:
        """One of our fills (+1 = we bought) at ``price`` ticks, marked out later by on_mid."""
        if side not in (1, -1):
            raise ValueError(f"fill side must be +1 or -1, got {side!r}")
        if not price > 0:
            raise ValueError(f"fill price must be > 0, got {price!r}")
        self._pending.append((ts, side, price))

    def on_mid(self, mid: float, ts: int) -> None:
        """Resolve fills at least the horizon old against this mid (ticks)."""
        pending = self._pending
        if not pending:
            return
        horizon = self._horizon_ns
        alpha = self.markout_alpha
        scale = self.markout_scale_bps
        while pending and ts - pending[0][0] >= horizon:
            _, side, price = pending.popleft()
            adverse_bps = -side * (mid - price) / price * 1e4
            toxic = min(max(adverse_bps / scale, 0.0), 1.0)
            self.markout_ema += alpha * (toxic - self.markout_ema)
            self.markouts += 1

    # -- output ----------------------------------------------------------------------
    def drift(self, ts: int) -> float | None:
        """Microprice drift in bps against the oldest record aged within the window, if any."""
        micro = self._micro
        oldest_allowed = ts - self._hi_ns
        for t, mp in micro:
            if t >= oldest_allowed:
                if ts - t < self._lo_ns:
                    return None
                return (micro[-1][1] - mp) * 1e4 / mp
        return None

    def reading(self, ts: int) -> ToxicityReading:
        reasons: list[str] = []
        rising = falling = False
        score = self.markout_ema
        if score > self.markout_threshold:
            reasons.append("markout")
        d = self.drift(ts)
        if d is not None and abs(d) > self.drift_bps:
            reasons.append("microprice_drift")
            rising |= d > 0
            falling |= d < 0
        imb = self.imbalance
        if abs(imb) > self.imbalance_threshold:
            reasons.append("book_imbalance")
            rising |= imb > 0
            falling |= imb < 0
        n = len(self._sides)
        if n == self.aggressor_window:
            if self._buys / n > self.aggressor_threshold:
                reasons.append("aggressor_buy")
                rising = True
            elif self._sells / n > self.aggressor_threshold:
                reasons.append("aggressor_sell")
                falling = True
        if rising or falling:
            score = 1.0
        side = -1 if rising and not falling else 1 if falling and not rising else 0
        return ToxicityReading(min(score, 1.0), tuple(reasons), side)
