"""Streaming replay of a lake day: several overlapping sorted files per table, merged in
bounded chunks, give exactly the rows and order of a whole-day stable sort.

The reference below is the whole-day algorithm the replay used before it streamed:
every table's files concatenated, converted to events, one stable lexsort by
``(recv_ts, ord)``.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fnd_helpers import iter_batches

from connectors.replay.parquet_source import LakeReplaySource
from core.errors import LakeError
from core.event_merge import SortedRun, align_messages, merge_runs, stream_batches
from core.events import EVENT_DTYPE, FIRST, LAST, Kind
from core.lake import (
    _TO_EVENTS,
    MARKET_TABLES,
    day_event_count,
    iter_events,
    iter_events_day,
    message_batches,
    partition_dir,
    read_events_day,
    read_partition,
)

VENUE, SYMBOL = "binance-usdm", "BTCUSDT"
INST = f"{VENUE}:{SYMBOL}"
DAY = date(2024, 8, 8)
SAMPLE_EVENTS = 445_521 + 21_313 + 2 * 66_089


def whole_day_sort(lake: Path, day: date = DAY, lo: int | None = None, hi: int | None = None):
    parts = [
        _TO_EVENTS[t](read_partition(lake, t, VENUE, SYMBOL, day, lo, hi)) for t in MARKET_TABLES
    ]
    ev = np.concatenate(parts)
    return ev[np.lexsort((ev["ord"], ev["recv_ts"]))]


def _message_ids(t: pa.Table, table: str) -> np.ndarray:
    if table == "book_deltas":  # a book message is its rows FIRST..LAST
        return np.cumsum(t.column("flags").to_numpy() & FIRST)
    return np.arange(t.num_rows)


@pytest.fixture(scope="module")
def split_lake(sample_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Binance sample re-written as 3 files per table, each holding random whole
    messages (so every file spans the whole capture and they all overlap), in row groups
    of 1,000 rows (row groups end inside messages: the snapshot has 2,000 rows)."""
    lake = tmp_path_factory.mktemp("split_lake")
    shutil.copytree(sample_lake / "instruments", lake / "instruments")
    rng = np.random.default_rng(7)
    for table in MARKET_TABLES:
        t = read_partition(sample_lake, table, VENUE, SYMBOL, DAY)
        ids = _message_ids(t, table)
        file_of = rng.integers(0, 3, ids.max() + 1)[ids]
        out = partition_dir(lake, table, VENUE, SYMBOL, DAY)
        out.mkdir(parents=True)
        for i in range(3):
            pq.write_table(
                t.filter(pa.array(file_of == i)), out / f"part-{i}.parquet", row_group_size=1_000
            )
    return lake


@pytest.fixture(scope="module")
def reference(sample_lake: Path) -> np.ndarray:
    return whole_day_sort(sample_lake)


def test_overlapping_files_stream_in_whole_day_order(
    split_lake: Path, reference: np.ndarray
) -> None:
    assert len(reference) == SAMPLE_EVENTS
    assert np.array_equal(whole_day_sort(split_lake), reference)  # splitting lost nothing
    for chunk_rows in (777, 65_536):
        chunks = list(iter_events_day(split_lake, VENUE, SYMBOL, DAY, chunk_rows=chunk_rows))
        assert np.array_equal(np.concatenate(chunks), reference), chunk_rows
        for c in chunks:  # each chunk ends on a message end; the next starts one
            assert c["flags"][0] & FIRST and c["flags"][-1] & LAST
        # bounded: at most one read chunk per open file (bbo rows are 2 events) plus the
        # tail of a message cut at a chunk boundary (the largest is the 2,000-row snapshot)
        assert max(len(c) for c in chunks) <= (3 + 3 + 6) * chunk_rows + 2_000


def test_read_events_day_and_iter_events_keep_their_results(
    sample_lake: Path, split_lake: Path, reference: np.ndarray
) -> None:
    assert np.array_equal(read_events_day(split_lake, VENUE, SYMBOL, DAY), reference)
    assert np.array_equal(read_events_day(sample_lake, VENUE, SYMBOL, DAY), reference)
    got = np.concatenate(list(iter_events(split_lake, VENUE, SYMBOL, chunk_rows=5_000)))
    assert np.array_equal(got, reference)


def test_time_window_and_footer_counts(split_lake: Path, reference: np.ndarray) -> None:
    lo, hi = 1_723_161_300_000_000_000, 1_723_161_400_000_000_000
    recv = reference["recv_ts"]
    want = reference[(recv >= lo) & (recv < hi)]
    got = np.concatenate(
        list(iter_events_day(split_lake, VENUE, SYMBOL, DAY, lo, hi, chunk_rows=2_000))
    )
    assert np.array_equal(got, want) and 0 < len(want) < len(reference)
    assert np.array_equal(whole_day_sort(split_lake, DAY, lo, hi), want)
    assert day_event_count(split_lake, VENUE, SYMBOL, DAY) == SAMPLE_EVENTS
    assert day_event_count(split_lake, VENUE, SYMBOL, DAY, lo, hi) is None  # needs a read
    assert day_event_count(split_lake, VENUE, SYMBOL, DAY, None, int(recv[0])) == 0


def test_source_batches_and_resume_across_split_files(
    split_lake: Path, reference: np.ndarray
) -> None:
    source = LakeReplaySource(split_lake, [INST], batch_rows=5_000)
    batches = [b for _, b in iter_batches(source.build_part("replay", INST, None))]
    want = list(message_batches(reference, 5_000))
    assert len(batches) == len(want)
    assert all(np.array_equal(a, b) for a, b in zip(batches, want, strict=True))
    offset = sum(len(b) for b in batches[:37])
    resumed = [b for _, b in iter_batches(source.build_part("replay", INST, offset))]
    rest = list(message_batches(reference[offset:], 5_000))
    assert len(resumed) == len(rest)
    assert all(np.array_equal(a, b) for a, b in zip(resumed, rest, strict=True))
    assert list(iter_batches(source.build_part("replay", INST, SAMPLE_EVENTS))) == []


def _trade_file(path: Path, rows: list[tuple[int, int, int, str, int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    recv, ordn, price, tid, qty = zip(*rows, strict=True)
    pq.write_table(
        pa.table(
            {
                "recv_ts": pa.array(recv, pa.int64()),
                "exch_ts": pa.array(recv, pa.int64()),
                "ord": pa.array(ordn, pa.int64()),
                "trade_id": pa.array(tid, pa.string()),
                "price": pa.array(price, pa.int64()),
                "qty": pa.array(qty, pa.int64()),
                "side": pa.array([1] * len(rows), pa.int8()),
            }
        ),
        path,
    )


def test_equal_keys_keep_file_order_as_a_stable_sort(lake_copy: Path) -> None:
    """Rows with the same (recv_ts, ord) in two files come out in file order."""
    day = date(2024, 8, 10)
    d = partition_dir(lake_copy, "trades", VENUE, SYMBOL, day)
    t = 1_723_248_000_000_000_000
    _trade_file(d / "part-a.parquet", [(t, 1 << 20, 100, "a1", 1), (t + 5, 3 << 20, 101, "a2", 1)])
    _trade_file(d / "part-b.parquet", [(t, 1 << 20, 200, "b1", 2), (t + 5, 2 << 20, 201, "b2", 2)])
    got = read_events_day(lake_copy, VENUE, SYMBOL, day)
    assert got["price"].tolist() == [100, 200, 201, 101]
    assert np.array_equal(got, whole_day_sort(lake_copy, day))


def test_an_unsorted_file_is_refused(lake_copy: Path) -> None:
    day = date(2024, 8, 10)
    d = partition_dir(lake_copy, "trades", VENUE, SYMBOL, day)
    t = 1_723_248_000_000_000_000
    _trade_file(d / "part-x.parquet", [(t + 9, 1 << 20, 100, "x1", 1), (t, 2 << 20, 101, "x2", 1)])
    with pytest.raises(LakeError, match=r"part-x\.parquet is not sorted by \(recv_ts, ord\)"):
        read_events_day(lake_copy, VENUE, SYMBOL, day)


# ---- core.event_merge on its own ---------------------------------------------------------


def _events(recv: list[int], flags: list[int] | None = None) -> np.ndarray:
    ev = np.zeros(len(recv), dtype=EVENT_DTYPE)
    ev["recv_ts"] = recv
    ev["ord"] = np.arange(len(recv))
    ev["kind"] = Kind.TRADE
    ev["flags"] = flags if flags is not None else FIRST | LAST
    return ev


def test_runs_that_follow_each_other_are_read_one_at_a_time() -> None:
    opened: list[int] = []
    emitted = 0

    def run(i: int, recv: list[int]) -> SortedRun:
        def chunks():
            opened.append(i)
            assert emitted >= 3 * i  # every earlier run was fully merged before this opened
            for k in range(0, len(recv), 2):
                yield _events(recv[k : k + 2])

        return SortedRun(recv[0], chunks, f"run{i}")

    runs = [run(i, [100 * i + 1, 100 * i + 2, 100 * i + 3]) for i in (2, 0, 1)]
    out = []
    for chunk in merge_runs(runs):
        out.extend(chunk["recv_ts"].tolist())
        emitted += len(chunk)
    assert out == [1, 2, 3, 101, 102, 103, 201, 202, 203]
    assert opened == [0, 1, 2]


def test_stream_batches_equal_message_batches_for_any_chunking(reference: np.ndarray) -> None:
    ends = np.flatnonzero(reference["flags"] & LAST) + 1
    events = reference[: ends[np.searchsorted(ends, 80_000)]]  # whole messages only
    rng = np.random.default_rng(3)
    for target in (1, 999, 2_000, 16_384):
        want = list(message_batches(events, target))
        for _ in range(3):
            cuts = np.sort(rng.choice(len(events), 40, replace=False))
            chunks = np.split(events, cuts)  # cuts fall anywhere, inside messages too
            aligned = list(align_messages(chunks))
            assert all(c["flags"][-1] & LAST for c in aligned)
            assert np.array_equal(np.concatenate(aligned), events)
            for source in (chunks, aligned):
                got = list(stream_batches(source, target))
                assert len(got) == len(want), target
                assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def test_a_message_cut_off_at_the_end_still_comes_out() -> None:
    ev = _events([1, 2, 3, 4], [FIRST | LAST, FIRST, 0, 0])  # the last message never ends
    assert [len(c) for c in align_messages([ev[:2], ev[2:]])] == [1, 3]
    assert [len(b) for b in stream_batches([ev[:3], ev[3:]], 1)] == [1, 3]
