"""Replay backtest throughput on the bundled sample: events/s, wall time, peak memory.

    python -m bench.backtest [--repeat N] [--engine compiled,python] [--coinm] [--json]

``--coinm`` runs the inverse BTCUSD_PERP capture derived from the sample
(``bench.derive_coinm``: the same messages, sizes in 100 USD contracts, PnL in BTC).

Runs the real dataflow (lake replay -> trader with the simulated venue -> run tables)
in-process and reports the best of N runs, plus the trader's own per-event time (the
dataflow and Parquet I/O excluded), for the compiled loop and the plain-Python reference
(the same run tables, bit for bit: tests/engine).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from bench.derive_coinm import derive
from core.params import StrategyParams
from flows.replay_backtest import lake_backtest
from warehouse.importer import import_file
from warehouse.runner import run_flow

SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
)
INST = "binance-usdm:BTCUSDT"
COINM_INST = "binance-coinm:BTCUSD_PERP"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--engine", default="compiled,python", help="comma-separated engines")
    ap.add_argument("--coinm", action="store_true", help="the derived COIN-M (inverse) capture")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = {}
    inst = COINM_INST if args.coinm else INST
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        capture = SAMPLE
        if args.coinm:
            capture = Path(tmp) / "coinm.gz"
            derive(SAMPLE, capture)
        import_file(capture, lake, progress=False)
        for engine in args.engine.split(","):
            results[engine] = _bench(lake, Path(tmp), engine, args.repeat, inst)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for engine, result in results.items():
        _print(engine, result)
    if {"compiled", "python"} <= set(results):
        c, p = results["compiled"], results["python"]
        print(
            f"compiled / python: {c['events_per_s'] / p['events_per_s']:.1f}x end to end, "
            f"{c['trader_events_per_s'] / p['trader_events_per_s']:.1f}x trader loop"
        )


def _bench(lake: Path, tmp: Path, engine: str, repeat: int, inst: str = INST) -> dict:
    runs = []
    for i in range(repeat):
        out = tmp / f"run-{engine}-{i}"
        t0 = time.perf_counter()
        run_flow(lake_backtest(lake, [inst], out, {inst: StrategyParams()}, engine=engine))
        wall = time.perf_counter() - t0
        summary = json.loads((out / "summary.json").read_text())
        runs.append((wall, summary))
    wall, s = min(runs, key=lambda r: r[0])
    result = {
        "events": s["events"],
        "messages": s["messages"],
        "wall_s": round(wall, 3),
        "events_per_s": round(s["events"] / wall),
        "messages_per_s": round(s["messages"] / wall),
        "trader_only_s": s["wall_time_s"],
        "trader_events_per_s": s["events_per_s"],
        "instrument": inst,
        "fills": s["fills"],
        "net_pnl": f"{s['net_pnl']:.10g} {s.get('pnl_currency', '')}".strip(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "repeat": repeat,
    }
    return result


def _print(engine: str, result: dict) -> None:
    print(
        f"replay backtest, {result['instrument']} sample, {engine} engine (best of {result['repeat']})"
    )
    print(f"  events            {result['events']:,} ({result['messages']:,} venue messages)")
    print(
        f"  end to end        {result['wall_s']:.2f} s  {result['events_per_s']:,} events/s  "
        f"{result['messages_per_s']:,} messages/s"
    )
    print(
        f"  trader loop only  {result['trader_only_s']:.2f} s  {result['trader_events_per_s']:,} events/s"
    )
    print(f"  fills             {result['fills']}   net PnL {result['net_pnl']}")
    print(f"  peak RSS          {result['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
