"""Writes to the Parquet lake: atomic files, idempotent on each table's natural key.

A file appears in a partition only complete (written to a dot-temp name, fsynced,
renamed). Rows whose natural key is already in the partition are dropped, so
re-importing a file, re-running a flow, or replaying a Kafka topic from an earlier
offset never duplicates a row.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import LakeError
from core.instruments import InstrumentSpec
from core.lake import (
    data_files,
    instrument_path,
    partition_dir,
    read_instrument,
    table_def,
)
from core.timeutil import EPOCH, NS_PER_DAY
from warehouse.parquet_options import ROW_GROUP_ROWS, write_options
from warehouse.staging import temp_name


@dataclass
class WriteResult:
    rows_in: int = 0
    written: int = 0
    duplicates: int = 0
    files: int = 0

    def add(self, other: WriteResult) -> None:
        self.rows_in += other.rows_in
        self.written += other.written
        self.duplicates += other.duplicates
        self.files += other.files


def atomic_write_parquet(table: pa.Table, path: Path, lake_table: str | None = None) -> None:
    """Write ``table`` so that ``path`` either does not exist or is complete.

    ``lake_table`` names the lake table the rows belong to, for its encodings
    (``warehouse.parquet_options``); None for other files (an instrument spec). The temp
    name carries this process's host and pid, so a leftover of a killed writer can be
    told from a file a live writer is still writing (``warehouse.staging``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / temp_name(path.name)
    try:
        opts = write_options(lake_table, table.schema)
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_ROWS, **opts)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _existing_keys(directory: Path, table: str, rows: pl.DataFrame) -> pl.DataFrame | None:
    """Keys already in the partition that ``rows`` could collide with.

    A row group is read only if, for every key column, its range overlaps the new rows'
    range (a key matches only if all its columns do): a run sink appending in time order
    reads at most the last few row groups, not the whole partition at every flush (which
    made memory and time grow with the run). A key column a file predates is NULL (run
    tables written before ``run_id`` existed).
    """
    files = data_files(directory)
    if not files:
        return None
    tdef = table_def(table)
    key = tdef.key
    dtypes = pl.from_arrow(tdef.schema.empty_table()).schema
    ranges = {}
    for k in key:
        col = rows[k]
        ranges[k] = (col.min(), col.max()) if col.null_count() == 0 and len(col) else None
    parts = []
    for f in files:
        pf = pq.ParquetFile(f)
        names = set(pf.schema_arrow.names)
        groups = [g for g in range(pf.metadata.num_row_groups) if _may_overlap(pf, g, ranges)]
        if not groups:
            continue
        present = [k for k in key if k in names]
        part = pl.from_arrow(pf.read_row_groups(groups, columns=present))
        missing = [pl.lit(None, dtype=dtypes[k]).alias(k) for k in key if k not in names]
        if missing:
            part = part.with_columns(missing)
        parts.append(part.select(list(key)))
    return pl.concat(parts) if parts else None


def _may_overlap(pf: pq.ParquetFile, group: int, ranges: dict[str, tuple | None]) -> bool:
    """False if some key column's values in the row group cannot meet the new rows'."""
    rg = pf.metadata.row_group(group)
    for i in range(rg.num_columns):
        col = rg.column(i)
        want = ranges.get(col.path_in_schema)
        if want is None:
            continue  # not a key column, or null keys in the new rows: no pruning on it
        st = col.statistics
        if st is None or not st.has_min_max or st.null_count:
            continue
        lo, hi = want
        if st.max < lo or st.min > hi:  # type: ignore[operator]
            return False
    return True


def write_partition(
    lake: Path, table: str, venue: str, symbol: str, day: str, rows: pl.DataFrame
) -> WriteResult:
    """Append ``rows`` (one date) to a partition, skipping rows already present."""
    tdef = table_def(table)
    result = WriteResult(rows_in=rows.height)
    if rows.height == 0:
        return result
    key = list(tdef.key)
    rows = rows.unique(subset=key, keep="first", maintain_order=True)
    directory = partition_dir(lake, table, venue, symbol, day)
    existing = _existing_keys(directory, table, rows)
    if existing is not None and existing.height:
        rows = rows.join(existing.unique(), on=key, how="anti", nulls_equal=True)
    rows = rows.sort(list(tdef.order), maintain_order=True)
    result.written = rows.height
    result.duplicates = result.rows_in - rows.height
    if rows.height:
        arrow = rows.to_arrow().cast(tdef.schema)
        first = int(rows[tdef.order[0]][0]) if tdef.order else 0
        name = f"part-{first:020d}-{uuid.uuid4().hex[:12]}.parquet"
        atomic_write_parquet(arrow, directory / name, table)
        result.files = 1
    return result


def day_strings(ts: np.ndarray) -> np.ndarray:
    """ns timestamps -> 'YYYY-MM-DD' partition names."""
    days = (ts // NS_PER_DAY).astype("int64")
    return (np.datetime64(EPOCH, "D") + days.astype("timedelta64[D]")).astype(str)


def write_rows(lake: Path, table: str, venue: str, symbol: str, rows: pl.DataFrame) -> WriteResult:
    """Split ``rows`` into date partitions by the table's time column and write each."""
    tdef = table_def(table)
    result = WriteResult()
    if rows.height == 0:
        return result
    rows = rows.with_columns(pl.Series("__day", day_strings(rows[tdef.time_col].to_numpy())))
    for (day,), part in rows.group_by(["__day"], maintain_order=True):
        result.add(write_partition(lake, table, venue, symbol, str(day), part.drop("__day")))
    return result


def write_instrument(lake: Path, spec: InstrumentSpec) -> None:
    """Record an instrument's tick/lot sizes; refuse to change them under existing data."""
    path = instrument_path(lake, spec.venue, spec.symbol)
    if path.is_file():
        have = read_instrument(lake, spec.venue, spec.symbol)
        if have.contract_terms() != spec.contract_terms():
            raise LakeError(
                f"lake has {spec.id} with {have.describe_terms()}, "
                f"this write uses {spec.describe_terms()}",
                "use the same instrument spec, or a new lake",
            )
        return
    d = spec.to_dict()
    d.pop("venue")
    d.pop("symbol")
    atomic_write_parquet(pa.Table.from_pylist([d]), path)
