"""The public Hyperliquid source against the fake: loader-equal events, reconnects,
stale and frozen books, heartbeat, the meta refresh and the trader's resync requests."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import numpy as np
import pytest
from fake_hyperliquid import FakeHyperliquid
from hl_helpers import RESET, SNAP, TRADE, after, config_for, count, kind, pump, wait_for

from connectors.bybit.data import _PublicPartition
from connectors.feedback import bus
from connectors.hyperliquid.data import HyperliquidFeed, HyperliquidPublicSource
from connectors.hyperliquid.loader import HyperliquidLoader
from connectors.rows import rows_to_events
from core.errors import MalformedLine
from core.events import ResetReason, ResyncRequest

pytestmark = pytest.mark.venue
INST = "hyperliquid:BTC"


@pytest.fixture
def open_part() -> Iterator[Callable[..., _PublicPartition]]:
    parts: list[_PublicPartition] = []

    def build(
        fake: FakeHyperliquid, resync_bus: str | None = None, **cfg: object
    ) -> _PublicPartition:
        src = HyperliquidPublicSource(
            ["BTC"], config=config_for(fake, **cfg), resync_bus=resync_bus
        )
        part = src.build_part("hl_in", "BTC", None)
        parts.append(part)
        return part

    yield build
    for p in parts:
        p.close()


def test_events_equal_the_loaders_rows_for_the_same_messages(
    fake: FakeHyperliquid, open_part: Callable[..., _PublicPartition]
) -> None:
    part = open_part(fake)
    items = pump(part, [], lambda xs: count(xs, SNAP) >= 12 and count(xs, TRADE) >= 2)
    part.close()
    assert kind(items[0]) == RESET and kind(items[1]) == SNAP
    assert {i[0] for i in items} == {INST}
    feed: HyperliquidFeed = part.feed
    sent = [text for _, conn, text in fake.sent if conn == 1]
    market = items[1:]
    assert len(market) <= len(sent)
    loader = HyperliquidLoader(lambda venue, symbol: feed.spec)
    for no, ((_, batch), text) in enumerate(zip(market, sent, strict=False), 1):
        recv = int(batch["recv_ts"][0])
        (parsed,) = loader.parse(no, recv, json.loads(text))
        want = rows_to_events(parsed.book, parsed.trades, [])
        cols = [c for c in want.dtype.names if c != "ord"]  # ord: the message's number
        assert np.array_equal(batch[cols], want[cols]), f"message {no} differs"
    # prices and sizes are the venue's, in ticks (0.1) and lots (0.00001 BTC)
    first = json.loads(sent[0])["data"]["levels"][0][0]
    assert market[0][1]["price"][0] == int(Decimal(first["px"]) / feed.spec.tick_size)
    assert market[0][1]["qty"][0] == int(Decimal(first["sz"]) / feed.spec.lot_size)


def test_a_dropped_link_resubscribes_and_a_reset_comes_before_the_new_book(
    fake: FakeHyperliquid, open_part: Callable[..., _PublicPartition]
) -> None:
    part = open_part(fake)
    items = pump(part, [], lambda xs: after(xs, 0, RESET, SNAP, TRADE))
    mark = len(items)
    fake.drop_connections()
    pump(part, items, lambda xs: after(xs, mark, RESET, SNAP, SNAP))
    tail = items[mark:]
    r = next(j for j, i in enumerate(tail) if kind(i) == RESET)
    assert int(tail[r][1]["qty"][0]) == ResetReason.DISCONNECT
    # the first book after the reset is the new connection's subscribe snapshot
    first_snap = next(i for i in tail[r:] if kind(i) == SNAP)
    (snap_text,) = [t for _, c, t in fake.sent if c == 2][:1]
    assert int(first_snap[1]["exch_ts"][0]) == json.loads(snap_text)["data"]["time"] * 1_000_000

    def subs() -> list[tuple[int, str]]:
        return [
            (d["conn"], d["subscription"]["type"]) for _, w, d in fake.ws_log if w == "subscribe"
        ]

    # both resubscribed (the trades one may still be on its way: the book came first)
    wait_for(lambda: len(subs()) >= 4)
    assert subs() == [(1, "l2Book"), (1, "trades"), (2, "l2Book"), (2, "trades")]
    assert part.feed.connects == 2


def test_an_older_snapshot_is_dropped_and_counted(
    fake: FakeHyperliquid, open_part: Callable[..., _PublicPartition]
) -> None:
    part = open_part(fake)
    items = pump(part, [], lambda xs: count(xs, SNAP) >= 3)
    fake.stale_next(2)
    wait_for(lambda: fake.count("stale_sent") == 2)
    mark = len(items)
    pump(part, items, lambda xs: count(xs[mark:], SNAP) >= 3)
    feed: HyperliquidFeed = part.feed
    assert feed.stale_dropped == 2
    times = [int(b["exch_ts"][0]) for _, b in items if kind((_, b)) == SNAP]
    assert times == sorted(times)  # never an older book after a newer one
    assert RESET not in [kind(i) for i in items[1:]]  # dropping is enough: no resync
    # the importer's rule is the same: of the same messages it refuses exactly those two
    loader, refused = HyperliquidLoader(lambda venue, symbol: feed.spec), []
    for no, text in enumerate((t for _, c, t in fake.sent if c == 1), 1):
        try:
            loader.parse(no, 1, json.loads(text))
        except MalformedLine as exc:
            refused.append(exc.reason)
    assert len(refused) == 2 and all("older than the previous snapshot" in r for r in refused)


def test_a_frozen_book_triggers_a_resubscribe(
    fake: FakeHyperliquid, open_part: Callable[..., _PublicPartition]
) -> None:
    part = open_part(fake, frozen_after_s=0.4)
    items = pump(part, [], lambda xs: count(xs, SNAP) >= 2)
    fake.freeze()
    sub = {"type": "l2Book", "coin": "BTC"}
    wait_for(lambda: fake.count("unsubscribe", subscription=sub) >= 1)
    fake.thaw()
    mark = len(items)
    pump(part, items, lambda xs: after(xs, 0, RESET, SNAP, RESET, SNAP) and len(xs) > mark)
    resets = [i for i in items[1:] if kind(i) == RESET]
    assert int(resets[0][1]["qty"][0]) == ResetReason.STALE
    assert part.feed.frozen >= 1 and part.feed.connects == 1  # resubscribed, not reconnected
    assert fake.count("subscribe", conn=1, subscription=sub) >= 2


def test_ping_keeps_a_quiet_link_open_and_a_missing_pong_reconnects(
    open_part: Callable[..., _PublicPartition],
) -> None:
    with FakeHyperliquid(interval_s=0.02, idle_timeout_s=0.6) as fake:
        fake.stall()  # no market data at all: only the heartbeat keeps the link busy
        part = open_part(fake, ping_interval_s=0.15, pong_timeout_s=0.3)
        wait_for(lambda: fake.count("pong") >= 8)  # > 1.2 s: twice the idle limit
        assert fake.count("idle_close") == 0 and part.feed.connects == 1
        fake.mute_pongs = True
        wait_for(lambda: part.feed.connects >= 2)
        assert "no pong" in part.feed.last_close_reason


def test_the_meta_refresh_logs_and_applies_a_change(
    fake: FakeHyperliquid,
    open_part: Callable[..., _PublicPartition],
    caplog: pytest.LogCaptureFixture,
) -> None:
    part = open_part(fake, meta_refresh_s=0.2)
    items = pump(part, [], lambda xs: count(xs, SNAP) >= 1)
    # one more size decimal: every recorded size still fits, and the tick becomes 1
    fake.set_asset("BTC", szDecimals=6, maxLeverage=20)
    with caplog.at_level(logging.WARNING):
        mark = len(items)
        pump(part, items, lambda xs: after(xs, mark, RESET, SNAP))
    line = next(r.getMessage() for r in caplog.records if "instrument_changed" in r.getMessage())
    assert "hyperliquid" in line and "max_leverage" in line
    feed: HyperliquidFeed = part.feed
    assert feed.spec.lot_size == Decimal("0.000001") and feed.spec.tick_size == Decimal(1)
    assert feed.instruments.max_leverage["BTC"] == 20
    reset = next(i for i in items[mark:] if kind(i) == RESET)
    assert int(reset[1]["qty"][0]) == ResetReason.SPEC_CHANGE
    j = next(j for j, i in enumerate(items) if i is reset)
    snap = next(i for i in items[j:] if kind(i) == SNAP)
    text = next(
        t
        for _, _, t in reversed(fake.sent)
        if json.loads(t)["data"]["time"] * 10**6 == int(snap[1]["exch_ts"][0])
    )
    best = json.loads(text)["data"]["levels"][0][0]
    assert snap[1]["qty"][0] == int(Decimal(best["sz"]) * 10**6)  # in the new lots
    assert snap[1]["price"][0] == int(Decimal(best["px"]))  # in the new ticks


def test_a_resync_request_from_the_trader_resubscribes(
    fake: FakeHyperliquid, open_part: Callable[..., _PublicPartition]
) -> None:
    name = f"hl-test-{time.monotonic_ns()}/resync"
    part = open_part(fake, resync_bus=name)
    items = pump(part, [], lambda xs: count(xs, SNAP) >= 1)
    bus(name).put(INST, ResyncRequest(INST, "book crossed", 1, time.time_ns()))
    mark = len(items)
    pump(part, items, lambda xs: after(xs, mark, RESET, SNAP))
    reset = next(i for i in items[mark:] if kind(i) == RESET)
    assert int(reset[1]["qty"][0]) == ResetReason.RESYNC
    assert part.feed.stats.resync_requests == 1
    assert fake.count("unsubscribe", subscription={"type": "l2Book", "coin": "BTC"}) == 1
