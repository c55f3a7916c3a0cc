"""The live order sink: trader actions -> the venue's gateway, on a worker thread.

Any gateway with BybitGateway's shape works (``execute``, ``position``, ``sleep``,
``limiter.wait_time`` / ``limiter.sleep`` over the groups below): Bybit's and
Hyperliquid's (connectors/hyperliquid/execution.py) do.

The dataflow never waits on the exchange: the sink hands action lists to a worker
thread that runs the gateway (batching, rate budget, retries and 10006 back-off all
live there, so no intent is lost while the flow keeps processing market data).
Immediate outcomes (REST rejects, cancel-all results) go back to the trader through
the feedback bus; acks and fills arrive on the private stream as usual. A cancel-all
sent to reconcile after a private-stream reset also fetches the venue's position.

Latest intent wins. Actions wait in a pending list until the rate budget lets them go,
and while they wait a newer action can make them moot: a cancel drops the same order's
queued amend, and its queued place together with itself (the order never existed; a
CANCELED update tells the trader), and a cancel-all drops everything queued before it
for the instrument. Budget waits happen here, not inside the gateway, so an action
decided from a book that has since been reset is dropped, not sent late; a cancel
never waits behind places and amends of other orders.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from connectors.bybit.execution import BybitGateway
from connectors.feedback import FeedbackBus
from core.events import OrderStatus, OrderUpdate
from core.log import event, get_logger
from core.orders import ActionType, OrderAction
from monitoring.metrics import current as current_metrics

log = get_logger(__name__)
# action type -> the gateway's rate group (single and batch endpoints share one)
GROUP = {
    ActionType.CANCEL_ALL: "cancel_all",
    ActionType.CANCEL: "cancel",
    ActionType.AMEND: "amend",
    ActionType.PLACE: "create",
}
MAX_IDLE_WAIT_S = 0.5  # re-check the budget at least this often while actions wait


class Halted(Exception):
    """The worker was halted while the gateway waited (shutdown): abandon the call."""


def coalesce(actions: list[OrderAction]) -> tuple[list[OrderAction], list[OrderAction]]:
    """Pending actions in submission order -> (still worth sending, places never sent).

    A cancel drops earlier amends of its order; if the order's place is still queued,
    place and cancel both go (the second list). A cancel-all drops everything queued
    before it for its instrument (the trader has already forgotten those orders).
    """
    out: list[OrderAction] = []
    unsent: list[OrderAction] = []
    for a in actions:
        if a.type == ActionType.CANCEL_ALL:
            out = [b for b in out if b.inst != a.inst]
        elif a.type == ActionType.CANCEL:
            same = [b for b in out if b.inst == a.inst and b.client_id == a.client_id]
            if any(b.type == ActionType.PLACE for b in same):
                unsent += [b for b in same if b.type == ActionType.PLACE]
                out = [b for b in out if not any(b is c for c in same)]
                continue
            out = [b for b in out if not any(b is c and b.type == ActionType.AMEND for c in same)]
        out.append(a)
    return out, unsent


class GatewayWorker:
    """Executes actions on one thread (the gateway is not thread-safe); see the module
    docstring for what happens to actions that wait."""

    def __init__(self, gateway: BybitGateway | Any, bus: FeedbackBus) -> None:
        self.gateway = gateway
        self.venue = str(getattr(gateway, "venue", "bybit"))
        self.bus = bus
        self._cv = threading.Condition()
        self._pending: list[OrderAction] = []
        self._submitted: dict[int, int] = {}  # id(action) -> time_ns handed over (metrics)
        self._halted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self.dropped = 0  # actions made moot while they waited
        self._thread = threading.Thread(target=self._run, name=f"{self.venue}-gateway", daemon=True)
        # the gateway's own waits (10006 back-off, retry pauses) end early on halt
        gateway.sleep = self._sleep
        gateway.limiter.sleep = self._sleep
        if (metrics := current_metrics()) is not None:
            for name, read in self.budgets().items():
                metrics.watch_rate_budget(self.venue, name, read)
        self._thread.start()

    def budgets(self) -> dict[str, Callable[[], float]]:
        """Each rate budget's share left now (0..1), as read-only callables: Hyperliquid's
        IP weight and address requests, or Bybit's groups."""
        limiter = self.gateway.limiter
        names = getattr(limiter, "BUDGETS", None)
        if names is not None:
            return {n: partial(limiter.share, n) for n in names}
        return {g: partial(limiter.headroom, g) for g in dict.fromkeys(GROUP.values())}

    def budget_line(self) -> str:
        """``name:share,...`` for the status line."""
        return ",".join(f"{n}:{read():.2f}" for n, read in self.budgets().items())

    def submit(self, actions: list[OrderAction]) -> None:
        if not actions or self._halted.is_set():
            return
        with self._cv:
            if current_metrics() is not None:
                now = time.time_ns()
                self._submitted.update((id(a), now) for a in actions)
            self._pending.extend(actions)
            self._idle.clear()
            self._cv.notify()

    def halt(self) -> None:
        """Stop sending (shutdown): queued actions are dropped, a waiting call is abandoned,
        a call already on the wire finishes."""
        self._halted.set()
        with self._cv:
            self._pending.clear()
            self._cv.notify()

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def _sleep(self, seconds: float) -> None:
        if threading.current_thread() is not self._thread:
            time.sleep(seconds)  # shutdown's cancel-all runs on another thread
        elif self._halted.wait(seconds):
            raise Halted

    def _take(self) -> tuple[list[OrderAction], list[OrderAction]] | None:
        """Wait for actions the budget allows now; None once halted."""
        limiter = self.gateway.limiter
        with self._cv:
            while True:
                if self._halted.is_set():
                    self._idle.set()
                    return None
                if not self._pending:
                    self._idle.set()
                    self._cv.wait()
                    continue
                pending, unsent = coalesce(self._pending)
                self.dropped += len(self._pending) - len(pending)
                ready: list[OrderAction] = []
                rest: list[OrderAction] = []
                wait = MAX_IDLE_WAIT_S
                for group in ("cancel_all", "cancel", "amend", "create"):
                    mine = [a for a in pending if GROUP[a.type] == group]
                    if not mine:
                        continue
                    w = limiter.wait_time(group, len(mine))
                    if w <= 0:
                        ready += mine
                    else:
                        rest += mine
                        wait = min(wait, w)
                waiting = {id(a) for a in rest}
                self._pending = [a for a in pending if id(a) in waiting]  # submission order
                if ready or unsent:
                    self._stamp_taken(ready, waiting)
                    return ready, unsent
                self._cv.wait(wait)  # a newer action may make these moot meanwhile

    def _stamp_taken(self, ready: list[OrderAction], waiting: set[int]) -> None:
        """Decision -> request: each action's wait from submit to being taken to send
        (the rate budget's pacing included); stamps of moot actions are dropped."""
        metrics = current_metrics()
        stamps, self._submitted = self._submitted, {}
        if metrics is None:
            return
        now = time.time_ns()
        hist = metrics.decision_to_request.labels(venue=self.venue)
        for a in ready:
            t = stamps.get(id(a))
            if t is not None:
                hist.observe(max(0.0, (now - t) / 1e9))
        self._submitted = {k: v for k, v in stamps.items() if k in waiting}

    def _run(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            ready, unsent = taken
            for a in unsent:
                self.bus.put(a.inst, _update(a, OrderStatus.CANCELED, "cancelled before sending"))
            if not ready:
                continue
            try:
                self._execute(ready)
            except Halted:
                self._idle.set()
                return
            except Exception as exc:  # a bug or transport failure must not kill the thread
                event(
                    log,
                    logging.ERROR,
                    "gateway_error",
                    venue=self.venue,
                    error=f"{type(exc).__name__}: {exc}",
                )
                for a in ready:
                    if a.type == ActionType.PLACE:
                        reason = f"gateway error: {type(exc).__name__}"
                        self.bus.put(a.inst, _update(a, OrderStatus.REJECTED, reason))

    def _execute(self, actions: list[OrderAction]) -> None:
        for u in self.gateway.execute(actions):
            self.bus.put(u.inst, u)
        for a in actions:
            if a.type == ActionType.CANCEL_ALL and a.reason.startswith("reconcile"):
                self.bus.put(a.inst, self.gateway.position(a.inst))


def _update(a: OrderAction, status: OrderStatus, reason: str) -> Any:
    now = time.time_ns()
    return OrderUpdate(
        a.inst, a.client_id, status, a.side, a.price, a.qty, 0, now, now, reason=reason
    )


WORKERS: dict[str, GatewayWorker] = {}


class _SinkPartition(StatelessSinkPartition[tuple[str, list[OrderAction]]]):
    def __init__(self, name: str) -> None:
        self.name = name

    def write_batch(self, items: list[tuple[str, list[OrderAction]]]) -> None:
        actions = [a for _, acts in items for a in acts]
        if actions:
            WORKERS[self.name].submit(actions)


class BybitOrderSink(DynamicSink[tuple[str, list[OrderAction]]]):
    """Items ``(instrument id, [OrderAction, ...])`` -> the named process-wide worker."""

    def __init__(self, name: str) -> None:
        if name not in WORKERS:
            raise RuntimeError(f"no gateway worker {name!r} in this process")
        self.name = name

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _SinkPartition:
        return _SinkPartition(self.name)
