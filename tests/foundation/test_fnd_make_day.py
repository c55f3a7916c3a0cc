"""bench.make_day: a long lake of time-shifted copies of the Binance sample.

Two copies starting at 23:54 UTC, so the second copy runs over midnight into a second
date partition; small row groups and files so partitions hold several of each.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from fnd_helpers import REPO, clean_env, iter_batches

from bench.make_day import make_day
from connectors.replay.parquet_source import LakeReplaySource
from core.lake import (
    MARKET_TABLES,
    data_files,
    day_event_count,
    iter_events,
    partition_dates,
    partition_dir,
    read_events_day,
    read_instrument,
)
from core.timeutil import parse_time
from warehouse.verify import verify_book

VENUE, SYMBOL = "binance-usdm", "BTCUSDT"
START = parse_time("2024-08-09T23:54:00Z")
PERIOD = 345_000_000_000  # the sample spans 344.8 s; + 1 ms, rounded up to a second
SAMPLE_EVENTS = 445_521 + 21_313 + 2 * 66_089


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("made") / "lake"
    m = make_day(lake, copies=2, start_ns=START, row_group=50_000, file_rows=300_000)
    assert (m.copies, m.events) == (2, 2 * SAMPLE_EVENTS)
    assert m.rows == {"book_deltas": 2 * 445_521, "trades": 2 * 21_313, "bbo": 2 * 66_089}
    return lake


@pytest.fixture(scope="module")
def events(made: Path) -> np.ndarray:
    return np.concatenate(list(iter_events(made, VENUE, SYMBOL)))


def test_each_copy_is_the_sample_shifted(made: Path, events: np.ndarray, sample_lake: Path) -> None:
    sample = read_events_day(sample_lake, VENUE, SYMBOL, date(2024, 8, 8))
    assert len(events) == 2 * len(sample)
    copy0, copy1 = events[: len(sample)], events[len(sample) :]
    assert int(copy0["recv_ts"][0]) == START and int(copy1["recv_ts"][0]) == START + PERIOD
    for name in ("kind", "side", "flags", "price", "qty"):  # the market itself repeats
        assert np.array_equal(copy0[name], sample[name]), name
        assert np.array_equal(copy1[name], sample[name]), name
    dt = START - int(sample["recv_ts"][0])
    for copy, shift in ((copy0, dt), (copy1, dt + PERIOD)):
        assert np.array_equal(copy["recv_ts"], sample["recv_ts"] + shift)
        assert np.array_equal(copy["exch_ts"], sample["exch_ts"] + shift)
    # ords and update ids move up by a constant per copy: still increasing, never reused
    ord_step = copy1["ord"] - copy0["ord"]
    assert len(np.unique(ord_step)) == 1 and ord_step[0] > sample["ord"].max()
    has_id = sample["seq"] >= 0
    id_step = (copy1["seq"] - copy0["seq"])[has_id]
    assert len(np.unique(id_step)) == 1 and id_step[0] > 0
    assert int(copy1["seq"][has_id].min()) > int(copy0["seq"].max())
    assert np.array_equal(copy1["seq"][~has_id], sample["seq"][~has_id])  # -1 stays -1
    # one replay order: receive time never goes back across the copy boundary or midnight
    assert np.all(np.diff(events["recv_ts"]) >= 0)


def test_layout_days_files_and_row_groups(made: Path, sample_lake: Path) -> None:
    assert read_instrument(made, VENUE, SYMBOL) == read_instrument(sample_lake, VENUE, SYMBOL)
    for table in MARKET_TABLES:
        assert partition_dates(made, table, VENUE, SYMBOL) == [date(2024, 8, 9), date(2024, 8, 10)]
    files = data_files(partition_dir(made, "book_deltas", VENUE, SYMBOL, date(2024, 8, 9)))
    assert len(files) >= 2  # rolled at 300,000 rows
    for f in files:
        meta = pq.read_metadata(f)
        assert meta.num_rows <= 300_000 + 50_000
        assert all(meta.row_group(g).num_rows <= 50_000 for g in range(meta.num_row_groups))
    counts = [
        day_event_count(made, VENUE, SYMBOL, d) for d in (date(2024, 8, 9), date(2024, 8, 10))
    ]
    assert None not in counts and all(counts)
    assert sum(c or 0 for c in counts) == 2 * SAMPLE_EVENTS
    assert not [p for p in made.rglob("*") if p.name.startswith(".")]  # no temp files left


def test_the_book_resyncs_at_each_copy_like_a_reconnect(made: Path) -> None:
    report = verify_book(made, VENUE, SYMBOL, progress=False)
    assert (report["snapshots"], report["gaps"], report["resyncs"]) == (2, 1, 1)
    assert report["crossed"] == 0 and report["final_state"] == "SYNCED"
    assert report["bbo"]["agreement_pct"] == 100.0 and report["bbo"]["aligned"] > 10_000


def test_replay_resumes_across_the_day_boundary(made: Path, events: np.ndarray) -> None:
    inst = f"{VENUE}:{SYMBOL}"
    source = LakeReplaySource(made, [inst], batch_rows=50_000)
    day1 = day_event_count(made, VENUE, SYMBOL, date(2024, 8, 9))
    assert day1 is not None
    for offset in (day1 - 7_000, day1, day1 + 1):  # inside day 1, at its end, inside day 2
        ends = np.flatnonzero(events["flags"] & 2) + 1
        offset = int(ends[np.searchsorted(ends, offset)])  # snapshots sit on message ends
        got = np.concatenate([b for _, b in iter_batches(source.build_part("r", inst, offset))])
        assert np.array_equal(got, events[offset:]), offset


def test_cli_refuses_a_lake_that_has_the_instrument(made: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.make_day", "--copies", "1", "--out", str(made)],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"make_day: error: lake {made} already holds book_deltas of {VENUE}:{SYMBOL} "
        "(write to a new --out)"
    )
