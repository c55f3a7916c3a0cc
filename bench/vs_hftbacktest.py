"""The same recording, a comparable quoting loop, in hftbacktest and in this project.

    make bench-hft                     # creates .venv-hft (hftbacktest, numpy < 2.3), runs this
    python -m bench.vs_hftbacktest [--hft-python .venv-hft/bin/python] [--lake L] [--json]

hftbacktest needs numpy < 2.3 and this project pins a newer one, so hftbacktest lives in
its own virtualenv and runs as a subprocess (bench/hft_side.py). Both sides replay the
same lake (by default the bundled Binance BTCUSDT capture, imported afresh; ``--lake``
for another, e.g. one from bench.make_day):

* mmflow: the real replay backtest (lake replay -> book, features, quoting, risk, order
  manager, simulated venue -> run tables), end to end through Bytewax;
* hftbacktest: our lake events converted to its event format (an npz): book diffs and
  snapshots (a clear row per side, then the levels) as depth events, trades with the
  aggressor side, bookTicker as its custom best bid/ask events 103/104 (what its own
  Binance converter writes with ``opt='t'``). The exchange timestamp is the receive
  time - 5 ms, the constant market-data latency our simulated venue assumes, so both
  see the market at the same moments. Its loops are described in bench/hft_side.py.

Each side's events/s is its own market event count over its wall time (hftbacktest:
the rows it processes; numba compile time excluded, as is ours: the kernels are loaded
first and ours is the best of 3 runs). Two ratios: our trader loop against its loop (both
over market data in memory), and our whole run (Parquet replay, Bytewax, run tables)
against its loop.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import MMError
from core.events import FIRST, LAST, Kind
from core.instruments import split_instrument_id

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
HFT_PYTHON = REPO / ".venv-hft" / "bin" / "python"
MD_LATENCY_NS = 5_000_000

# hftbacktest 2.x event format (hftbacktest/types.py)
HFT_DTYPE = np.dtype(
    [
        ("ev", "u8"),
        ("exch_ts", "i8"),
        ("local_ts", "i8"),
        ("px", "f8"),
        ("qty", "f8"),
        ("order_id", "u8"),
        ("ival", "i8"),
        ("fval", "f8"),
    ],
    align=True,
)
DEPTH_EVENT, TRADE_EVENT, DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT = 1, 2, 3, 4
BEST_BID_EVENT, BEST_ASK_EVENT = 103, 104  # its Binance converter's bookTicker ids
EXCH_EVENT, LOCAL_EVENT, BUY_EVENT, SELL_EVENT = 1 << 31, 1 << 30, 1 << 29, 1 << 28


def to_hft(ev: np.ndarray, tick: float, lot: float) -> np.ndarray:
    """Our events (message-aligned) -> hftbacktest rows, in the same order."""
    kind, side = ev["kind"], ev["side"]
    keep = ((kind == Kind.BOOK_DELTA) | (kind == Kind.BOOK_SNAPSHOT)) & (side != 0)
    keep |= (kind == Kind.TRADE) | (kind == Kind.BBO)
    code = np.zeros(len(ev), dtype=np.uint64)
    code[kind == Kind.BOOK_DELTA] = DEPTH_EVENT
    code[kind == Kind.BOOK_SNAPSHOT] = DEPTH_SNAPSHOT_EVENT
    code[kind == Kind.TRADE] = TRADE_EVENT
    sided = kind != Kind.BBO
    code[sided & (side == 1)] |= BUY_EVENT
    code[sided & (side == -1)] |= SELL_EVENT
    code[(kind == Kind.BBO) & (side == 1)] = BEST_BID_EVENT
    code[(kind == Kind.BBO) & (side == -1)] = BEST_ASK_EVENT
    out = np.zeros(len(ev), dtype=HFT_DTYPE)
    out["ev"] = code | EXCH_EVENT | LOCAL_EVENT
    out["local_ts"] = ev["recv_ts"]
    out["exch_ts"] = ev["recv_ts"] - MD_LATENCY_NS
    out["px"] = ev["price"] * tick
    out["qty"] = ev["qty"] * lot
    # a snapshot first clears each side up to its farthest level (hftbacktest's convention)
    starts = np.flatnonzero((kind == Kind.BOOK_SNAPSHOT) & ((ev["flags"] & FIRST) != 0))
    if not len(starts):
        return out[keep]
    last = np.flatnonzero(ev["flags"] & LAST)
    pieces, at = [], 0
    for s in starts.tolist():
        e = int(last[np.searchsorted(last, s)]) + 1 if len(last) else len(ev)
        pieces.append(out[at:s][keep[at:s]])
        for sd, flag, far in ((1, BUY_EVENT, np.min), (-1, SELL_EVENT, np.max)):
            rows = out[s:e][side[s:e] == sd]
            if len(rows):
                clear = rows[:1].copy()
                clear["ev"] = DEPTH_CLEAR_EVENT | flag | EXCH_EVENT | LOCAL_EVENT
                clear["px"] = far(rows["px"])
                clear["qty"] = 0.0
                pieces += [clear, rows]
        at = e
    pieces.append(out[at:][keep[at:]])
    return np.concatenate(pieces)


def write_hft_events(lake: Path, inst: str, path: Path) -> dict[str, Any]:
    """The instrument's whole lake history as one hftbacktest npz (uncompressed)."""
    from core.lake import iter_events, read_instrument

    venue, symbol = split_instrument_id(inst)
    spec = read_instrument(lake, venue, symbol)
    tick, lot = float(spec.tick_size), float(spec.lot_size)
    t0 = time.perf_counter()
    n = 0
    parts = []
    for chunk in iter_events(lake, venue, symbol):
        n += len(chunk)
        parts.append(to_hft(chunk, tick, lot))
    data = np.concatenate(parts)
    np.savez(path, data=data)
    return {
        "events": n,
        "rows": len(data),
        "tick": tick,
        "lot": lot,
        "convert_s": time.perf_counter() - t0,
    }


def run_hftbacktest(python: Path, npz: Path, tick: float, lot: float, qty: float) -> dict[str, Any]:
    script = Path(__file__).with_name("hft_side.py")
    args = [
        str(python),
        str(script),
        str(npz),
        "--tick",
        str(tick),
        "--lot",
        str(lot),
        "--qty",
        str(qty),
    ]
    proc = subprocess.run(
        args, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""}
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no output"
        raise MMError(f"the hftbacktest side failed: {tail}", "rerun `make bench-hft`")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_ours(lake: Path, inst: str, out: Path, repeat: int = 3) -> dict[str, Any]:
    """The best of ``repeat`` runs, after loading the kernels (hftbacktest's side also
    excludes its numba compile time)."""
    from core.params import StrategyParams
    from engine.warmup import warm_up
    from flows.replay_backtest import lake_backtest
    from warehouse.runner import run_flow

    warm_up()
    best: tuple[float, dict[str, Any]] | None = None
    for i in range(repeat):
        run = out.with_name(f"{out.name}-{i}")
        t0 = time.perf_counter()
        run_flow(lake_backtest(lake, [inst], run, {inst: StrategyParams()}))
        wall = time.perf_counter() - t0
        if best is None or wall < best[0]:
            best = (wall, json.loads((run / "summary.json").read_text()))
    wall, s = best  # type: ignore[misc]
    return {
        "events": s["events"],
        "wall_s": round(wall, 3),
        "events_per_s": round(s["events"] / wall),
        "trader_events_per_s": s["events_per_s"],
        "fills": s["fills"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--hft-python", type=Path, default=HFT_PYTHON, help="python of .venv-hft")
    ap.add_argument("--lake", type=Path, help="replay this lake (default: import the sample)")
    ap.add_argument("--inst", default="binance-usdm:BTCUSDT")
    ap.add_argument("--qty", type=float, default=0.002, help="hftbacktest order size (BTC)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.hft_python.is_file():
        print(
            f"vs_hftbacktest: error: no hftbacktest python at {args.hft_python} "
            "(run `make bench-hft`, which creates .venv-hft)",
            file=sys.stderr,
        )
        raise SystemExit(1)
    try:
        result = compare(args.hft_python, args.lake, args.inst, args.qty)
    except MMError as exc:
        print(f"vs_hftbacktest: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    if args.json:
        print(json.dumps(result, indent=2))
        return
    c, h, o = result["convert"], result["hftbacktest"], result["mmflow"]
    print(f"same recording: {result['lake']} {args.inst}, {o['events']:,} events")
    print(
        f"  mmflow        {o['events']:>10,} events  {o['wall_s']:8.3f} s  "
        f"{o['events_per_s']:>11,} events/s end to end through Bytewax "
        f"(trader loop {o['trader_events_per_s']:,}/s), {o['fills']} fills"
    )
    for name, label in (("feed", "per-feed loop"), ("100ms", "100 ms loop")):
        x = h[name]
        print(
            f"  hftbacktest   {h['rows']:>10,} rows    {x['wall_s']:8.3f} s  "
            f"{x['events_per_s']:>11,} events/s {label} ({x['requotes']:,} requotes, "
            f"{x['fills']} fills)"
        )
    print(
        f"  loop vs loop  mmflow trader loop / hftbacktest: "
        f"{1 / result['loop_ratio_feed']:.2f}x of its per-feed loop, "
        f"{1 / result['loop_ratio_100ms']:.2f}x of its 100 ms loop (data in memory on both sides)"
    )
    print(
        f"  end to end    mmflow incl. Parquet replay and run tables / hftbacktest loop: "
        f"{1 / result['ratio_feed']:.2f}x per-feed, {1 / result['ratio_100ms']:.2f}x 100 ms"
    )
    print(f"  (lake -> hftbacktest npz: {c['convert_s']:.2f} s; npz load {h['load_s']:.2f} s)")


def compare(hft_python: Path, lake: Path | None, inst: str, qty: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vs-hft-") as tmp:
        work = Path(tmp)
        if lake is None:
            from warehouse.importer import import_file

            lake = work / "lake"
            import_file(SAMPLE, lake, progress=False)
        npz = work / "events.npz"
        conv = write_hft_events(lake, inst, npz)
        hft = run_hftbacktest(hft_python, npz, conv["tick"], conv["lot"], qty)
        ours = run_ours(lake, inst, work / "run")
    return {
        "lake": "sample" if str(lake).startswith(tmp) else str(lake),
        "convert": conv,
        "hftbacktest": hft,
        "mmflow": ours,
        "ratio_feed": hft["feed"]["events_per_s"] / ours["events_per_s"],
        "ratio_100ms": hft["100ms"]["events_per_s"] / ours["events_per_s"],
        # loop against loop: both over market data already in memory
        "loop_ratio_feed": hft["feed"]["events_per_s"] / ours["trader_events_per_s"],
        "loop_ratio_100ms": hft["100ms"]["events_per_s"] / ours["trader_events_per_s"],
    }


if __name__ == "__main__":
    main()
