"""Replay at scale: backtest wall time, events/s and peak RSS on generated multi-hour lakes.

    python -m bench.replay_scale [--hours 1,6] [--dir DIR] [--json] [--legacy-encoding]

For each length, ``bench.make_day`` writes a lake (copies of the bundled Binance sample,
see its docstring), then two fresh processes run on it, so each peak RSS is its own:

* replay only: the Parquet replay source drained batch by batch (no trader, no Bytewax);
* backtest: the real dataflow (lake replay -> trader with the simulated venue -> run
  tables) in-process, as ``mm backtest`` runs it.

RSS is sampled every 0.5 s; the report gives the peak and the RSS at each quarter of
the run. If memory does not depend on the length of the data, the peaks of a 1 h and
a 6 h lake are about the same. Lakes go to a temporary folder unless ``--dir`` names
one (kept and reused: generating 24 h takes ~1-2 min). ``--legacy-encoding`` generates
them in the Parquet encoding of before ``bench.storage`` tuned it (to compare replay speed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

INST = "binance-usdm:BTCUSDT"


class RssSampler:
    """Resident memory of this process, sampled on a thread (MB)."""

    def __init__(self, every_s: float = 0.5) -> None:
        self.samples: list[tuple[float, float]] = []
        self.every = every_s
        self._stop = threading.Event()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss_mb() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append((time.perf_counter() - self._t0, self.rss_mb()))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter() - self._t0, self.rss_mb()))

    def quarters(self) -> list[float]:
        """RSS at 25/50/75/100 % of the run's time."""
        if not self.samples:
            return []
        end = self.samples[-1][0]
        out = []
        for q in (0.25, 0.5, 0.75, 1.0):
            out.append(round(next(r for t, r in self.samples if t >= q * end), 1))
        return out


def _peak_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries that over an
    exec from the forking parent, so a child would report the parent's peak."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def child_replay(lake: Path) -> dict[str, Any]:
    from connectors.replay.parquet_source import LakeReplaySource

    part = LakeReplaySource(lake, [INST]).build_part("replay", INST, None)
    n = batches = 0
    with RssSampler() as rss:
        t0, c0 = time.perf_counter(), time.process_time()
        while True:
            try:
                (_, batch), *_ = part.next_batch()
            except StopIteration:
                break
            n += len(batch)
            batches += 1
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
    return {
        "events": n,
        "batches": batches,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),  # all threads: less sensitive than wall to a shared machine
        "events_per_s": round(n / wall),
        "peak_rss_mb": _peak_mb(),
        "rss_quarters_mb": rss.quarters(),
    }


def child_backtest(lake: Path, out: Path) -> dict[str, Any]:
    from core.params import StrategyParams
    from flows.replay_backtest import lake_backtest
    from warehouse.runner import run_flow

    with RssSampler() as rss:
        t0 = time.perf_counter()
        run_flow(lake_backtest(lake, [INST], out, {INST: StrategyParams()}))
        wall = time.perf_counter() - t0
    s = json.loads((out / "summary.json").read_text())
    return {
        "events": s["events"],
        "wall_s": round(wall, 1),
        "events_per_s": round(s["events"] / wall),
        "trader_events_per_s": s["events_per_s"],
        "fills": s["fills"],
        "peak_rss_mb": _peak_mb(),
        "rss_quarters_mb": rss.quarters(),
    }


def _child(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.replay_scale", "--child", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "MM_PROGRESS": "0"},
    )
    if proc.returncode != 0:
        raise SystemExit(f"replay_scale: error: {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def lake_for(base: Path, hours: float, legacy: bool = False) -> tuple[Path, dict[str, Any]]:
    """A generated lake of ``hours`` under ``base`` (reused if already complete)."""
    from bench.make_day import make_day

    lake = base / f"lake-{hours:g}h{'-legacy' if legacy else ''}"
    done = lake / ".made.json"
    if done.is_file():
        return lake, json.loads(done.read_text())
    if lake.exists():
        import shutil

        shutil.rmtree(lake)  # an earlier run stopped half-way
    made = make_day(lake, hours=hours, progress=sys.stderr.isatty(), legacy_encoding=legacy)
    info = {"copies": made.copies, "events": made.events, "make_s": round(made.seconds, 1)}
    info["lake_mb"] = round(sum(f.stat().st_size for f in lake.rglob("*.parquet")) / 2**20)
    done.write_text(json.dumps(info))
    return lake, info


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--hours", default="1,6", help="comma-separated lengths (default 1,6)")
    ap.add_argument("--dir", type=Path, help="where generated lakes are kept and reused")
    ap.add_argument("--no-backtest", action="store_true", help="replay only")
    ap.add_argument(
        "--legacy-encoding", action="store_true", help="lakes in the Parquet encoding of before"
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *paths = args.child
        res = child_replay(Path(paths[0])) if kind == "replay" else None
        if kind == "backtest":
            res = child_backtest(Path(paths[0]), Path(paths[1]))
        print(json.dumps(res))
        return
    hours = [float(h) for h in args.hours.split(",") if h.strip()]
    with tempfile.TemporaryDirectory(prefix="replay-scale-") as tmp:
        base = args.dir or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        results = []
        for h in hours:
            lake, info = lake_for(base, h, args.legacy_encoding)
            row: dict[str, Any] = {"hours": h, **info, "replay": _child(["replay", str(lake)])}
            if not args.no_backtest:
                out = Path(tmp) / f"run-{h:g}h"
                row["backtest"] = _child(["backtest", str(lake), str(out)])
            results.append(row)
            if not args.json:
                _print_row(row)
    if args.json:
        print(json.dumps(results, indent=2))


def _print_row(r: dict[str, Any]) -> None:
    print(
        f"{r['hours']:g} h lake: {r['events']:,} events ({r['copies']} sample copies, "
        f"{r['lake_mb']} MB on disk, generated in {r['make_s']} s)"
    )
    for name in ("replay", "backtest"):
        x = r.get(name)
        if x is None:
            continue
        extra = f" (trader loop {x['trader_events_per_s']:,}/s)" if name == "backtest" else ""
        extra += f" (CPU {x['cpu_s']} s)" if "cpu_s" in x else ""
        print(
            f"  {name:9s} {x['wall_s']:>8} s  {x['events_per_s']:>10,} events/s{extra}  "
            f"peak RSS {x['peak_rss_mb']} MB  (RSS at 1/4..4/4: {x['rss_quarters_mb']})"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
