"""What the lake costs on disk: bytes per row, per event and per symbol-day, per table.

Storage budgets are per symbol-day, but recordings and samples are rarely a whole day,
so each table's bytes are extrapolated from the time its rows cover: the span of a date
partition is its last receive time minus its first (from the Parquet footers' statistics;
a row group without them has its time column read), a table's span is the sum over its
date partitions, and bytes per day = bytes / span x 86,400 s. An instrument's total per
day is the sum of its tables' (each table over its own span). Bytes are file sizes.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.errors import LakeError
from core.lake import EVENTS_PER_ROW, TABLES, data_files, table_def
from core.timeutil import NS_PER_DAY, NS_PER_S

MIB = 1 << 20


@dataclass(frozen=True)
class TableStats:
    """One table of one instrument (all its date partitions)."""

    table: str
    venue: str
    symbol: str
    partitions: int
    files: int
    rows: int
    events: int | None  # market events the replay makes of the rows (None: not a market table)
    bytes: int
    span_ns: int  # receive time covered: sum over partitions of last - first
    first_ns: int | None
    last_ns: int | None

    @property
    def instrument(self) -> str:
        return f"{self.venue}:{self.symbol}"

    @property
    def bytes_per_row(self) -> float | None:
        return self.bytes / self.rows if self.rows else None

    @property
    def bytes_per_event(self) -> float | None:
        return self.bytes / self.events if self.events else None

    @property
    def bytes_per_day(self) -> float | None:
        return self.bytes * NS_PER_DAY / self.span_ns if self.span_ns > 0 else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(
            instrument=self.instrument,
            span_s=self.span_ns / NS_PER_S,
            bytes_per_row=self.bytes_per_row,
            bytes_per_event=self.bytes_per_event,
            bytes_per_day=self.bytes_per_day,
        )
        return d


@dataclass(frozen=True)
class InstrumentTotal:
    instrument: str
    files: int
    rows: int
    events: int | None  # market tables' events (None: no market table)
    bytes: int
    bytes_per_day: float | None  # sum of the tables' (None if no table has a span)

    @property
    def bytes_per_event(self) -> float | None:
        return self.bytes / self.events if self.events else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bytes_per_event": self.bytes_per_event}


@dataclass
class LakeStats:
    lake: str
    tables: list[TableStats] = field(default_factory=list)

    def totals(self) -> list[InstrumentTotal]:
        """Per instrument, its tables summed (events: market tables only)."""
        out = []
        for inst in sorted({t.instrument for t in self.tables}):
            mine = [t for t in self.tables if t.instrument == inst]
            days = [t.bytes_per_day for t in mine if t.bytes_per_day is not None]
            out.append(
                InstrumentTotal(
                    inst,
                    sum(t.files for t in mine),
                    sum(t.rows for t in mine),
                    _sum_known([t.events for t in mine]),
                    sum(t.bytes for t in mine),
                    sum(days) if days else None,
                )
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "lake": self.lake,
            "tables": [t.to_dict() for t in self.tables],
            "instruments": [t.to_dict() for t in self.totals()],
        }


def _sum_known(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _file_time_range(path: Path, time_col: str) -> tuple[int, int, int] | None:
    """(rows, min, max) of ``time_col`` in one file, from its footer where it can."""
    pf = pq.ParquetFile(path)
    meta = pf.metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    if meta.num_rows == 0:
        return None
    if time_col not in names:
        raise LakeError(
            f"{path} has no {time_col} column", "it is not a file of this table: move it out"
        )
    idx = names.index(time_col)
    lo: int | None = None
    hi: int | None = None
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        if rg.num_rows == 0:
            continue
        st = rg.column(idx).statistics
        if st is not None and st.has_min_max:
            g_lo, g_hi = int(st.min), int(st.max)
        else:
            mm = pc.min_max(pf.read_row_group(g, columns=[time_col])[time_col])
            g_lo, g_hi = int(mm["min"].as_py()), int(mm["max"].as_py())
        lo = g_lo if lo is None else min(lo, g_lo)
        hi = g_hi if hi is None else max(hi, g_hi)
    if lo is None or hi is None:
        return None
    return meta.num_rows, lo, hi


def table_stats(lake: Path, table: str, venue: str, symbol: str) -> TableStats | None:
    """Stats of one table of one instrument; None if it has no data file."""
    time_col = table_def(table).time_col
    base = Path(lake) / table / f"venue={venue}" / f"symbol={symbol}"
    partitions = files = rows = size = span = 0
    first: int | None = None
    last: int | None = None
    for d in sorted(base.glob("date=*")):
        found = data_files(d)
        if not found:
            continue
        partitions += 1
        files += len(found)
        p_lo: int | None = None
        p_hi: int | None = None
        for f in found:
            size += os.stat(f).st_size
            r = _file_time_range(f, time_col)
            if r is None:
                continue
            rows += r[0]
            p_lo = r[1] if p_lo is None else min(p_lo, r[1])
            p_hi = r[2] if p_hi is None else max(p_hi, r[2])
        if p_lo is not None and p_hi is not None:
            span += p_hi - p_lo
            first = p_lo if first is None else min(first, p_lo)
            last = p_hi if last is None else max(last, p_hi)
    if not files:
        return None
    per_row = EVENTS_PER_ROW.get(table)
    events = rows * per_row if per_row is not None else None
    return TableStats(
        table, venue, symbol, partitions, files, rows, events, size, span, first, last
    )


def lake_stats(lake: Path) -> LakeStats:
    """Every table of every instrument in ``lake`` (a lake or a run directory)."""
    lake = Path(lake)
    if not lake.is_dir():
        raise LakeError(f"lake {lake} does not exist", "pass the lake directory with --lake")
    out = LakeStats(str(lake))
    for table in TABLES:
        for vdir in sorted((lake / table).glob("venue=*")):
            for sdir in sorted(vdir.glob("symbol=*")):
                st = table_stats(lake, table, vdir.name[6:], sdir.name[7:])
                if st is not None:
                    out.tables.append(st)
    if not out.tables:
        raise LakeError(f"lake {lake} holds no table data", "import data first with `mm import`")
    return out


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def format_stats(stats: LakeStats) -> str:
    """The report as an aligned text table: one line per table and instrument, then the
    totals per instrument (MiB = 2**20 bytes)."""
    head = ("table", "instrument", "files", "rows", "events", "bytes", "B/row", "B/event")
    head += ("span", "MiB/day")
    lines: list[tuple[str, ...]] = [head]
    for t in stats.tables:
        day = None if t.bytes_per_day is None else t.bytes_per_day / MIB
        lines.append(
            (t.table, t.instrument, f"{t.files:,}", f"{t.rows:,}", _num(t.events, ","),
             f"{t.bytes:,}", _num(t.bytes_per_row, ".2f"), _num(t.bytes_per_event, ".2f"),
             f"{t.span_ns / NS_PER_S:,.1f} s", _num(day, ",.1f"))
        )  # fmt: skip
    for s in stats.totals():
        day = None if s.bytes_per_day is None else s.bytes_per_day / MIB
        lines.append(
            ("total", s.instrument, f"{s.files:,}", f"{s.rows:,}", _num(s.events, ","),
             f"{s.bytes:,}", _num(s.bytes / s.rows if s.rows else None, ".2f"),
             _num(s.bytes_per_event, ".2f"), "", _num(day, ",.1f"))
        )  # fmt: skip
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    out = []
    for row in lines:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in pairs]
        out.append("  ".join(cells).rstrip())
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([f"lake {stats.lake}", *out])
