"""Compaction and retention of the Parquet lake (or a run directory, same layout).

Recording and paper trading append a small file per flush, so a day partition can hold
thousands of files; DuckDB and the replay source are faster on few large ones. Compaction
merges the *small* files of each partition (fewer than ``small_rows`` rows) into files of
up to ``target_rows`` rows, sorted by the table's order, without losing or duplicating a
row and without touching files it did not read (a writer may append during compaction).

Order of operations per group of files, each step durable before the next:

  1. write a journal ``.compact-journal.json`` naming the old files, the new file and
     the row count (temp file + fsync + rename + directory fsync);
  2. write the merged file with the lake writer's atomic writer (temp + fsync + rename),
     fsync the directory, and read back its row count;
  3. delete the old files, fsync the directory;
  4. delete the journal.

Compaction also drops rows whose natural key (``core.lake``) an earlier row of the same
partition already has (the lake's own ``part-*`` files first, in name order, then any
other file; rows in file order): the lake writer never adds such a row, but a file
copied in by hand (``mm sql --unsafe`` ``COPY ... TO``, a restored backup) can repeat
rows, and then loses them. Each file holding repeats is rewritten without them in the same
crash-safe steps (a file left with no row is deleted: journal ``new`` null); every key
keeps a copy at every step, so nothing is lost. A partition holding one file written
by the lake writer or by compaction (``part-*``) is skipped: such a file has no repeats.

A crash before 2 leaves the old files untouched (the journal is discarded on the next
run). A crash during 3 leaves the new file next to some old files: rows are duplicated
for readers until the next ``mm compact``, which first finishes any journal it finds
(deletes the listed old files once the new file is complete), but rows are never lost:
nothing is deleted before its replacement is durable and verified. The journal and temp
files start with a dot, so readers never see them. One compactor per lake at a time
(``.compact.lock``). Re-running on a compacted lake changes nothing.

Retention (``drop_before``) removes whole date partitions older than a given day: the
partition directory is first renamed to a hidden name (it disappears from readers at
once), then deleted; a leftover hidden directory is removed on the next run.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import LakeError
from core.lake import TABLES, data_files, table_def
from warehouse.lake_writer import atomic_write_parquet

JOURNAL = ".compact-journal.json"
LOCK = ".compact.lock"
DROPPED = ".dropped-"
SMALL_ROWS = 1_000_000
TARGET_ROWS = 5_000_000


@dataclass
class CompactReport:
    lake: str
    dry_run: bool = False
    partitions: int = 0
    partitions_compacted: int = 0
    files_before: int = 0
    files_after: int = 0
    rows_rewritten: int = 0
    duplicates: int = 0  # rows dropped (dry run: found) whose natural key was already there
    files_deduplicated: int = 0  # files rewritten or deleted to drop them
    recovered: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _num_rows(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def recover(directory: Path) -> bool:
    """Finish or undo a compaction a crash interrupted in ``directory``; True if one was."""
    journal = directory / JOURNAL
    (directory / (JOURNAL + ".tmp")).unlink(missing_ok=True)
    if not journal.is_file():
        return False
    data = json.loads(journal.read_text())
    if data["new"] is None:  # a file of repeated rows only: the other copies stay
        for name in data["old"]:
            (directory / name).unlink(missing_ok=True)
        _fsync_dir(directory)
        journal.unlink()
        _fsync_dir(directory)
        return True
    new = directory / data["new"]
    if new.is_file() and _num_rows(new) == data["rows"]:
        for name in data["old"]:  # the merged file is complete: finish step 3
            if name != data["new"]:
                (directory / name).unlink(missing_ok=True)
    else:  # step 2 never completed, so step 3 never started: the old files are all there
        new.unlink(missing_ok=True)
    _fsync_dir(directory)
    journal.unlink()
    _fsync_dir(directory)
    return True


def plan_groups(
    files: list[Path], rows: list[int], small_rows: int, target_rows: int
) -> list[list[Path]]:
    """Groups of >= 2 small files to merge, in name (= time) order, each <= target_rows.

    A group closes only when the next file would overflow it, so a closed group holds more
    than ``target_rows - small_rows`` rows: with target >= 2 x small it is not small
    itself, and a second pass finds at most one small file per partition (a no-op).
    """
    groups: list[list[Path]] = []
    current: list[Path] = []
    total = 0
    for f, n in zip(files, rows, strict=True):
        if n >= small_rows:
            continue
        if current and total + n > target_rows:
            groups.append(current)
            current, total = [], 0
        current.append(f)
        total += n
    groups.append(current)
    return [g for g in groups if len(g) >= 2]


def _read(path: Path, schema: pa.Schema) -> pa.Table:
    """A whole file, its page checksums verified: compaction never copies a damaged page
    into a new file (whose own checksums would then vouch for it)."""
    return pq.read_table(path, schema=schema, page_checksum_verification=True)


def merge_group(directory: Path, group: list[Path], table: str) -> Path | None:
    """Replace ``group`` by one sorted file, in the crash-safe order of the module doc."""
    tdef = table_def(table)
    merged = pa.concat_tables([_read(f, tdef.schema) for f in group])
    return _replace(directory, group, merged, table, "c")


def _replace(directory: Path, old: list[Path], rows: pa.Table, table: str, tag: str) -> Path | None:
    """Put ``rows`` (sorted) in one new file, then delete ``old``; no new file if empty."""
    tdef = table_def(table)
    n = rows.num_rows
    journal = directory / JOURNAL
    if n == 0:
        _write_json(journal, {"new": None, "old": [f.name for f in old], "rows": 0})
        for f in old:
            f.unlink()
        _fsync_dir(directory)
        journal.unlink()
        _fsync_dir(directory)
        return None
    if tdef.order:
        rows = rows.sort_by([(c, "ascending") for c in tdef.order])  # stable
    first = rows.column(tdef.order[0])[0].as_py() if tdef.order else 0
    digest = hashlib.sha1("\n".join(f.name for f in old).encode()).hexdigest()[:12]
    new = directory / f"part-{int(first):020d}-{tag}{digest}.parquet"
    if new.exists():
        raise LakeError(f"compaction target {new} already exists", "remove it if it is not data")
    _write_json(journal, {"new": new.name, "old": [f.name for f in old], "rows": n})
    atomic_write_parquet(rows, new, table)
    _fsync_dir(directory)
    if _num_rows(new) != n:  # never delete the originals of a bad copy
        new.unlink()
        journal.unlink()
        raise LakeError(f"compacted file {new} does not hold the {n} rows written")
    for f in old:
        f.unlink()
    _fsync_dir(directory)
    journal.unlink()
    _fsync_dir(directory)
    return new


def repeated_rows(files: list[Path], table: str) -> list[np.ndarray]:
    """Per file, a mask of the rows to keep: False where an earlier row (earlier file in
    the list, or earlier in the same file) has the same natural key."""
    tdef = table_def(table)
    key = list(tdef.key)
    keys = [pq.read_table(f, columns=key, schema=tdef.schema) for f in files]
    if not keys:
        return []
    both = pl.from_arrow(pa.concat_tables(keys))
    assert isinstance(both, pl.DataFrame)
    first = both.select(pl.struct(key).is_first_distinct()).to_series().to_numpy()
    bounds = np.cumsum([0] + [k.num_rows for k in keys])
    return [first[bounds[i] : bounds[i + 1]] for i in range(len(files))]


@dataclass
class Dedupe:
    rows: int = 0  # rows dropped (or, in a dry run, to drop)
    files: int = 0  # files rewritten or deleted
    left: list[Path] = field(default_factory=list)  # data files afterwards (dry run: would be)


def dedupe_partition(directory: Path, table: str, dry_run: bool = False) -> Dedupe:
    """Drop repeated natural keys from a partition.

    The lake's own files (``part-*``, in name order) keep their rows; a file copied in
    under another name loses the rows they already hold.
    """
    files = sorted(data_files(directory), key=lambda f: (not f.name.startswith("part-"), f.name))
    if len(files) < 2 and all(f.name.startswith("part-") for f in files):
        return Dedupe(left=files)  # the writer's and compaction's files never repeat a key
    masks = repeated_rows(files, table)
    out = Dedupe()
    schema = table_def(table).schema
    for f, keep in zip(files, masks, strict=True):
        if keep.all():
            out.left.append(f)
            continue
        out.rows += len(keep) - int(keep.sum())
        out.files += 1
        if dry_run:
            out.left += [f] if keep.any() else []
            continue
        new = _replace(directory, [f], _read(f, schema).filter(keep), table, "d")
        out.left += [new] if new is not None else []
    out.left.sort()
    return out


def _partitions(lake: Path) -> Iterator[tuple[str, Path]]:
    for table in sorted(TABLES):
        base = lake / table
        if base.is_dir():
            for d in sorted(base.glob("venue=*/symbol=*/date=*")):
                if d.is_dir():
                    yield table, d


def _drop(directory: Path) -> None:
    hidden = directory.parent / f"{DROPPED}{directory.name}"
    os.replace(directory, hidden)
    _fsync_dir(directory.parent)
    shutil.rmtree(hidden)


def compact_lake(
    lake: Path,
    small_rows: int = SMALL_ROWS,
    target_rows: int = TARGET_ROWS,
    dry_run: bool = False,
    drop_before: date | None = None,
    only_day: date | None = None,
) -> CompactReport:
    """Recover interrupted compactions, drop expired partitions, drop repeated rows,
    merge small files. ``only_day``: only that date's partitions (a nightly roll compacts
    the day just closed, not today's, which writers are still appending to)."""
    lake = Path(lake)
    if not lake.is_dir():
        raise LakeError(f"lake {lake} does not exist", "pass the lake directory with --lake")
    if small_rows < 1 or target_rows < 2 * small_rows:
        raise LakeError(
            f"need small_rows >= 1 and target_rows >= 2 x small_rows (got {small_rows}, {target_rows})",
            "otherwise a second run would merge again",
        )
    report = CompactReport(str(lake), dry_run)
    with open(lake / LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LakeError(
                f"another mm compact is running on {lake}", "wait for it to finish"
            ) from None
        for table in sorted(TABLES):
            for left in (lake / table).glob(f"venue=*/symbol=*/{DROPPED}date=*"):
                if not dry_run:
                    shutil.rmtree(left)
        for table, d in _partitions(lake):
            if only_day is not None and d.name != f"date={only_day.isoformat()}":
                continue
            report.partitions += 1
            if not dry_run and recover(d):
                report.recovered.append(str(d.relative_to(lake)))
            day = date.fromisoformat(d.name[5:])
            if drop_before is not None and day < drop_before:
                report.dropped.append(str(d.relative_to(lake)))
                if not dry_run:
                    _drop(d)
                continue
            report.files_before += len(data_files(d))
            dedupe = dedupe_partition(d, table, dry_run)
            report.duplicates += dedupe.rows
            report.files_deduplicated += dedupe.files
            files = dedupe.left
            rows = [_num_rows(f) for f in files]
            groups = plan_groups(files, rows, small_rows, target_rows)
            merged = sum(len(g) for g in groups)
            report.files_after += len(files) - merged + len(groups)
            if groups:
                report.partitions_compacted += 1
                report.rows_rewritten += sum(n for f, n in zip(files, rows, strict=True)
                                             if any(f in g for g in groups))  # fmt: skip
            if not dry_run:
                for g in groups:
                    merge_group(d, g, table)
    return report
