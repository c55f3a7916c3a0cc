"""The scripted live session the end-to-end tests assert on.

One ``flows.live_mm`` process trades against one fake Bybit through these steps, each
waiting (with a deadline) until the flow is quoting six orders again before the next:

  start     quoting begins (six PostOnly orders rest on the venue)
  fill      the venue fills our best bid in full; the next single place is rejected
            (110007) so the trader must drop it and place a fresh order
  drop      every websocket is cut (public + private)
  gap       one book delta is never sent (an update-id gap)
  crossed   a delta crosses the book; the next place (single or batch) after it is
            answered 10006 with a reset time 800 ms later
  resend    Bybit's service-restart re-send (``u`` = 1)
  stop      SIGTERM

A step that fails records its message in ``Session.errors`` and the session goes on, so
each test reports its own scenario.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_bybit import FakeBybit, FakeOrder
from live_helpers import ORDER_CREATE, TICK, LiveProcess, live_env

REJECT_CODE = 110007  # "available balance insufficient": a plain reject (not a halt)
RATE_LIMIT_RESET_MS = 800
QUOTED_ORDERS = 6  # 3 levels a side with the default parameters


@dataclass
class Session:
    fake: FakeBybit
    proc: LiveProcess
    lake: Path
    run_prefix: str = ""
    marks: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Session(prefix={self.run_prefix!r}, errors={sorted(self.errors)})"

    def ours(self) -> list[FakeOrder]:
        return [o for o in self.fake.open_orders() if o.link_id.startswith(self.run_prefix)]

    def quoting(self) -> bool:
        return len(self.ours()) == QUOTED_ORDERS

    def wait_quoting(self, what: str, timeout: float = 20.0, fresh: set[str] = frozenset()) -> None:
        """Until six orders rest on the venue (none of them in ``fresh``: orders a reset
        cancelled may still rest while their cancel is on the way)."""

        def ready() -> bool:
            ours = self.ours()
            return len(ours) == QUOTED_ORDERS and not {o.link_id for o in ours} & fresh

        self.proc.wait_for(f"{what}: {QUOTED_ORDERS} orders resting", ready, timeout)

    def step(self, name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # recorded for the scenario's own test
            self.errors[name] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"


def run_session(fake: FakeBybit, lake: Path) -> Session:
    proc = LiveProcess(live_env(fake.env(), lake))
    s = Session(fake, proc, lake)
    proc.start()
    try:
        s.step("start", lambda: _start(s))
        if "start" in s.errors:
            return s
        s.step("fill", lambda: _fill_and_reject(s))
        s.step("drop", lambda: _fault(s, "drop", fake.drop_connections))
        s.step("gap", lambda: _fault(s, "gap", fake.inject_gap))
        s.step("crossed", lambda: _crossed_and_rate_limited(s))
        s.step("resend", lambda: _resend(s))
        s.step("stop", lambda: _stop(s))
    finally:
        proc.kill()
    return s


def _start(s: Session) -> None:
    t0 = time.time_ns()
    start = s.proc.wait_event("live_mm_start", timeout=30)
    s.run_prefix = f"mm{start['run_tag']}-"
    s.wait_quoting("start", timeout=30)
    s.marks["start"] = {"t": t0, "t_quoting": time.time_ns()}


def _fill_and_reject(s: Session) -> None:
    s.wait_quoting("before the fill")
    best_bid = max((o for o in s.ours() if o.side == "Buy"), key=lambda o: o.price)
    t = time.time_ns()
    s.fake.reject_next(REJECT_CODE, "fake: available balance insufficient", "/v5/order/create")
    exec_id = s.fake.fill(best_bid.link_id, best_bid.qty)
    s.marks["fill"] = {
        "t": t,
        "link": best_bid.link_id,
        "price": best_bid.price,
        "qty": best_bid.qty,
        "exec_id": exec_id,
        "fee": best_bid.price * best_bid.qty * s.fake.maker_fee,
    }
    s.proc.wait_event("fill", after_ns=t)
    s.proc.wait_for(
        "the rejected place",
        lambda: any(
            c.path == "/v5/order/create" and c.ret_code == REJECT_CODE
            for c in s.fake.rest_log
            if c.t_ns >= t
        ),
    )
    s.wait_quoting("after the reject")
    s.marks["fill"]["t_end"] = time.time_ns()


def _fault(s: Session, name: str, inject: Callable[[], None]) -> None:
    s.wait_quoting(f"before {name}")
    before = {o.link_id for o in s.ours()}
    t = time.time_ns()
    inject()
    s.marks[name] = {"t": t, "open_before": before}
    s.proc.wait_for(
        f"{name}: a fresh snapshot",
        lambda: any(w == "snapshot" and ts > t for ts, w, _ in list(s.fake.ws_log)),
    )
    s.wait_quoting(f"after {name}", fresh=before)
    s.marks[name]["t_end"] = time.time_ns()


def _crossed_and_rate_limited(s: Session) -> None:
    s.wait_quoting("before the crossed book")
    before = {o.link_id for o in s.ours()}
    with s.fake.lock:
        ask = s.fake.book.best_ask()
    assert ask is not None
    # a bid above every ask the replay will show (they span 8 ticks): crossed until the
    # replay loops back to its snapshot
    bid = ask + 20 * TICK
    t = time.time_ns()
    s.fake.rate_limit_next(1, reset_in_ms=RATE_LIMIT_RESET_MS, path=ORDER_CREATE)
    s.fake.market_delta(bids=[[format(bid, "f"), "1000"]], asks=[])
    s.marks["crossed"] = {"t": t, "open_before": before, "bid": bid}
    s.proc.wait_for(
        "crossed: the next snapshot",
        lambda: any(w == "loop_snapshot" and ts > t for ts, w, _ in list(s.fake.ws_log)),
    )
    s.proc.wait_for(
        "crossed: the 10006",
        lambda: any(c.ret_code == 10006 for c in s.fake.rest_log if c.t_ns >= t),
    )
    s.wait_quoting("after the crossed book and the 10006", fresh=before)
    s.marks["crossed"]["t_end"] = time.time_ns()


def _resend(s: Session) -> None:
    s.wait_quoting("before the u=1 re-send")
    t = time.time_ns()
    s.fake.full_resend()
    s.marks["resend"] = {"t": t}
    s.proc.wait_event("book_full_resend", after_ns=t)
    # a second's worth of deltas (u = 2, 3, ...) after the re-send
    s.proc.wait_for(
        "resend: 40 deltas after it",
        lambda: sum(1 for ts, w, _ in list(s.fake.ws_log) if w == "delta" and ts > t) >= 40,
    )
    s.wait_quoting("after the re-send")
    s.marks["resend"]["t_end"] = time.time_ns()


def _stop(s: Session) -> None:
    s.wait_quoting("before SIGTERM")
    s.marks["stop"] = {"open_before": {o.link_id for o in s.ours()}}
    code = s.proc.terminate(timeout=15)
    s.marks["stop"] |= {
        "t": s.proc.sigterm_ns,
        "exit_code": code,
        "seconds": s.proc.exit_seconds,
        "open_after": {o.link_id for o in s.ours()},
    }
