"""Fault-injection soak of the live flow against the local fake Bybit (127.0.0.1 only).

    .venv/bin/python -m bench.soak                     # 180 s, a table
    .venv/bin/python -m bench.soak --seconds 60 --seed 7 --json

One ``python -m bytewax.run flows.live_mm`` process (live mode, the fake's keys, the
default strategy, risk and reconnect settings) trades against one fake Bybit
(tests/bybit/fake_bybit.py) that, as the real one, sends a book snapshot only on
subscribe (``snapshots=False``) and fills resting orders the replayed market crosses
(``fill_on_cross``). After a quiet spell (``--quiet`` seconds, uniform) comes the next
fault, drawn with ``--seed``, one at a time:

  stall        the public stream pauses 3-10 s, links open (subscribes still answered)
  hard_stall   3-8 s in which public connections send nothing at all (not even pongs)
  gap          1-3 deltas never sent (an update-id gap)
  crossed      a crossing bid that stays in the book, snapshots included, for 2-6 s; it
               leaves with a delta or silently (only a fresh snapshot shows it)
  bad_snapshot the next 1-3 snapshots carry a NaN / inf / negative size (after a gap)
  disconnect   every websocket is cut
  storm        every order call answers 10006 (reset 0.3-2 s later) for 2-6 s
  kill         the venue goes away for 2-12 s (sockets closed, REST unanswered, no
               matching), then comes back on its ports
  lag          exchange timestamps lag 3 s for 3-6 s

Then SIGTERM, and the numbers:

* quoted share: the share of time, from the first quote to SIGTERM, during which the
  trader's latest quote set (the lake's quotes table) was not empty; also the share of
  the fake's samples (every 0.2 s) with at least one of our orders resting. Dark spells
  are the spans of empty quote sets; a dark spell is "unexplained" when no fault was
  active in it or in the 30 s before it began (it must be none). Recovery: fault end to
  the first non-empty quote set after it, per kind.
* resyncs: the trader's resync requests, the source's resubscribes (and those that got
  no snapshot and reconnected), feed resets by reason, websocket reconnects.
* position: the venue's against the trader's final one (the summary), in lots.
* orphan orders (must be 0): our orders open at the venue after the exit, and orders the
  venue holds under our prefix that the lake's orders table never mentions.
* rows lost (must be 0): fill log lines not in the fills table (or in it but not in the
  summary), and executions the venue pushed on a live private stream that are not in
  the fills table. Executions made while no private stream listened (the venue does not
  re-send those) are counted apart: the trader books them at mark by reconciling the
  venue's position after the reconnect.

The fake shares this process with the soak driver, the flow runs in its own process.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "bybit"))  # the fake Bybit lives with its tests
sys.path.insert(0, str(REPO / "tests" / "live"))  # ... and the live-process helpers

from fake_bybit import FakeBybit, FakeOrder  # noqa: E402
from live_helpers import LiveProcess, live_env, quote_sets, read_table  # noqa: E402

S = 1_000_000_000
FAULTS = ("stall", "hard_stall", "gap", "crossed", "bad_snapshot", "disconnect", "storm",
          "kill", "lag")  # fmt: skip
GRACE_S = 30.0  # a dark spell starting this long after a fault is still the fault's


class ExecRecorder:
    """Every execution the fake makes, and whether a private stream was listening."""

    def __init__(self, fake: FakeBybit) -> None:
        self.delivered: set[str] = set()
        self.undelivered: set[str] = set()
        execute = fake._execute

        def recorded(o: FakeOrder, qty: Any, price: Any, maker: bool) -> str:
            listening = any(c.authed and "execution" in c.topics for c in fake.private_conns)
            exec_id = execute(o, qty, price, maker)
            (self.delivered if listening else self.undelivered).add(exec_id)
            return exec_id

        fake._execute = recorded  # type: ignore[method-assign]


class Sampler(threading.Thread):
    """Our open orders at the venue every 0.2 s."""

    def __init__(self, fake: FakeBybit, prefix: str) -> None:
        super().__init__(daemon=True)
        self.fake, self.prefix = fake, prefix
        self.samples: list[tuple[int, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            n = sum(1 for o in self.fake.open_orders() if o.link_id.startswith(self.prefix))
            self.samples.append((time.time_ns(), n))


def inject(fake: FakeBybit, kind: str, rng: random.Random) -> str:
    """Run one fault to its end; returns what was done (for the progress line)."""
    if kind == "stall":
        d = rng.uniform(3, 10)
        fake.stall(d)
        time.sleep(d)
        return f"{d:.1f} s"
    if kind == "hard_stall":
        d = rng.uniform(3, 8)
        fake.stall(d, hard=True)
        time.sleep(d)
        return f"{d:.1f} s"
    if kind == "gap":
        n = rng.randint(1, 3)
        fake.inject_gap(n)
        time.sleep(0.5)
        return f"{n} deltas"
    if kind == "crossed":
        d, silent = rng.uniform(2, 6), rng.random() < 0.5
        fake.cross()
        time.sleep(d)
        fake.uncross(silent=silent)
        return f"{d:.1f} s, {'silently' if silent else 'by a delta'}"
    if kind == "bad_snapshot":
        n, size = rng.randint(1, 3), rng.choice(["NaN", "inf", "-1"])
        fake.bad_snapshot_next(n, size)
        fake.inject_gap(1)  # the gap's resubscribe gets the bad snapshots
        time.sleep(1.0)
        return f"{n} x {size}"
    if kind == "disconnect":
        fake.drop_connections()
        time.sleep(0.5)
        return "all websockets"
    if kind == "storm":
        d, reset = rng.uniform(2, 6), rng.randint(300, 2000)
        fake.rate_limit_next(1_000_000, reset_in_ms=reset)  # every order call, for d s
        time.sleep(d)
        fake.rate_limit_next(0)
        return f"{d:.1f} s, reset {reset} ms"
    if kind == "kill":
        d = rng.uniform(2, 12)
        fake.kill()
        time.sleep(d)
        fake.restart()
        return f"down {d:.1f} s"
    if kind == "lag":
        d = rng.uniform(3, 6)
        fake.exch_lag_ms = 3000
        time.sleep(d)
        fake.exch_lag_ms = 0
        return f"3 s lag for {d:.1f} s"
    raise ValueError(kind)


def soak(
    seconds: float,
    seed: int,
    quiet: tuple[float, float],
    progress: bool,
    log_path: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    rng = random.Random(seed)
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeBybit(snapshots=False, fill_on_cross=True) as fake,
    ):
        lake = Path(tmp)
        execs = ExecRecorder(fake)
        env = live_env(fake.env(), lake)
        for k in ("BYBIT_RECONNECT_INITIAL_S", "BYBIT_RECONNECT_MAX_S", "BYBIT_STABLE_AFTER_S",
                  "MM_FLUSH_INTERVAL_S"):  # fmt: skip
            env.pop(k)  # the production reconnect backoff and lake flush interval
        env |= extra_env or {}
        proc = LiveProcess(env).start()
        try:
            start = proc.wait_event("live_mm_start", timeout=60)
            prefix = f"mm{start['run_tag']}-"
            sampler = Sampler(fake, prefix)
            proc.wait_for("first quotes", lambda: proc.events("quotes"), timeout=60)
            sampler.start()
            t_start = time.monotonic()
            faults: list[tuple[str, int, int, str]] = []
            while time.monotonic() - t_start < seconds - 15:
                time.sleep(rng.uniform(*quiet))
                if time.monotonic() - t_start >= seconds - 15:
                    break
                kind = rng.choice(FAULTS)
                t0 = time.time_ns()
                what = inject(fake, kind, rng)
                faults.append((kind, t0, time.time_ns(), what))
                if progress:
                    el = time.monotonic() - t_start
                    print(f"soak {el:6.1f} s  {kind:<12} {what}", file=sys.stderr, flush=True)
            time.sleep(max(0.0, seconds - (time.monotonic() - t_start)))
            sampler.done.set()
            sampler.join(2)
            t_stop = time.time_ns()
            exit_code = proc.terminate(timeout=30)
        finally:
            proc.kill()
            if log_path is not None:
                log_path.write_text(proc.text() + "\n")
        return measure(proc, fake, lake, prefix, execs, sampler, faults, t_stop, exit_code)


def measure(
    proc: LiveProcess,
    fake: FakeBybit,
    lake: Path,
    prefix: str,
    execs: ExecRecorder,
    sampler: Sampler,
    faults: list[tuple[str, int, int, str]],
    t_stop: int,
    exit_code: int,
) -> dict[str, Any]:
    quotes = read_table(lake, "quotes")
    orders = read_table(lake, "orders")
    fills = read_table(lake, "fills")
    # the run's own summary (runs/{run_id}/summary.json: every run into a lake keeps its own)
    run_ids = set(orders["run_id"].to_list()) if orders.height else set()
    summary_path = lake / "runs" / next(iter(run_ids), "?") / "summary.json"
    summary = (
        json.loads(summary_path.read_text()) if len(run_ids) == 1 and summary_path.exists() else {}
    )

    # -- quoted share and dark spells --------------------------------------------------
    sets = [(ts, bool(lv)) for ts, _seq, lv in quote_sets(quotes) if ts <= t_stop]
    t_first = next((ts for ts, on in sets if on), t_stop)
    spells: list[tuple[int, int]] = []  # dark [start, end)
    quoted = 0
    for (ts, on), (nxt, _) in zip(sets, [*sets[1:], (t_stop, False)], strict=True):
        if ts < t_first:
            continue
        if on:
            quoted += nxt - ts
        elif spells and spells[-1][1] == ts:
            spells[-1] = (spells[-1][0], nxt)
        else:
            spells.append((ts, nxt))
    span = max(1, t_stop - t_first)

    def explained(a: int) -> bool:
        return any(t0 - S <= a <= t1 + GRACE_S * S for _k, t0, t1, _w in faults)

    unexplained = [(a, b) for a, b in spells if not explained(a)]
    recovery: dict[str, list[float]] = {}
    for kind, _t0, t1, _w in faults:
        back = next((ts for ts, on in sets if on and ts >= t1), None)
        if back is not None:
            recovery.setdefault(kind, []).append((back - t1) / S)
    samples = [n for t, n in sampler.samples if t >= t_first]

    # -- resyncs --------------------------------------------------------------------------
    def count(name: str, **match: Any) -> int:
        return len(proc.events(name, **match))

    reset_reasons = Counter(
        e["reason"].split(":")[0] for e in proc.events("feed_reset") if e.get("reason")
    )
    reconnects = [e for e in proc.events("ws_connected") if e.get("connects", 1) > 1]

    # -- orphans and rows -------------------------------------------------------------------
    ours = [o for o in fake.orders.values() if o.link_id.startswith(prefix)]
    open_after = [o.link_id for o in ours if o.status in ("New", "PartiallyFilled")]
    known = set(orders["client_id"]) if orders.height else set()
    unknown = [o.link_id for o in ours if o.link_id not in known]
    stored_ids = set(fills["exec_id"]) if fills.height else set()
    logged = count("fill")
    # the summary counts the fills in the fills table plus the position differences the
    # trader booked at mark after reconciling (executions it never saw)
    reconciled = count("position_reconciled")
    summary_fills = int(summary.get("fills", 0))
    lost_logged = abs(logged - fills.height) + abs(summary_fills - fills.height - reconciled)
    lost_delivered = sorted(execs.delivered - stored_ids)

    venue_pos = int(fake.position)  # XRPUSDT: 1 lot = 1 XRP
    final_pos = summary.get("final_position")
    return {
        "seconds": round((t_stop - t_first) / S, 1),
        "faults": dict(Counter(k for k, *_ in faults)),
        "quoted_share": round(quoted / span, 4),
        "venue_resting_share": round(sum(1 for n in samples if n) / len(samples), 4)
        if samples
        else None,
        "dark_spells": len(spells),
        "longest_dark_s": round(max(((b - a) / S for a, b in spells), default=0.0), 2),
        "unexplained_dark_spells": len(unexplained),
        "recovery_s": {
            k: {"n": len(v), "p50": round(sorted(v)[len(v) // 2], 2), "max": round(max(v), 2)}
            for k, v in sorted(recovery.items())
        },
        "resync_requests": count("resync_request"),
        "resubscribes": count("book_resubscribe"),
        "resubscribe_timeouts": count("book_resubscribe_timeout"),
        "feed_resets": dict(reset_reasons),
        "ws_reconnects": len(reconnects),
        "book_bad_messages": count("book_bad_message"),
        "rate_limited": count("rate_limited"),
        "dcp_fired": fake.dcp_fired,
        "orders_at_venue": len(ours),
        "orphan_orders": len(open_after) + len(unknown),
        "orphans": {"open_after_exit": open_after, "unknown_to_lake": unknown},
        "fills": {
            "venue": len(execs.delivered) + len(execs.undelivered),
            "venue_undelivered": len(execs.undelivered),
            "logged": logged,
            "stored": fills.height,
            "summary": summary.get("fills"),
            "position_reconciled": reconciled,
        },
        "position": {"venue": venue_pos, "trader": final_pos},
        "rows_lost": lost_logged + len(lost_delivered),
        "lost_exec_ids": lost_delivered,
        "exit_code": exit_code,
        "exit_s": round(proc.exit_seconds or 0.0, 3),
    }


def table(r: dict[str, Any]) -> str:
    f = r["fills"]
    rows = [
        ("run", f"{r['seconds']} s quoted-span, faults {r['faults']}"),
        ("quoted share", f"{r['quoted_share']:.1%} (venue resting: {r['venue_resting_share']:.1%})"),
        ("dark spells", f"{r['dark_spells']}, longest {r['longest_dark_s']} s, "
                        f"unexplained {r['unexplained_dark_spells']}"),
        ("recovery (s)", "; ".join(f"{k} p50 {v['p50']} max {v['max']} (n={v['n']})"
                                   for k, v in r["recovery_s"].items())),
        ("resyncs", f"{r['resync_requests']} requests, {r['resubscribes']} resubscribes "
                    f"({r['resubscribe_timeouts']} timed out), {r['ws_reconnects']} reconnects"),
        ("feed resets", ", ".join(f"{k} {v}" for k, v in sorted(r["feed_resets"].items()))),
        ("venue", f"{r['rate_limited']} rate-limited waits, DCP fired {r['dcp_fired']}, "
                  f"{r['orders_at_venue']} orders placed"),
        ("orphan orders", str(r["orphan_orders"])),
        ("fills", f"venue {f['venue']} ({f['venue_undelivered']} while no private stream), "
                  f"logged {f['logged']}, stored {f['stored']}, summary {f['summary']} "
                  f"(incl. {f['position_reconciled']} booked by position reconciliation)"),
        ("position", f"venue {r['position']['venue']}, trader {r['position']['trader']}"),
        ("rows lost", str(r["rows_lost"])),
        ("exit", f"code {r['exit_code']} in {r['exit_s']} s"),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--seconds", type=float, default=180.0, help="soak length (default 180)")
    ap.add_argument("--seed", type=int, default=1, help="fault schedule seed (default 1)")
    ap.add_argument("--quiet-min", type=float, default=4.0, help="min s between faults")
    ap.add_argument("--quiet-max", type=float, default=10.0, help="max s between faults")
    ap.add_argument("--json", action="store_true", help="one JSON object")
    ap.add_argument("--log", type=Path, help="write the flow's log lines to this file")
    ap.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra flow setting, e.g. MM_PARAMS__RISK__COOLDOWN_S=5 (repeatable)",
    )
    args = ap.parse_args(argv)
    extra = dict(kv.split("=", 1) for kv in args.env if "=" in kv)
    if len(extra) != len(args.env):
        ap.error("--env takes KEY=VALUE")
    if args.seconds < 30:
        ap.error("--seconds must be at least 30")
    progress: Callable[[], bool] = lambda: sys.stderr.isatty() or not args.json  # noqa: E731
    result = soak(
        args.seconds, args.seed, (args.quiet_min, args.quiet_max), progress(), args.log, extra
    )
    print(json.dumps(result) if args.json else table(result), flush=True)


if __name__ == "__main__":
    main()
