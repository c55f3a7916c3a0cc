"""Speed of the warehouse on a synthetic day of trading: SQL views, report, compaction.

    .venv/bin/python -m bench.warehouse             # table
    .venv/bin/python -m bench.warehouse --json      # one JSON object
    .venv/bin/python -m bench.warehouse --hours 24  # a longer run

A run directory is generated with a seeded random walk: a PnL row per second plus one
per fill, a quote set every 200 ms, a fill every ~10 s and six order rows per quote
change, written in 1-hour flushes (as the run sink does) so the compaction numbers
start from many small files. Times are wall-clock seconds on this machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from core.instruments import InstrumentSpec
from core.lake import RUN_ID, table_def
from warehouse.lake_writer import write_instrument, write_rows

T0 = 1_723_075_200 * 10**9
S = 10**9
SPEC = InstrumentSpec("binance-usdm", "BTCUSDT", Decimal("0.1"), Decimal("0.001"), Decimal(100))


def _frame(table: str, cols: dict[str, np.ndarray]) -> pl.DataFrame:
    schema = table_def(table).schema
    n = len(cols["recv_ts"])
    cols = {RUN_ID: np.full(n, "bench"), **cols}  # one trading run
    arrays = {f.name: pa.array(np.asarray(cols[f.name]).tolist() if f.type == pa.string()
                               else cols[f.name], type=f.type) for f in schema}  # fmt: skip
    return pl.from_arrow(pa.table(arrays))


def _chunks(cols: dict[str, object], ts: np.ndarray, hour_s: int, n_s: int) -> list[dict]:
    """Split whole-run columns into one chunk per hour (the sink flushes that way)."""
    out = []
    for h0 in range(0, n_s, hour_s):
        sel = (ts >= T0 + h0 * S) & (ts < T0 + (h0 + hour_s) * S)
        out.append({k: np.asarray(v)[sel] for k, v in cols.items()})
    return out


def make_run(root: Path, hours: float, seed: int = 7) -> dict[str, int]:
    """A consistent synthetic run: total = cash + position x mid - fees on every PnL row."""
    rng = np.random.default_rng(seed)
    write_instrument(root, SPEC)
    n_s = int(hours * 3600)
    tick, lot = 0.1, 0.001
    mid_x2 = 2 * 600_000 + np.cumsum(rng.integers(-2, 3, n_s))  # half ticks
    mid = mid_x2 / 2 * tick
    fs = np.sort(rng.choice(np.arange(1, n_s), n_s // 10, replace=False))  # fill seconds
    nf = len(fs)
    side = rng.choice([-1, 1], nf).astype(np.int8)
    price = (mid_x2[fs] // 2 - side).astype(np.int64)  # one tick better than mid: maker
    qty = rng.integers(1, 5, nf).astype(np.int64)
    fee_units = -(price * qty * 1000)  # 1 bp rebate
    pos = np.cumsum(side * qty)
    ts_f = T0 + fs * S + S // 2
    fills = {
        "recv_ts": ts_f, "exch_ts": ts_f, "seq": np.arange(1, nf + 1),
        "client_id": np.array([f"c{i}" for i in range(nf)]),
        "exec_id": np.array([f"e{i}" for i in range(nf)]), "side": side,
        "level": np.zeros(nf, np.int8), "price": price, "qty": qty, "price_f": price * tick,
        "qty_f": qty * lot, "notional": price * qty * tick * lot,
        "fee": fee_units * tick * lot / 1e8, "fee_units": fee_units,
        "is_maker": np.ones(nf, bool), "position_after": pos, "mid_at_fill": mid[fs],
        **{f"mid_{h}s": mid[np.minimum(fs + h, n_s - 1)] for h in (1, 5, 30, 60)},
    }  # fmt: skip
    # PnL rows: one per second plus one after each fill, in time order
    sec = np.arange(n_s)
    ts_p = np.r_[T0 + sec * S, ts_f]
    order = np.argsort(ts_p, kind="stable")
    ts_p = ts_p[order]
    k = np.searchsorted(ts_f, ts_p, side="right")  # fills done by each row
    cash_c = np.r_[0.0, np.cumsum(-side * price * qty * tick * lot)][k]
    fees_c = np.r_[0.0, np.cumsum(fee_units * tick * lot / 1e8)][k]
    pos_p = np.r_[0, pos][k]
    mid_p = np.r_[mid[sec], mid[fs]][order]
    n = len(ts_p)
    pnl = {
        "recv_ts": ts_p, "seq": np.arange(1, n + 1), "position": pos_p, "position_f": pos_p * lot,
        "mid": mid_p, "cash": cash_c, "realized": np.zeros(n), "unrealized": np.zeros(n),
        "fees": fees_c, "total": cash_c + pos_p * lot * mid_p - fees_c,
        "inventory_usd": pos_p * lot * mid_p, "drawdown": np.zeros(n),
        "risk_state": np.zeros(n, np.int8),
    }  # fmt: skip
    nq = n_s * 5  # a quote set (bid + ask) every 200 ms
    qts = T0 + np.arange(nq) * (S // 5)
    quotes = {
        "recv_ts": np.repeat(qts, 2), "seq": np.repeat(np.arange(nq), 2),
        "side": np.tile(np.array([1, -1], np.int8), nq), "level": np.zeros(2 * nq, np.int8),
        "price": np.full(2 * nq, 600_000), "qty": np.full(2 * nq, 2),
        "price_f": np.full(2 * nq, 60_000.0), "qty_f": np.full(2 * nq, 0.002),
        "mid": np.full(2 * nq, 60_000.0), "reservation": np.full(2 * nq, 60_000.0),
        "half_spread_bps": np.ones(2 * nq), "vol_bps": np.ones(2 * nq),
        "regime": np.ones(2 * nq, np.int8), "signal": np.zeros(2 * nq, np.int8),
        "toxicity": np.zeros(2 * nq), "risk_state": np.zeros(2 * nq, np.int8),
    }  # fmt: skip
    no = 6 * nq  # place, ack, amend, amended, cancel, canceled per quote set
    events = np.array(["place", "new", "amend", "amended", "cancel", "canceled"])
    orders = {
        "recv_ts": np.repeat(qts, 6), "seq": np.arange(no),
        "client_id": np.array([f"o{i // 6}" for i in range(no)]), "event": np.tile(events, nq),
        "side": np.tile(np.array([1, -1], np.int8), no // 2), "price": np.full(no, 600_000),
        "qty": np.full(no, 2), "filled": np.zeros(no, np.int64), "level": np.zeros(no, np.int8),
        "reason": np.full(no, ""),
    }  # fmt: skip
    counts = {}
    for name, cols in (("fills", fills), ("pnl", pnl), ("quotes", quotes), ("orders", orders)):
        for chunk in _chunks(cols, np.asarray(cols["recv_ts"]), 3600, n_s):
            write_rows(root, name, SPEC.venue, SPEC.symbol, _frame(name, chunk))
        counts[name] = len(cols["recv_ts"])
    return counts


def _time(fn: object) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()  # type: ignore[operator]
    return time.perf_counter() - t, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=6.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from warehouse.attribution import attribute
    from warehouse.compact import compact_lake
    from warehouse.duck import Catalog
    from warehouse.report import run_report

    work = Path(tempfile.mkdtemp(prefix="mm-bench-wh-"))
    try:
        run = work / "run"
        gen_s, counts = _time(lambda: make_run(run, args.hours))
        res: dict = {"hours": args.hours, "rows": counts, "generate_s": round(gen_s, 3)}
        build_s, cat = _time(lambda: Catalog(runs=[run]))
        res["catalog_build_s"] = round(build_s, 3)
        for view in ("markouts", "markout_curve", "fill_rates", "cancel_ratio", "inventory",
                     "daily_summary", "attribution"):  # fmt: skip
            s, _ = _time(lambda v=view: cat.query(f"SELECT * FROM {v}"))
            res[f"query_{view}_s"] = round(s, 3)
        s, att = _time(lambda: attribute(cat))
        res["attribute_s"] = round(s, 3)
        res["variance_explained"] = att[0].variance_explained
        cat.close()
        s, rep = _time(lambda: run_report(run, work / "report.html"))
        res["report_s"] = round(s, 3)
        res["report_kib"] = round(rep.bytes / 1024)
        files_before = len(list(run.rglob("*.parquet")))
        s, c = _time(lambda: compact_lake(run))
        res["compact_s"] = round(s, 3)
        res["compact_files"] = [files_before, len(list(run.rglob("*.parquet")))]
        res["compact_rows_per_s"] = round(c.rows_rewritten / s) if s > 0 else None
        s, _ = _time(lambda: compact_lake(run))  # a compacted run: nothing to do
        res["compact_again_s"] = round(s, 3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for k, v in res.items():
            print(f"{k:<28} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
