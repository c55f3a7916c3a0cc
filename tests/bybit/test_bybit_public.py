"""The public Bytewax source against the fake Bybit: events, reconnects, gaps, u=1, staleness."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from bybit_helpers import config_for, wait_for
from fake_bybit import TICK, FakeBybit
from feed_helpers import DELTA, RESET, SNAP, TRADE, Item, after, kind, pump

from connectors.bybit.data import BybitPublicSource, PublicFeed, _PublicPartition
from core.errors import ConfigError
from core.walk import messages
from operators.book.sync import BybitSync

pytestmark = pytest.mark.venue


def seq(item: Item) -> int:
    return int(item[1]["seq"][0])


@pytest.fixture
def open_part() -> Iterator[Callable[..., _PublicPartition]]:
    parts: list[_PublicPartition] = []

    def build(
        fake: FakeBybit, depth: int = 500, trades: bool = True, **cfg: object
    ) -> _PublicPartition:
        src = BybitPublicSource(
            ["XRPUSDT"], depth=depth, trades=trades, config=config_for(fake, **cfg)
        )
        part = src.build_part("bybit_in", "XRPUSDT", None)
        parts.append(part)
        return part

    yield build
    for p in parts:
        p.close()


def replay_into_book(items: list[Item]) -> BybitSync:
    sync = BybitSync()
    for _, batch in items:
        for m in messages(batch):
            if m.kind == RESET:
                sync.force_out_of_sync("feed reset")
            elif m.kind in (SNAP, DELTA):
                sync.on_message(m.kind, m.seq, m.prev_seq, m.first_seq, m.levels)
    return sync


def contiguous_after_last_snapshot(items: list[Item]) -> bool:
    book = [i for i in items if kind(i) in (SNAP, DELTA, RESET)]
    last = max(j for j, i in enumerate(book) if kind(i) == SNAP)
    ids = [seq(i) for i in book[last:]]
    return all(kind(i) != RESET for i in book[last:]) and ids == list(
        range(ids[0], ids[0] + len(ids))
    )


def test_reset_first_then_snapshot_then_contiguous_deltas_matching_the_venue(
    open_part: Callable[..., _PublicPartition],
) -> None:
    with FakeBybit(loop=False, interval_s=0.003) as fake:
        t0 = time.time_ns()
        part = open_part(fake)
        items = pump(part, [], lambda xs: sum(kind(x) == DELTA for x in xs) == 49)
        time.sleep(0.05)
        items += part.next_batch()
        assert {i[0] for i in items} == {"bybit:XRPUSDT"}
        assert kind(items[0]) == RESET and len(items[0][1]) == 1
        assert kind(items[1]) == SNAP
        # the snapshot's u is the capture's (the first recorded delta is u=20254870)
        assert seq(items[1]) == 20254869 and contiguous_after_last_snapshot(items)
        assert all(t0 <= int(b["recv_ts"][0]) <= time.time_ns() for _, b in items)
        sync = replay_into_book(items)
        assert sync.usable and sync.stats.gaps == 0
        # the book we built equals the venue's, level by level, in ticks/lots
        with fake.lock:
            venue_bids = {int(p / TICK): int(q) for p, q in fake.book.bids.items()}
            venue_asks = {int(p / TICK): int(q) for p, q in fake.book.asks.items()}
        assert dict(sync.book.bids.items()) == venue_bids
        assert dict(sync.book.asks.items()) == venue_asks


def test_dropped_websocket_reconnects_with_reset_then_fresh_snapshot(
    fake: FakeBybit, open_part: Callable[..., _PublicPartition]
) -> None:
    part = open_part(fake)
    items = pump(part, [], lambda xs: after(xs, 0, RESET, SNAP, DELTA))
    mark = len(items)
    fake.drop_connections()
    pump(part, items, lambda xs: after(xs, mark, RESET, SNAP, DELTA))
    tail = [kind(i) for i in items[mark:]]
    r = tail.index(RESET)
    assert DELTA not in tail[r : tail.index(SNAP)]  # nothing between the reset and the snapshot
    feed: PublicFeed = part.feed
    assert feed.connects == 2 and feed.stats.resets == 2
    assert replay_into_book(items).usable


def test_update_id_gap_resets_and_resubscribes(
    fake: FakeBybit, open_part: Callable[..., _PublicPartition]
) -> None:
    part = open_part(fake)
    items = pump(part, [], lambda xs: after(xs, 0, RESET, SNAP, DELTA))
    mark = len(items)
    fake.inject_gap()
    pump(part, items, lambda xs: after(xs, mark, RESET, SNAP, DELTA))
    feed: PublicFeed = part.feed
    assert feed.stats.gaps == 1 and feed.connects == 1  # same connection, resubscribed
    ops = [(o["op"], tuple(o["args"])) for o in fake.public_ops if o["op"] != "ping"]
    assert ops[-2:] == [
        ("unsubscribe", ("orderbook.500.XRPUSDT",)),
        ("subscribe", ("orderbook.500.XRPUSDT",)),
    ]
    sync = replay_into_book(items)
    assert sync.usable and sync.stats.gaps == 0  # the gapped delta never reached the book


@pytest.mark.parametrize("as_type", ["snapshot", "delta"])
def test_u1_full_resend_resets_the_book_and_ids_restart(
    fake: FakeBybit, open_part: Callable[..., _PublicPartition], as_type: str
) -> None:
    part = open_part(fake)
    items = pump(part, [], lambda xs: after(xs, 0, RESET, SNAP, DELTA))
    mark = len(items)
    fake.full_resend(as_type)
    pump(part, items, lambda xs: any(seq(x) == 3 for x in xs[mark:]))
    resend = next(i for i in items[mark:] if seq(i) == 1)
    assert kind(resend) == SNAP  # even when Bybit labels it a delta
    assert [seq(i) for i in items[mark:] if kind(i) in (SNAP, DELTA)][-3:] == [1, 2, 3]
    feed: PublicFeed = part.feed
    assert feed.stats.resets == 1 and feed.stats.full_resends == 1  # no reset needed: u=1 is one
    assert replay_into_book(items).usable


def test_stale_feed_resets_and_resubscribes(open_part: Callable[..., _PublicPartition]) -> None:
    with FakeBybit(loop=False, interval_s=0.002) as fake:  # replays ~0.1 s, then silence
        part = open_part(fake, stale_after_s=0.3)
        items = pump(part, [], lambda xs: after(xs, 0, RESET, SNAP, DELTA))
        mark = len(items)
        pump(part, items, lambda xs: after(xs, mark, RESET, SNAP), timeout=3.0)
        feed: PublicFeed = part.feed
        assert feed.stats.stale >= 1 and feed.connects == 1


def test_missing_pong_means_dead_link_and_reconnect(
    fake: FakeBybit, open_part: Callable[..., _PublicPartition]
) -> None:
    part = open_part(fake, ping_interval_s=0.1, pong_timeout_s=0.1)
    items = pump(part, [], lambda xs: after(xs, 0, RESET, SNAP))
    feed: PublicFeed = part.feed
    time.sleep(0.35)  # pongs answered: the link stays up
    assert feed.connects == 1
    assert any(o["op"] == "ping" for o in fake.public_ops)
    fake.mute_pongs = True
    wait_for(lambda: feed.connects >= 2, timeout=3.0)
    fake.mute_pongs = False
    assert "pong" in feed.last_close_reason
    mark = len(items)
    pump(part, items, lambda xs: after(xs, mark, RESET, SNAP))


def test_public_trades_flow_in_ticks_and_lots(
    fake: FakeBybit, open_part: Callable[..., _PublicPartition]
) -> None:
    part = open_part(fake, depth=50)
    items = pump(part, [], lambda xs: after(xs, 0, RESET, SNAP))
    fake.publish_trade("1.9532", "1500", "Sell")
    pump(part, items, lambda xs: any(kind(x) == TRADE for x in xs))
    trade = next(b for _, b in items if int(b["kind"][0]) == TRADE)
    assert (int(trade["price"][0]), int(trade["qty"][0]), int(trade["side"][0])) == (
        19532,
        1500,
        -1,
    )
    assert {o["args"][0] for o in fake.public_ops if o["op"] == "subscribe"} >= {
        "orderbook.50.XRPUSDT"
    }


def test_partition_contract(fake: FakeBybit, open_part: Callable[..., _PublicPartition]) -> None:
    part = open_part(fake)
    assert part.snapshot() is None
    pump(part, [], lambda xs: bool(xs))
    awake = part.next_awake()
    assert awake is None or isinstance(awake, datetime)
    with pytest.raises(ConfigError, match="depth 25"):
        BybitPublicSource(["XRPUSDT"], depth=25, config=config_for(fake))
    src = BybitPublicSource(["xrpusdt", "BTCUSDT"], config=config_for(fake))
    assert src.list_parts() == ["XRPUSDT", "BTCUSDT"]  # one partition per symbol
