"""The public source finds its way back to a usable book, against a fake Bybit that sends
a snapshot only on subscribe (``snapshots=False``, as real Bybit): bad snapshots, the
trader's resync requests, resubscribes that get no answer, oversized frames."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import numpy as np
import pytest
from bybit_helpers import config_for, wait_for
from fake_bybit import FakeBybit
from test_bybit_public import DELTA, RESET, SNAP, after, kind, pump, replay_into_book, seq

from connectors.bybit import codec
from connectors.bybit.data import BybitPublicSource, PublicFeed, _PublicPartition
from connectors.feedback import bus
from core.errors import MalformedLine
from core.events import ResetReason, ResyncRequest
from core.instruments import InstrumentSpec

pytestmark = pytest.mark.venue
Item = tuple[str, np.ndarray]


@pytest.fixture
def open_part() -> Iterator[Callable[..., _PublicPartition]]:
    parts: list[_PublicPartition] = []

    def build(fake: FakeBybit, resync_bus: str | None = None, **cfg: object) -> _PublicPartition:
        src = BybitPublicSource(
            ["XRPUSDT"], depth=50, config=config_for(fake, **cfg), resync_bus=resync_bus
        )
        part = src.build_part("bybit_in", "XRPUSDT", None)
        parts.append(part)
        return part

    yield build
    for p in parts:
        p.close()


def reset_codes(items: list[Item]) -> list[int]:
    return [int(b["qty"][0]) for _, b in items if kind((_, b)) == RESET]


def snapshots_sent(fake: FakeBybit) -> list[tuple[int, dict]]:
    return [(ts, info) for ts, what, info in list(fake.ws_log) if what == "snapshot"]


# -- the fake's own no-snapshot mode --------------------------------------------------------
def test_fake_without_periodic_snapshots_loops_by_one_delta_that_keeps_books_equal(
    open_part: Callable[..., _PublicPartition],
) -> None:
    with FakeBybit(snapshots=False, interval_s=0.002) as fake:
        part = open_part(fake)
        items = pump(part, [], lambda xs: any(w == "loop_delta" for _, w, _ in fake.ws_log))
        n = len(items)
        items = pump(part, items, lambda xs: len(xs) > n + 5)  # a few deltas past the loop
        fake.stall(30)  # the replay holds still: both books can be compared
        time.sleep(0.05)  # (a delta already past the stall check goes out first)
        with fake.lock:
            last_u = fake._u + fake._u_offset
        items = pump(part, items, lambda xs: any(kind(i) == DELTA and seq(i) == last_u for i in xs))
        kinds = [kind(i) for i in items]
        assert kinds.count(SNAP) == 1  # the subscribe's answer, never again
        sync = replay_into_book(items)
        assert sync.usable and sync.stats.gaps == 0
        feed: PublicFeed = part.feed
        assert feed.stats.gaps == 0 and feed.stats.resubscribes == 0
        with fake.lock:  # our book is the venue's book, level for level (top 20)
            want = fake.book.levels(20)
        spec = feed.spec
        for side, key in ((1, "b"), (-1, "a")):
            levels = [(spec.price_to_ticks(p), spec.size_to_lots(q)) for p, q in want[key]]
            assert sync.book.depth(side, 20) == levels


# -- item 3: a NaN (or inf, or negative) size in a snapshot ----------------------------------
@pytest.mark.parametrize("size", ["NaN", "inf", "-5"])
def test_codec_refuses_a_non_finite_or_negative_size(size: str) -> None:
    spec = InstrumentSpec("bybit", "XRPUSDT", Decimal("0.0001"), Decimal("1"), Decimal("5"))
    msg = {"topic": "orderbook.50.XRPUSDT", "type": "snapshot", "ts": 1, "cts": 1,
           "data": {"s": "XRPUSDT", "b": [["1.0000", size]], "a": [], "u": 7}}  # fmt: skip
    with pytest.raises(MalformedLine):
        codec.orderbook(spec, 1, 1, msg)


@pytest.mark.parametrize("size", ["NaN", "inf"])
def test_a_bad_first_snapshot_resets_and_resubscribes_to_a_good_book(
    open_part: Callable[..., _PublicPartition], size: str
) -> None:
    with FakeBybit(snapshots=False) as fake:
        fake.bad_snapshot_next(1, size)
        part = open_part(fake)
        items = pump(part, [], lambda xs: after(xs, 0, RESET, RESET, SNAP, DELTA))
        # connect, then "bad book message"; the resubscribe's snapshot is the first good one
        assert reset_codes(items)[:2] == [ResetReason.CONNECT, ResetReason.BAD_MESSAGE]
        feed: PublicFeed = part.feed
        assert feed.stats.bad_messages == 1 and feed.stats.resubscribes == 1
        [bad, good] = snapshots_sent(fake)[:2]
        assert bad[1]["bad_size"] == size and "bad_size" not in good[1]
        ops = [o["op"] for o in fake.public_ops if o["op"] != "ping"]
        assert ops == ["subscribe", "unsubscribe", "subscribe"]
        assert replay_into_book(items).usable


def test_bad_snapshots_in_a_row_are_retried_with_backoff(
    open_part: Callable[..., _PublicPartition],
) -> None:
    with FakeBybit(snapshots=False) as fake:
        fake.bad_snapshot_next(3, "NaN")
        part = open_part(fake, reconnect_initial_s=0.1, reconnect_max_s=1.0)
        items = pump(part, [], lambda xs: after(xs, 0, RESET, RESET, RESET, RESET, SNAP))
        sent = [ts for ts, _ in snapshots_sent(fake)]
        assert len(sent) == 4  # 3 bad, then the good one
        gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(sent)]
        # first resubscribe at once, then 0.1 s, then 0.2 s (doubling)
        assert gaps[0] < 0.1 and 0.1 <= gaps[1] < 0.3 and 0.2 <= gaps[2] < 0.6, gaps
        assert reset_codes(items)[1:] == [ResetReason.BAD_MESSAGE] * 3
        assert replay_into_book(items).usable


# -- the trader's resync request reaches the source -------------------------------------------
def test_a_resync_request_on_the_bus_resubscribes_for_a_fresh_snapshot(
    open_part: Callable[..., _PublicPartition],
) -> None:
    with FakeBybit(snapshots=False) as fake:
        part = open_part(fake, resync_bus="test_resync_bus")
        items = pump(part, [], lambda xs: after(xs, 0, RESET, SNAP, DELTA))
        mark = len(items)
        bus("test_resync_bus").put(
            "bybit:XRPUSDT", ResyncRequest("bybit:XRPUSDT", "crossed book", 1, time.time_ns())
        )
        items = pump(part, items, lambda xs: after(xs, mark, RESET, SNAP, DELTA))
        assert reset_codes(items[mark:])[:1] == [ResetReason.RESYNC]
        feed: PublicFeed = part.feed
        assert feed.stats.resync_requests == 1 and feed.stats.resubscribes == 1
        assert len(snapshots_sent(fake)) == 2 and feed.connects == 1
        assert [o["op"] for o in fake.public_ops if o["op"] != "ping"][1:] == [
            "unsubscribe",
            "subscribe",
        ]
        assert replay_into_book(items).usable


def test_a_resubscribe_answered_by_nothing_reconnects(
    open_part: Callable[..., _PublicPartition],
) -> None:
    with FakeBybit(snapshots=False) as fake:
        part = open_part(fake, resync_timeout_s=0.3)
        items = pump(part, [], lambda xs: after(xs, 0, RESET, SNAP, DELTA))
        feed: PublicFeed = part.feed
        fake.stall(1.0, hard=True)  # the link stays open but nothing comes back
        feed.request_resync("stale book")
        wait_for(lambda: feed.connects >= 2, timeout=3.0)
        assert feed.stats.resubscribe_timeouts == 1
        assert "no snapshot within 0.3s" in feed.last_close_reason
        mark = len(items)
        pump(part, items, lambda xs: after(xs, mark, SNAP, DELTA), timeout=5.0)


def test_a_resync_request_while_disconnected_waits_for_the_reconnect(
    open_part: Callable[..., _PublicPartition],
) -> None:
    with FakeBybit(snapshots=False) as fake:
        part = open_part(fake, reconnect_initial_s=0.5, reconnect_max_s=0.5, stable_after_s=10)
        pump(part, [], lambda xs: after(xs, 0, RESET, SNAP, DELTA))
        feed: PublicFeed = part.feed
        fake.kill()
        wait_for(lambda: not feed.connected.is_set(), timeout=3.0)
        feed.request_resync("feed reset (reconnect)")
        wait_for(lambda: feed.stats.resync_requests == 1)
        assert feed.stats.resubscribes == 0  # nothing to resubscribe on
        fake.restart()
        wait_for(lambda: feed.connects >= 2, timeout=5.0)


# -- the websocket's message size limit --------------------------------------------------------
def test_a_frame_above_the_size_limit_closes_the_link_and_reconnects(
    open_part: Callable[..., _PublicPartition],
) -> None:
    with FakeBybit(snapshots=False) as fake:
        part = open_part(fake, ws_max_message_bytes=64 * 1024)
        items = pump(part, [], lambda xs: after(xs, 0, RESET, SNAP, DELTA))
        feed: PublicFeed = part.feed
        fake.send_oversize(100_000)  # ~100 KB: above 64 KiB
        wait_for(lambda: feed.connects >= 2, timeout=3.0)
        assert "1009" in feed.last_close_reason  # message too big
        mark = len(items)
        items = pump(part, items, lambda xs: after(xs, mark, RESET, SNAP, DELTA))
        assert reset_codes(items[mark:])[0] == ResetReason.DISCONNECT
        assert replay_into_book(items).usable
