"""Compaction: same rows before and after, idempotent, and no row lost when it crashes."""

from __future__ import annotations

import fcntl
import json
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner
from wh_data import SPEC, T0, frame

import warehouse.compact as compact
from core.errors import LakeError
from core.lake import data_files
from warehouse.compact import JOURNAL, compact_lake, plan_groups
from warehouse.lake_writer import write_instrument, write_rows

S = 10**9
DAY = 86_400 * S


def _trades(start: int, n: int, day: int = 0) -> pl.DataFrame:
    rows = [
        {"recv_ts": T0 + day * DAY + (start + i) * S, "exch_ts": T0 + day * DAY + (start + i) * S,
         "ord": start + i, "trade_id": f"d{day}-{start + i}", "price": 200 + (start + i) % 7,
         "qty": 1 + i, "side": 1 if i % 2 else -1}
        for i in range(n)
    ]  # fmt: skip
    return frame("trades", rows)


def _book(start: int, n: int) -> pl.DataFrame:
    rows = [
        {"recv_ts": T0 + (start + i) * S, "exch_ts": T0 + (start + i) * S, "ord": start + i,
         "seq": start + i, "prev_seq": start + i - 1, "first_seq": start + i, "kind": 2,
         "side": 1 if i % 2 else -1, "price": 200 + i, "qty": i, "flags": 3}
        for i in range(n)
    ]  # fmt: skip
    return frame("book_deltas", rows)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """Two days of trades and a day of book deltas, written in many small flushes."""
    root = tmp_path / "lake"
    write_instrument(root, SPEC)
    for k in range(6):  # 6 files on day 0, 6 on day 1
        for day in (0, 1):
            write_rows(root, "trades", SPEC.venue, SPEC.symbol, _trades(10 * k, 3 + k, day))
        write_rows(root, "book_deltas", SPEC.venue, SPEC.symbol, _book(10 * k, 4))
    return root


def snapshot(root: Path) -> dict[str, pl.DataFrame]:
    """Every row of every table (with its partition), in a canonical order."""
    out = {}
    for table in ("trades", "book_deltas"):
        parts = []
        for d in sorted((root / table).glob("venue=*/symbol=*/date=*")):
            for f in data_files(d):
                parts.append(
                    pl.from_arrow(pq.read_table(f)).with_columns(pl.lit(d.name).alias("part"))
                )
        if parts:
            df = pl.concat(parts)
            out[table] = df.sort(df.columns)
    return out


def files(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*.parquet")}


def test_compaction_keeps_every_row_once_and_rerun_is_a_no_op(lake: Path) -> None:
    before = snapshot(lake)
    assert len(list((lake / "trades").rglob("*.parquet"))) == 12
    r = compact_lake(lake)
    assert (r.partitions, r.partitions_compacted) == (3, 3)
    assert (r.files_before, r.files_after) == (18, 3)
    assert r.rows_rewritten == 2 * sum(3 + k for k in range(6)) + 6 * 4  # 2 x 33 + 24 = 90
    after = snapshot(lake)
    for table in before:
        assert after[table].height == before[table].height
        assert after[table].equals(before[table])
    for d in (lake / "trades").glob("venue=*/symbol=*/date=*"):
        (f,) = data_files(d)
        ts = pq.read_table(f).column("recv_ts").to_pylist()
        assert ts == sorted(ts)  # merged files are in the table's order
    assert not list(lake.rglob(JOURNAL))
    state = files(lake)
    again = compact_lake(lake)
    assert again.partitions_compacted == 0 and again.rows_rewritten == 0
    assert files(lake) == state  # nothing rewritten, renamed or touched


def test_groups_respect_target_rows(lake: Path) -> None:
    # five small files of 2, 2, 2, 2, 2 rows with target 6: [2 2 2] + [2 2]
    fs = [Path(f"f{i}") for i in range(5)]
    assert plan_groups(fs, [2] * 5, 3, 6) == [fs[:3], fs[3:]]
    # big files are left alone and a lone small file is not "merged" with itself
    assert plan_groups(fs[:3], [10, 2, 10], 3, 6) == []
    assert plan_groups(fs[:3], [2, 10, 2], 3, 6) == [[fs[0], fs[2]]]
    with pytest.raises(LakeError, match="target_rows >= 2 x small_rows"):
        compact_lake(lake, small_rows=5, target_rows=9)
    before = snapshot(lake)
    r = compact_lake(lake, small_rows=5, target_rows=10)  # trades files: 3 4 5 6 7 8 rows
    # trades per day: [3 4] merged, 5 6 7 8 kept -> 5 files; book: six 4-row files -> 3 x [4 4]
    assert r.files_after == 2 * 5 + 3
    assert snapshot(lake)["trades"].equals(before["trades"])
    assert compact_lake(lake, small_rows=5, target_rows=10).partitions_compacted == 0


def _crash_at_fsync(monkeypatch: pytest.MonkeyPatch, call: int, only: Path | None = None) -> None:
    """Make the ``call``-th directory fsync of the next merge raise, like a power cut
    (``only``: counting the fsyncs of that directory only)."""
    real = compact._fsync_dir
    seen = {"n": 0}

    def fsync(directory: Path) -> None:
        counted = only is None or directory == only
        seen["n"] += counted
        if counted and seen["n"] == call:
            raise OSError("simulated crash")
        real(directory)

    monkeypatch.setattr(compact, "_fsync_dir", fsync)


def _rows(root: Path) -> int:
    tables = ("trades", "book_deltas")
    return sum(
        pq.ParquetFile(f).metadata.num_rows for t in tables for f in (root / t).rglob("*.parquet")
    )


def test_crash_after_the_merged_file_is_written_loses_nothing(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(lake)
    n = _rows(lake)
    _crash_at_fsync(monkeypatch, 2)  # 1 = journal written, 2 = merged file renamed in
    with pytest.raises(OSError, match="simulated crash"):
        compact_lake(lake)
    monkeypatch.undo()
    (d,) = [p.parent for p in lake.rglob(JOURNAL)]
    journal = json.loads((d / JOURNAL).read_text())
    assert (d / journal["new"]).is_file() and all((d / f).is_file() for f in journal["old"])
    (d / journal["old"][0]).unlink()  # ... and the crash came after the first old file went
    assert _rows(lake) > n  # readers see duplicates until the next run, never a lost row
    r = compact_lake(lake)
    assert r.recovered == [str(d.relative_to(lake))]
    after = snapshot(lake)
    assert all(after[t].equals(before[t]) for t in before)
    assert not list(lake.rglob(JOURNAL))


def test_crash_before_the_merged_file_is_committed_loses_nothing(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(lake)
    state = files(lake)

    def boom(table: object, path: Path, lake_table: str | None = None) -> None:
        raise OSError("simulated crash while writing")

    monkeypatch.setattr(compact, "atomic_write_parquet", boom)
    with pytest.raises(OSError, match="simulated crash"):
        compact_lake(lake)
    monkeypatch.undo()
    assert files(lake) == state  # only the hidden journal was added
    assert len(list(lake.rglob(JOURNAL))) == 1
    r = compact_lake(lake)
    assert len(r.recovered) == 1 and r.partitions_compacted == 3
    after = snapshot(lake)
    assert all(after[t].equals(before[t]) for t in before)


def test_retention_drops_old_partitions_only(lake: Path) -> None:
    before = snapshot(lake)
    dry = compact_lake(lake, drop_before=date(2024, 8, 9), dry_run=True)
    assert dry.dropped == [
        "book_deltas/venue=binance-usdm/symbol=TESTUSDT/date=2024-08-08",
        "trades/venue=binance-usdm/symbol=TESTUSDT/date=2024-08-08",
    ]
    assert snapshot(lake)["trades"].equals(before["trades"])  # a dry run changes nothing
    compact_lake(lake, drop_before=date(2024, 8, 9))
    left = snapshot(lake)["trades"]
    assert set(left["part"]) == {"date=2024-08-09"}
    assert left.equals(before["trades"].filter(pl.col("part") == "date=2024-08-09"))
    assert not list((lake / "book_deltas").rglob("*.parquet"))


def test_one_compactor_at_a_time(lake: Path) -> None:
    with open(lake / compact.LOCK, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(LakeError, match="another mm compact is running"):
            compact_lake(lake)


def test_mm_compact_command(lake: Path) -> None:
    from cli.main import app

    res = CliRunner().invoke(app, ["compact", "--lake", str(lake), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert (out["files_before"], out["files_after"]) == (18, 3)
    res = CliRunner().invoke(app, ["compact", "--lake", str(lake)])
    assert res.exit_code == 0
    assert "3 partitions, 0 compacted: 3 files -> 3" in res.output


# -- repeated natural keys ------------------------------------------------------------------
def _day0(lake: Path) -> Path:
    return lake / "trades" / "venue=binance-usdm" / "symbol=TESTUSDT" / "date=2024-08-08"


def _copy_in(lake: Path, extra: pl.DataFrame | None = None, name: str = "copy.parquet") -> Path:
    """A file written by hand (not the lake writer) that repeats the whole partition."""
    d = _day0(lake)
    t = pa.concat_tables([pq.read_table(f) for f in data_files(d)])
    if extra is not None:
        t = pa.concat_tables([t, extra.to_arrow().cast(t.schema)])
    pq.write_table(t, d / name)
    return d / name


def test_compaction_drops_rows_a_copied_file_repeats(lake: Path) -> None:
    before = snapshot(lake)
    new = _trades(900, 2)  # two trades only the copy has: they must stay
    again = _trades(0, 1)  # ... and one the copy holds twice
    path = _copy_in(lake, pl.concat([new, again, again]))
    assert _rows(lake) == 90 + 33 + 4
    # the copy (37 rows) is not small: merging alone would never look at it
    r = compact_lake(lake, small_rows=5, target_rows=10)
    assert (r.duplicates, r.files_deduplicated) == (33 + 2, 1)
    assert not path.exists()
    after = snapshot(lake)
    assert after["book_deltas"].equals(before["book_deltas"])
    day0 = pl.concat([before["trades"], new.with_columns(pl.lit("date=2024-08-08").alias("part"))])
    assert after["trades"].equals(day0.sort(day0.columns))  # every row once, none lost
    assert after["trades"]["trade_id"].n_unique() == after["trades"].height
    state = files(lake)
    assert compact_lake(lake, small_rows=5, target_rows=10).duplicates == 0
    assert files(lake) == state


def test_dry_run_counts_repeats_and_changes_nothing(lake: Path) -> None:
    _copy_in(lake)
    state = files(lake)
    r = compact_lake(lake, dry_run=True)
    assert (r.duplicates, r.files_deduplicated) == (33, 1)
    assert files(lake) == state


def test_crash_while_dropping_a_copy_loses_nothing(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(lake)
    path = _copy_in(lake)
    _crash_at_fsync(monkeypatch, 1, _day0(lake))  # journal in place, the copy not yet deleted
    with pytest.raises(OSError, match="simulated crash"):
        compact_lake(lake)
    monkeypatch.undo()
    journal = json.loads((_day0(lake) / JOURNAL).read_text())
    assert journal == {"new": None, "old": ["copy.parquet"], "rows": 0}
    assert path.is_file()
    r = compact_lake(lake)
    assert r.recovered == [str(_day0(lake).relative_to(lake))]
    assert not path.exists()
    after = snapshot(lake)
    assert all(after[t].equals(before[t]) for t in before)


def test_runs_with_the_same_seqs_are_not_repeats(tmp_path: Path) -> None:
    """Run tables: the key starts with run_id, so two runs (and rows from before run ids,
    in files without the column) keep every row through compaction."""
    from wh_data import PNL

    root = tmp_path / "lake"
    write_instrument(root, SPEC)
    legacy = frame("pnl", PNL).drop("run_id").to_arrow()
    d = root / "pnl" / "venue=binance-usdm" / "symbol=TESTUSDT" / "date=2024-08-08"
    d.mkdir(parents=True)
    pq.write_table(legacy, d / "part-00000000000000000000-legacy.parquet")
    for run_id in ("runA", "runB"):
        rows = frame("pnl", [{**r, "run_id": run_id} for r in PNL])
        res = write_rows(root, "pnl", SPEC.venue, SPEC.symbol, rows)
        assert res.written == len(PNL)
    r = compact_lake(root)
    assert r.duplicates == 0 and r.partitions_compacted == 1
    (f,) = data_files(d)
    got = pl.from_arrow(pq.read_table(f))
    assert got.group_by("run_id").len().sort("run_id", nulls_last=True).rows() == [
        ("runA", 10),
        ("runB", 10),
        (None, 10),
    ]


def test_compacting_one_day_leaves_the_other_days_files_alone(lake: Path) -> None:
    days = sorted(d.name for d in (lake / "trades").glob("venue=*/symbol=*/date=*"))
    first, second = (date.fromisoformat(name[5:]) for name in days)
    before, state = snapshot(lake), files(lake)
    r = compact_lake(lake, only_day=second)
    assert (r.partitions, r.partitions_compacted, r.files_before, r.files_after) == (1, 1, 6, 1)
    assert snapshot(lake)["trades"].equals(before["trades"])
    untouched = {k: v for k, v in state.items() if f"date={first}" in k}
    assert len(untouched) == 12 and {k: files(lake)[k] for k in untouched} == untouched
