"""Tick-to-order latency of the live flow, in process, against the local fake Bybit.

    .venv/bin/python -m bench.live_latency                 # 10 s, a table
    .venv/bin/python -m bench.live_latency --seconds 30 --json

The fake (tests/bybit/fake_bybit.py) replays the bundled XRPUSDT capture at one delta
every ``--interval`` seconds and answers REST with real signatures. The live flow
(``flows.live_mm.build_live_flow``, live mode, the fake's keys) runs in this process on a
worker thread (``bytewax.testing.run_main``); after ``--seconds`` the shutdown sequence
(``flows.live_mm.stop_live``) cancels everything and flushes the lake, then the numbers
are printed and the process exits.

What is measured (all ``time.time_ns()`` of this machine, reported in microseconds):

* tick -> gateway: a public message's local receive time (the ``recv_ts`` the feed stamps
  on its events, taken as the websocket frame arrives) to the moment the order actions
  it caused are handed to the gateway worker (``GatewayWorker.submit``, wrapped here).
  Actions carry no tick time, but every action the trader emits comes with an
  orders-table row (same client id, same event, same price) stamped with the receive
  time of the message it was decided on. So each submitted action is matched to the
  latest such row at or before its hand-over; a row whose time is a public message's
  receive time (recorded by wrapping ``PublicFeed.on_message``) is a market tick.
  Decisions on own-order events (acks, fills, feed resets) are reported apart.
* gateway wait: hand-over to the REST request that carries the action (the rate budget
  and batching live there): matched by orderLinkId and action kind.
* REST round trip: ``BybitRest.call`` end to end (signing, HTTP, JSON) against the fake.
* lake flush: the run tables' periodic write (``MM_FLUSH_INTERVAL_S``): the dataflow
  thread only hands the buffered rows to the partition's writer thread (measured as
  the hand-over), and the Parquet write itself runs there (measured apart).

Ticks of the first ``--warmup`` seconds (connects, first snapshot, first writes) are left
out of the tick statistics.

The fake shares this process (and its GIL) with the flow, which a real venue would not;
``--fake-process`` runs it in a subprocess instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "bybit"))  # the fake Bybit lives with its tests

from connectors.bybit.config import load_bybit_config  # noqa: E402
from connectors.bybit.data import PublicFeed  # noqa: E402
from connectors.bybit.order_sink import WORKERS, GatewayWorker  # noqa: E402
from connectors.bybit.rest import BybitRest  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.log import setup_logging  # noqa: E402
from core.orders import ActionType, OrderAction  # noqa: E402

ORDER_KIND = {"create": "place", "amend": "amend", "cancel": "cancel"}


class Probe:
    """Timestamps taken by the wrapped entry points (lists are appended from threads)."""

    def __init__(self) -> None:
        self.market_recv: set[int] = set()
        self.submits: list[tuple[int, list[tuple[str, str, int]]]] = []  # t, (cid, kind, price)
        self.rest: list[tuple[str, int, int, list[str]]] = []  # path, t0, t1, link ids
        self.flushes: list[int] = []  # ns the dataflow thread spends handing a flush over
        self.writes: list[int] = []  # ns per Parquet write on the writer thread
        self.t_start = time.time_ns()

    def install(self) -> None:
        probe = self
        on_message = PublicFeed.on_message

        def timed_message(feed: PublicFeed, msg: dict[str, Any], recv_ns: int) -> None:
            probe.market_recv.add(recv_ns)
            on_message(feed, msg, recv_ns)

        submit = GatewayWorker.submit

        def timed_submit(worker: GatewayWorker, actions: list[OrderAction]) -> None:
            t = time.time_ns()
            kinds = {
                ActionType.PLACE: "place",
                ActionType.AMEND: "amend",
                ActionType.CANCEL: "cancel",
            }
            probe.submits.append(
                (t, [(a.client_id, kinds[a.type], a.price) for a in actions if a.type in kinds])
            )
            submit(worker, actions)

        call = BybitRest.call

        def timed_call(rest: BybitRest, path: str, params: dict[str, Any] | None = None) -> Any:
            items = (params or {}).get("request") or [params or {}]
            links = [str(i.get("orderLinkId")) for i in items if i.get("orderLinkId")]
            t0 = time.time_ns()
            try:
                return call(rest, path, params)
            finally:
                probe.rest.append((path, t0, time.time_ns(), links))

        from warehouse.run_sink import _RunPartition

        flush = _RunPartition.flush
        write = _RunPartition._write

        def timed_flush(part: _RunPartition, wait: bool = False) -> None:
            t0 = time.time_ns()
            pending = part.pending
            flush(part, wait)
            if pending and not wait:
                probe.flushes.append(time.time_ns() - t0)

        def timed_write(part: _RunPartition, batch: dict) -> None:
            t0 = time.time_ns()
            write(part, batch)
            probe.writes.append(time.time_ns() - t0)

        _RunPartition.flush = timed_flush  # type: ignore[method-assign]
        _RunPartition._write = timed_write  # type: ignore[method-assign]
        PublicFeed.on_message = timed_message  # type: ignore[method-assign]
        GatewayWorker.submit = timed_submit  # type: ignore[method-assign]
        BybitRest.call = timed_call  # type: ignore[method-assign]


def stats(values_ns: list[int]) -> dict[str, Any]:
    if not values_ns:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}
    us = np.asarray(values_ns, dtype=float) / 1e3
    p50, p90, p99 = np.percentile(us, [50, 90, 99])
    return {
        "count": len(us),
        "p50": round(float(p50), 1),
        "p90": round(float(p90), 1),
        "p99": round(float(p99), 1),
        "max": round(float(us.max()), 1),
    }


def analyse(probe: Probe, orders: pl.DataFrame, warmup_s: float = 0.0) -> dict[str, Any]:
    """Match hand-overs to their decision rows, REST calls to their hand-overs."""
    decided: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for cid, ev, price, ts in orders.select("client_id", "event", "price", "recv_ts").iter_rows():
        decided[(cid, ev, price)].append(ts)
    tick, own, unmatched = [], [], 0
    handed: dict[tuple[str, str], list[int]] = defaultdict(list)
    for t, acts in probe.submits:
        for cid, kind, price in acts:
            handed[(cid, kind)].append(t)
            rows = [ts for ts in decided.get((cid, kind, price), []) if ts <= t]
            if not rows:
                unmatched += 1
                continue
            ts = max(rows)
            if ts < probe.t_start + warmup_s * 1e9:
                continue
            (tick if ts in probe.market_recv else own).append(t - ts)
    wait, rtt_orders, rtt_queries = [], [], []
    for path, t0, t1, links in probe.rest:
        group = BybitRest.group(path)
        (rtt_orders if group in ORDER_KIND or group == "cancel_all" else rtt_queries).append(
            t1 - t0
        )
        kind = ORDER_KIND.get(group)
        for cid in links if kind else []:
            before = [t for t in handed.get((cid, kind), []) if t <= t0]
            if before:
                wait.append(t0 - max(before))
    return {
        "tick_to_gateway_us": stats(tick),
        "own_event_to_gateway_us": stats(own),
        "gateway_wait_us": stats(wait),
        "rest_rtt_orders_us": stats(rtt_orders),
        "rest_rtt_queries_us": stats(rtt_queries),
        "lake_flush_us": stats(probe.flushes),
        "lake_write_us": stats(probe.writes),
        "public_messages": len(probe.market_recv),
        "actions_handed": sum(len(a) for _, a in probe.submits),
        "actions_unmatched": unmatched,
    }


def start_fake(interval: float, subprocess_mode: bool) -> tuple[dict[str, str], Any]:
    if subprocess_mode:
        code = (
            "import json,sys,threading; sys.path.insert(0, 'tests/bybit');"
            f"from fake_bybit import FakeBybit; f = FakeBybit(interval_s={interval!r}); f.start();"
            "print(json.dumps(f.env()), flush=True); threading.Event().wait()"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        return json.loads(proc.stdout.readline()), proc
    from fake_bybit import FakeBybit

    fake = FakeBybit(interval_s=interval)
    fake.start()
    return fake.env(), fake


def run(seconds: float, interval: float, fake_process: bool, warmup: float) -> dict[str, Any]:
    from bytewax.testing import run_main

    from flows.live_mm import build_live_flow, stop_live

    env, fake = start_fake(interval, fake_process)
    lake = Path(tempfile.mkdtemp(prefix="live_latency_"))
    settings = load_settings(env_file=None, mode="live", symbols=["XRPUSDT"], lake=lake,
                             flush_interval_s=1.0)  # fmt: skip
    cfg = load_bybit_config(
        network="testnet",
        rest_url=env["BYBIT_REST_URL"],
        ws_public_url=env["BYBIT_WS_PUBLIC_URL"],
        ws_private_url=env["BYBIT_WS_PRIVATE_URL"],
        api_key=env["BYBIT_API_KEY"],
        api_secret=env["BYBIT_API_SECRET"],
    )
    probe = Probe()
    probe.install()
    built = threading.Event()
    errors: list[BaseException] = []

    def worker() -> None:  # built off the main thread: no signal handlers are installed
        try:
            flow = build_live_flow(settings, cfg)
            built.set()
            run_main(flow)
        except BaseException as exc:
            errors.append(exc)
            built.set()

    threading.Thread(target=worker, name="live-flow", daemon=True).start()
    if not built.wait(60) or errors:
        raise SystemExit(f"live_latency: error: the flow did not start ({errors[:1]})")
    time.sleep(seconds + warmup)
    flow_name = f"live_mm_{os.getpid()}"
    gw = WORKERS[flow_name]
    t0 = time.monotonic()
    ok = stop_live(flow_name, gw.gateway, ["bybit:XRPUSDT"])
    stop_s = time.monotonic() - t0
    files = sorted((lake / "orders").glob("venue=bybit/symbol=XRPUSDT/date=*/*.parquet"))
    orders = (
        pl.concat([pl.read_parquet(f) for f in files])
        if files
        else pl.DataFrame(
            schema={
                "client_id": pl.String,
                "event": pl.String,
                "price": pl.Int64,
                "recv_ts": pl.Int64,
            }
        )
    )
    out = analyse(probe, orders, warmup)
    out |= {
        "seconds": seconds,
        "warmup_s": warmup,
        "delta_interval_s": interval,
        "fake": "subprocess" if fake_process else "in-process",
        "dropped_by_coalescing": gw.dropped,
        "shutdown_s": round(stop_s, 3),
        "shutdown_cancelled_all": ok,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    if fake_process:
        fake.kill()
    return out


def table(r: dict[str, Any]) -> str:
    rows = [
        ("tick -> actions handed to the gateway", "tick_to_gateway_us"),
        ("own event -> actions handed", "own_event_to_gateway_us"),
        ("handed -> REST request sent", "gateway_wait_us"),
        ("REST round trip, order calls", "rest_rtt_orders_us"),
        ("REST round trip, queries", "rest_rtt_queries_us"),
        ("lake flush hand-over (dataflow thread)", "lake_flush_us"),
        ("lake write (writer thread)", "lake_write_us"),
    ]
    lines = [
        f"live flow latency: {r['seconds']} s (+{r['warmup_s']} s warm-up) against the fake Bybit ({r['fake']}), "
        f"one delta per {r['delta_interval_s']} s, {r['public_messages']} public messages",
        f"{'':40s} {'count':>7s} {'p50':>9s} {'p90':>9s} {'p99':>9s} {'max':>9s}   (us)",
    ]
    for label, key in rows:
        s = r[key]
        vals = [
            f"{s[k]:>9.1f}" if s[k] is not None else f"{'-':>9s}"
            for k in ("p50", "p90", "p99", "max")
        ]
        lines.append(f"{label:40s} {s['count']:>7d} " + " ".join(vals))
    lines.append(
        f"actions handed {r['actions_handed']} (unmatched {r['actions_unmatched']}), dropped while "
        f"waiting {r['dropped_by_coalescing']}; shutdown {r['shutdown_s']} s, "
        f"all cancelled: {r['shutdown_cancelled_all']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench.live_latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--seconds", type=float, default=10.0, help="how long to measure (default 10)")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds left out first (default 2)")
    ap.add_argument("--interval", type=float, default=0.02, help="fake's delta interval, s")
    ap.add_argument("--fake-process", action="store_true", help="run the fake in a subprocess")
    ap.add_argument("--json", action="store_true", help="one JSON object")
    args = ap.parse_args(argv)
    if args.seconds <= 0 or args.interval <= 0 or args.warmup < 0:
        ap.error("--seconds and --interval must be positive, --warmup not negative")
    setup_logging(logging.WARNING)  # the flow's own warnings (resets, rate limits) on stderr
    result = run(args.seconds, args.interval, args.fake_process, args.warmup)
    print(json.dumps(result) if args.json else table(result), flush=True)
    logging.shutdown()
    os._exit(0)  # the live sources never end; the dataflow thread cannot be joined


if __name__ == "__main__":
    main()
