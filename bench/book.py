"""Throughput of the foundation on the bundled Binance sample: import, book, replay flow.

    .venv/bin/python -m bench.book            # table
    .venv/bin/python -m bench.book --json     # one JSON object

Three stages, each on the same 93,954-line capture (599,012 events):

* import: ``warehouse.importer.import_file`` into a fresh temporary lake (lines/s, rows/s);
* book: every event through ``BookSync`` alone, then through ``TopOfBook`` (the sync plus
  one feature row per book message), in-process, best of ``--repeat`` runs;
* flow: ``flows.replay_book`` end to end (lake -> source -> TopOfBook -> lake sink) in a
  fresh ``python -m bytewax.run`` process, timed from outside (includes start-up).

Peak RSS is this process's (import + book stages) and the flow child's, from getrusage.
Numbers only, no assertions: compare before and after a change on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.events import LAST
from core.lake import iter_events
from core.walk import BOOK_KINDS, messages
from operators.book.sync import book_sync_for
from operators.features.top_of_book import TopOfBook
from warehouse.importer import import_file

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
VENUE, SYMBOL = "binance-usdm", "BTCUSDT"


def _rss_mb(who: int) -> float:
    """Peak resident set size in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(who).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def bench_import(lake: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    report = import_file(SAMPLE, lake, progress=False)
    secs = time.perf_counter() - t0
    rows = sum(c["written"] for c in report.rows.values())
    return {
        "lines": report.lines,
        "rows": rows,
        "seconds": round(secs, 3),
        "lines_per_s": round(report.lines / secs),
        "rows_per_s": round(rows / secs),
    }


def _sync_only(events: np.ndarray) -> int:
    sync = book_sync_for(VENUE)
    n = 0
    for m in messages(events):
        if m.kind in BOOK_KINDS:
            sync.on_message(m.kind, m.seq, m.prev_seq, m.first_seq, m.levels)
            n += 1
    return n


def bench_book(lake: Path, repeat: int) -> dict[str, Any]:
    events = np.concatenate(list(iter_events(lake, VENUE, SYMBOL)))
    n_events = len(events)
    n_messages = sum(1 for _ in messages(events))
    is_last = (events["flags"] & LAST) != 0
    book_messages = int(np.count_nonzero(is_last & np.isin(events["kind"], BOOK_KINDS)))
    out: dict[str, Any] = {
        "events": n_events,
        "messages": n_messages,
        "book_messages": book_messages,
    }
    best_walk = best_sync = best_tob = float("inf")
    rows = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _m in messages(events):
            pass
        best_walk = min(best_walk, time.perf_counter() - t0)
        t0 = time.perf_counter()
        _sync_only(events)
        best_sync = min(best_sync, time.perf_counter() - t0)
        tob = TopOfBook(VENUE, 0.1)
        t0 = time.perf_counter()
        rows = len(tob.process(events))
        best_tob = min(best_tob, time.perf_counter() - t0)
    for name, secs in (("walk", best_walk), ("book_sync", best_sync), ("top_of_book", best_tob)):
        out[name] = {
            "seconds": round(secs, 4),
            "events_per_s": round(n_events / secs),
            "messages_per_s": round(n_messages / secs),
            "book_messages_per_s": round(book_messages / secs),
        }
    out["top_of_book"]["feature_rows"] = rows
    return out


# The flow runs in a fresh process; it reports its own peak RSS. ru_maxrss of a child is
# useless here: on Linux a (v)forked child inherits the parent's high-water mark.
_FLOW_CHILD = """
import resource, runpy, sys
sys.argv = ["bytewax.run", "flows.replay_book", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("bytewax.run", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code or 0
try:
    with open("/proc/self/status") as fh:  # VmHWM: this process image's peak RSS
        kb = next(int(ln.split()[1]) for ln in fh if ln.startswith("VmHWM:"))
except (OSError, StopIteration):
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("BENCH_PEAK_RSS_KB", kb, file=sys.stderr)
sys.exit(code)
"""


def bench_flow(lake: Path, out: Path, events: int, workers: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MM_")}
    env.update(
        MM_LAKE=str(lake), MM_VENUE=VENUE, MM_SYMBOLS=SYMBOL, MM_OUT=str(out), MM_PROGRESS="0"
    )
    cmd = [sys.executable, "-c", _FLOW_CHILD]
    if workers > 1:
        cmd += ["-w", str(workers)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=out.parent, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench.book: the replay_book flow failed:\n{proc.stderr}")
    peak_kb = next(
        int(ln.split()[1]) for ln in proc.stderr.splitlines() if ln.startswith("BENCH_PEAK_RSS_KB")
    )
    # start-up alone (imports, no data), to show what the end-to-end number includes
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import flows.replay_book, bytewax.run"],
        env=env,
        cwd=out.parent,
        check=True,
    )
    startup = time.perf_counter() - t0
    return {
        "workers": workers,
        "seconds": round(secs, 3),
        "startup_seconds": round(startup, 3),
        "events_per_s": round(events / secs),
        "events_per_s_excl_startup": round(events / max(secs - startup, 1e-9)),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def run(repeat: int, workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench_book_") as tmp:
        lake = Path(tmp) / "lake"
        result: dict[str, Any] = {
            "sample": SAMPLE.name,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        }
        result["import"] = bench_import(lake)
        result["book"] = bench_book(lake, repeat)
        result["peak_rss_mb"] = round(_rss_mb(resource.RUSAGE_SELF), 1)
        result["flow"] = bench_flow(lake, Path(tmp) / "out", result["book"]["events"], workers)
    return result


def format_table(r: dict[str, Any]) -> str:
    imp, book, flow = r["import"], r["book"], r["flow"]
    lines = [
        f"bench.book  {r['sample']}  (python {r['python']}, {r['machine']}, {r['cpus']} cpus)",
        f"  import        {imp['lines_per_s']:>12,} lines/s  {imp['rows_per_s']:>12,} rows/s"
        f"   ({imp['lines']:,} lines -> {imp['rows']:,} rows in {imp['seconds']:.2f} s)",
    ]
    for name in ("walk", "book_sync", "top_of_book"):
        b = book[name]
        lines.append(
            f"  {name:<13} {b['events_per_s']:>12,} events/s {b['messages_per_s']:>11,} msgs/s"
            f"  {b['book_messages_per_s']:>9,} book msgs/s  ({b['seconds']:.3f} s)"
        )
    lines += [
        f"                ({book['events']:,} events, {book['messages']:,} messages, "
        f"{book['book_messages']:,} book messages)",
        f"  replay flow   {flow['events_per_s']:>12,} events/s end to end, "
        f"{flow['workers']} worker(s), {flow['seconds']:.2f} s "
        f"(start-up {flow['startup_seconds']:.2f} s; "
        f"{flow['events_per_s_excl_startup']:,} events/s without it)",
        f"  peak RSS      {r['peak_rss_mb']:>9.1f} MB this process (import + book), "
        f"{flow['peak_rss_mb']:.1f} MB flow process",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.book", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=3, help="book stage: best of N runs")
    parser.add_argument("--workers", type=int, default=1, help="flow stage: Bytewax workers")
    args = parser.parse_args(argv)
    result = run(max(args.repeat, 1), max(args.workers, 1))
    print(json.dumps(result, indent=2) if args.json else format_table(result))


if __name__ == "__main__":
    main()
