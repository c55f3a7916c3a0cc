"""The compiled feature kernels against the reference operators on the Binance sample.

    .venv/bin/python -m bench.kernels_features             # table
    .venv/bin/python -m bench.kernels_features --json      # one JSON object
    .venv/bin/python -m bench.kernels_features --startup   # also compile / cached start-up

The sample is replayed once through the reference book sync with a recording book, which
logs every level set and clear; that log is then replayed three ways, each feeding the
features exactly as ``operators/trader.py`` does (imbalance, volatility -> regime,
signal, toxicity book / mid / trades, one toxicity reading per book message):

* reference: L2Book + the plain-Python operators;
* wrappers: CompiledBook + the ``Compiled*`` classes (the kernels behind a Python API);
* kernel: one njit loop over the log calling the kernel functions (what the compiled
  trader loop does).

Each is timed with and without the features (book only), interleaved; totals are the
best of ``--repeat`` runs, the features' cost is the median difference of the pairs.
Times are this process's CPU time (the machine may be shared). Numbers only: compare on
the same machine.
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
from numba import njit

from core.events import Kind
from core.l2book import L2Book
from core.l2book_kernel import CompiledBook, book_clear, book_set, grow_book, mid_x2, new_book
from core.lake import iter_events
from core.walk import BOOK_KINDS, messages
from operators.book.sync import book_sync_for
from operators.features import kernel as K
from operators.features.imbalance import ImbalanceEMA
from operators.features.regime import RegimeDetector
from operators.features.signal import DirectionalSignal
from operators.features.toxicity import ToxicityDetector
from operators.features.volatility import Volatility
from warehouse.importer import import_file

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
VENUE, SYMBOL = "binance-usdm", "BTCUSDT"
M_BOOK, M_USABLE_BOOK, M_TRADE = 0, 1, 2


class RecordingBook(L2Book):
    """An L2Book that logs every set (side, price, qty) and clear (side 0)."""

    __slots__ = ("log",)

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[int, int, int]] = []

    def set(self, side: int, price: int, qty: int) -> None:
        self.log.append((side, price, qty))
        super().set(side, price, qty)

    def clear(self) -> None:
        self.log.append((0, 0, 0))
        super().clear()


def record(events: np.ndarray) -> dict[str, np.ndarray]:
    """Per message: kind, receive time and its book operations (or trades)."""
    sync = book_sync_for(VENUE)
    book = sync.book = RecordingBook()
    kinds, ts, op_end, ops = [], [], [], []
    for m in messages(events):
        if m.kind in BOOK_KINDS:
            usable = sync.on_message(m.kind, m.seq, m.prev_seq, m.first_seq, m.levels)
            kinds.append(M_USABLE_BOOK if usable else M_BOOK)
            ops.extend(book.log)
            book.log.clear()
        elif m.kind == Kind.TRADE:
            kinds.append(M_TRADE)
            ops.extend((side, 0, qty) for side, _price, qty in m.levels)
        else:
            continue
        ts.append(m.recv_ts)
        op_end.append(len(ops))
    op = np.array(ops, np.int64).reshape(-1, 3)
    return {
        "kind": np.array(kinds, np.int64),
        "ts": np.array(ts, np.int64),
        "op_end": np.array(op_end, np.int64),
        "op": op,
    }


def python_run(log: dict[str, np.ndarray], compiled: bool, features: bool) -> float:
    """Replay the log through a Python-level book and feature objects; seconds."""
    kinds, ts, ends = log["kind"].tolist(), log["ts"].tolist(), log["op_end"].tolist()
    op = log["op"].tolist()
    if compiled:
        book: Any = CompiledBook()
        imb, vol = K.CompiledImbalanceEMA(), K.CompiledVolatility()
        regime, sig = K.CompiledRegimeDetector(), K.CompiledDirectionalSignal()
        tox: Any = K.CompiledToxicityDetector()
    else:
        book = L2Book()
        imb, vol, regime, sig = ImbalanceEMA(), Volatility(), RegimeDetector(), DirectionalSignal()
        tox = ToxicityDetector()
    same_depth = imb.levels == tox.depth_levels
    t0 = time.process_time()
    start = 0
    for kind, now, end in zip(kinds, ts, ends, strict=True):
        if kind == M_TRADE:
            if features:
                for side, _, qty in op[start:end]:
                    tox.on_trade(side, qty, now)
            start = end
            continue
        for side, price, qty in op[start:end]:
            if side:
                book.set(side, price, qty)
            else:
                book.clear()
        start = end
        if kind == M_USABLE_BOOK and features:
            mid = book.mid_x2() / 2
            imb.update(book, now)
            if vol.update(mid, now) and vol.vol_bps is not None:
                regime.update(vol.vol_bps)
            sig.update(mid, now)
            tox.on_book(book, now, imb.raw if same_depth else None)
            tox.on_mid(mid, now)
            tox.reading(now)
    return time.process_time() - t0


@njit(cache=True)
def _kernel_loop(
    bk: Any,
    imb: Any,
    vol: Any,
    regime: Any,
    sig: Any,
    tox: Any,
    kind: np.ndarray,
    ts: np.ndarray,
    op_end: np.ndarray,
    op: np.ndarray,
    features: bool,
) -> float:
    same_depth = imb.rec[0].levels == tox.rec[0].depth_levels
    check = 0.0
    start = 0
    for i in range(kind.shape[0]):
        now = ts[i]
        end = op_end[i]
        if kind[i] == M_TRADE:
            if features:
                for j in range(start, end):
                    K.tox_on_trade(tox, op[j, 0], op[j, 2], now)
            start = end
            continue
        for j in range(start, end):
            if op[j, 0]:
                book_set(bk, op[j, 0], op[j, 1], op[j, 2])
            else:
                book_clear(bk)
        start = end
        if kind[i] == M_USABLE_BOOK and features:
            mid = mid_x2(bk) / 2
            K.imb_update(imb, bk, now)
            if K.vol_update(vol, mid, now) and vol.rec[0].warm:
                K.regime_update(regime, vol.rec[0].vol_bps)
            K.signal_update(sig, mid, now)
            K.tox_on_book(tox, bk, now, imb.rec[0].raw, same_depth)
            K.tox_on_mid(tox, mid, now)
            score, side, mask = K.tox_reading(tox, now)
            check += score + side + mask
    return check


def kernel_run(log: dict[str, np.ndarray], features: bool) -> float:
    op = log["op"]
    prices = op[op[:, 0] != 0, 1]
    bk = grow_book(new_book(), int(prices.min()), int(prices.max()))
    states = (
        K.new_imbalance(),
        K.new_volatility(),
        K.new_regime(),
        K.new_signal(),
        K.new_toxicity(),
    )
    t0 = time.process_time()
    _kernel_loop(bk, *states, log["kind"], log["ts"], log["op_end"], op, features)
    return time.process_time() - t0


def startup_times() -> dict[str, float]:
    """First compile (empty cache) and cached start-up of the feature kernels, each in a
    fresh interpreter: import + one call of every kernel function."""
    code = (
        "import time; t, c = time.perf_counter(), time.process_time()\n"
        "from core.l2book_kernel import CompiledBook\n"
        "from operators.features import kernel as K\n"
        "b = CompiledBook(); b.set(1, 100, 3); b.set(-1, 101, 2)\n"
        "i, v, r, s, x = (K.new_imbalance(), K.new_volatility(), K.new_regime(),\n"
        "                 K.new_signal(), K.new_toxicity())\n"
        "K.imb_update(i, b.st, 0); K.vol_update(v, 100.5, 0); K.regime_update(r, 1.0)\n"
        "K.signal_update(s, 100.5, 0); K.tox_on_book(x, b.st, 0, 0.0, False)\n"
        "K.tox_on_trade(x, 1, 1, 0); K.tox_on_fill(x, 1, 100.0, 0); K.tox_on_mid(x, 100.5, 0)\n"
        "K.tox_reading(x, 0); K.tox_headroom_ok(x); K.regime_params(K.DEFAULT_REGIME_TABLE, 1)\n"
        "print(time.perf_counter() - t, time.process_time() - c)\n"
    )
    cache = REPO / "operators" / "features" / "__pycache__"
    for f in cache.glob("kernel.*.nb[ic]"):
        f.unlink()
    out = {}
    for name in ("first_compile", "cached_startup"):
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        wall, cpu = (float(x) for x in res.stdout.split())
        out[f"{name}_s"], out[f"{name}_cpu_s"] = round(wall, 2), round(cpu, 2)
    return out


def run(repeat: int, startup: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        import_file(SAMPLE, Path(tmp), progress=False)
        events = np.concatenate(list(iter_events(Path(tmp), VENUE, SYMBOL)))
    log = record(events)
    n_usable = int((log["kind"] == M_USABLE_BOOK).sum())
    n_trades = int(np.diff(np.r_[0, log["op_end"]])[log["kind"] == M_TRADE].sum())
    kernel_run(log, True)  # compile outside the timing
    res: dict[str, Any] = {"sample": SAMPLE.name, "events": len(events)}
    res.update(messages=len(log["kind"]), feature_messages=n_usable, trades=n_trades)
    times: dict[str, dict[str, float]] = {}
    feats: dict[str, float] = {}
    for name, fn, n in (
        ("reference", lambda f: python_run(log, False, f), repeat),
        ("wrappers", lambda f: python_run(log, True, f), repeat),
        ("kernel", lambda f: kernel_run(log, f), max(repeat, 20)),  # milliseconds: more runs
    ):
        pairs = [(fn(True), fn(False)) for _ in range(n)]  # interleaved: load drifts
        with_f = min(p[0] for p in pairs)
        book_only = min(p[1] for p in pairs)
        feat = feats[name] = max(float(np.median([a - b for a, b in pairs])), 1e-9)
        times[name] = {
            "total_s": round(with_f, 6),
            "book_only_s": round(book_only, 6),
            "features_s": round(feat, 6),
            "events_per_s": round(len(events) / with_f),
            "feature_msgs_per_s": round(n_usable / feat),
            "ns_per_feature_msg": round(feat / n_usable * 1e9),
        }
    res["runs"] = times
    res["features_speedup_kernel_vs_reference"] = round(feats["reference"] / feats["kernel"], 1)
    if startup:
        res["startup"] = startup_times()
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    ap.add_argument("--startup", action="store_true", help="measure compile / cached start-up")
    args = ap.parse_args(argv)
    res = run(args.repeat, args.startup)
    if args.json:
        print(json.dumps(res))
        return 0
    print(
        f"{res['sample']}: {res['events']:,} events, {res['messages']:,} messages, "
        f"{res['feature_messages']:,} feature updates, {res['trades']:,} trades"
    )
    print(
        f"{'run':<10}{'total s':>10}{'book s':>10}{'feat s':>10}{'events/s':>14}{'ns/update':>11}"
    )
    for name, t in res["runs"].items():
        print(
            f"{name:<10}{t['total_s']:>10.4f}{t['book_only_s']:>10.4f}{t['features_s']:>10.4f}"
            f"{t['events_per_s']:>14,}{t['ns_per_feature_msg']:>11,}"
        )
    print(f"features: kernel {res['features_speedup_kernel_vs_reference']}x the reference")
    if "startup" in res:
        s = res["startup"]
        print(
            f"start-up (wall / cpu): first compile {s['first_compile_s']} / "
            f"{s['first_compile_cpu_s']} s, cached {s['cached_startup_s']} / "
            f"{s['cached_startup_cpu_s']} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
