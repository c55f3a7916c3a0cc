"""One partition's new rows -> one sorted file, deduped against the partition, in bounded memory.

Inputs are sorted runs (``warehouse.import_runs``) and the partition's existing files, each
sorted by (recv_ts, ord) as every writer of the lake leaves them. They are read one row
group at a time and merged by time: a merge step takes, from every input, the rows older
than the smallest "last buffered time" of the inputs that still have row groups to read,
so every row of a given time is in the same step and nothing later can come before it.

Dedupe on the natural key:

* keys that contain the time column (book_deltas, bbo): duplicates share their time, so
  they meet in the same merge window; new rows are deduped within the window (first by
  (recv_ts, ord) wins) and anti-joined with the existing rows' keys of the same window.
  Existing files are read as key columns only, and only their row groups whose time
  statistics overlap the new rows' time range.
* other keys (trades: ``trade_id``): duplicates can be anywhere in the day, so keys are
  hash-partitioned into buckets of at most ``BUCKET_ROWS`` (on disk when there are more
  than one) with each new row's position in the merged stream; each bucket yields the
  positions to keep; a second merge pass writes the kept rows. Also the fallback if an
  existing file turns out not to be sorted.

Memory is bounded by the number of inputs times a row group plus one window, whatever the
length of the data. Output row groups hold ``ROW_GROUP_ROWS`` rows, so readers can stream.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from core.lake import table_def
from warehouse.import_runs import STAGING_OPTIONS, Run
from warehouse.parquet_options import ROW_GROUP_ROWS, write_options

WINDOW_ROWS = 262_144  # new rows gathered before one dedupe step
FAN_IN = 16  # runs merged at once; more are first merged in passes
BUCKET_ROWS = 500_000  # keys per dedupe bucket (key-only dedupe)
_POS = "__pos"

Progress = Callable[[int], None]


class _Unsorted(Exception):
    """An input is not in time order: the windowed merge cannot be used on it."""


@dataclass
class MergeResult:
    rows_in: int = 0
    written: int = 0
    first_time: int = 0

    @property
    def duplicates(self) -> int:
        return self.rows_in - self.written


# ---- inputs ------------------------------------------------------------------------------


def staged_batches(path: Path) -> Iterator[pa.Table]:
    """A staging Arrow IPC file, one record batch at a time.

    Plain reads, not a memory map: mapped pages of a multi-GB run would stay resident (and
    counted in RSS) until the whole file is read.
    """
    with pa.OSFile(str(path)) as src:
        reader = ipc.open_file(src)
        for i in range(reader.num_record_batches):
            yield pa.Table.from_batches([reader.get_batch(i)])


class _StagedWriter:
    """An Arrow IPC staging file opened on the first table written to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: ipc.RecordBatchFileWriter | None = None

    def write(self, t: pa.Table) -> None:
        if self._writer is None:
            self._writer = ipc.new_file(self.path, t.schema, options=STAGING_OPTIONS)
        self._writer.write_table(t)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


@dataclass(frozen=True)
class Source:
    """A sorted lake Parquet file, read one row group at a time (some columns/groups)."""

    path: Path
    columns: tuple[str, ...] | None = None
    row_groups: tuple[int, ...] | None = None

    def batches(self) -> Iterator[pa.Table]:
        pf = pq.ParquetFile(self.path, page_checksum_verification=True)
        groups = self.row_groups if self.row_groups is not None else range(pf.num_row_groups)
        cols = list(self.columns) if self.columns is not None else None
        for g in groups:
            yield pf.read_row_group(g, columns=cols)


def overlapping_groups(path: Path, time_col: str, lo: int, hi: int) -> tuple[int, ...]:
    """Row groups of ``path`` whose ``time_col`` range may overlap [lo, hi]."""
    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    if time_col not in names:
        return tuple(range(meta.num_row_groups))
    idx = names.index(time_col)
    out = []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(idx).statistics
        if stats is None or not stats.has_min_max or not (stats.max < lo or stats.min > hi):
            out.append(g)
    return tuple(out)


class _Cursor:
    """The buffered head of one sorted input."""

    def __init__(self, batches: Iterator[pa.Table], time_col: str) -> None:
        self._it = batches
        self._time_col = time_col
        self.buf: pa.Table | None = None
        self.times = np.zeros(0, dtype=np.int64)
        self.done = False
        self._prev_last: int | None = None
        self.load()

    def load(self) -> None:
        """Append the next non-empty row group to the buffer (or mark the input done)."""
        for batch in self._it:
            if batch.num_rows == 0:
                continue
            t = batch.column(self._time_col).to_numpy()
            if (t[1:] < t[:-1]).any() or (self._prev_last is not None and t[0] < self._prev_last):
                raise _Unsorted
            self._prev_last = int(t[-1])
            if self.buf is None or self.buf.num_rows == 0:
                self.buf, self.times = batch, t
            else:
                self.buf = pa.concat_tables([self.buf, batch])
                self.times = np.concatenate([self.times, t])
            return
        self.done = True

    @property
    def rows(self) -> int:
        return 0 if self.buf is None else self.buf.num_rows

    def take_below(self, bound: int | None) -> pa.Table | None:
        """Remove and return the buffered rows with time < ``bound`` (all if None)."""
        if self.buf is None or self.buf.num_rows == 0:
            return None
        n = self.buf.num_rows if bound is None else int(np.searchsorted(self.times, bound))
        if n == 0:
            return None
        out = self.buf.slice(0, n)
        self.buf, self.times = self.buf.slice(n), self.times[n:]
        return out


def merge_steps(inputs: list[Iterator[pa.Table]], time_col: str) -> Iterator[list[pa.Table | None]]:
    """Per step, each input's next slice; steps cover ascending, disjoint time ranges and
    all rows of one time value come in the same step."""
    cursors = [_Cursor(it, time_col) for it in inputs]
    while True:
        pending = [c for c in cursors if not c.done]
        if not pending and not any(c.rows for c in cursors):
            return
        heads = [int(c.times[-1]) for c in pending if c.rows]
        bound = min(heads) if heads else None
        step = [c.take_below(bound) for c in cursors]
        if any(s is not None for s in step):
            yield step
        for c in pending:
            if c.rows == 0 or int(c.times[-1]) == bound:
                c.load()


def _merged(runs: list[Run], order: tuple[str, ...]) -> Iterator[pa.Table]:
    """The rows of ``runs`` as one sorted stream of tables (no dedupe)."""
    if len(runs) == 1:
        yield from staged_batches(runs[0].path)
        return
    for step in merge_steps([staged_batches(r.path) for r in runs], order[0]):
        parts = [s for s in step if s is not None]
        t = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
        if len(parts) > 1:
            t = t.sort_by([(c, "ascending") for c in order])
        yield t


def reduce_runs(runs: list[Run], order: tuple[str, ...], work: Path) -> list[Run]:
    """Merge runs ``FAN_IN`` at a time until at most ``FAN_IN`` are left."""
    level = 0
    while len(runs) > FAN_IN:
        merged = []
        for i in range(0, len(runs), FAN_IN):
            group = runs[i : i + FAN_IN]
            if len(group) == 1:
                merged.append(group[0])
                continue
            work.mkdir(parents=True, exist_ok=True)
            out = Run(work / f"merge-{level}-{i // FAN_IN:05d}.arrow")
            writer = _StagedWriter(out.path)
            for t in _merged(group, order):
                writer.write(t)
                out.rows += t.num_rows
            writer.close()
            out.first_time = min(r.first_time for r in group)
            out.last_time = max(r.last_time for r in group)
            for r in group:
                r.path.unlink(missing_ok=True)
            merged.append(out)
        runs, level = merged, level + 1
    return runs


# ---- output ------------------------------------------------------------------------------


class _Output:
    """The partition's new file, written in row groups of exactly ``ROW_GROUP_ROWS``."""

    def __init__(self, path: Path, table: str) -> None:
        self.path = path
        self.table = table
        self.schema = table_def(table).schema
        self.time_col = table_def(table).time_col
        self.rows = 0
        self.first_time = 0
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def write(self, t: pa.Table) -> None:
        if t.num_rows == 0:
            return
        if self.rows == 0 and self._pending_rows == 0:
            self.first_time = int(t.column(self.time_col)[0].as_py())
        self._pending.append(t)
        self._pending_rows += t.num_rows
        while self._pending_rows >= ROW_GROUP_ROWS:
            block = pa.concat_tables(self._pending)
            self._write_group(block.slice(0, ROW_GROUP_ROWS))
            rest = block.slice(ROW_GROUP_ROWS)
            self._pending, self._pending_rows = [rest], rest.num_rows

    def _write_group(self, t: pa.Table) -> None:
        if self._writer is None:
            opts = write_options(self.table, self.schema)
            self._writer = pq.ParquetWriter(self.path, self.schema, **opts)
        self._writer.write_table(t.cast(self.schema), row_group_size=ROW_GROUP_ROWS)
        self.rows += t.num_rows

    def close(self) -> None:
        """Write the last row group and make the file durable (no file if no rows)."""
        if self._pending_rows:
            self._write_group(pa.concat_tables(self._pending))
        self._pending, self._pending_rows = [], 0
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            with open(self.path, "rb") as fh:
                os.fsync(fh.fileno())

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._pending, self._pending_rows = [], 0
        self.rows = 0
        self.path.unlink(missing_ok=True)


# ---- dedupe ------------------------------------------------------------------------------


def _concat(parts: list[pa.Table]) -> pl.DataFrame:
    df = pl.from_arrow(parts[0] if len(parts) == 1 else pa.concat_tables(parts))
    assert isinstance(df, pl.DataFrame)
    return df


def _windowed(
    runs: list[Run],
    existing: list[Source],
    table: str,
    out: _Output,
    progress: Progress | None,
) -> None:
    """Dedupe for keys that contain the time column: merge windows (module doc)."""
    tdef = table_def(table)
    key, order = list(tdef.key), list(tdef.order)
    n_new = len(runs)
    inputs = [staged_batches(r.path) for r in runs] + [s.batches() for s in existing]
    acc_new: list[pa.Table] = []
    acc_old: list[pa.Table] = []
    acc_rows = acc_old_rows = 0
    sources_in_window: set[int] = set()

    def flush() -> None:
        nonlocal acc_new, acc_old, acc_rows, acc_old_rows
        if acc_new:
            new = _concat(acc_new)
            if len(sources_in_window) > 1:
                new = new.sort(order, maintain_order=True)
            new = new.unique(subset=key, keep="first", maintain_order=True)
            if acc_old:
                old = _concat(acc_old)
                new = new.join(old, on=key, how="anti", nulls_equal=True, maintain_order="left")
            out.write(new.to_arrow())
            if progress is not None:
                progress(acc_rows)
        acc_new, acc_old, acc_rows, acc_old_rows = [], [], 0, 0
        sources_in_window.clear()

    for step in merge_steps(inputs, tdef.time_col):
        new_parts = [(i, p) for i, p in enumerate(step[:n_new]) if p is not None]
        if not new_parts:
            continue  # existing rows of a time range without new rows: nothing to match
        for i, part in new_parts:
            acc_new.append(part)
            acc_rows += part.num_rows
            sources_in_window.add(i)
        for part in step[n_new:]:
            if part is not None:
                acc_old.append(part)
                acc_old_rows += part.num_rows
        if acc_rows >= WINDOW_ROWS or acc_old_rows >= WINDOW_ROWS:
            flush()
    flush()


def _bucket_of(df: pl.DataFrame, key: list[str], buckets: int) -> np.ndarray:
    return (df.select(key).hash_rows(seed=0).to_numpy() % np.uint64(buckets)).astype(np.int64)


def _keep_mask(
    runs: list[Run], existing: list[Source], table: str, work: Path, n_new: int
) -> np.ndarray:
    """Which positions of the merged new stream survive the key-only dedupe."""
    tdef = table_def(table)
    key, order = list(tdef.key), tdef.order
    n_old = sum(
        sum(pq.ParquetFile(s.path).metadata.row_group(g).num_rows for g in _groups(s))
        for s in existing
    )
    buckets = max(1, math.ceil((n_new + n_old) / BUCKET_ROWS))
    keep = np.zeros(n_new, dtype=bool)

    def keys_with_pos() -> Iterator[pl.DataFrame]:
        pos = 0
        for t in _merged(runs, order):
            df = _concat([t.select(key)])
            yield df.with_columns(pl.Series(_POS, np.arange(pos, pos + t.num_rows)))
            pos += t.num_rows

    def old_keys() -> Iterator[pl.DataFrame]:
        for s in existing:
            for t in s.batches():
                yield _concat([t.select(key)])

    def survivors(new: pl.DataFrame, old: pl.DataFrame | None) -> None:
        first = new.sort(_POS).unique(subset=key, keep="first", maintain_order=True)
        if old is not None and old.height:
            first = first.join(old.unique(), on=key, how="anti", nulls_equal=True)
        keep[first[_POS].to_numpy()] = True

    if buckets == 1:
        new_parts = list(keys_with_pos())
        old_parts = list(old_keys())
        if new_parts:
            survivors(pl.concat(new_parts), pl.concat(old_parts) if old_parts else None)
        return keep
    work.mkdir(parents=True, exist_ok=True)
    writers: dict[tuple[str, int], _StagedWriter] = {}

    def spill(kind: str, frames: Iterator[pl.DataFrame]) -> None:
        for df in frames:
            b = _bucket_of(df, key, buckets)
            for i in np.unique(b):
                w = writers.get((kind, int(i)))
                if w is None:
                    w = writers[(kind, int(i))] = _StagedWriter(work / f"{kind}-{int(i):05d}.arrow")
                w.write(df.filter(pl.Series(b == i)).to_arrow())

    spill("new", keys_with_pos())
    spill("old", old_keys())
    for w in writers.values():
        w.close()
    for i in range(buckets):
        new_path, old_path = work / f"new-{i:05d}.arrow", work / f"old-{i:05d}.arrow"
        if new_path.is_file():
            old = _concat(list(staged_batches(old_path))) if old_path.is_file() else None
            survivors(_concat(list(staged_batches(new_path))), old)
        new_path.unlink(missing_ok=True)
        old_path.unlink(missing_ok=True)
    return keep


def _groups(s: Source) -> tuple[int, ...]:
    if s.row_groups is not None:
        return s.row_groups
    return tuple(range(pq.ParquetFile(s.path).num_row_groups))


def _bucketed(
    runs: list[Run],
    existing: list[Source],
    table: str,
    out: _Output,
    work: Path,
    progress: Progress | None,
) -> None:
    """Dedupe for any key: hash buckets of keys and positions, then a filtered second pass."""
    order = table_def(table).order
    n_new = sum(r.rows for r in runs)
    keep = _keep_mask(runs, existing, table, work, n_new)
    pos = 0
    for t in _merged(runs, order):
        mask = keep[pos : pos + t.num_rows]
        pos += t.num_rows
        out.write(t if mask.all() else t.filter(pa.array(mask)))
        if progress is not None:
            progress(t.num_rows)


def merge_partition(
    runs: list[Run],
    existing_files: list[Path],
    table: str,
    out_path: Path,
    work: Path,
    progress: Progress | None = None,
) -> MergeResult:
    """Write the rows of ``runs`` not already in ``existing_files`` to ``out_path``, sorted.

    ``out_path`` is absent afterwards if no row is new. ``work`` is scratch space.
    """
    tdef = table_def(table)
    runs = [r for r in runs if r.rows]
    result = MergeResult(rows_in=sum(r.rows for r in runs))
    if not runs:
        return result
    runs = reduce_runs(runs, tdef.order, work)
    lo = min(r.first_time for r in runs)
    hi = max(r.last_time for r in runs)
    time_keyed = tdef.time_col in tdef.key
    existing = []
    for f in existing_files:
        groups = overlapping_groups(f, tdef.time_col, lo, hi) if time_keyed else None
        if groups != ():
            existing.append(Source(f, tdef.key, groups))
    out = _Output(out_path, table)
    try:
        if time_keyed:
            try:
                _windowed(runs, existing, table, out, progress)
            except _Unsorted:  # an existing file out of time order: dedupe by key buckets
                out.discard()
                out = _Output(out_path, table)
                _bucketed(runs, existing, table, out, work / "buckets", progress)
        else:
            _bucketed(runs, existing, table, out, work / "buckets", progress)
        out.close()
    except BaseException:
        out.discard()
        raise
    result.written = out.rows
    result.first_time = out.first_time
    if out.rows == 0:
        out_path.unlink(missing_ok=True)
    return result
