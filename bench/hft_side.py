"""The hftbacktest half of bench.vs_hftbacktest: runs in its own virtualenv (.venv-hft).

    .venv-hft/bin/python bench/hft_side.py EVENTS.npz --tick 0.1 --lot 0.001 --qty 0.002

hftbacktest needs numpy < 2.3 while this project pins a newer numpy, so this script
imports nothing from the project: it reads an npz of hftbacktest events (written by
bench.vs_hftbacktest from our lake), runs two numba quoting loops and prints one JSON
line. Both loops quote one bid and one ask 1.5 bp around the mid, GTX limit orders of
``--qty``, with 5 ms order entry and response latency, the risk-averse queue model and
maker -1.5 bp / taker 4.5 bp (the simulated venue's defaults on our side):

* ``feed``: wakes on every market feed row and re-quotes when the wanted prices change
  (our trader also decides on every book message);
* ``100ms``: re-quotes every 100 ms of market time (the loop of hftbacktest's examples).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from hftbacktest import GTX, LIMIT, BacktestAsset, HashMapMarketDepthBacktest
from hftbacktest.data.validation import validate_event_order
from numba import njit


@njit
def feed_loop(hbt, qty):  # type: ignore[no-untyped-def]
    requotes = 0
    bid_tick = ask_tick = 0
    next_id = 1
    while True:
        r = hbt.wait_next_feed(True, 60_000_000_000)
        if r == 1:
            break  # end of data
        if r != 0 and r != 2 and r != 3:
            return -1
        hbt.clear_inactive_orders(0)
        depth = hbt.depth(0)
        bb, ba = depth.best_bid_tick, depth.best_ask_tick
        if bb <= 0 or ba <= 0 or bb >= ba:
            continue
        mid = (bb + ba) / 2.0
        half = max(1.0, mid * 1.5e-4)
        want_bid = int(np.floor(mid - half))
        want_ask = int(np.ceil(mid + half))
        if want_bid == bid_tick and want_ask == ask_tick:
            continue
        orders = hbt.orders(0)
        it = orders.values()
        while it.has_next():
            o = it.get()
            if o.cancellable:
                hbt.cancel(0, o.order_id, False)
        hbt.submit_buy_order(0, next_id, want_bid * depth.tick_size, qty, GTX, LIMIT, False)
        hbt.submit_sell_order(0, next_id + 1, want_ask * depth.tick_size, qty, GTX, LIMIT, False)
        next_id += 2
        bid_tick, ask_tick = want_bid, want_ask
        requotes += 1
    return requotes


@njit
def interval_loop(hbt, qty):  # type: ignore[no-untyped-def]
    requotes = 0
    next_id = 1
    while hbt.elapse(100_000_000) == 0:
        hbt.clear_inactive_orders(0)
        depth = hbt.depth(0)
        bb, ba = depth.best_bid_tick, depth.best_ask_tick
        if bb <= 0 or ba <= 0 or bb >= ba:
            continue
        mid = (bb + ba) / 2.0
        half = max(1.0, mid * 1.5e-4)
        orders = hbt.orders(0)
        it = orders.values()
        while it.has_next():
            o = it.get()
            if o.cancellable:
                hbt.cancel(0, o.order_id, False)
        bid = np.floor(mid - half) * depth.tick_size
        ask = np.ceil(mid + half) * depth.tick_size
        hbt.submit_buy_order(0, next_id, bid, qty, GTX, LIMIT, False)
        hbt.submit_sell_order(0, next_id + 1, ask, qty, GTX, LIMIT, False)
        next_id += 2
        requotes += 1
    return requotes


def build(data: np.ndarray, tick: float, lot: float):  # type: ignore[no-untyped-def]
    asset = (
        BacktestAsset()
        .data(data)
        .linear_asset(1.0)
        .constant_order_latency(5_000_000, 5_000_000)
        .risk_adverse_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(-0.00015, 0.00045)
        .tick_size(tick)
        .lot_size(lot)
    )
    return HashMapMarketDepthBacktest([asset])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("events", help="npz with an hftbacktest event array under 'data'")
    ap.add_argument("--tick", type=float, required=True)
    ap.add_argument("--lot", type=float, required=True)
    ap.add_argument("--qty", type=float, required=True)
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = np.load(args.events)["data"]
    validate_event_order(data)
    load_s = time.perf_counter() - t0
    out = {"rows": len(data), "load_s": round(load_s, 3)}
    head = data[:20_000].copy()  # hftbacktest keeps a pointer to the array: keep it alive
    for name, loop in (("feed", feed_loop), ("100ms", interval_loop)):
        warm = build(head, args.tick, args.lot)
        loop(warm, args.qty)  # numba compiles here, outside the timing
        warm.close()
        hbt = build(data, args.tick, args.lot)
        t0 = time.perf_counter()
        requotes = loop(hbt, args.qty)
        wall = time.perf_counter() - t0
        sv = hbt.state_values(0)
        out[name] = {
            "wall_s": round(wall, 4),
            "events_per_s": round(len(data) / wall),
            "requotes": int(requotes),
            "fills": int(sv.num_trades),
            "position": float(hbt.position(0)),
        }
        hbt.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
