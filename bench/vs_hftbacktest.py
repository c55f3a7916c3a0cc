"""The same recording, a comparable quoting loop, in hftbacktest and in this project.

    pip install '.[bench]'  # hftbacktest (optional extra)
    python -m bench.vs_hftbacktest [--json]

hftbacktest converts the Binance capture with its own converter (depth + trades; it
drops bookTicker) and runs a numba loop that re-quotes one bid and one ask around the
mid every 100 ms (GTX, risk-averse queue, 5 ms order/response latency, maker -1.5 bp).
Our side runs the full replay backtest (book + features + quoting + risk + order
manager + simulated venue) on all events including bookTicker. Throughput numbers are
what each tool reports for its own event count; the point is the order of magnitude.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
)


def run_hftbacktest(workdir: Path) -> dict[str, float]:
    from hftbacktest import GTX, LIMIT, BacktestAsset, HashMapMarketDepthBacktest
    from hftbacktest.data.utils import binancefutures
    from numba import njit

    t0 = time.perf_counter()
    data = binancefutures.convert(str(SAMPLE), combined_stream=True)
    convert_s = time.perf_counter() - t0
    path = workdir / "btcusdt.npz"
    np.savez_compressed(path, data=data)

    @njit
    def quote_loop(hbt) -> int:  # type: ignore[no-untyped-def]
        n = 0
        while hbt.elapse(100_000_000) == 0:
            hbt.clear_inactive_orders(0)
            depth = hbt.depth(0)
            if depth.best_bid_tick <= 0 or depth.best_ask_tick <= 0:
                continue
            mid_tick = (depth.best_bid_tick + depth.best_ask_tick) / 2.0
            half = max(1.0, mid_tick * 1.5e-4)
            bid = np.floor(mid_tick - half) * depth.tick_size
            ask = np.ceil(mid_tick + half) * depth.tick_size
            orders = hbt.orders(0)
            it = orders.values()
            while it.has_next():
                o = it.get()
                if o.cancellable:
                    hbt.cancel(0, o.order_id, False)
            n += 1
            hbt.submit_buy_order(0, 2 * n, bid, 0.002, GTX, LIMIT, False)
            hbt.submit_sell_order(0, 2 * n + 1, ask, 0.002, GTX, LIMIT, False)
        return n

    def build() -> HashMapMarketDepthBacktest:
        asset = (
            BacktestAsset()
            .data([str(path)])
            .linear_asset(1.0)
            .constant_order_latency(5_000_000, 5_000_000)
            .risk_adverse_queue_model()
            .no_partial_fill_exchange()
            .trading_value_fee_model(-0.00015, 0.00045)
            .tick_size(0.1)
            .lot_size(0.001)
        )
        return HashMapMarketDepthBacktest([asset])

    quote_loop(build())  # compile
    hbt = build()
    t0 = time.perf_counter()
    requotes = quote_loop(hbt)
    wall = time.perf_counter() - t0
    hbt.close()
    return {
        "events": float(len(data)),
        "wall_s": wall,
        "events_per_s": len(data) / wall,
        "requotes": float(requotes),
        "convert_s": convert_s,
    }


def run_ours(workdir: Path) -> dict[str, float]:
    from core.params import StrategyParams
    from flows.replay_backtest import lake_backtest
    from warehouse.importer import import_file
    from warehouse.runner import run_flow

    inst = "binance-usdm:BTCUSDT"
    t0 = time.perf_counter()
    import_file(SAMPLE, workdir / "lake", progress=False)
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_flow(lake_backtest(workdir / "lake", [inst], workdir / "run", {inst: StrategyParams()}))
    wall = time.perf_counter() - t0
    s = json.loads((workdir / "run" / "summary.json").read_text())
    return {
        "events": float(s["events"]),
        "wall_s": wall,
        "events_per_s": s["events"] / wall,
        "trader_events_per_s": float(s["events_per_s"] or 0),
        "convert_s": import_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            hbt = run_hftbacktest(Path(tmp))
        except ImportError:
            hbt = None
        ours = run_ours(Path(tmp))
    result = {"hftbacktest": hbt, "mmflow": ours}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("same Binance BTCUSDT recording (~6 min)")
    if hbt is None:
        print("  hftbacktest   not installed (pip install '.[bench]')")
    else:
        print(
            f"  hftbacktest   {hbt['events']:,.0f} events in {hbt['wall_s']:.3f} s = "
            f"{hbt['events_per_s']:,.0f} events/s (numba loop; convert {hbt['convert_s']:.1f} s)"
        )
    print(
        f"  mmflow        {ours['events']:,.0f} events in {ours['wall_s']:.3f} s = "
        f"{ours['events_per_s']:,.0f} events/s end to end through Bytewax "
        f"(trader loop {ours['trader_events_per_s']:,.0f} events/s; import {ours['convert_s']:.1f} s)"
    )


if __name__ == "__main__":
    main()
