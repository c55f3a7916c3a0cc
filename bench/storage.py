"""Parquet encoding candidates for the market tables, measured on the bundled sample.

    python -m bench.storage [--repeat 5] [--columns] [--json]

Why: the lake's encoding (``warehouse.parquet_options``) was chosen by these numbers, and
any change to it should be too. The bundled Binance BTCUSDT capture is imported once; its
three market tables are then written as a lake with each candidate: the encoding before
tuning (dictionary on every column, zstd 3), dictionary at zstd 9 (the level alone), and
the tuned per-column encodings at several zstd levels and row-group sizes. The sort
order is not a candidate: readers need files in ``(recv_ts, ord)`` order. Per candidate
and table: bytes, bytes/event and MiB per symbol-day (``mm lake stats``'s arithmetic,
``warehouse.lake_stats``), write time, full-read time (``pq.read_table``), and the replay
read of the whole lake (``core.lake.read_events_day``, all tables merged into events:
wall and CPU time).
Every candidate must read back equal to the rows written. Times are the best of
``--repeat`` runs (the machine is shared: take them as ratios). ``--columns`` adds each
column's bytes/row under each encoding, at the default level: the reason for each
choice in ``ENCODINGS``.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from core.lake import MARKET_TABLES, instrument_path, partition_dir, read_events_day
from warehouse.lake_stats import MIB, lake_stats
from warehouse.parquet_options import (
    COMPRESSION_LEVEL,
    DELTA,
    ENCODINGS,
    LEGACY_OPTIONS,
    PLAIN,
    PREFIX,
    ROW_GROUP_ROWS,
    SPLIT,
    write_options,
)

SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
)
VENUE, SYMBOL = "binance-usdm", "BTCUSDT"


@dataclass(frozen=True)
class Candidate:
    name: str
    encodings: dict[str, dict[str, str]] | None  # None: the options of before (LEGACY)
    level: int
    row_group: int
    statistics: bool = True

    def options(self, table: str, schema: pa.Schema) -> dict[str, Any]:
        if self.encodings is None:
            return dict(LEGACY_OPTIONS)
        opts = write_options(table, schema, self.encodings, self.level)
        return opts if self.statistics else {**opts, "write_statistics": False}

    @property
    def is_default(self) -> bool:
        return (
            self.encodings is ENCODINGS
            and self.level == COMPRESSION_LEVEL
            and self.row_group == ROW_GROUP_ROWS
            and self.statistics
        )


def candidates() -> list[Candidate]:
    rg = ROW_GROUP_ROWS
    out = [Candidate("before: dictionary, zstd 3", None, 3, rg)]
    out.append(Candidate("dictionary, zstd 9", {}, 9, rg))  # the level alone
    out += [Candidate(f"tuned, zstd {lv}", ENCODINGS, lv, rg) for lv in (1, 3, 6, 9, 12, 15)]
    lv = COMPRESSION_LEVEL
    for n in (65_536, 1_048_576):
        out.append(Candidate(f"tuned, zstd {lv}, rg {n:,}", ENCODINGS, lv, n))
    # statistics cost little, and the replay, the merge and the sinks prune row groups by them
    out.append(Candidate(f"tuned, zstd {lv}, no statistics", ENCODINGS, lv, rg, False))
    return out


def load_sample(sample: Path, work: Path) -> tuple[dict[str, pa.Table], Path, date]:
    """The sample's market tables (as imported) and its instrument spec file."""
    from core.lake import partition_dates, read_partition
    from warehouse.importer import import_file

    lake = work / "imported"
    import_file(sample, lake, progress=False)
    day = partition_dates(lake, "book_deltas", VENUE, SYMBOL)[0]
    tables = {t: read_partition(lake, t, VENUE, SYMBOL, day) for t in MARKET_TABLES}
    return tables, instrument_path(lake, VENUE, SYMBOL), day


def best_of(repeat: int, fn: Callable[[], Any]) -> float:
    """Best wall time of ``repeat`` calls."""
    return best_times(repeat, fn)[0]


def best_times(repeat: int, fn: Callable[[], Any]) -> tuple[float, float]:
    """Best wall and best CPU time (all threads: steadier on a shared machine)."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def write_file(path: Path, t: pa.Table, opts: dict[str, Any], row_group: int) -> None:
    with pq.ParquetWriter(path, t.schema, **opts) as w:
        w.write_table(t, row_group_size=row_group)


def measure(
    cand: Candidate, tables: dict[str, pa.Table], spec: Path, day: date, work: Path, repeat: int
) -> dict[str, Any]:
    lake = work / "candidate"
    shutil.rmtree(lake, ignore_errors=True)
    dst = instrument_path(lake, VENUE, SYMBOL)
    dst.parent.mkdir(parents=True)
    shutil.copy(spec, dst)
    per_table: dict[str, dict[str, Any]] = {}
    for name, t in tables.items():
        d = partition_dir(lake, name, VENUE, SYMBOL, day)
        d.mkdir(parents=True)
        path = d / "part-0.parquet"
        opts = cand.options(name, t.schema)
        write_s = best_of(repeat, lambda: write_file(path, t, opts, cand.row_group))  # noqa: B023
        back = pq.read_table(path)
        if not back.equals(t):
            raise SystemExit(f"storage: {cand.name}: {name} does not read back equal")
        read_s = best_of(repeat, lambda: pq.read_table(path))  # noqa: B023
        per_table[name] = {"write_s": write_s, "read_s": read_s}
    stats = lake_stats(lake)
    for st in stats.tables:
        per_table[st.table].update(
            bytes=st.bytes,
            bytes_per_event=st.bytes_per_event,
            mib_per_day=(st.bytes_per_day or 0) / MIB,
        )
    total = stats.totals()[0]
    replay_s, replay_cpu = best_times(repeat, lambda: read_events_day(lake, VENUE, SYMBOL, day))
    return {
        "candidate": cand.name,
        "default": cand.is_default,
        "tables": per_table,
        "bytes": total.bytes,
        "bytes_per_event": total.bytes_per_event,
        "mib_per_day": (total.bytes_per_day or 0) / MIB,
        "events": total.events,
        "replay_read_s": replay_s,
        "replay_read_cpu_s": replay_cpu,
    }


def column_sizes(tables: dict[str, pa.Table]) -> dict[str, dict[str, dict[str, float]]]:
    """Bytes/row of each column alone under each encoding that applies to its type."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, t in tables.items():
        out[name] = {}
        for col in t.column_names:
            typ = t.schema.field(col).type
            encs = ["DICTIONARY", PLAIN]
            if pa.types.is_integer(typ) or pa.types.is_floating(typ):
                encs += [DELTA, SPLIT] if pa.types.is_integer(typ) else [SPLIT]
            elif pa.types.is_string(typ):
                encs += [PREFIX]
            sizes = {}
            for enc in encs:
                sub = t.select([col])
                opts = write_options(name, sub.schema, {name: {col: enc}}, COMPRESSION_LEVEL)
                buf = io.BytesIO()
                pq.write_table(sub, buf, row_group_size=ROW_GROUP_ROWS, **opts)
                sizes[enc] = buf.tell() / t.num_rows
            out[name][col] = sizes
    return out


def _print(results: list[dict[str, Any]], events: int) -> None:
    print(f"sample: {events:,} events; MiB/day = bytes / span x 86,400 s (mm lake stats)")
    head = f"{'candidate':<34} {'B/event':>7} {'MiB/day':>8}  {'write s':>7} {'read s':>7} "
    head += f"{'replay s':>8} {'CPU s':>5}  " + "  ".join(
        f"{t + ' B/ev, MiB/d':>24}" for t in MARKET_TABLES
    )
    print(head)
    for r in results:
        tw = sum(v["write_s"] for v in r["tables"].values())
        tr = sum(v["read_s"] for v in r["tables"].values())
        cells = "  ".join(
            f"{r['tables'][t]['bytes_per_event']:>13.2f} {r['tables'][t]['mib_per_day']:>10.1f}"
            for t in MARKET_TABLES
        )
        mark = " *" if r["default"] else ""
        print(
            f"{r['candidate'] + mark:<34} {r['bytes_per_event']:>7.2f} {r['mib_per_day']:>8.1f}  "
            f"{tw:>7.3f} {tr:>7.3f} {r['replay_read_s']:>8.3f} {r['replay_read_cpu_s']:>5.2f}  "
            f"{cells}"
        )
    print("* the default (warehouse.parquet_options)")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeat", type=int, default=5, help="runs per timing, best taken")
    ap.add_argument("--columns", action="store_true", help="per-column bytes/row per encoding")
    ap.add_argument("--sample", type=Path, default=SAMPLE)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        work = Path(tmp)
        tables, spec, day = load_sample(args.sample, work)
        results = [measure(c, tables, spec, day, work, args.repeat) for c in candidates()]
        cols = column_sizes(tables) if args.columns else None
    if args.json:
        print(json.dumps({"candidates": results, "columns": cols}, indent=2))
        return
    _print(results, results[0]["events"])
    if cols is not None:
        print(f"\nbytes/row of each column alone, zstd {COMPRESSION_LEVEL} (chosen: [..])")
        for name, by_col in cols.items():
            print(name)
            for col, sizes in by_col.items():
                chosen = ENCODINGS[name].get(col, "DICTIONARY")
                cells = "  ".join(
                    (f"[{e}={v:.3f}]" if e == chosen else f"{e}={v:.3f}") for e, v in sizes.items()
                )
                print(f"  {col:<10} {cells}")


if __name__ == "__main__":
    main()
