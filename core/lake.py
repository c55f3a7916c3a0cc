"""Layout and read side of the Parquet lake.

``{lake}/{table}/venue=V/symbol=S/date=YYYY-MM-DD/*.parquet`` (zstd, hive partitions).
Partition columns live only in the path. Market tables store integer ticks/lots; each
instrument's tick and lot size is in ``{lake}/instruments/venue=V/symbol=S/spec.parquet``
so the numbers can always be turned back into prices.

The read side is here (not in ``warehouse``) because the replay source, a connector,
depends on ``core`` only; writers, dedupe and compaction live in ``warehouse``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import LakeError
from core.event_merge import SortedRun, align_messages, merge_runs
from core.events import EVENT_DTYPE, FIRST, LAST, Kind
from core.instruments import InstrumentSpec
from core.timeutil import date_to_ns, ns_to_date

MARKET_TABLES = ("book_deltas", "trades", "bbo")


@dataclass(frozen=True)
class TableDef:
    schema: pa.Schema
    key: tuple[str, ...]  # natural key: re-writing a row with the same key is a no-op
    order: tuple[str, ...]  # sort order inside a file
    time_col: str = "recv_ts"  # picks the date partition


_I64 = pa.int64()

TABLES: dict[str, TableDef] = {
    "book_deltas": TableDef(
        pa.schema(
            [
                ("recv_ts", _I64),
                ("exch_ts", _I64),
                ("ord", _I64),
                ("seq", _I64),
                ("prev_seq", _I64),
                ("first_seq", _I64),
                ("kind", pa.int8()),
                ("side", pa.int8()),
                ("price", _I64),
                ("qty", _I64),
                ("flags", pa.int8()),
            ]
        ),
        key=("recv_ts", "exch_ts", "seq", "kind", "side", "price"),
        order=("recv_ts", "ord"),
    ),
    "trades": TableDef(
        pa.schema(
            [
                ("recv_ts", _I64),
                ("exch_ts", _I64),
                ("ord", _I64),
                ("trade_id", pa.string()),
                ("price", _I64),
                ("qty", _I64),
                ("side", pa.int8()),
            ]
        ),
        key=("trade_id",),
        order=("recv_ts", "ord"),
    ),
    "bbo": TableDef(
        pa.schema(
            [
                ("recv_ts", _I64),
                ("exch_ts", _I64),
                ("ord", _I64),
                ("seq", _I64),
                ("bid_price", _I64),
                ("bid_qty", _I64),
                ("ask_price", _I64),
                ("ask_qty", _I64),
            ]
        ),
        key=("recv_ts", "exch_ts", "seq"),
        order=("recv_ts", "ord"),
    ),
    "features": TableDef(
        pa.schema(
            [
                ("recv_ts", _I64),
                ("exch_ts", _I64),
                ("ord", _I64),
                ("valid", pa.bool_()),
                ("best_bid", _I64),
                ("best_ask", _I64),
                ("bid_qty", _I64),
                ("ask_qty", _I64),
                ("mid", pa.float64()),
                ("spread_ticks", _I64),
                ("imbalance_1", pa.float64()),
                ("imbalance_5", pa.float64()),
            ]
        ),
        key=("recv_ts", "ord"),
        order=("recv_ts", "ord"),
    ),
}

# ---- tables a trading run writes (backtest run dirs, and the lake in paper/live mode) ----
# Every row carries the id of the run that wrote it (``run_id``, set by the run sink, not
# the trader) and each natural key starts with it: the trader numbers rows 1, 2, 3 ... per
# run (``seq``), so two runs into one lake share every seq. Files written before run ids
# existed have no ``run_id`` column: readers see NULL there (DuckDB views: LEGACY_RUN_ID).
_F64 = pa.float64()
RUN_TABLES = ("quotes", "orders", "fills", "pnl")
RUN_ID = "run_id"
LEGACY_RUN_ID = "legacy"
_RUN_ID_FIELD = (RUN_ID, pa.string())
TABLES.update(
    {
        # desired quotes, one row per side and level, whenever they change
        "quotes": TableDef(
            pa.schema(
                [
                    _RUN_ID_FIELD,
                    ("recv_ts", _I64),
                    ("seq", _I64),
                    ("side", pa.int8()),
                    ("level", pa.int8()),
                    ("price", _I64),
                    ("qty", _I64),
                    ("price_f", _F64),
                    ("qty_f", _F64),
                    ("mid", _F64),
                    ("reservation", _F64),
                    ("half_spread_bps", _F64),
                    ("vol_bps", _F64),
                    ("regime", pa.int8()),
                    ("signal", pa.int8()),
                    ("toxicity", _F64),
                    ("risk_state", pa.int8()),
                ]
            ),
            key=(RUN_ID, "seq", "side", "level"),
            order=("recv_ts", "seq", "side", "level"),
        ),
        # order lifecycle: actions sent and venue responses, in the order the trader saw them
        "orders": TableDef(
            pa.schema(
                [
                    _RUN_ID_FIELD,
                    ("recv_ts", _I64),
                    ("seq", _I64),
                    ("client_id", pa.string()),
                    ("event", pa.string()),
                    ("side", pa.int8()),
                    ("price", _I64),
                    ("qty", _I64),
                    ("filled", _I64),
                    ("level", pa.int8()),
                    ("reason", pa.string()),
                ]
            ),
            key=(RUN_ID, "seq"),
            order=("recv_ts", "seq"),
        ),
        "fills": TableDef(
            pa.schema(
                [
                    _RUN_ID_FIELD,
                    ("recv_ts", _I64),
                    ("exch_ts", _I64),
                    ("seq", _I64),
                    ("client_id", pa.string()),
                    ("exec_id", pa.string()),
                    ("side", pa.int8()),
                    ("level", pa.int8()),
                    ("price", _I64),
                    ("qty", _I64),
                    ("price_f", _F64),
                    ("qty_f", _F64),
                    ("notional", _F64),
                    ("fee", _F64),
                    ("fee_units", _I64),
                    ("is_maker", pa.bool_()),
                    ("position_after", _I64),
                    ("mid_at_fill", _F64),
                    ("mid_1s", _F64),
                    ("mid_5s", _F64),
                    ("mid_30s", _F64),
                    ("mid_60s", _F64),
                ]
            ),
            key=(RUN_ID, "seq"),
            order=("recv_ts", "seq"),
        ),
        # PnL series, sampled on a fixed local-time grid and after every fill
        "pnl": TableDef(
            pa.schema(
                [
                    _RUN_ID_FIELD,
                    ("recv_ts", _I64),
                    ("seq", _I64),
                    ("position", _I64),
                    ("position_f", _F64),
                    ("mid", _F64),
                    ("cash", _F64),
                    ("realized", _F64),
                    ("unrealized", _F64),
                    ("fees", _F64),
                    ("total", _F64),
                    ("inventory_usd", _F64),
                    ("drawdown", _F64),
                    ("risk_state", pa.int8()),
                ]
            ),
            key=(RUN_ID, "seq"),
            order=("recv_ts", "seq"),
        ),
    }
)


def register_table(name: str, table: TableDef) -> None:
    """Later layers (backtest outputs, recordings) add their tables here."""
    TABLES[name] = table


def table_def(name: str) -> TableDef:
    try:
        return TABLES[name]
    except KeyError:
        raise LakeError(
            f"unknown lake table {name!r}", f"known: {', '.join(sorted(TABLES))}"
        ) from None


def partition_dir(lake: Path, table: str, venue: str, symbol: str, day: date | str) -> Path:
    return Path(lake) / table / f"venue={venue}" / f"symbol={symbol}" / f"date={day}"


def instrument_path(lake: Path, venue: str, symbol: str) -> Path:
    return Path(lake) / "instruments" / f"venue={venue}" / f"symbol={symbol}" / "spec.parquet"


def data_files(directory: Path) -> list[Path]:
    """Committed data files of a partition (temp files of writers in flight excluded)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.parquet") if not p.name.startswith("."))


def partition_dates(lake: Path, table: str, venue: str, symbol: str) -> list[date]:
    base = Path(lake) / table / f"venue={venue}" / f"symbol={symbol}"
    if not base.is_dir():
        return []
    out = []
    for d in base.iterdir():
        if d.is_dir() and d.name.startswith("date=") and data_files(d):
            out.append(date.fromisoformat(d.name[5:]))
    return sorted(out)


def list_instruments(lake: Path) -> list[tuple[str, str]]:
    base = Path(lake) / "instruments"
    found = []
    if base.is_dir():
        for vdir in sorted(base.glob("venue=*")):
            for sdir in sorted(vdir.glob("symbol=*")):
                if (sdir / "spec.parquet").is_file():
                    found.append((vdir.name[6:], sdir.name[7:]))
    return found


def read_instrument(lake: Path, venue: str, symbol: str) -> InstrumentSpec:
    path = instrument_path(lake, venue, symbol)
    if not path.is_file():
        have = ", ".join(f"{v}:{s}" for v, s in list_instruments(lake)) or "none"
        raise LakeError(
            f"no instrument {venue}:{symbol} in lake {lake}",
            f"import data first with `mm import`; the lake has: {have}",
        )
    row = pq.read_table(path).to_pylist()[0]
    return InstrumentSpec.from_dict({**row, "venue": venue, "symbol": symbol})


def read_partition(
    lake: Path,
    table: str,
    venue: str,
    symbol: str,
    day: date,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> pa.Table:
    """All rows of one date partition (optionally time-filtered), in file order."""
    tdef = table_def(table)
    files = data_files(partition_dir(lake, table, venue, symbol, day))
    if not files:
        return tdef.schema.empty_table()
    parts = [pq.read_table(f, schema=tdef.schema, page_checksum_verification=True) for f in files]
    t = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    if start_ns is not None or end_ns is not None:
        ts = t.column(tdef.time_col).to_numpy()
        mask = np.ones(len(ts), dtype=bool)
        if start_ns is not None:
            mask &= ts >= start_ns
        if end_ns is not None:
            mask &= ts < end_ns
        t = t.filter(pa.array(mask))
    return t


def _col(t: pa.Table | pa.RecordBatch, name: str) -> np.ndarray:
    return t.column(name).to_numpy()


def _book_events(t: pa.Table | pa.RecordBatch) -> np.ndarray:
    ev = np.zeros(t.num_rows, dtype=EVENT_DTYPE)
    for name in ("recv_ts", "exch_ts", "ord", "seq", "prev_seq", "first_seq", "price", "qty"):
        ev[name] = _col(t, name)
    ev["kind"] = _col(t, "kind")
    ev["side"] = _col(t, "side")
    ev["flags"] = _col(t, "flags")
    return ev


def _trade_events(t: pa.Table | pa.RecordBatch) -> np.ndarray:
    ev = np.zeros(t.num_rows, dtype=EVENT_DTYPE)
    for name in ("recv_ts", "exch_ts", "ord", "price", "qty"):
        ev[name] = _col(t, name)
    ev["side"] = _col(t, "side")
    ev["kind"] = Kind.TRADE
    ev["flags"] = FIRST | LAST
    ev["seq"] = ev["prev_seq"] = ev["first_seq"] = -1
    return ev


def _bbo_events(t: pa.Table | pa.RecordBatch) -> np.ndarray:
    n = t.num_rows
    ev = np.zeros(2 * n, dtype=EVENT_DTYPE)
    for half, (side, px, qty, flag, bump) in enumerate(
        ((1, "bid_price", "bid_qty", FIRST, 0), (-1, "ask_price", "ask_qty", LAST, 1))
    ):
        sl = slice(half, 2 * n, 2)
        ev["recv_ts"][sl] = _col(t, "recv_ts")
        ev["exch_ts"][sl] = _col(t, "exch_ts")
        ev["ord"][sl] = _col(t, "ord") + bump
        ev["seq"][sl] = _col(t, "seq")
        ev["price"][sl] = _col(t, px)
        ev["qty"][sl] = _col(t, qty)
        ev["side"][sl] = side
        ev["flags"][sl] = flag
    ev["kind"] = Kind.BBO
    ev["prev_seq"] = ev["first_seq"] = -1
    return ev


_TO_EVENTS = {"book_deltas": _book_events, "trades": _trade_events, "bbo": _bbo_events}
# columns each conversion reads (a trade's id string is not an event field: never decoded)
_EVENT_COLUMNS = {
    "book_deltas": list(TABLES["book_deltas"].schema.names),
    "trades": ["recv_ts", "exch_ts", "ord", "price", "qty", "side"],
    "bbo": list(TABLES["bbo"].schema.names),
}
EVENTS_PER_ROW = {"book_deltas": 1, "trades": 1, "bbo": 2}  # a bbo row is a bid and an ask event

CHUNK_ROWS = 65_536  # rows read from one file at a time: bounds replay memory


@dataclass(frozen=True)
class _FilePlan:
    """The row groups of one file that may hold rows in a time window."""

    path: Path
    table: str
    row_groups: list[int]
    first_recv: int  # lower bound of the first recv_ts read
    rows: int | None  # event count, when every selected row group lies inside the window


def _plan_file(
    path: Path, table: str, start_ns: int | None, end_ns: int | None
) -> _FilePlan | None:
    meta = pq.read_metadata(path)
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    time_col = table_def(table).time_col
    col = names.index(time_col) if time_col in names else None
    groups: list[int] = []
    lows: list[int] = []
    rows: int | None = 0
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        if rg.num_rows == 0:
            continue
        stats = rg.column(col).statistics if col is not None else None
        if stats is None or not stats.has_min_max:
            groups.append(g)
            lows.append(-(1 << 63) if start_ns is None else start_ns)
            rows = None
            continue
        lo, hi = int(stats.min), int(stats.max)
        if (start_ns is not None and hi < start_ns) or (end_ns is not None and lo >= end_ns):
            continue
        groups.append(g)
        lows.append(lo if start_ns is None else max(lo, start_ns))
        inside = (start_ns is None or lo >= start_ns) and (end_ns is None or hi < end_ns)
        if rows is not None:
            rows = rows + rg.num_rows * EVENTS_PER_ROW[table] if inside else None
    if not groups:
        return None
    return _FilePlan(path, table, groups, min(lows), rows)


def _file_events(
    plan: _FilePlan, start_ns: int | None, end_ns: int | None, chunk_rows: int
) -> Iterator[np.ndarray]:
    """One file's events in file order, ``chunk_rows`` rows at a time, time-filtered."""
    convert = _TO_EVENTS[plan.table]
    # pre_buffer=False: decode page by page; pre-buffering holds whole column chunks. Pages
    # with a CRC (warehouse.parquet_options) are verified: damage is an error, not data
    pf = pq.ParquetFile(plan.path, pre_buffer=False, page_checksum_verification=True)
    try:
        for batch in pf.iter_batches(
            batch_size=chunk_rows, row_groups=plan.row_groups, columns=_EVENT_COLUMNS[plan.table]
        ):
            if start_ns is not None or end_ns is not None:
                ts = batch.column("recv_ts").to_numpy()
                mask = np.ones(len(ts), dtype=bool)
                if start_ns is not None:
                    mask &= ts >= start_ns
                if end_ns is not None:
                    mask &= ts < end_ns
                if not mask.all():
                    batch = batch.filter(pa.array(mask))
            if batch.num_rows:
                yield convert(batch)
    finally:
        pf.close()


def _day_plans(
    lake: Path,
    venue: str,
    symbol: str,
    day: date,
    start_ns: int | None,
    end_ns: int | None,
    tables: tuple[str, ...],
) -> list[_FilePlan]:
    """Files to read, in the order a stable sort breaks ties: table order, then file order."""
    plans = []
    for name in tables:
        for f in data_files(partition_dir(lake, name, venue, symbol, day)):
            plan = _plan_file(f, name, start_ns, end_ns)
            if plan is not None:
                plans.append(plan)
    return plans


def iter_events_day(
    lake: Path,
    venue: str,
    symbol: str,
    day: date,
    start_ns: int | None = None,
    end_ns: int | None = None,
    tables: tuple[str, ...] = MARKET_TABLES,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[np.ndarray]:
    """One day of market events in ``(recv_ts, ord)`` order, in message-aligned chunks.

    Every file of every table is a sorted run read ``chunk_rows`` at a time and merged,
    so memory stays bounded however long the day (see ``core.event_merge``). The order
    is exactly a stable sort of all tables' rows (tables, then files, in list order).
    """
    runs = [
        SortedRun(
            p.first_recv,
            functools.partial(_file_events, p, start_ns, end_ns, chunk_rows),
            f"lake file {p.path}",
        )
        for p in _day_plans(lake, venue, symbol, day, start_ns, end_ns, tables)
    ]
    return align_messages(merge_runs(runs))


def day_event_count(
    lake: Path,
    venue: str,
    symbol: str,
    day: date,
    start_ns: int | None = None,
    end_ns: int | None = None,
    tables: tuple[str, ...] = MARKET_TABLES,
) -> int | None:
    """Events ``iter_events_day`` yields, from file footers alone; None if only a read
    can tell (a row group straddles the time window)."""
    total = 0
    for plan in _day_plans(lake, venue, symbol, day, start_ns, end_ns, tables):
        if plan.rows is None:
            return None
        total += plan.rows
    return total


def read_events_day(
    lake: Path,
    venue: str,
    symbol: str,
    day: date,
    start_ns: int | None = None,
    end_ns: int | None = None,
    tables: tuple[str, ...] = MARKET_TABLES,
) -> np.ndarray:
    """One whole day of market events as one array (tests and tools; replay streams)."""
    chunks = list(iter_events_day(lake, venue, symbol, day, start_ns, end_ns, tables))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=EVENT_DTYPE)


def event_days(
    lake: Path,
    venue: str,
    symbol: str,
    start_ns: int | None = None,
    end_ns: int | None = None,
    tables: tuple[str, ...] = MARKET_TABLES,
) -> list[date]:
    days: set[date] = set()
    for name in tables:
        days.update(partition_dates(lake, name, venue, symbol))
    lo = ns_to_date(start_ns) if start_ns is not None else None
    hi = ns_to_date(end_ns - 1) if end_ns is not None else None
    return sorted(d for d in days if (lo is None or d >= lo) and (hi is None or d <= hi))


def day_window(day: date, start_ns: int | None) -> int | None:
    """The start filter worth applying to ``day`` (None when the day starts after it)."""
    return start_ns if start_ns is not None and start_ns > date_to_ns(day) else None


def iter_events(
    lake: Path,
    venue: str,
    symbol: str,
    start_ns: int | None = None,
    end_ns: int | None = None,
    tables: tuple[str, ...] = MARKET_TABLES,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[np.ndarray]:
    """Market events in replay order, in bounded chunks that each end on a message end."""
    for day in event_days(lake, venue, symbol, start_ns, end_ns, tables):
        yield from iter_events_day(
            lake, venue, symbol, day, day_window(day, start_ns), end_ns, tables, chunk_rows
        )


def message_batches(events: np.ndarray, target_rows: int) -> Iterator[np.ndarray]:
    """Split an event array into batches of about ``target_rows``, never inside a message."""
    n = len(events)
    start = 0
    ends = np.flatnonzero(events["flags"] & LAST) + 1
    while start < n:
        want = start + max(target_rows, 1)  # 0 would yield empty batches forever
        if want >= n:
            yield events[start:]
            return
        i = np.searchsorted(ends, want)
        stop = int(ends[i]) if i < len(ends) else n
        yield events[start:stop]
        start = stop
