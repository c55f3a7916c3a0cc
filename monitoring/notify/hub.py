"""The notifier in a process: a logging handler, one dispatcher thread, the senders.

``NotifyHandler`` sits on the root logger and sees every ``core.log.event`` record (the
event name and fields ride on the record, see ``core.log.event``). For an event the
router does not want it returns at once; for one it does, it hands ``(name, fields,
time)`` to a bounded queue with ``put_nowait``: a full queue drops and counts, so a
burst of log lines costs the trading thread a few microseconds each and never a wait.
The dispatcher thread runs the router, the de-duplicator and the timers (once a second)
and passes each text to every destination's ``Sender``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from core.log import event, get_logger, redact
from monitoring.notify.dedup import Deduper
from monitoring.notify.router import ROUTED_EVENTS, Router
from monitoring.notify.sender import Sender

log = get_logger(__name__)

TICK_S = 1.0
_STOP = ("", {}, 0.0)
# heartbeat name -> last beat (epoch seconds); written by any thread, read on the tick
BEATS: dict[str, float] = {}


class NotifyHandler(logging.Handler):
    def __init__(
        self,
        router: Router,
        senders: list[Sender],
        dedup: Deduper | None = None,
        queue_size: int = 10_000,
        close_wait_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        tick_s: float = TICK_S,
    ) -> None:
        super().__init__(logging.NOTSET)
        self.router = router
        self.senders = senders
        self.dedup = dedup or Deduper()
        self.close_wait_s = close_wait_s
        self.clock = clock
        self.tick_s = tick_s
        self.intake_dropped = 0
        self._intake: queue.Queue[tuple[str, Any, float]] = queue.Queue(maxsize=queue_size)
        self._beats_seen: dict[str, float] = {}
        self._closed = False
        self._stop_now = False  # close() found the intake full: stop without the sentinel
        self._thread = threading.Thread(target=self._run, name="notify-dispatch", daemon=True)

    def __repr__(self) -> str:
        return f"NotifyHandler({', '.join(s.dest.name for s in self.senders)})"

    def start(self) -> NotifyHandler:
        for s in self.senders:
            s.start()
        self._thread.start()
        return self

    # -- the caller's side: never blocks -------------------------------------------------
    def emit(self, record: logging.LogRecord) -> None:
        name = getattr(record, "mm_event", None)
        if name not in ROUTED_EVENTS:
            return
        try:
            self._intake.put_nowait((name, getattr(record, "mm_fields", {}), self.clock()))
        except queue.Full:
            self.intake_dropped += 1

    def handle(self, record: logging.LogRecord) -> bool:
        # no handler lock: emit is a put_nowait, and a lock would serialise the callers
        self.emit(record)
        return True

    def stats(self) -> dict[str, Any]:
        """Counters for metrics and tests: nothing here names a URL or a token."""
        out: dict[str, Any] = {
            "intake_dropped": self.intake_dropped,
            "deduplicated": self.dedup.suppressed,
        }
        dropped = self.intake_dropped
        for s in self.senders:
            st = s.stats()
            out[s.dest.name] = st
            dropped += st["dropped"]
        out["dropped"] = dropped
        return out

    def close(self) -> None:
        """Shutdown: the router's last word, then what is left of ``close_wait_s`` (one
        budget for everything) to deliver it; events still waiting are dropped."""
        if self._closed:
            return
        self._closed = True
        t0 = time.monotonic()

        def left() -> float:
            return self.close_wait_s - (time.monotonic() - t0)

        try:  # after every event already queued (the trader's last fills)
            self._intake.put_nowait(_STOP)
        except queue.Full:
            self._stop_now = True
        self._thread.join(max(0.0, left()))
        for s in self.senders:
            s.begin_close(s.clock() + max(0.0, left()))
        for s in self.senders:
            s.end_close(left())
        super().close()

    # -- the dispatcher thread -----------------------------------------------------------
    def _send(self, texts: list[str], now: float) -> None:
        for text in texts:
            text = redact(text)  # a reason quoting a secret must not leave the process
            if not self.dedup.admit(text, now):
                continue
            for s in self.senders:
                s.submit(text)

    def _run(self) -> None:
        next_tick = self.clock() + self.tick_s
        while True:
            try:
                name, fields, ts = self._intake.get(timeout=max(0.0, next_tick - self.clock()))
            except queue.Empty:
                name = None
            try:
                if name == "" or self._stop_now:
                    self.intake_dropped += self._intake.qsize()
                    break
                if name is not None:
                    self._send(self.router.on_event(name, fields, ts), ts)
                now = self.clock()
                if now >= next_tick:
                    next_tick = now + self.tick_s
                    self._tick(now)
            except Exception as exc:  # a bad event must not end notifications
                self._router_error(name, exc)
        try:
            self._send(self.router.close(self.clock()), self.clock())
        except Exception as exc:
            self._router_error("close", exc)

    @staticmethod
    def _router_error(name: str | None, exc: Exception) -> None:
        event(log, logging.ERROR, "notify_router_error", event_name=name,
              error=f"{type(exc).__name__}: {exc}"[:200])  # fmt: skip

    def _tick(self, now: float) -> None:
        texts: list[str] = []
        for beat, t in list(BEATS.items()):
            if self._beats_seen.get(beat) != t:
                self._beats_seen[beat] = t
                texts += self.router.heartbeat(beat, t)
        texts += self.router.tick(now)
        self._send(texts, now)
        for note in self.dedup.tick(now):
            for s in self.senders:
                s.submit(note)
