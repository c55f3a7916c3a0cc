"""Build a long Binance BTCUSDT lake (up to a day and more) from the bundled ~6 min sample.

    python -m bench.make_day --hours 24 --out /tmp/day-lake [--start 2024-08-09]

Why: the replay must hold a whole day in bounded memory, and benchmarks need day-scale
data, but a real day of BTCUSDT is gigabytes and is not shipped. This writes the lake
directly (no raw text), so 24 h (~150 M events) takes minutes and bounded memory.

What it generates: the sample (data/sample/binance-usdm_btcusdt_20240808.gz, 344.8 s,
599,012 events: 445,521 book rows, 21,313 trades, 66,089 bookTicker rows = 2 events
each) is imported once, then written N times back to back, copy k shifted so it starts
at ``--start`` (default 2024-08-09 00:00 UTC, the day after the capture) + k x period
(period = the sample's span + 1 ms, rounded up to a whole second: 345 s). N is the number of whole copies that fit in ``--hours`` (10 for
1 h, 250 for 24 h), or ``--copies``. In each copy:

* ``recv_ts`` and ``exch_ts`` move by the same shift; ``ord`` (message number << 20)
  moves by a whole block of message numbers, so rows stay unique and ordered;
* every update id (book ``u``/``pu``/``U``, bookTicker ``u``) moves up by the span of
  the sample's ids, so ids keep increasing. The first diff of a copy does not chain to
  the previous copy's last ``u``: Binance's rules see a gap, exactly as after a
  reconnect, and the book resyncs at the copy's own REST snapshot (the sample has 6
  diffs, then the snapshot): one gap and one resync per copy boundary;
* trade ids move up by the span of the sample's trade ids (unique per copy).

Prices and sizes repeat the sample's, so the price jumps back at each copy boundary.
Files: one sorted Parquet file per table and date, rolled to a new file every
``--file-rows`` rows, row groups of ``--row-group`` rows (the lake's encoding,
``warehouse.parquet_options``, or the one before it with ``--legacy-encoding``; the layout:
``{lake}/{table}/venue=binance-usdm/symbol=S/date=D/part-*.parquet``). ``--symbols``
writes the same data under several symbol names (a multi-instrument lake).
Not shipped: generate on demand (24 h: ~0.5 GB on disk, ~0.9 GB with ``--legacy-encoding``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.errors import MMError
from core.lake import MARKET_TABLES, partition_dates, partition_dir, read_instrument, table_def
from core.progress import Progress
from core.timeutil import NS_PER_DAY, NS_PER_MS, NS_PER_S, date_to_ns, ns_to_date, parse_time
from warehouse.parquet_options import LEGACY_OPTIONS, write_options

SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
)
VENUE = "binance-usdm"
SYMBOL = "BTCUSDT"
ROW_BITS = 20  # ord = message number << 20 | row (connectors.rows)
DEFAULT_START = date_to_ns(date(2024, 8, 9))
SEQ_COLUMNS = {"book_deltas": ("seq", "prev_seq", "first_seq"), "bbo": ("seq",), "trades": ()}


@dataclass(frozen=True)
class Plan:
    """How copy k is derived from the sample: add k x each span."""

    copies: int
    base_ns: int  # where copy 0 starts (recv_ts)
    first_recv: int  # the sample's first recv_ts
    period_ns: int
    ord_span: int
    seq_span: int
    trade_span: int

    def shift_ns(self, k: int) -> int:
        return self.base_ns + k * self.period_ns - self.first_recv


def load_sample(sample: Path, work: Path) -> dict[str, pa.Table]:
    """The sample imported by the real importer, one table per market table."""
    from warehouse.importer import import_file

    lake = work / "sample-lake"
    import_file(sample, lake, progress=False)
    tables = {}
    for name in MARKET_TABLES:
        files = list((lake / name).rglob("*.parquet"))
        t = pa.concat_tables([pq.read_table(f, schema=table_def(name).schema) for f in files])
        tables[name] = t.sort_by([("recv_ts", "ascending"), ("ord", "ascending")])
    return tables


def make_plan(tables: dict[str, pa.Table], start_ns: int, hours: float, copies: int | None) -> Plan:
    recv = np.concatenate([t.column("recv_ts").to_numpy() for t in tables.values()])
    first, last = int(recv.min()), int(recv.max())
    period = -(-(last - first + NS_PER_MS) // NS_PER_S) * NS_PER_S
    if copies is None:
        copies = int(hours * 3600 * NS_PER_S // period)
    if copies < 1:
        raise MMError(
            f"{hours} h holds no whole copy of the {period / NS_PER_S:.0f} s sample",
            "ask for more --hours",
        )
    ords = np.concatenate([t.column("ord").to_numpy() for t in tables.values()])
    ord_span = (int(ords.max() >> ROW_BITS) + 2) << ROW_BITS
    ids = [tables[name].column(c).to_numpy() for name, cols in SEQ_COLUMNS.items() for c in cols]
    ids = [a[a >= 0] for a in ids]
    lo = min(int(a.min()) for a in ids if len(a))
    hi = max(int(a.max()) for a in ids if len(a))
    trade_ids = _trade_ids(tables["trades"])
    trade_span = int(trade_ids.max() - trade_ids.min()) + 1 if len(trade_ids) else 1
    return Plan(copies, start_ns, first, period, ord_span, hi - lo + 1, trade_span)


def _trade_ids(trades: pa.Table) -> np.ndarray:
    col = trades.column("trade_id")
    try:
        return pc.cast(col, pa.int64()).to_numpy()
    except pa.ArrowInvalid:
        raise MMError("the sample's trade ids are not numbers", "use the Binance sample") from None


def shifted(name: str, t: pa.Table, plan: Plan, k: int) -> pa.Table:
    """Copy k of one sample table."""
    dt = plan.shift_ns(k)
    cols = {c: t.column(c) for c in t.column_names}
    cols["recv_ts"] = pc.add(cols["recv_ts"], dt)
    cols["exch_ts"] = pc.add(cols["exch_ts"], dt)
    cols["ord"] = pc.add(cols["ord"], k * plan.ord_span)
    for c in SEQ_COLUMNS[name]:
        a = cols[c].to_numpy()
        cols[c] = pa.array(np.where(a >= 0, a + k * plan.seq_span, a))
    if name == "trades":
        ids = _trade_ids(t) + k * plan.trade_span
        cols["trade_id"] = pc.cast(pa.array(ids), pa.string())
    return pa.table(cols, schema=table_def(name).schema)


class PartitionWriter:
    """Sorted rows of one (table, symbol) -> date partitions: files of at most
    ``file_rows`` rows in row groups of ``row_group`` rows, each file renamed into
    place only once complete (the lake never shows a partial file)."""

    def __init__(
        self,
        lake: Path,
        table: str,
        symbol: str,
        row_group: int,
        file_rows: int,
        legacy_encoding: bool = False,
    ):
        self.lake, self.table, self.symbol = lake, table, symbol
        self.row_group, self.file_rows = row_group, file_rows
        self.schema = table_def(table).schema
        self.options = LEGACY_OPTIONS if legacy_encoding else write_options(table, self.schema)
        self.day: date | None = None
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.writer: pq.ParquetWriter | None = None
        self.tmp: Path | None = None
        self.first_recv = 0
        self.file_written = 0
        self.files: list[Path] = []

    def add(self, t: pa.Table) -> None:
        recv = t.column("recv_ts").to_numpy()
        while len(recv):
            day = ns_to_date(int(recv[0]))
            cut = int(np.searchsorted(recv, date_to_ns(day) + NS_PER_DAY))
            if day != self.day:
                self.close()
                self.day = day
            self.pending.append(t.slice(0, cut))
            self.pending_rows += cut
            t, recv = t.slice(cut), recv[cut:]
            while self.pending_rows >= self.row_group:
                self._write_group(self.row_group)

    def _write_group(self, n: int) -> None:
        rows = pa.concat_tables(self.pending)
        group, rest = rows.slice(0, n), rows.slice(n)
        self.pending = [rest] if rest.num_rows else []
        self.pending_rows = rest.num_rows
        if self.writer is None:
            assert self.day is not None
            directory = partition_dir(self.lake, self.table, VENUE, self.symbol, self.day)
            directory.mkdir(parents=True, exist_ok=True)
            self.first_recv = int(group.column("recv_ts")[0].as_py())
            self.tmp = directory / f".make-day-{uuid.uuid4().hex[:12]}.tmp"
            self.writer = pq.ParquetWriter(self.tmp, self.schema, **self.options)
        self.writer.write_table(group, row_group_size=n)
        self.file_written += group.num_rows
        if self.file_written >= self.file_rows:
            self._finish_file()

    def _finish_file(self) -> None:
        if self.writer is None:
            return
        self.writer.close()
        assert self.tmp is not None
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        final = self.tmp.parent / f"part-{self.first_recv:020d}-{uuid.uuid4().hex[:12]}.parquet"
        os.replace(self.tmp, final)
        self.files.append(final)
        self.writer, self.tmp, self.file_written = None, None, 0

    def close(self) -> None:
        """Flush the partition in progress (the last row group may be short)."""
        if self.pending_rows:
            self._write_group(self.pending_rows)
        self._finish_file()

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.tmp is not None and self.tmp.exists():
            self.tmp.unlink()


@dataclass
class Made:
    copies: int
    events: int
    rows: dict[str, int]
    start_ns: int
    end_ns: int
    files: int
    seconds: float


def make_day(
    out: Path,
    hours: float = 24.0,
    start_ns: int = DEFAULT_START,
    copies: int | None = None,
    symbols: tuple[str, ...] = (SYMBOL,),
    row_group: int = 524_288,
    file_rows: int = 32 * 1_048_576,
    sample: Path = SAMPLE,
    progress: bool = True,
    legacy_encoding: bool = False,
) -> Made:
    """Write the long capture into lake ``out`` (see the module docstring)."""
    from warehouse.lake_writer import write_instrument

    t0 = time.monotonic()
    if row_group < 1 or file_rows < 1:
        raise MMError("--row-group and --file-rows must be positive")
    for symbol in symbols:
        for name in MARKET_TABLES:
            if partition_dates(out, name, VENUE, symbol):
                raise MMError(
                    f"lake {out} already holds {name} of {VENUE}:{symbol}",
                    "write to a new --out",
                )
    with tempfile.TemporaryDirectory(prefix="make-day-") as work:
        tables = load_sample(sample, Path(work))
        spec = read_instrument(Path(work) / "sample-lake", VENUE, SYMBOL)
    plan = make_plan(tables, start_ns, hours, copies)
    end_ns = plan.base_ns + plan.copies * plan.period_ns
    for symbol in symbols:
        write_instrument(out, replace(spec, symbol=symbol))
    writers = {
        (name, s): PartitionWriter(out, name, s, row_group, file_rows, legacy_encoding)
        for s in symbols
        for name in MARKET_TABLES
    }
    per_copy = {name: tables[name].num_rows for name in MARKET_TABLES}
    events = sum(n * (2 if name == "bbo" else 1) for name, n in per_copy.items())
    bar = Progress("make_day", plan.copies, " copies", enabled=progress)
    try:
        for k in range(plan.copies):
            for name in MARKET_TABLES:
                t = shifted(name, tables[name], plan, k)
                for s in symbols:
                    writers[(name, s)].add(t)
            bar.update(k + 1, f"{(k + 1) * events * len(symbols):,} events")
        for w in writers.values():
            w.close()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    finally:
        bar.close()
    return Made(
        copies=plan.copies,
        events=plan.copies * events * len(symbols),
        rows={n: plan.copies * per_copy[n] * len(symbols) for n in MARKET_TABLES},
        start_ns=plan.base_ns,
        end_ns=end_ns,
        files=sum(len(w.files) for w in writers.values()),
        seconds=time.monotonic() - t0,
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench.make_day",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--out", type=Path, required=True, help="lake to write (new or empty)")
    ap.add_argument("--hours", type=float, default=24.0, help="length to fill (default 24)")
    ap.add_argument("--copies", type=int, help="number of sample copies (overrides --hours)")
    ap.add_argument("--start", default="2024-08-09", help="date or ISO time (UTC) of copy 0")
    ap.add_argument("--symbols", default=SYMBOL, help="comma-separated symbol names")
    ap.add_argument("--row-group", type=int, default=524_288)
    ap.add_argument("--file-rows", type=int, default=32 * 1_048_576)
    ap.add_argument(
        "--legacy-encoding",
        action="store_true",
        help="write with the encoding of before bench.storage (to compare replay speed)",
    )
    args = ap.parse_args(argv)
    symbols = tuple(s.strip() for s in args.symbols.split(",") if s.strip())
    if not symbols:
        ap.error("--symbols names no symbol")
    try:
        start = parse_time(args.start)
        assert start is not None
        made = make_day(
            args.out,
            args.hours,
            start,
            args.copies,
            symbols,
            args.row_group,
            args.file_rows,
            legacy_encoding=args.legacy_encoding,
        )
    except MMError as exc:
        print(f"make_day: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(
        f"{args.out}: {made.copies} copies of the sample = {made.events:,} events "
        f"({', '.join(f'{n} {v:,}' for n, v in made.rows.items())}) for {len(symbols)} "
        f"symbol(s), {(made.end_ns - made.start_ns) / 3.6e12:.2f} h from {args.start}, "
        f"{made.files} files, in {made.seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
