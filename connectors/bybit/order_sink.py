"""The live order sink: trader actions -> Bybit REST, on a worker thread.

The dataflow never waits on the exchange: the sink hands action lists to a worker
thread that runs the gateway (batching, rate budget, retries and 10006 back-off all
live there, so no intent is lost while the flow keeps processing market data).
Immediate outcomes (REST rejects, cancel-all results) go back to the trader through
the feedback bus; acks and fills arrive on the private stream as usual. A cancel-all
sent to reconcile after a private-stream reset also fetches the venue's position.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from connectors.bybit.execution import BybitGateway
from connectors.feedback import FeedbackBus
from core.log import event, get_logger
from core.orders import ActionType, OrderAction

log = get_logger(__name__)
_STOP = object()


class GatewayWorker:
    """Executes action lists in order on one thread (the gateway is not thread-safe)."""

    def __init__(self, gateway: BybitGateway, bus: FeedbackBus) -> None:
        self.gateway = gateway
        self.bus = bus
        self._q: queue.Queue[Any] = queue.Queue()
        self._halted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="bybit-gateway", daemon=True)
        self._thread.start()

    def submit(self, actions: list[OrderAction]) -> None:
        if actions and not self._halted.is_set():
            self._idle.clear()
            self._q.put(actions)

    def halt(self) -> None:
        """Stop sending (shutdown): queued actions are dropped, the running call finishes."""
        self._halted.set()
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
        self._q.put(_STOP)

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _STOP:
                self._idle.set()
                return
            if self._halted.is_set():
                continue
            try:
                self._execute(item)
            except Exception as exc:  # a bug or transport failure must not kill the thread
                event(
                    log,
                    logging.ERROR,
                    "gateway_error",
                    venue="bybit",
                    error=f"{type(exc).__name__}: {exc}",
                )
                for a in item:
                    if a.type == ActionType.PLACE:
                        self.bus.put(a.inst, _rejected(a, f"gateway error: {type(exc).__name__}"))
            finally:
                if self._q.empty():
                    self._idle.set()

    def _execute(self, actions: list[OrderAction]) -> None:
        for u in self.gateway.execute(actions):
            self.bus.put(u.inst, u)
        for a in actions:
            if a.type == ActionType.CANCEL_ALL and a.reason.startswith("reconcile"):
                self.bus.put(a.inst, self.gateway.position(a.inst))


def _rejected(a: OrderAction, reason: str) -> Any:
    import time

    from core.events import OrderStatus, OrderUpdate

    now = time.time_ns()
    return OrderUpdate(
        a.inst,
        a.client_id,
        OrderStatus.REJECTED,
        a.side,
        a.price,
        a.qty,
        0,
        now,
        now,
        reason=reason,
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
