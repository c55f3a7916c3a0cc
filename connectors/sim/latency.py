"""When did a recorded market message happen at the venue? (market-data latency)

The simulation runs on one clock, the local one: a recorded message was received at
``recv_ts`` and happened at the venue at ``venue_ts = recv_ts - md_latency``; orders
reach the venue ``order_latency`` after they are sent and responses reach the strategy
``response_latency`` after the venue produced them.

* constant mode: ``md_latency = md_latency_ms`` for every message.
* recorded mode: local and venue clocks differ by an unknown offset (in the bundled
  Binance sample local time is ~1.27 s *behind* exchange time), so the delivery time
  ``recv_ts - exch_ts`` is latency + offset. The fastest delivery seen so far is taken
  as zero latency: ``clock_offset = min(recv_ts - exch_ts)`` over the messages so far and
  ``md_latency = max(0, (recv_ts - exch_ts) - clock_offset)``, i.e.
  ``venue_ts = exch_ts + clock_offset``. The running minimum is causal (no look-ahead),
  so latencies early in the data are underestimated until a fast delivery is seen.
  A message without an exchange time (``exch_ts <= 0``) reuses the last latency
  (``md_latency_ms`` before the first one).
"""

from __future__ import annotations

NS_PER_MS = 1_000_000


def ms_to_ns(ms: float) -> int:
    return round(ms * NS_PER_MS)


class MdClock:
    """Maps a market message's (recv_ts, exch_ts) to its venue time on the local clock."""

    __slots__ = ("clock_offset", "last_latency", "recorded")

    def __init__(self, mode: str, md_latency_ms: float) -> None:
        self.recorded = mode == "recorded"
        self.last_latency = ms_to_ns(md_latency_ms)
        self.clock_offset: int | None = None  # recorded mode: min(recv_ts - exch_ts) so far

    def venue_ts(self, recv_ts: int, exch_ts: int) -> int:
        if not self.recorded or exch_ts <= 0:
            return recv_ts - self.last_latency
        delivery = recv_ts - exch_ts
        offset = self.clock_offset
        if offset is None or delivery < offset:
            offset = self.clock_offset = delivery
        latency = delivery - offset  # >= 0: offset is a minimum that includes this message
        self.last_latency = latency
        return recv_ts - latency
