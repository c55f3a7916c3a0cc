"""Throughput of each market feature operator on the bundled Binance sample.

    .venv/bin/python -m bench.features            # table
    .venv/bin/python -m bench.features --json     # one JSON object

The sample is imported into a temporary lake and replayed once through the venue's
book sync. Book operators (microprice, imbalance EMA, toxicity.on_book) are timed per
call on the live book, minus the measured cost of the timer itself; operators fed by
mids, trades or volatility samples are timed in tight loops over the values collected
during the replay (every book and best-bid/offer message gives a mid).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.events import Kind
from core.lake import iter_events
from core.walk import BOOK_KINDS, messages
from operators.book.sync import book_sync_for
from operators.features.imbalance import ImbalanceEMA, microprice
from operators.features.regime import RegimeDetector
from operators.features.signal import DirectionalSignal
from operators.features.toxicity import ToxicityDetector
from operators.features.volatility import Volatility
from warehouse.importer import import_file

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
VENUE, SYMBOL = "binance-usdm", "BTCUSDT"
REPEAT = 5  # tight loops run the collected inputs this many times


def load_events(tmp: Path) -> np.ndarray:
    import_file(SAMPLE, tmp, progress=False)
    return np.concatenate(list(iter_events(tmp, VENUE, SYMBOL)))


def timer_overhead_ns(n: int = 200_000) -> float:
    clock = time.perf_counter_ns
    acc = 0
    for _ in range(n):
        t0 = clock()
        acc += clock() - t0
    return acc / n


def replay(events: np.ndarray) -> dict[str, object]:
    """Walk the sample once: time book operators per call, collect mids and trades."""
    sync = book_sync_for(VENUE)
    book = sync.book
    imb = ImbalanceEMA()
    tox = ToxicityDetector()
    clock = time.perf_counter_ns
    t_micro = t_imb = t_tox = 0
    n_book = 0
    mids: list[tuple[int, float]] = []
    trades: list[tuple[int, int, int]] = []
    for m in messages(events):
        if m.kind in BOOK_KINDS:
            if not sync.on_message(m.kind, m.seq, m.prev_seq, m.first_seq, m.levels):
                continue
            ts = m.recv_ts
            t0 = clock()
            microprice(book)
            t1 = clock()
            imb.update(book, ts)
            t2 = clock()
            tox.on_book(book, ts)
            t3 = clock()
            t_micro += t1 - t0
            t_imb += t2 - t1
            t_tox += t3 - t2
            n_book += 1
            mids.append((ts, book.mid()))  # type: ignore[arg-type]
        elif m.kind == Kind.BBO:
            (_, bid, _), (_, ask, _) = m.levels
            if bid and ask:
                mids.append((m.recv_ts, (bid + ask) / 2))
        elif m.kind == Kind.TRADE:
            side, _, qty = m.levels[0]
            trades.append((m.recv_ts, side, qty))
    mids.sort(key=lambda x: x[0])
    return {
        "n_book": n_book,
        "book_ns": {"microprice": t_micro, "imbalance_ema": t_imb, "toxicity.on_book": t_tox},
        "mids": mids,
        "trades": trades,
    }


def loop_rate(n: int, body: Callable[[], None]) -> float:
    """Updates per second of ``body`` (which performs ``n`` updates)."""
    t0 = time.perf_counter()
    body()
    return n / (time.perf_counter() - t0)


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        events = load_events(Path(tmp))
    overhead = timer_overhead_ns()
    r = replay(events)
    n_book: int = r["n_book"]  # type: ignore[assignment]
    mids: list[tuple[int, float]] = r["mids"]  # type: ignore[assignment]
    trades: list[tuple[int, int, int]] = r["trades"]  # type: ignore[assignment]
    rates: dict[str, float] = {}
    for name, ns in r["book_ns"].items():  # type: ignore[attr-defined]
        rates[name] = n_book / max(ns - overhead * n_book, 1) * 1e9

    def vol_loop() -> None:
        for _ in range(REPEAT):
            v = Volatility()
            for ts, mid in mids:
                v.update(mid, ts)

    def signal_loop() -> None:
        for _ in range(REPEAT):
            s = DirectionalSignal()
            for ts, mid in mids:
                s.update(mid, ts)

    def on_mid_loop() -> None:
        for _ in range(REPEAT):
            t = ToxicityDetector()
            for i, (ts, mid) in enumerate(mids):
                if i % 100 == 0:  # one of our fills every 100 mids, marked out later
                    t.on_fill(1, mid, ts)
                t.on_mid(mid, ts)

    def on_trade_loop() -> None:
        for _ in range(REPEAT):
            t = ToxicityDetector()
            for ts, side, qty in trades:
                t.on_trade(side, qty, ts)

    tox = ToxicityDetector()
    for ts, side, qty in trades[:100]:
        tox.on_trade(side, qty, ts)

    def reading_loop() -> None:
        for _ in range(REPEAT):
            for ts, _ in mids:
                tox.reading(ts)

    n_mid = len(mids) * REPEAT
    rates["volatility"] = loop_rate(n_mid, vol_loop)
    rates["directional_signal"] = loop_rate(n_mid, signal_loop)
    rates["toxicity.on_mid"] = loop_rate(n_mid, on_mid_loop)
    rates["toxicity.on_trade"] = loop_rate(len(trades) * REPEAT, on_trade_loop)
    rates["toxicity.reading"] = loop_rate(n_mid, reading_loop)

    # regime: once per closed volatility sample; the sample has a few hundred, so cycle them
    v = Volatility()
    vols = [v.vol_bps for ts, mid in mids if v.update(mid, ts) and v.vol_bps is not None]
    cycles = max(1, 100_000 // max(len(vols), 1))

    def regime_loop() -> None:
        d = RegimeDetector()
        for _ in range(cycles):
            for x in vols:
                d.update(x)  # type: ignore[arg-type]

    rates["regime"] = loop_rate(len(vols) * cycles, regime_loop)
    return {
        "sample": SAMPLE.name,
        "events": len(events),
        "book_messages": n_book,
        "mids": len(mids),
        "trades": len(trades),
        "vol_samples": len(vols),
        "final_vol_bps": v.vol_bps,
        "final_atr_bps": v.atr_bps,
        "timer_overhead_ns": round(overhead, 1),
        "updates_per_s": {k: round(x) for k, x in rates.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    res = run()
    if args.json:
        print(json.dumps(res))
        return 0
    print(
        f"{res['sample']}: {res['events']:,} events, {res['book_messages']:,} book messages, "
        f"{res['mids']:,} mids, {res['trades']:,} trades, {res['vol_samples']} vol samples"
    )
    print(f"final vol {res['final_vol_bps']:.3f} bps/sample, atr {res['final_atr_bps']:.3f} bps")
    print(f"{'operator':<22}{'updates/s':>14}")
    for name, rate in res["updates_per_s"].items():  # type: ignore[attr-defined]
        print(f"{name:<22}{rate:>14,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
