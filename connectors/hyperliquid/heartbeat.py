"""Dead man's switch: a ``scheduleCancel`` heartbeat on a thread of its own.

Every ``refresh_s`` the deadline moves to ``now + window_s`` (the venue wants >= 5 s
ahead). If this process hangs, dies or loses the network, the deadline passes and the
venue cancels every open order of the account. Hyperliquid lets the switch fire at most
10 times per UTC day; a firing is a heartbeat that lapsed (the deadline passed before
the next refresh got through), so each one is counted and logged, with a warning from
``warn_at`` on and an error at the cap (after which the switch no longer protects).
A graceful stop unsets the deadline, so a clean exit never spends a trigger.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.errors import ConfigError
from core.log import event, get_logger

log = get_logger(__name__)
MIN_WINDOW_S = 5.0  # the venue refuses a cancel time sooner than this
TRANSIT_S = 1.0  # the time is stamped here and checked there: leave the request time to arrive
DAILY_TRIGGERS = 10


class DeadMansSwitch:
    """``send(at_ms | None) -> bool`` is the gateway's ``schedule_cancel`` (or any signer)."""

    def __init__(
        self,
        send: Callable[[int | None], bool],
        window_s: float = 10.0,
        refresh_s: float = 3.0,
        clock: Callable[[], float] = time.time,
        warn_at: int = DAILY_TRIGGERS - 2,
    ) -> None:
        if window_s < MIN_WINDOW_S + TRANSIT_S:
            raise ConfigError(
                f"dead man's switch window {window_s}s is too short",
                "the venue wants >= 5 s ahead when the request arrives: use >= 6 s",
            )
        if not 0 < refresh_s <= window_s / 2:
            raise ConfigError(
                f"heartbeat every {refresh_s}s does not fit a {window_s}s window",
                "refresh at most every window / 2 seconds",
            )
        self.send = send
        self.window_s = window_s
        self.refresh_s = refresh_s
        self.clock = clock
        self.warn_at = warn_at
        self.deadline_ms: int | None = None
        self.triggers_today = 0
        self.beats = 0
        self.failures = 0
        self._day = self._utc_day()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _utc_day(self) -> int:
        return int(self.clock() // 86_400)

    def beat(self) -> bool:
        """One refresh; counts a lapse first if the last deadline has passed."""
        now_ms = int(self.clock() * 1000)
        day = self._utc_day()
        if day != self._day:
            self._day, self.triggers_today = day, 0
        if self.deadline_ms is not None and now_ms >= self.deadline_ms:
            self.triggers_today += 1
            level = logging.ERROR if self.triggers_today >= self.warn_at else logging.WARNING
            event(log, level, "dead_mans_switch_fired", venue="hyperliquid",
                  triggers_today=self.triggers_today, daily_cap=DAILY_TRIGGERS,
                  late_ms=now_ms - self.deadline_ms)  # fmt: skip
            self.deadline_ms = None
        at = now_ms + int(self.window_s * 1000)
        try:
            ok = self.send(at)
        except Exception as exc:  # a failed beat must not kill the thread: the next may pass
            event(log, logging.WARNING, "heartbeat_failed", venue="hyperliquid", error=str(exc))
            ok = False
        if ok:
            self.deadline_ms = at
            self.beats += 1
        else:
            self.failures += 1
        return ok

    @property
    def exhausted(self) -> bool:
        return self.triggers_today >= DAILY_TRIGGERS

    def start(self) -> None:
        self.beat()
        self._thread = threading.Thread(target=self._run, name="hl-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_s):
            self.beat()

    def stop(self, disarm: bool = True) -> None:
        """Stop beating; ``disarm`` unsets the deadline (a clean exit spends no trigger)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if disarm and self.deadline_ms is not None:
            try:
                if self.send(None):
                    self.deadline_ms = None
            except Exception as exc:
                event(log, logging.WARNING, "heartbeat_disarm_failed", venue="hyperliquid",
                      error=str(exc))  # fmt: skip
