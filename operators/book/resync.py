"""When the trader asks its live source for a fresh book, and how often.

Every guard that stops quoting on the book's account (stale, crossed, out of sync, a bad
snapshot, data lagging the exchange clock) must have a way back. Bybit sends a book
snapshot only on subscribe, so a book that went bad stays bad unless someone asks: the
trader, which decides that the book is unusable, asks the source (which owns the
connection) to resubscribe.

Rule (all times on the trader's clock, integer ns). The trader calls ``check`` on each
timer tick, and ``check(now, True)`` on each book message after which the book is usable
while a spell is open (so a spell ends the moment the book is usable again, not at the
next tick); requests therefore only go out on ticks:

* a spell starts at the first check that sees the book unusable;
* the first request is due ``after_ns`` into the spell; request ``n`` (1, 2, ...) makes
  the next one due ``min(after_ns * 2**n, max_ns)`` later: 1 s, 2 s, 4 s, ... 30 s with
  the defaults, so a venue whose book stays bad is not hammered;
* the first check that sees the book usable ends the spell (the next spell starts from
  ``after_ns`` again).

Plain integer state, no allocation: easy to port into a compiled kernel.
"""

from __future__ import annotations


class ResyncScheduler:
    __slots__ = ("after_ns", "attempts", "max_ns", "next_at", "requests", "since")

    def __init__(self, after_ms: float, backoff_max_ms: float) -> None:
        if after_ms <= 0 or backoff_max_ms < after_ms:
            raise ValueError(
                f"resync delays must satisfy 0 < after ({after_ms} ms) <= max ({backoff_max_ms} ms)"
            )
        self.after_ns = int(after_ms * 1_000_000)
        self.max_ns = int(backoff_max_ms * 1_000_000)
        self.since = -1  # start of the current unusable spell, -1 = usable
        self.next_at = 0  # when the next request is due (within a spell)
        self.attempts = 0  # requests in the current spell
        self.requests = 0  # requests in all

    def check(self, now: int, usable: bool) -> int:
        """The request's attempt number (1, 2, ...) if one is due at ``now``, else 0."""
        if usable:
            self.since = -1
            self.attempts = 0
            return 0
        if self.since < 0:
            self.since = now
            self.next_at = now + self.after_ns
        if now < self.next_at:
            return 0
        self.attempts += 1
        self.requests += 1
        self.next_at = now + self.delay_after(self.attempts)
        return self.attempts

    def delay_after(self, attempt: int) -> int:
        """Nanoseconds from request ``attempt`` to the next one."""
        return resync_delay(self.after_ns, self.max_ns, attempt)


def resync_delay(after_ns: int, max_ns: int, attempt: int) -> int:
    """``min(after * 2**attempt, max)``, ns (the compiled loop computes the same)."""
    if attempt >= 62:
        return max_ns
    return min(after_ns << attempt, max_ns)
