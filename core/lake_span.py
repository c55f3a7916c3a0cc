"""What the lake holds for one instrument: its time span, and rows and prices in a range.

Answered from Parquet footers (row-group statistics), so asking costs no scan of the
data; only a row group straddling an end of the range has its time column read, to
tell "no rows in the range" from "rows on both sides of it". A backtest asks before it
creates its run directory: an empty or reversed range is an error that names the data
the lake does hold, and the lowest price feeds the never-quote check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.errors import LakeError, MMError
from core.instruments import instrument_id
from core.lake import MARKET_TABLES, data_files, partition_dates, partition_dir, table_def
from core.timeutil import NS_PER_DAY, date_to_ns, ns_to_iso

# the columns whose extremes bound the mids: trades and the best bid / ask; the book's
# levels bound them too, but a deep book holds far-away levels, so they are the fallback
PRICE_COLUMNS = {
    "trades": ("price", "price"),
    "bbo": ("bid_price", "ask_price"),
    "book_deltas": ("price", "price"),
}


@dataclass(frozen=True)
class LakeSpan:
    first_ns: int | None  # earliest market row of the instrument (receive time), any table
    last_ns: int | None  # latest
    rows: int  # market rows in the requested range
    price_lo: int | None  # ticks: lowest trade or best bid in the range (book level if none)
    price_hi: int | None  # ticks: highest trade or best ask in the range (book level if none)


def _overlaps(lo: int, hi: int, start: int | None, end: int | None) -> bool:
    return (start is None or hi >= start) and (end is None or lo < end)


def lake_span(
    lake: Path, venue: str, symbol: str, start_ns: int | None = None, end_ns: int | None = None
) -> LakeSpan:
    first: int | None = None
    last: int | None = None
    rows = 0
    lows: dict[str, int] = {}
    highs: dict[str, int] = {}
    for table in MARKET_TABLES:
        time_col = table_def(table).time_col
        lo_col, hi_col = PRICE_COLUMNS[table]
        cols = list(dict.fromkeys((time_col, lo_col, hi_col)))
        for day in partition_dates(lake, table, venue, symbol):
            day_lo = date_to_ns(day)
            in_range = _overlaps(day_lo, day_lo + NS_PER_DAY - 1, start_ns, end_ns)
            for path in data_files(partition_dir(lake, table, venue, symbol, day)):
                f = pq.ParquetFile(path)
                names = f.schema_arrow.names
                for g in range(f.metadata.num_row_groups):
                    rg = f.metadata.row_group(g)
                    if rg.num_rows == 0:
                        continue
                    stats = [rg.column(names.index(c)).statistics for c in cols]
                    if all(st is not None and st.has_min_max for st in stats):
                        by = dict(zip(cols, stats, strict=True))
                        ts_lo, ts_hi = by[time_col].min, by[time_col].max
                        px_lo, px_hi = by[lo_col].min, by[hi_col].max
                    else:
                        t = f.read_row_group(g, columns=cols)
                        ts_lo, ts_hi = (v.as_py() for v in pc.min_max(t[time_col]).values())
                        px_lo, px_hi = pc.min(t[lo_col]).as_py(), pc.max(t[hi_col]).as_py()
                    first = ts_lo if first is None else min(first, ts_lo)
                    last = ts_hi if last is None else max(last, ts_hi)
                    if not in_range or not _overlaps(ts_lo, ts_hi, start_ns, end_ns):
                        continue
                    inside = (start_ns is None or ts_lo >= start_ns) and (
                        end_ns is None or ts_hi < end_ns
                    )
                    if inside:
                        n = rg.num_rows
                    else:  # straddles an end of the range: count the rows inside it
                        t = f.read_row_group(g, columns=[time_col])[time_col]
                        mask = None
                        if start_ns is not None:
                            mask = pc.greater_equal(t, start_ns)
                        if end_ns is not None:
                            below = pc.less(t, end_ns)
                            mask = below if mask is None else pc.and_(mask, below)
                        n = pc.sum(mask).as_py() or 0
                    if n:
                        rows += n
                        lows[table] = min(lows.get(table, px_lo), px_lo)
                        highs[table] = max(highs.get(table, px_hi), px_hi)
    use = [t for t in ("trades", "bbo") if t in lows] or [t for t in ("book_deltas",) if t in lows]
    price_lo = min(lows[t] for t in use) if use else None
    price_hi = max(highs[t] for t in use) if use else None
    if price_lo is not None and price_lo <= 0:
        price_lo = price_hi = None  # not a price: leave the price checks out
    return LakeSpan(first, last, rows, price_lo, price_hi)


def _iso(ns: int) -> str:
    return ns_to_iso(ns).replace("+00:00", "Z")


def check_range(start_ns: int | None, end_ns: int | None) -> None:
    """A range must not be empty before any data is even looked at."""
    if start_ns is not None and end_ns is not None and start_ns >= end_ns:
        raise MMError(
            f"the time range is empty: start {_iso(start_ns)} is not before end {_iso(end_ns)}",
            "give a start earlier than the end",
        )


def require_data(
    lake: Path, venue: str, symbol: str, start_ns: int | None = None, end_ns: int | None = None
) -> LakeSpan:
    """The instrument's span; raises naming the lake's span when the range holds no rows."""
    check_range(start_ns, end_ns)
    span = lake_span(lake, venue, symbol, start_ns, end_ns)
    inst = instrument_id(venue, symbol)
    if span.first_ns is None or span.last_ns is None:
        raise LakeError(
            f"the lake {lake} holds no market data for {inst}",
            "import a recording of it with `mm import`",
        )
    if span.rows == 0:
        if start_ns is not None and end_ns is not None:
            asked = f"from {_iso(start_ns)} to {_iso(end_ns)}"
        elif start_ns is not None:
            asked = f"from {_iso(start_ns)} on"
        else:
            asked = f"before {_iso(end_ns)}"  # type: ignore[arg-type]
        raise LakeError(
            f"no market data for {inst} {asked}: the lake holds it from"
            f" {_iso(span.first_ns)} to {_iso(span.last_ns)}",
            "choose a start and end inside that span",
        )
    return span
