"""Book sync rules per venue (operators/book/sync.py) on real recordings and synthetic edge cases.

Real data is replayed from the session sample lake (imported by the project's importer);
the expected books are rebuilt from the raw JSON lines with plain ``Decimal`` dicts.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from fnd_helpers import split_line

from core.events import Kind
from core.lake import read_events_day
from core.walk import BOOK_KINDS, Message, messages
from operators.book.kernel import CompiledBookSync
from operators.book.sync import (
    BookSync,
    SyncState,
    book_sync_for,
)

BID, ASK = 1, -1
SNAP, DELTA = Kind.BOOK_SNAPSHOT, Kind.BOOK_DELTA
SyncFactory = Callable[[str], BookSync]


@pytest.fixture(params=["reference", "compiled"])
def Sync(request: pytest.FixtureRequest) -> SyncFactory:
    """Every test runs against the reference sync rules and the compiled kernel."""
    if request.param == "reference":
        return book_sync_for
    return CompiledBookSync  # type: ignore[return-value]


def book_messages(lake: Path, venue: str, symbol: str, day: str) -> list[Message]:
    ev = read_events_day(lake, venue, symbol, date.fromisoformat(day))
    return [m for m in messages(ev) if m.kind in BOOK_KINDS]


def feed(sync: BookSync, msgs: list[Message]) -> None:
    for m in msgs:
        sync.on_message(m.kind, m.seq, m.prev_seq, m.first_seq, m.levels)


def decimal_book(raw: list[dict], tick: str) -> tuple[dict[int, int], dict[int, int]]:
    """Apply Bybit messages with Decimal dicts; return both sides in ticks -> lots (lot 1)."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    for msg in raw:
        if msg["type"] == "snapshot" or msg["data"]["u"] == 1:
            bids.clear()
            asks.clear()
        for key, side in (("b", bids), ("a", asks)):
            for px, sz in msg["data"].get(key, []):
                if Decimal(sz) == 0:
                    side.pop(Decimal(px), None)
                else:
                    side[Decimal(px)] = Decimal(sz)

    def ticks(side: dict[Decimal, Decimal]) -> dict[int, int]:
        out = {}
        for px, sz in side.items():
            q, r = divmod(px, Decimal(tick))
            assert r == 0 and sz == int(sz)
            out[int(q)] = int(sz)
        return out

    return ticks(bids), ticks(asks)


@pytest.fixture(scope="module")
def bybit_msgs(sample_lake: Path) -> list[Message]:
    msgs = book_messages(sample_lake, "bybit", "XRPUSDT", "2024-12-01")
    assert len(msgs) == 50
    return msgs


@pytest.fixture(scope="module")
def bybit_raw(bybit_lines: list[bytes]) -> list[dict]:
    return [split_line(line)[1] for line in bybit_lines]  # type: ignore[misc]


# ---- Bybit ------------------------------------------------------------------------------


def test_bybit_sample_book_equals_raw_replay(
    Sync: SyncFactory, bybit_msgs: list[Message], bybit_raw: list[dict]
) -> None:
    sync = Sync("bybit")
    feed(sync, bybit_msgs)
    assert sync.state == SyncState.SYNCED and sync.usable and sync.reason == ""
    assert sync.last_seq == 20_254_918
    st = sync.stats
    assert (st.messages, st.snapshots, st.gaps, st.resyncs, st.crossed) == (50, 1, 0, 0, 0)
    assert (st.dropped_unsynced, st.dropped_stale) == (0, 0)
    # the whole book, level by level
    assert sync.book.levels() == decimal_book(bybit_raw, "0.0001")

    # Hand-checked levels (tick 0.0001, lot 1), looked up once in the raw file:
    book = sync.book
    # last line: best bid 1.9537 x 10605, best ask 1.9538 x 6702
    assert book.best_bid_level() == (19_537, 10_605)
    assert book.best_ask_level() == (19_538, 6_702)
    # bid 1.9538 was set to 4802 by line 49 and deleted by size "0" on line 50
    assert 19_538 not in book.bids
    # bid 1.9531 is updated on 34 deltas; the last, line 50, sets 14690 (line 48: 14792)
    assert book.qty_at(BID, 19_531) == 14_690
    # ask 1.9535 was deleted on line 29 and never re-added
    assert 19_535 not in book.asks
    # bid 1.9032 was deleted on line 9 (the 500-level window moved up)
    assert 19_032 not in book.bids
    # 500 levels a side; deepest bid 1.9037 x 175, deepest ask 2.0037 x 71
    assert (len(book.bids), len(book.asks)) == (500, 500)
    assert book.bids.peekitem(0) == (19_037, 175) and book.asks.peekitem(-1) == (20_037, 71)


def test_bybit_gap_then_resync(
    Sync: SyncFactory, bybit_msgs: list[Message], bybit_raw: list[dict]
) -> None:
    sync = Sync("bybit")
    feed(sync, bybit_msgs[:10])  # snapshot u=20254869 .. delta u=20254878
    assert sync.usable and sync.last_seq == 20_254_878
    feed(sync, bybit_msgs[11:12])  # u=20254880: u=20254879 was dropped
    assert sync.state == SyncState.OUT_OF_SYNC and not sync.usable
    assert len(sync.book) == 0 and sync.book.best_bid() is None
    assert sync.stats.gaps == 1
    assert sync.reason == "update id gap: 20254878 -> 20254880"
    feed(sync, bybit_msgs[12:20])  # later deltas cannot repair it
    assert sync.state == SyncState.OUT_OF_SYNC and sync.stats.dropped_unsynced == 8
    assert len(sync.book) == 0
    feed(sync, bybit_msgs[:1])  # the next snapshot
    assert sync.state == SyncState.SYNCED and sync.usable
    assert (sync.stats.resyncs, sync.stats.snapshots, sync.stats.gaps) == (1, 2, 1)
    feed(sync, bybit_msgs[1:6])
    assert sync.book.levels() == decimal_book(bybit_raw[:6], "0.0001")


def test_bybit_u1_resend_resets_the_book(Sync: SyncFactory, bybit_msgs: list[Message]) -> None:
    sync = Sync("bybit")
    feed(sync, bybit_msgs[:5])
    assert len(sync.book) == 1000
    # a service restart re-sends the book as a delta with u == 1
    sync.on_message(DELTA, 1, -1, -1, [(BID, 19_500, 10), (ASK, 19_510, 20)])
    assert sync.book.levels() == ({19_500: 10}, {19_510: 20})
    assert sync.last_seq == 1 and sync.usable and sync.stats.gaps == 0
    sync.on_message(DELTA, 2, -1, -1, [(BID, 19_501, 5)])
    assert sync.book.best_bid_level() == (19_501, 5)
    # u == 1 also recovers an out-of-sync book
    sync.on_message(DELTA, 9, -1, -1, [(BID, 19_502, 1)])
    assert sync.state == SyncState.OUT_OF_SYNC
    sync.on_message(DELTA, 1, -1, -1, [(ASK, 19_600, 3)])
    assert sync.state == SyncState.SYNCED and sync.book.levels() == ({}, {19_600: 3})


def test_bybit_stale_duplicate_is_ignored(
    Sync: SyncFactory, bybit_msgs: list[Message], bybit_raw: list[dict]
) -> None:
    sync = Sync("bybit")
    feed(sync, bybit_msgs[:11])
    before = sync.book.levels()
    feed(sync, [bybit_msgs[10], bybit_msgs[5]])  # a duplicate and an older delta
    assert sync.book.levels() == before
    assert sync.stats.dropped_stale == 2 and sync.stats.gaps == 0 and sync.usable
    assert sync.last_seq == 20_254_879
    feed(sync, bybit_msgs[11:])
    assert sync.book.levels() == decimal_book(bybit_raw, "0.0001")


def test_deltas_before_any_snapshot_are_dropped(
    Sync: SyncFactory, bybit_msgs: list[Message]
) -> None:
    sync = Sync("bybit")
    feed(sync, bybit_msgs[1:4])
    assert sync.state == SyncState.WAITING and not sync.usable
    assert sync.reason == "no snapshot yet" and len(sync.book) == 0
    assert sync.stats.dropped_unsynced == 3


# ---- crossed books ----------------------------------------------------------------------


@pytest.mark.parametrize("venue", ["bybit", "binance-usdm", "hyperliquid", "other"])
def test_crossed_book_is_detected_and_counted(Sync: SyncFactory, venue: str) -> None:
    sync = Sync(venue)
    ok = sync.on_message(SNAP, 100, -1, -1, [(BID, 101, 1), (ASK, 100, 2)])
    assert not ok and sync.crossed and not sync.usable
    assert sync.state == SyncState.SYNCED and sync.reason == "crossed book"
    assert sync.stats.crossed == 1
    # still crossed after a second message: counted per message
    sync.on_message(SNAP, 101, -1, -1, [(BID, 100, 1), (ASK, 100, 2)])
    assert sync.stats.crossed == 2
    sync.on_message(SNAP, 102, -1, -1, [(BID, 99, 1), (ASK, 100, 2)])
    assert sync.usable and not sync.crossed and sync.stats.crossed == 2


# ---- Binance USD-M futures --------------------------------------------------------------


def _diff(sync: BookSync, first: int, last: int, prev: int, levels: list) -> bool:
    return sync.on_message(DELTA, last, prev, first, levels)


def test_binance_buffers_diffs_until_the_snapshot(Sync: SyncFactory) -> None:
    s = Sync("binance-usdm")
    _diff(s, 1, 5, 0, [(BID, 100, 1)])  # entirely before the snapshot: stale
    _diff(s, 6, 10, 5, [(BID, 101, 2)])  # straddles lastUpdateId=8: first applied
    _diff(s, 11, 15, 10, [(ASK, 105, 3)])  # chains on pu=10
    assert s.state == SyncState.WAITING and not s.usable and len(s.book) == 0
    assert s.stats.dropped_unsynced == 3
    ok = s.on_message(SNAP, 8, -1, -1, [(BID, 100, 9), (BID, 99, 1), (ASK, 104, 2), (ASK, 105, 1)])
    assert ok and s.state == SyncState.SYNCED
    # snapshot + diff(6..10) + diff(11..15); diff(1..5) dropped as stale
    assert s.book.levels() == ({100: 9, 99: 1, 101: 2}, {104: 2, 105: 3})
    assert s.last_seq == 15 and s.stats.dropped_stale == 1 and s.stats.gaps == 0
    assert s.stats.dropped_unsynced == 0  # held until the snapshot, then used or stale
    # the chain continues, including an empty diff (one sentinel row of side 0)
    assert _diff(s, 16, 16, 15, [(0, 0, 0)])
    assert _diff(s, 17, 20, 16, [(ASK, 104, 0)])
    assert s.book.best_ask_level() == (105, 3) and s.last_seq == 20


def test_binance_broken_pu_chain_is_a_gap_then_resync(Sync: SyncFactory) -> None:
    s = Sync("binance-usdm")
    s.on_message(SNAP, 8, -1, -1, [(BID, 100, 9), (ASK, 104, 2)])
    assert _diff(s, 6, 10, 5, [(BID, 101, 2)])
    # a duplicate of an applied diff is stale, not a gap
    _diff(s, 6, 10, 5, [(BID, 101, 2)])
    assert s.stats.dropped_stale == 1 and s.usable
    # pu=12 but the previous u was 10: diffs 11..12 are missing
    assert not _diff(s, 13, 15, 12, [(BID, 102, 1)])
    assert s.state == SyncState.OUT_OF_SYNC and len(s.book) == 0 and s.stats.gaps == 1
    assert s.reason == "pu chain broken: pu=12, previous u=10"
    _diff(s, 16, 30, 15, [(BID, 103, 4)])  # buffered for the next snapshot
    assert s.state == SyncState.OUT_OF_SYNC and s.stats.dropped_unsynced == 1
    assert s.on_message(SNAP, 25, -1, -1, [(BID, 100, 1), (ASK, 110, 1)])
    assert s.stats.resyncs == 1 and s.last_seq == 30 and s.stats.dropped_unsynced == 0
    assert s.book.levels() == ({100: 1, 103: 4}, {110: 1})


def test_binance_first_diff_must_cover_the_snapshot(Sync: SyncFactory) -> None:
    s = Sync("binance-usdm")
    s.on_message(SNAP, 8, -1, -1, [(BID, 100, 9), (ASK, 104, 2)])
    assert not _diff(s, 12, 15, 11, [(BID, 101, 1)])  # U=12 > lastUpdateId=8: 9..11 missing
    assert s.state == SyncState.OUT_OF_SYNC and s.stats.gaps == 1
    assert s.reason == "first diff after snapshot starts at U=12 > lastUpdateId=8"
    # the same from the buffer: diffs after the failing first one are dropped, and counted
    s = Sync("binance-usdm")
    _diff(s, 12, 15, 11, [(BID, 101, 1)])
    _diff(s, 16, 18, 15, [(BID, 102, 1)])
    assert s.stats.dropped_unsynced == 2
    s.on_message(SNAP, 8, -1, -1, [(BID, 100, 9), (ASK, 104, 2)])
    assert s.state == SyncState.OUT_OF_SYNC and s.stats.gaps == 1
    assert s.stats.dropped_unsynced == 1 and len(s.book) == 0


def test_binance_older_snapshot_is_ignored_when_synced(Sync: SyncFactory) -> None:
    s = Sync("binance-usdm")
    s.on_message(SNAP, 8, -1, -1, [(BID, 100, 9), (ASK, 104, 2)])
    _diff(s, 6, 10, 5, [(BID, 101, 2)])
    s.on_message(SNAP, 9, -1, -1, [(BID, 50, 1), (ASK, 60, 1)])  # older than u=10
    assert s.book.levels() == ({100: 9, 101: 2}, {104: 2}) and s.last_seq == 10


def test_binance_sample_buffered_diffs(
    Sync: SyncFactory, sample_lake: Path, binance_lines: list[bytes]
) -> None:
    """The capture starts with diffs before the REST snapshot: the ones ending before
    lastUpdateId are stale, the rest are applied after it, and the chain never breaks."""
    before_snapshot = []
    last_update_id = None
    for line in binance_lines:
        msg = split_line(line)[1]
        if "lastUpdateId" in msg:  # type: ignore[operator]
            last_update_id = msg["lastUpdateId"]  # type: ignore[index]
            break
        if msg["data"]["e"] == "depthUpdate":  # type: ignore[index, call-overload]
            before_snapshot.append(msg["data"]["u"])  # type: ignore[index, call-overload]
    assert last_update_id == 5_123_107_852_948 and len(before_snapshot) == 6
    stale = sum(u < last_update_id for u in before_snapshot)
    assert stale == 4

    sync = Sync("binance-usdm")
    feed(sync, book_messages(sample_lake, "binance-usdm", "BTCUSDT", "2024-08-08"))
    st = sync.stats
    assert (st.messages, st.snapshots, st.gaps, st.resyncs, st.crossed) == (6_552, 1, 0, 0, 0)
    # all 6 were held for the snapshot: 4 stale, 2 applied, none dropped unsynced
    assert st.dropped_unsynced == 0 and st.dropped_stale == stale
    assert sync.usable and (len(sync.book.bids), len(sync.book.asks)) == (5_018, 4_578)


# ---- Hyperliquid ------------------------------------------------------------------------


def test_hyperliquid_every_message_is_a_full_book(
    Sync: SyncFactory, sample_lake: Path, hyperliquid_lines: list[bytes]
) -> None:
    msgs = book_messages(sample_lake, "hyperliquid", "BTC", "2025-01-26")
    sync = Sync("hyperliquid")
    feed(sync, msgs)
    assert (sync.stats.messages, sync.stats.snapshots, sync.stats.gaps) == (46, 46, 0)
    last = [split_line(ln)[1] for ln in hyperliquid_lines]
    last_book = [m for m in last if m["channel"] == "l2Book"][-1]["data"]  # type: ignore[call-overload, index]
    bids, asks = last_book["levels"]
    tick, lot = Decimal("0.1"), Decimal("0.00001")
    expected = (
        {int(Decimal(lv["px"]) / tick): int(Decimal(lv["sz"]) / lot) for lv in bids},
        {int(Decimal(lv["px"]) / tick): int(Decimal(lv["sz"]) / lot) for lv in asks},
    )
    assert sync.book.levels() == expected  # nothing of earlier books survives
    # last message: best bid 105050.0 x 1.12931, best ask 105051.0 x 6.13423, 20 a side
    assert sync.book.best_bid_level() == (1_050_500, 112_931)
    assert sync.book.best_ask_level() == (1_050_510, 613_423)
    assert (len(sync.book.bids), len(sync.book.asks)) == (20, 20)
    # the first book's best bid 105055.0 is not in the last one
    assert 1_050_550 not in sync.book.bids


def test_sync_state_pickles(Sync: SyncFactory, bybit_msgs: list[Message]) -> None:
    """Bytewax snapshots operator state: a pickled sync resumes identically."""
    a = Sync("bybit")
    feed(a, bybit_msgs[:25])
    b = pickle.loads(pickle.dumps(a))
    feed(a, bybit_msgs[25:])
    feed(b, bybit_msgs[25:])
    assert a.book.levels() == b.book.levels() and a.stats == b.stats
    c = pickle.loads(pickle.dumps(Sync("binance-usdm")))
    assert c.state == SyncState.WAITING
