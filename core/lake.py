"""Layout and read side of the Parquet lake.

``{lake}/{table}/venue=V/symbol=S/date=YYYY-MM-DD/*.parquet`` (zstd, hive partitions).
Partition columns live only in the path. Market tables store integer ticks/lots; each
instrument's tick and lot size is in ``{lake}/instruments/venue=V/symbol=S/spec.parquet``
so the numbers can always be turned back into prices.

The read side is here (not in ``warehouse``) because the replay source, a connector,
depends on ``core`` only; writers, dedupe and compaction live in ``warehouse``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import LakeError
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
    parts = [pq.read_table(f, schema=tdef.schema) for f in files]
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


def _col(t: pa.Table, name: str) -> np.ndarray:
    return t.column(name).to_numpy()


def _book_events(t: pa.Table) -> np.ndarray:
    ev = np.zeros(t.num_rows, dtype=EVENT_DTYPE)
    for name in ("recv_ts", "exch_ts", "ord", "seq", "prev_seq", "first_seq", "price", "qty"):
        ev[name] = _col(t, name)
    ev["kind"] = _col(t, "kind")
    ev["side"] = _col(t, "side")
    ev["flags"] = _col(t, "flags")
    return ev


def _trade_events(t: pa.Table) -> np.ndarray:
    ev = np.zeros(t.num_rows, dtype=EVENT_DTYPE)
    for name in ("recv_ts", "exch_ts", "ord", "price", "qty"):
        ev[name] = _col(t, name)
    ev["side"] = _col(t, "side")
    ev["kind"] = Kind.TRADE
    ev["flags"] = FIRST | LAST
    ev["seq"] = ev["prev_seq"] = ev["first_seq"] = -1
    return ev


def _bbo_events(t: pa.Table) -> np.ndarray:
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


def read_events_day(
    lake: Path,
    venue: str,
    symbol: str,
    day: date,
    start_ns: int | None = None,
    end_ns: int | None = None,
    tables: tuple[str, ...] = MARKET_TABLES,
) -> np.ndarray:
    """One day of market events, merged across tables in (recv_ts, ord) order."""
    chunks = [
        _TO_EVENTS[name](read_partition(lake, name, venue, symbol, day, start_ns, end_ns))
        for name in tables
    ]
    ev = np.concatenate(chunks) if chunks else np.zeros(0, dtype=EVENT_DTYPE)
    order = np.lexsort((ev["ord"], ev["recv_ts"]))
    return ev[order]


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


def iter_events(
    lake: Path,
    venue: str,
    symbol: str,
    start_ns: int | None = None,
    end_ns: int | None = None,
    tables: tuple[str, ...] = MARKET_TABLES,
) -> Iterator[np.ndarray]:
    """Market events day by day (bounded memory), each day in replay order."""
    for day in event_days(lake, venue, symbol, start_ns, end_ns, tables):
        lo = start_ns if start_ns is not None and start_ns > date_to_ns(day) else None
        ev = read_events_day(lake, venue, symbol, day, lo, end_ns, tables)
        if len(ev):
            yield ev


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
