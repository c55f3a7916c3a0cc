"""Per-UID rate budgets for Bybit REST, kept in step with the venue's own counters.

One token bucket per endpoint group, sized from the documented default per-UID limits
(UTA, linear: create/amend/cancel and their batch versions 10/s each, batch requests
costing one token per order; cancel-all 10/s; open orders and positions 50/s; DCP 5/s).
Every response's ``X-Bapi-Limit`` / ``X-Bapi-Limit-Status`` /
``X-Bapi-Limit-Reset-Timestamp`` headers resize the bucket and cap its tokens; a
``10006`` blocks the group until the reset timestamp. The gateway sends cancels before
amends and places, and cancels have their own bucket, so a busy quoting loop never
delays getting out of the market.

The clock is injected (seconds since the epoch, as the reset header is), so tests run
without sleeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.log import event, get_logger

log = get_logger(__name__)

# Documented default per-UID limits (requests or, for batch endpoints, orders per second).
DEFAULT_LIMITS: dict[str, int] = {
    "create": 10,
    "amend": 10,
    "cancel": 10,
    "cancel_all": 10,
    "query": 50,
    "dcp": 5,
    "public": 100,  # IP limit 600 / 5 s, shared with anything else on the host
}
SPOT_LIMITS: dict[str, int] = {
    **DEFAULT_LIMITS,
    "create": 20,
    "amend": 10,
    "cancel": 20,
    "cancel_all": 20,
}

FALLBACK_BLOCK_S = 1.0  # 10006 without a reset header: the window is one second
EPSILON_S = 1e-6  # epoch seconds as floats are only this exact: shorter waits are no wait


@dataclass
class Bucket:
    capacity: float
    rate: float  # tokens per second
    tokens: float
    updated: float
    blocked_until: float = 0.0

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now


class RateLimiter:
    """Token buckets per endpoint group; ``acquire`` waits (via ``sleep``) then spends."""

    def __init__(
        self,
        limits: dict[str, int] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        now = clock()
        self.buckets: dict[str, Bucket] = {
            g: Bucket(float(n), float(n), float(n), now)
            for g, n in (limits or DEFAULT_LIMITS).items()
        }
        self.waited_s = 0.0  # total time spent waiting (for reports)

    def _bucket(self, group: str) -> Bucket:
        b = self.buckets.get(group)
        if b is None:
            n = float(DEFAULT_LIMITS.get(group, 10))
            b = self.buckets[group] = Bucket(n, n, n, self.clock())
        return b

    def capacity(self, group: str) -> int:
        return int(self._bucket(group).capacity)

    def wait_time(self, group: str, cost: int = 1) -> float:
        """Seconds until ``cost`` tokens are available in ``group`` (0 = now)."""
        b = self._bucket(group)
        now = self.clock()
        b.refill(now)
        wait = max(0.0, b.blocked_until - now)
        need = min(float(cost), b.capacity) - b.tokens
        if need > 0:
            wait = max(wait, need / b.rate)
        return wait if wait > EPSILON_S else 0.0

    def headroom(self, group: str) -> float:
        """Share of the group's budget available now, 0..1 (read-only: safe from another
        thread, e.g. a metrics scrape)."""
        b = self._bucket(group)
        now = self.clock()
        if b.blocked_until > now or b.capacity <= 0:
            return 0.0
        tokens = min(b.capacity, b.tokens + max(0.0, now - b.updated) * b.rate)
        return max(0.0, tokens / b.capacity)

    def acquire(self, group: str, cost: int = 1) -> float:
        """Wait until the group can afford ``cost`` and spend it; returns seconds waited."""
        waited = 0.0
        while True:
            wait = self.wait_time(group, cost)
            if wait <= 0:
                break
            # pacing within the budget is routine; a long wait is worth a line
            level = logging.INFO if wait >= 0.5 else logging.DEBUG
            event(log, level, "rate_limit_wait", venue="bybit", group=group, cost=cost,
                  wait_s=round(wait, 4))  # fmt: skip
            self.sleep(wait)
            waited += wait
        b = self._bucket(group)
        b.tokens -= min(float(cost), b.capacity)
        self.waited_s += waited
        return waited

    def on_headers(
        self, group: str, limit: int | None, remaining: int | None, reset_ms: int | None
    ) -> None:
        """Adopt the venue's view of this group's budget."""
        b = self._bucket(group)
        now = self.clock()
        b.refill(now)
        if limit is not None and limit > 0 and limit != b.capacity:
            b.capacity = float(limit)
            b.rate = float(limit)
        if remaining is not None:
            b.tokens = min(b.tokens, float(max(remaining, 0)))
            if remaining <= 0 and reset_ms is not None and reset_ms / 1000 > now:
                b.blocked_until = max(b.blocked_until, reset_ms / 1000)

    def on_rate_limited(self, group: str, reset_ms: int | None) -> float:
        """A 10006: block the group until the reset time; returns the block length (s)."""
        b = self._bucket(group)
        now = self.clock()
        until = reset_ms / 1000 if reset_ms is not None else now + FALLBACK_BLOCK_S
        if until <= now:
            until = now + 0.05  # the reset is already past: a short pause, not a spin
        b.blocked_until = max(b.blocked_until, until)
        b.tokens = 0.0
        b.updated = max(b.updated, now)
        event(log, logging.WARNING, "rate_limited", venue="bybit", group=group,
              reset_ms=reset_ms, block_s=round(b.blocked_until - now, 4))  # fmt: skip
        return b.blocked_until - now
