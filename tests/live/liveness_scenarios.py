"""The scripted liveness session: ``flows.live_mm`` against a fake Bybit that, like the
real one, sends a book snapshot only on subscribe (``snapshots=False``).

Short bounds make it quick (stale book 1.5 s, resync after 0.25 s, lag bound 1 s, ticks
every 1 s). Each step waits until six orders rest on the venue again before the next:

  start     the very first snapshot carries a NaN size: the source resubscribes
  stall     the stream goes quiet for 4.5 s, TCP open: stale, then the trader asks for a
            fresh book and quotes from it
  crossed   a crossing bid that stays (snapshots show it too); after the first resync
            request the venue drops it without a delta: only the next resync shows it
  lag       exchange times lag 3 s: no quoting until they are fresh again
  oversize  a 5 MiB frame: the client refuses it (1009), reconnects, quotes again
  stop      SIGTERM: no order left at the venue

A failing step records its message in ``Session.errors`` (see live_scenarios.py).
"""

from __future__ import annotations

import time
from pathlib import Path

from fake_bybit import FakeBybit
from live_helpers import LiveProcess, live_env
from live_scenarios import Session

PARAMS = {
    "MM_PARAMS__RISK__STALE_BOOK_MS": "1500",
    "MM_PARAMS__RISK__RESYNC_AFTER_MS": "250",
    "MM_PARAMS__RISK__RESYNC_BACKOFF_MAX_MS": "2000",
    "MM_PARAMS__RISK__MAX_EXCH_LAG_MS": "1000",
}
STALL_S = 4.5  # > stale 1.5 s + up to 1 s to the tick + 1 s to the request tick
LAG_MS = 3000


def run_liveness_session(fake: FakeBybit, lake: Path) -> Session:
    proc = LiveProcess(live_env(fake.env(), lake, **PARAMS))
    s = Session(fake, proc, lake)
    fake.bad_snapshot_next(1, "NaN")  # the first subscribe's answer
    proc.start()
    try:
        s.step("start", lambda: _start(s))
        if "start" in s.errors:
            return s
        s.step("stall", lambda: _stall(s))
        s.step("crossed", lambda: _crossed(s))
        s.step("lag", lambda: _lag(s))
        s.step("oversize", lambda: _oversize(s))
        s.step("stop", lambda: _stop(s))
    finally:
        proc.kill()
    return s


def _mark(s: Session, name: str) -> int:
    s.wait_quoting(f"before {name}")
    t = time.time_ns()
    s.marks[name] = {"t": t, "open_before": {o.link_id for o in s.ours()}}
    return t


def _start(s: Session) -> None:
    start = s.proc.wait_event("live_mm_start", timeout=30)
    s.run_prefix = f"mm{start['run_tag']}-"
    s.wait_quoting("start", timeout=30)
    s.marks["start"] = {"t_quoting": time.time_ns()}


def _stall(s: Session) -> None:
    t = _mark(s, "stall")
    s.fake.stall(STALL_S)
    s.proc.wait_event("book_stale", after_ns=t, timeout=STALL_S + 2)
    s.proc.wait_event("resync_request", after_ns=t, timeout=STALL_S + 2)
    s.wait_quoting("after the stall", fresh=s.marks["stall"]["open_before"])
    time.sleep(max(0.0, t / 1e9 + STALL_S - time.time()))  # (quoting from the resync's book)
    s.wait_quoting("after the stall")
    s.marks["stall"]["t_end"] = time.time_ns()


def _crossed(s: Session) -> None:
    t = _mark(s, "crossed")
    s.marks["crossed"]["bid"] = s.fake.cross()
    s.proc.wait_event("resync_request", after_ns=t, timeout=5, reason="crossed book")
    # the first resync's snapshot is crossed still; then the venue uncrosses unannounced
    s.proc.wait_for(
        "crossed: the first resync's snapshot",
        lambda: [ts for ts, w, _ in list(s.fake.ws_log) if w == "snapshot" and ts > t],
    )
    s.fake.uncross(silent=True)
    s.marks["crossed"]["t_uncross"] = time.time_ns()
    s.wait_quoting("after the crossed book", fresh=s.marks["crossed"]["open_before"])
    s.marks["crossed"]["t_end"] = time.time_ns()


def _lag(s: Session) -> None:
    t = _mark(s, "lag")
    s.fake.exch_lag_ms = LAG_MS
    s.proc.wait_event("book_lagging", after_ns=t, timeout=5)
    s.proc.wait_event("resync_request", after_ns=t, timeout=5)
    s.fake.exch_lag_ms = 0
    s.marks["lag"]["t_fresh"] = time.time_ns()
    s.proc.wait_event("book_lag_ok", after_ns=t, timeout=5)
    s.wait_quoting("after the lag", fresh=s.marks["lag"]["open_before"])
    s.marks["lag"]["t_end"] = time.time_ns()


def _oversize(s: Session) -> None:
    t = _mark(s, "oversize")
    s.fake.send_oversize(5 * 1024 * 1024)
    s.proc.wait_event("ws_disconnected", after_ns=t, timeout=5, stream="public:XRPUSDT")
    s.wait_quoting("after the oversized frame", fresh=s.marks["oversize"]["open_before"])
    s.marks["oversize"]["t_end"] = time.time_ns()


def _stop(s: Session) -> None:
    s.wait_quoting("before SIGTERM")
    code = s.proc.terminate(timeout=15)
    s.marks["stop"] = {"exit_code": code, "seconds": s.proc.exit_seconds,
                       "open_after": {o.link_id for o in s.ours()}}  # fmt: skip
