"""Lake replay source and the replay_book dataflow (``python -m bytewax.run``, 1 and 2 workers)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from fnd_helpers import clean_env, iter_batches, lake_table

from connectors.replay.parquet_source import LakeReplaySource
from core.errors import LakeError
from core.events import FIRST, LAST, Kind
from core.lake import message_batches, read_events_day
from core.walk import BOOK_KINDS, messages
from operators.features.top_of_book import FEATURE_DTYPE, TopOfBook

INST = "binance-usdm:BTCUSDT"
DAY = date(2024, 8, 8)


def drain(source: LakeReplaySource, resume: int | None = None) -> list[np.ndarray]:
    part = source.build_part("replay", INST, resume)
    items = list(iter_batches(part))
    assert all(key == INST for key, _ in items)
    return [batch for _, batch in items]


@pytest.fixture(scope="module")
def day_events(sample_lake: Path) -> np.ndarray:
    return read_events_day(sample_lake, "binance-usdm", "BTCUSDT", DAY)


# ---- the source -------------------------------------------------------------------------


def test_source_replays_every_event_in_receive_order(
    sample_lake: Path, day_events: np.ndarray
) -> None:
    batches = drain(LakeReplaySource(sample_lake, [INST], batch_rows=5_000))
    events = np.concatenate(batches)
    assert len(events) == 445_521 + 21_313 + 2 * 66_089
    assert np.array_equal(events, day_events)
    recv = events["recv_ts"]
    assert np.all(recv[1:] >= recv[:-1])  # non-decreasing receive time
    # every batch starts on a message's first row and ends on its last row
    for b in batches:
        assert b["flags"][0] & FIRST and b["flags"][-1] & LAST
    sizes = [len(b) for b in batches]
    assert min(sizes[:-1]) >= 5_000  # batches end at the first message end past the target
    assert max(sizes) < 5_000 + 2_000  # the largest message is the 2,000-level snapshot
    kinds = {int(k) for k in np.unique(events["kind"])}
    assert kinds == {Kind.BOOK_SNAPSHOT, Kind.BOOK_DELTA, Kind.TRADE, Kind.BBO}


def test_batches_never_split_a_message(day_events: np.ndarray) -> None:
    """At every batch size, the messages seen batch by batch equal the whole span's."""
    events = day_events[:60_000]  # includes the 2,000-row snapshot; keeps target=1 quick
    assert np.count_nonzero(events["kind"] == Kind.BOOK_SNAPSHOT) == 2_000
    whole = [(m.kind, m.end - m.start, m.ord) for m in messages(events)]
    for target in (1, 7, 1_999, 2_000, 2_001, 25_000, 10**9):
        seen = []
        for b in message_batches(events, target):
            assert len(b) and b["flags"][-1] & LAST
            seen.extend((m.kind, m.end - m.start, m.ord) for m in messages(b))
        assert seen == whole, target
    assert list(message_batches(events[:0], 10)) == []
    # a zero target still makes progress: one message per batch
    first_three = list(itertools.islice(message_batches(events, 0), 3))
    assert [len(b) for b in first_three] == [whole[0][1], whole[1][1], whole[2][1]]


def test_resume_from_snapshot_offset(sample_lake: Path, day_events: np.ndarray) -> None:
    source = LakeReplaySource(sample_lake, [INST], batch_rows=50_000)
    part = source.build_part("replay", INST, None)
    taken = [part.next_batch()[0][1] for _ in range(3)]
    offset = part.snapshot()
    assert offset == sum(len(b) for b in taken)
    resumed = np.concatenate(drain(source, resume=offset))
    assert np.array_equal(resumed, day_events[offset:])
    assert len(resumed) == len(day_events) - offset
    assert drain(source, resume=len(day_events)) == []  # at the end: nothing more


def test_time_window(sample_lake: Path, day_events: np.ndarray) -> None:
    lo, hi = 1_723_161_300_000_000_000, 1_723_161_400_000_000_000  # 100 s of the capture
    got = np.concatenate(drain(LakeReplaySource(sample_lake, [INST], lo, hi)))
    recv = day_events["recv_ts"]
    assert np.array_equal(got, day_events[(recv >= lo) & (recv < hi)])


def test_source_errors(sample_lake: Path, tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="does not exist"):
        LakeReplaySource(tmp_path / "none", [INST])
    with pytest.raises(LakeError, match="no instruments to replay"):
        LakeReplaySource(sample_lake, [])
    with pytest.raises(LakeError, match="no instrument bybit:BTCUSDT in lake"):
        LakeReplaySource(sample_lake, ["bybit:BTCUSDT"])


# ---- the dataflow -----------------------------------------------------------------------


def _sorted_rows(t: pa.Table) -> list[tuple]:
    cols = [t.column(f).to_pylist() for f in FEATURE_DTYPE.names]
    # NaN != NaN: compare NaNs as None so equal tables compare equal
    rows = [tuple(None if v != v else v for v in r) for r in zip(*cols, strict=True)]
    return sorted(rows, key=lambda r: (r[0], r[2]))


@pytest.fixture(scope="module")
def flow_outputs(sample_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Run the flow with 1 and with 2 workers, concurrently, into separate output lakes."""
    base = tmp_path_factory.mktemp("flow")
    procs = {}
    for workers in (1, 2):
        out = base / f"out{workers}"
        env = clean_env(
            MM_LAKE=str(sample_lake),
            MM_VENUE="binance-usdm",
            MM_SYMBOLS="BTCUSDT",
            MM_OUT=str(out),
            MM_PROGRESS="0",
        )
        cmd = [sys.executable, "-m", "bytewax.run", "flows.replay_book"]
        if workers > 1:
            cmd += ["-w", str(workers)]
        procs[workers] = (
            out,
            subprocess.Popen(
                cmd, cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            ),
        )
    result = {}
    for workers, (out, proc) in procs.items():
        _, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr.decode()
        result[workers] = out
    return result


def test_one_and_two_workers_give_the_same_features(flow_outputs: dict[int, Path]) -> None:
    one = lake_table(flow_outputs[1], "features", "binance-usdm", "BTCUSDT")
    two = lake_table(flow_outputs[2], "features", "binance-usdm", "BTCUSDT")
    assert one.num_rows == two.num_rows == 6_552
    assert _sorted_rows(one) == _sorted_rows(two)


def test_one_feature_row_per_book_message(
    flow_outputs: dict[int, Path], day_events: np.ndarray
) -> None:
    feats = lake_table(flow_outputs[1], "features", "binance-usdm", "BTCUSDT")
    book_ends = [(m.recv_ts, m.ord) for m in messages(day_events) if m.kind in BOOK_KINDS]
    assert len(book_ends) == 6_552
    got = sorted(
        zip(feats.column("recv_ts").to_pylist(), feats.column("ord").to_pylist(), strict=True)
    )
    assert got == sorted(book_ends)
    # and the rows equal the operator run in-process over the same events
    ref = TopOfBook("binance-usdm", 0.1).process(day_events)
    ref_table = pa.table({name: ref[name] for name in FEATURE_DTYPE.names})
    assert _sorted_rows(feats) == _sorted_rows(ref_table)


def test_feature_values(flow_outputs: dict[int, Path]) -> None:
    feats = lake_table(flow_outputs[1], "features", "binance-usdm", "BTCUSDT").sort_by(
        [("recv_ts", "ascending"), ("ord", "ascending")]
    )
    valid = feats.column("valid").to_pylist()
    # 6 diffs arrive before the REST snapshot: no usable book yet
    assert valid[:6] == [False] * 6 and all(valid[6:])
    bb = np.array(feats.column("best_bid").to_pylist()[6:])
    ba = np.array(feats.column("best_ask").to_pylist()[6:])
    spread = np.array(feats.column("spread_ticks").to_pylist()[6:])
    mid = np.array(feats.column("mid").to_pylist()[6:])
    assert np.all(ba > bb) and np.array_equal(spread, ba - bb)
    assert np.allclose(mid, (bb + ba) * 0.1 / 2)
    imb1 = np.array(feats.column("imbalance_1").to_pylist()[6:])
    bq = np.array(feats.column("bid_qty").to_pylist()[6:])
    aq = np.array(feats.column("ask_qty").to_pylist()[6:])
    assert np.allclose(imb1, (bq - aq) / (bq + aq))
    # the prices stay in the capture's range: 61,xxx.x USDT = 61x,xxx ticks
    assert bb.min() > 500_000 and ba.max() < 700_000


def test_flow_reports_a_missing_instrument(sample_lake: Path, tmp_path: Path) -> None:
    env = clean_env(MM_LAKE=str(sample_lake), MM_VENUE="bybit", MM_SYMBOLS="DOGEUSDT")
    proc = subprocess.run(
        [sys.executable, "-m", "bytewax.run", "flows.replay_book"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "replay_book: error: no instrument bybit:DOGEUSDT in lake" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_each_instrument_lands_in_its_own_partition(
    sample_lake: Path, tmp_path: Path, workers: int
) -> None:
    """Several instruments, listed out of sorted order: no row is written under another
    instrument's path (Bytewax routes sink items by index into the sorted partitions)."""
    from flows.replay_book import build_flow
    from warehouse.runner import run_flow

    run_flow(build_flow(sample_lake, ["hyperliquid:BTC", "bybit:XRPUSDT"], tmp_path), workers)
    hl = lake_table(tmp_path, "features", "hyperliquid", "BTC")
    xrp = lake_table(tmp_path, "features", "bybit", "XRPUSDT")
    assert (hl.num_rows, xrp.num_rows) == (46, 50)  # one row per book message of each
    # Hyperliquid BTC trades near 105,050 USDC (1,050,500 ticks); XRP near 1.95 (19,5xx ticks)
    assert all(1_000_000 < b < 1_100_000 for b in hl.column("best_bid").to_pylist())
    assert all(19_000 < b < 20_000 for b in xrp.column("best_bid").to_pylist())
    features = tmp_path / "features"
    days = {p.parent.name for p in features.rglob("*.parquet") if "symbol=BTC" in p.parts}
    assert days == {"date=2025-01-26"}
