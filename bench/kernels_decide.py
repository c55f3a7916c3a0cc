"""Speed of the compiled decision kernels vs the reference objects, and their start-up.

    .venv/bin/python -m bench.kernels_decide            # table
    .venv/bin/python -m bench.kernels_decide --json     # one JSON object

* decide: the trader's ``_decide`` chain per market update (position limit, equity and
  unrealized bps from the inventory, risk, quotes, reconcile, the venue's acks, now and
  then a full fill into the order manager and the inventory), the reference objects from
  Python and the kernels from an njit loop, on the same random walk. Both runs print
  their action count and final position (they must be equal);
* quote / risk alone: calls/s of ``quote`` and ``evaluate``, both ways;
* start-up: importing the four kernel modules and running each kernel once in a fresh
  process, first with an empty numba cache (compile) and then with the cache it left.

Numbers only, no assertions: compare before and after a change on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
from numba import njit

from core.events import Fill, OrderStatus, OrderUpdate
from core.instruments import KNOWN_INSTRUMENTS
from core.kernel_records import ACTION_DTYPE, REJECTION_DTYPE, RESPONSE_DTYPE
from core.params import StrategyParams
from operators.inventory.kernel import (
    inv_has_unrealized_bps,
    inv_on_fill,
    inv_total_float,
    inv_unrealized_bps,
    new_inventory,
)
from operators.inventory.tracker import Inventory
from operators.orders.kernel import new_order_manager, om_on_fill, om_on_update, om_reconcile
from operators.orders.manager import OrderManager
from operators.quoting.engine import MarketView, QuoteEngine
from operators.quoting.kernel import (
    QLEVEL_DTYPE,
    QSET_DTYPE,
    new_quote_engine,
    qe_max_position_lots,
    qe_quote,
)
from operators.risk.kernel import empty_decision, new_risk, risk_evaluate
from operators.risk.manager import RiskManager

SPEC = KNOWN_INSTRUMENTS["binance-usdm:BTCUSDT"]
MS = 1_000_000
FEE_E8 = -15_000  # maker rebate, parts per 1e8
COLS = ("now", "bb", "ba", "vol", "levels", "clamp", "mult", "signal", "tox", "threat", "fill")


def _params() -> StrategyParams:
    p = StrategyParams()
    q = p.quote.model_copy(update={"use_regimes": True, "max_order_age_s": 5.0})
    return p.model_copy(update={"quote": q})


def _walk(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    """Market views of a random walk: mids, touches, volatility, regimes, toxicity, fills."""
    rng = np.random.default_rng(seed)
    mid = 618000 + np.cumsum(rng.integers(-3, 4, n))
    spread = rng.choice([1, 1, 1, 2, 3], n)
    bb = mid - spread // 2
    return {
        "now": 10**18 + np.cumsum(rng.integers(1, 50, n)) * MS,
        "bb": bb,
        "ba": bb + spread,
        "vol": rng.uniform(0.5, 3.0, n),
        "levels": rng.choice([2, 3, 5], n),
        "clamp": rng.choice([0.5, 1.0, 2.0], n),
        "mult": rng.choice([0.7, 1.0, 1.2], n),
        "signal": rng.integers(-1, 2, n),
        "tox": np.where(rng.random(n) < 0.8, 0.0, rng.uniform(0, 1, n)),
        "threat": rng.choice([1, -1, 0], n),
        "fill": rng.random(n) < 0.02,
    }


# -- the decide chain, compiled ------------------------------------------------------------------
@njit(cache=True)
def _decide_loop(qe, om, rk, inv, w, scratch):  # type: ignore[no-untyped-def]
    now_a, bb_a, ba_a, vol_a, lv_a, clamp_a, mult_a, sig_a, tox_a, thr_a, fill_a = w
    levels, qs, dec, actions, rej, resp = scratch
    tick = 0.1
    lot = 0.001
    total = 0
    for i in range(now_a.shape[0]):
        now = now_a[i]
        mid_x2 = bb_a[i] + ba_a[i]
        mid = mid_x2 / 2
        max_pos = qe_max_position_lots(qe, mid, mult_a[i])
        equity = inv_total_float(inv, mid_x2) * tick * lot
        ub = inv_unrealized_bps(inv, mid_x2)
        pos = inv.rec[0].position
        risk_evaluate(rk, now, pos, max_pos, equity, ub, inv_has_unrealized_bps(inv), dec)
        d = dec[0]
        n = 0
        if not d.cancel_all:
            nb, na = qe_quote(
                qe, bb_a[i], ba_a[i], mid_x2, vol_a[i], True, clamp_a[i], lv_a[i], mult_a[i],
                1, sig_a[i], tox_a[i], thr_a[i], pos, d.allow_bids, d.allow_asks, levels, qs,
            )  # fmt: skip
            n = nb + na
        n_act, _ = om_reconcile(om, levels, n, now, mid, d.cancel_all, actions, rej)
        total += n_act
        r = resp[0]
        for k in range(n_act):  # the venue acks everything at once
            a = actions[k]
            r.cid = a.cid
            r.price = a.price
            r.qty = a.qty
            r.status = 1 if a.type == 1 else (6 if a.type == 2 else 4)
            om_on_update(om, resp, 0)
        if fill_a[i] and om.rec[0].n > 0:  # the oldest order fills in full
            o = om.orders[0]
            cid, side, price, qty = o[0], o[1], o[3], o[4] - o[7]
            r.cid = cid
            r.side = side
            r.qty = qty
            om_on_fill(om, resp, 0)
            inv_on_fill(inv, side, price, qty, price * qty * FEE_E8, True)
            r.status = 3
            om_on_update(om, resp, 0)
    return total


def decide_compiled(p: StrategyParams, w: dict[str, np.ndarray]) -> tuple[int, int, float]:
    qe, rk = new_quote_engine(SPEC, p), new_risk(p.risk)
    om, inv = new_order_manager(SPEC, p.orders, p.quote), new_inventory()
    scratch = (
        np.zeros(64, QLEVEL_DTYPE),
        np.zeros(1, QSET_DTYPE),
        empty_decision(),
        np.zeros(256, ACTION_DTYPE),
        np.zeros(256, REJECTION_DTYPE),
        np.zeros(1, RESPONSE_DTYPE),
    )
    cols = tuple(w[k] for k in COLS)
    t0 = time.perf_counter()
    total = _decide_loop(qe, om, rk, inv, cols, scratch)
    secs = time.perf_counter() - t0
    return int(total), int(inv.rec[0]["position"]), secs


def decide_reference(p: StrategyParams, w: dict[str, np.ndarray]) -> tuple[int, int, float]:
    eng, rm = QuoteEngine(SPEC, p), RiskManager(p.risk)
    om, inv = OrderManager(SPEC.id, SPEC, p.orders, p.quote), Inventory(SPEC)
    tick, lot = float(SPEC.tick_size), float(SPEC.lot_size)
    status = {1: OrderStatus.NEW, 2: OrderStatus.AMENDED, 3: OrderStatus.CANCELED}
    rows = list(zip(*(w[k].tolist() for k in COLS), strict=True))
    total = 0
    t0 = time.perf_counter()
    for now, bb, ba, vol, levels, clamp, mult, signal, tox, threat, fill in rows:
        mid_x2 = bb + ba
        mid = mid_x2 / 2
        view = MarketView(bb, ba, mid_x2, vol, clamp, levels, mult, 1, signal, tox, threat)
        max_pos = eng.max_position_lots(mid, mult)
        equity = inv.total_float(mid_x2) * tick * lot
        d = rm.evaluate(now, inv.position, max_pos, equity, inv.unrealized_bps(mid_x2))
        desired = (
            None if d.cancel_all else eng.quote(view, inv.position, d.allow_bids, d.allow_asks)
        )
        acts, _ = om.reconcile(desired, now, mid, cancel_all=d.cancel_all)
        total += len(acts)
        for a in acts:
            st = status[int(a.type)]
            om.on_update(OrderUpdate(SPEC.id, a.client_id, st, a.side, a.price, a.qty, 0, 0, 0))
        if fill and om.orders:
            cid, o = next(iter(om.orders.items()))
            qty = o.qty - o.filled
            om.on_fill(Fill(SPEC.id, cid, o.side, o.price, qty, 0, True, now, now))
            inv.on_fill(o.side, o.price, qty, o.price * qty * FEE_E8, True)
            filled = OrderUpdate(SPEC.id, cid, OrderStatus.FILLED, o.side, 0, 0, 0, 0, 0)
            om.on_update(filled)
    return total, inv.position, time.perf_counter() - t0


# -- single components ----------------------------------------------------------------------------
@njit(cache=True)
def _quote_loop(qe, w, levels, qs):  # type: ignore[no-untyped-def]
    _now_a, bb_a, ba_a, vol_a, lv_a, clamp_a, mult_a, sig_a, tox_a, thr_a, _fill_a = w
    n = 0
    for i in range(bb_a.shape[0]):
        nb, na = qe_quote(
            qe, bb_a[i], ba_a[i], bb_a[i] + ba_a[i], vol_a[i], True, clamp_a[i], lv_a[i],
            mult_a[i], 1, sig_a[i], tox_a[i], thr_a[i], i % 7 - 3, True, True, levels, qs,
        )  # fmt: skip
        n += nb + na
    return n


@njit(cache=True)
def _risk_loop(rk, now_a, eq_a, dec):  # type: ignore[no-untyped-def]
    n = 0
    for i in range(now_a.shape[0]):
        n += risk_evaluate(rk, now_a[i], i % 11 - 5, 8, eq_a[i], 1.0, (i & 1) == 1, dec)
    return n


def quote_rates(p: StrategyParams, w: dict[str, np.ndarray]) -> tuple[float, float]:
    n = len(w["bb"])
    qe = new_quote_engine(SPEC, p)
    levels, qs = np.zeros(64, QLEVEL_DTYPE), np.zeros(1, QSET_DTYPE)
    cols = tuple(w[k] for k in COLS)
    t0 = time.perf_counter()
    _quote_loop(qe, cols, levels, qs)
    fast = n / (time.perf_counter() - t0)
    eng = QuoteEngine(SPEC, p)
    rows = list(zip(*(w[k].tolist() for k in COLS), strict=True))
    t0 = time.perf_counter()
    for i, (_, bb, ba, vol, lv, clamp, mult, sig, tox, thr, _) in enumerate(rows):
        eng.quote(MarketView(bb, ba, bb + ba, vol, clamp, lv, mult, 1, sig, tox, thr), i % 7 - 3)
    return n / (time.perf_counter() - t0), fast


def risk_rates(p: StrategyParams, n: int) -> tuple[float, float]:
    rng = np.random.default_rng(3)
    now = 10**18 + np.cumsum(rng.integers(1, 50, n)) * MS
    eq = np.cumsum(rng.normal(0, 0.01, n))
    rk, dec = new_risk(p.risk), empty_decision()
    t0 = time.perf_counter()
    _risk_loop(rk, now, eq, dec)
    fast = n / (time.perf_counter() - t0)
    rm = RiskManager(p.risk)
    t0 = time.perf_counter()
    for i, (t, e) in enumerate(zip(now.tolist(), eq.tolist(), strict=True)):
        rm.evaluate(t, i % 11 - 5, 8, e, 1.0 if i & 1 else None)
    return n / (time.perf_counter() - t0), fast


# -- start-up -------------------------------------------------------------------------------------
STARTUP = """
import time
t0 = time.perf_counter()
import bench.kernels_decide as b
p = b._params()
w = b._walk(200)
b.decide_compiled(p, w)
b.quote_rates(p, w)
print(time.perf_counter() - t0)
"""


def startup_seconds() -> tuple[float, float]:
    """(first compile, cached start) in fresh processes sharing a new numba cache dir."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = []
        for _ in range(2):
            res = subprocess.run(
                [sys.executable, "-c", STARTUP], env=env, capture_output=True, text=True, check=True
            )
            out.append(float(res.stdout.strip().splitlines()[-1]))
        return out[0], out[1]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000, help="market updates (compiled)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up timing")
    args = ap.parse_args(argv)
    p = _params()
    warm = _walk(500)
    decide_compiled(p, warm)  # compile (or load) outside the timings
    quote_rates(p, warm)
    risk_rates(p, 500)
    w = _walk(args.events)
    n_ref = max(args.events // 10, 1000)
    w_ref = {k: v[:n_ref] for k, v in w.items()}
    acts_f, pos_f, _secs_f = decide_compiled(p, w_ref)
    acts_r, pos_r, secs_r = decide_reference(p, w_ref)
    _, _, secs_big = decide_compiled(p, w)
    q_ref, q_fast = quote_rates(p, w_ref)
    r_ref, r_fast = risk_rates(p, n_ref)
    result: dict[str, Any] = {
        "decide_reference_per_s": round(n_ref / secs_r),
        "decide_compiled_per_s": round(args.events / secs_big),
        "decide_speedup": round((args.events / secs_big) / (n_ref / secs_r), 1),
        "same_result": [acts_f, pos_f] == [acts_r, pos_r],
        "actions": acts_r,
        "final_position": pos_r,
        "quote_reference_per_s": round(q_ref),
        "quote_compiled_per_s": round(q_fast),
        "risk_reference_per_s": round(r_ref),
        "risk_compiled_per_s": round(r_fast),
    }
    if not args.no_startup:
        first, cached = startup_seconds()
        result["startup_first_compile_s"] = round(first, 2)
        result["startup_cached_s"] = round(cached, 2)
    if args.json:
        print(json.dumps(result))
        return
    for k, v in result.items():
        print(
            f"{k:28s} {v:>14,}"
            if isinstance(v, int) and not isinstance(v, bool)
            else f"{k:28s} {v!s:>14}"
        )


if __name__ == "__main__":
    main()
