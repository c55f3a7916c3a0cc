"""Hyperliquid's two request budgets, as token buckets with an injected clock.

* IP weight: 1200 per minute. An exchange action weighs ``1 + floor(batch_len / 40)``;
  ``/info`` requests weigh 2 (l2Book, allMids, clearinghouseState, orderStatus, ...) or
  20 (everything else). An HTTP 429 blocks the bucket for a while.
* Address allowance: 10,000 requests to start with, plus 1 per USDC traded; each order
  or cancel of a batch counts. Once spent, one request per 10 s. The venue's own count
  (``userRateLimit``) and the address-limit error keep our view honest.

The order sink asks ``wait_time(group, n)`` for its action groups (create, amend,
cancel, cancel_all), exactly as it asks the Bybit limiter; ``headroom()`` feeds the
status line and metrics.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any, TypeVar

from connectors.bybit.ratelimit import EPSILON_S, Bucket
from core.log import event, get_logger

log = get_logger(__name__)
T = TypeVar("T")

IP_WEIGHT_PER_MIN = 1200
ADDRESS_ALLOWANCE = 10_000
EXHAUSTED_EVERY_S = 10.0  # the address trickle once the allowance is spent
RATE_LIMITED_BLOCK_S = 10.0  # a 429 carries no reset time: wait this long
LIGHT_INFO = frozenset(
    {"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState",
     "exchangeStatus"}
)  # fmt: skip


def exchange_weight(batch_len: int) -> int:
    return 1 + batch_len // 40


def info_weight(kind: str) -> int:
    return 2 if kind in LIGHT_INFO else 20


def _locked(fn: Callable[..., T]) -> Callable[..., T]:
    """Run a limiter method under its lock (two threads spend from one budget)."""

    @wraps(fn)
    def run(self: HyperliquidLimiter, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return fn(self, *args, **kwargs)

    return run


class HyperliquidLimiter:
    """``ip`` and ``address`` buckets; ``acquire_*`` waits (via ``sleep``) then spends."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        ip_per_min: int = IP_WEIGHT_PER_MIN,
        address_allowance: int = ADDRESS_ALLOWANCE,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        now = clock()
        self.ip = Bucket(float(ip_per_min), ip_per_min / 60.0, float(ip_per_min), now)
        self.address = Bucket(float(address_allowance), 1 / EXHAUSTED_EVERY_S,
                              float(address_allowance), now)  # fmt: skip
        self.waited_s = 0.0
        # the gateway worker and the dead man's switch heartbeat spend from one budget,
        # each on its own thread
        self._lock = threading.RLock()

    # -- what the order sink asks -----------------------------------------------------------
    def capacity(self, group: str) -> int:
        return 40 * int(self.ip.capacity)  # batches are cheap on IP weight; address decides

    def wait_time(self, group: str, cost: int = 1) -> float:
        """Seconds until an exchange action of ``cost`` orders can go (0 = now)."""
        with self._lock:
            return max(self._wait(self.ip, exchange_weight(cost)), self._wait(self.address, cost))

    # -- spending ---------------------------------------------------------------------------
    def acquire_exchange(self, n: int) -> float:
        return self._acquire({"ip": exchange_weight(n), "address": max(1, n)})

    def acquire_info(self, kind: str) -> float:
        return self._acquire({"ip": info_weight(kind)})

    def _acquire(self, costs: dict[str, int]) -> float:
        waited = 0.0
        buckets = {"ip": self.ip, "address": self.address}
        while True:
            with self._lock:
                wait = max(self._wait(buckets[k], c) for k, c in costs.items())
                if wait <= 0:
                    for k, c in costs.items():
                        buckets[k].tokens -= min(float(c), max(buckets[k].capacity, 1.0))
                    break
            level = logging.INFO if wait >= 0.5 else logging.DEBUG
            event(log, level, "rate_limit_wait", venue="hyperliquid", costs=costs,
                  wait_s=round(wait, 4))  # fmt: skip
            self.sleep(wait)
            waited += wait
        self.waited_s += waited
        return waited

    def _wait(self, b: Bucket, cost: int) -> float:
        now = self.clock()
        if b is self.address:
            # the address trickle: one request per 10 s, only while the allowance is spent
            if b.tokens < 1 and now > b.updated:
                b.tokens = min(1.0, b.tokens + (now - b.updated) * b.rate)
            b.updated = max(b.updated, now)
        else:
            b.refill(now)
        wait = max(0.0, b.blocked_until - now)
        need = min(float(cost), max(b.capacity, 1.0)) - b.tokens
        if need > 0:
            wait = max(wait, need / b.rate)
        return wait if wait > EPSILON_S else 0.0

    # -- the venue's view -------------------------------------------------------------------
    @_locked
    def on_traded(self, notional_usdc: Decimal) -> None:
        """Each USDC traded buys one more request."""
        self.address.tokens += int(notional_usdc)
        self.address.capacity = max(self.address.capacity, self.address.tokens)

    @_locked
    def on_user_rate_limit(self, used: int, cap: int) -> None:
        """Adopt ``userRateLimit``'s ``nRequestsUsed`` / ``nRequestsCap``."""
        self.address.capacity = float(max(cap, 1))
        self.address.tokens = float(cap - used)
        self.address.updated = self.clock()

    @_locked
    def on_rate_limited(self, kind: str) -> float:
        """A 429 (``ip``) or the address-limit error (``address``); returns the block (s)."""
        now = self.clock()
        if kind == "ip":
            self.ip.tokens = 0.0
            self.ip.blocked_until = max(self.ip.blocked_until, now + RATE_LIMITED_BLOCK_S)
            self.ip.updated = max(self.ip.updated, now)
            block = self.ip.blocked_until - now
        else:
            self.address.tokens = 0.0
            self.address.updated = now
            block = EXHAUSTED_EVERY_S
        event(log, logging.WARNING, "rate_limited", venue="hyperliquid", kind=kind,
              block_s=round(block, 3))  # fmt: skip
        return block

    BUDGETS = ("ip_weight", "address_requests")  # the metrics' rate-budget groups

    def share(self, budget: str) -> float:
        """Share of ``budget`` left now, 0..1 (read-only: safe from a metrics scrape)."""
        now = self.clock()
        if budget == "ip_weight":
            b = self.ip
            tokens = min(b.capacity, b.tokens + max(0.0, now - b.updated) * b.rate)
        else:
            b = self.address
            tokens = b.tokens
        if b.blocked_until > now or b.capacity <= 0:
            return 0.0
        return min(1.0, max(0.0, tokens / b.capacity))

    @_locked
    def headroom(self) -> dict[str, float]:
        """What is left now: IP weight and address requests (for the status line, metrics)."""
        self._wait(self.ip, 0)
        self._wait(self.address, 0)
        return {
            "ip_weight": round(self.ip.tokens, 3),
            "address_requests": round(self.address.tokens, 3),
        }
