"""`mm import` at scale: wall time, lines/s, rows/s and peak RSS on generated long captures.

    .venv/bin/python -m bench.import_scale --hours 1 6        # table
    .venv/bin/python -m bench.import_scale --hours 1 --json   # one JSON object
    .venv/bin/python -m bench.import_scale --sample           # the bundled sample only

Each capture is time-shifted copies of the bundled Binance sample (``bench.make_capture``),
so an hour holds about 10x the sample's lines and rows. Each import runs in a fresh process
into a fresh lake and reports its own peak RSS (VmHWM); then the same file is imported again
into the now full lake (every row a duplicate: the dedupe against the existing partition).
CPU seconds (user + system of the import process; includes start-up imports) are shown next
to wall time because the machine may be shared. Numbers only, no assertions: compare before
and after a change on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.make_capture import SAMPLE, write_capture

REPO = Path(__file__).resolve().parents[1]

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from warehouse.importer import import_file
t0 = time.perf_counter()
report = import_file(Path(sys.argv[1]), Path(sys.argv[2]), progress=False)
secs = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
with open("/proc/self/status") as fh:
    kb = next(int(ln.split()[1]) for ln in fh if ln.startswith("VmHWM:"))
print(json.dumps({
    "lines": report.lines,
    "malformed": report.malformed,
    "parsed": sum(c["parsed"] for c in report.rows.values()),
    "written": sum(c["written"] for c in report.rows.values()),
    "seconds": secs,
    "cpu_seconds": ru.ru_utime + ru.ru_stime,
    "peak_rss_kb": kb,
}))
"""


def run_import(capture: Path, lake: Path) -> dict[str, Any]:
    """One import in a fresh process; its own numbers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MM_")}
    env["MM_PROGRESS"] = "0"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(capture), str(lake)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench.import_scale: the import failed:\n{proc.stderr}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    secs = r["seconds"]
    return {
        "lines": r["lines"],
        "rows": r["parsed"],
        "written": r["written"],
        "malformed": r["malformed"],
        "seconds": round(secs, 2),
        "cpu_seconds": round(r["cpu_seconds"], 2),
        "lines_per_s": round(r["lines"] / secs),
        "rows_per_s": round(r["parsed"] / secs),
        "peak_rss_mb": round(r["peak_rss_kb"] / 1024, 1),
    }


def lake_mb(lake: Path) -> float:
    return round(sum(p.stat().st_size for p in lake.rglob("*") if p.is_file()) / 1e6, 1)


def bench_one(label: str, capture: Path, tmp: Path, reimport: bool) -> dict[str, Any]:
    lake = tmp / f"lake-{label}"
    out: dict[str, Any] = {"capture": label, "file_mb": round(capture.stat().st_size / 1e6, 1)}
    out["import"] = run_import(capture, lake)
    out["lake_mb"] = lake_mb(lake)
    if reimport:
        out["reimport"] = run_import(capture, lake)
    return out


def run(hours: list[float], sample: bool, reimport: bool, keep: Path | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp_name:
        tmp = Path(tmp_name)
        if sample:
            result["runs"].append(bench_one("sample", SAMPLE, tmp, reimport))
        for h in hours:
            cap = (keep or tmp) / f"capture_{h:g}h.gz"
            if not cap.is_file():
                t0 = time.perf_counter()
                info = write_capture(cap, h)
                print(
                    f"generated {info['lines']:,} lines ({info['hours']:.2f} h) in "
                    f"{time.perf_counter() - t0:.0f} s",
                    file=sys.stderr,
                )
            result["runs"].append(bench_one(f"{h:g}h", cap, tmp, reimport))
    return result


def format_table(r: dict[str, Any]) -> str:
    lines = [
        f"bench.import_scale  (python {r['python']}, {r['machine']}, {r['cpus']} cpus)",
        f"  {'capture':<8} {'phase':<9} {'lines':>12} {'rows':>13} {'wall s':>8} "
        f"{'cpu s':>8} {'lines/s':>9} {'rows/s':>10} {'peak RSS':>10}",
    ]
    for run_ in r["runs"]:
        for phase in ("import", "reimport"):
            if phase not in run_:
                continue
            p = run_[phase]
            lines.append(
                f"  {run_['capture']:<8} {phase:<9} {p['lines']:>12,} {p['rows']:>13,} "
                f"{p['seconds']:>8.1f} {p['cpu_seconds']:>8.1f} {p['lines_per_s']:>9,} "
                f"{p['rows_per_s']:>10,} "
                f"{p['peak_rss_mb']:>7.0f} MB"
            )
        lines.append(
            f"  {'':<8} (file {run_['file_mb']:,} MB gzip, lake {run_['lake_mb']:,} MB; "
            f"re-import wrote {run_.get('reimport', {}).get('written', '-')} rows)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.import_scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--hours", type=float, nargs="*", default=[1.0], help="capture lengths")
    parser.add_argument("--sample", action="store_true", help="also import the bundled sample")
    parser.add_argument("--no-reimport", action="store_true", help="skip the second import")
    parser.add_argument("--keep", type=Path, help="keep generated captures in this directory")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    result = run(args.hours, args.sample, not args.no_reimport, args.keep)
    print(json.dumps(result, indent=2) if args.json else format_table(result))


if __name__ == "__main__":
    main()
