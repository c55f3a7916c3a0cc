"""One destination's delivery: a bounded queue and one daemon thread that posts.

Whatever the endpoint does (hangs, refuses, answers 429 or 500), the only cost to the
caller of ``submit`` is a ``put_nowait``: a full queue drops the text and counts it.
The thread packs waiting texts into as few messages as the API's length limit allows,
paces requests with a token bucket at the API's published rate, honours a 429's
``retry_after`` (nothing is sent to that destination until it has passed), retries a
5xx or a transport error with backoff, and gives up on a message after a few tries
(counted as failed). Error texts are redacted: an httpx error quotes the URL, and the
URL carries the webhook or the bot token.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable

import httpx

from core.log import event, get_logger
from monitoring.notify.destinations import Destination

log = get_logger(__name__)

MAX_ATTEMPTS = 5  # per message, 429s included: an endpoint that never takes it loses it
BACKOFF_S = (0.5, 1.0, 2.0, 4.0)
SEPARATOR = "\n"
_STOP = object()


def pack(texts: list[str], max_chars: int) -> list[str]:
    """Join texts into messages of at most ``max_chars`` (one too long is cut, marked)."""
    out: list[str] = []
    cur = ""
    for t in texts:
        if len(t) > max_chars:
            t = t[: max_chars - 1] + "…"
        if cur and len(cur) + len(SEPARATOR) + len(t) <= max_chars:
            cur += SEPARATOR + t
        else:
            if cur:
                out.append(cur)
            cur = t
    if cur:
        out.append(cur)
    return out


class Sender:
    def __init__(
        self,
        dest: Destination,
        queue_size: int = 1000,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dest = dest
        self.timeout_s = timeout_s
        self.clock = clock
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._counts = {"submitted": 0, "sent": 0, "requests": 0, "dropped": 0,
                        "failed": 0, "rate_limited": 0}  # fmt: skip
        self._tokens = float(dest.burst)
        self._refilled = clock()
        self._not_before = 0.0  # a 429's retry_after, as a clock time
        self._deadline: float | None = None  # set by close(): stop waiting past it
        self._closing = threading.Event()  # set by close(): pacing waits end
        self._abort = threading.Event()  # set when the close deadline passed: all waits end
        self._thread = threading.Thread(target=self._run, name=f"notify-{dest.name}", daemon=True)

    def __repr__(self) -> str:
        return f"Sender({self.dest.name})"

    def start(self) -> Sender:
        self._thread.start()
        return self

    def submit(self, text: str) -> bool:
        """Queue one text; never blocks. False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(text)
        except queue.Full:
            self._count("dropped")
            return False
        self._count("submitted")
        return True

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts, queued=self._queue.qsize())

    def close(self, wait_s: float = 0.5) -> None:
        """Deliver what is queued for up to ``wait_s``, then leave the rest (counted)."""
        self.begin_close(self.clock() + wait_s)
        self.end_close(wait_s)

    def begin_close(self, deadline: float) -> None:
        """Deliver what is queued until ``deadline`` (a clock time); returns at once."""
        self._deadline = deadline
        self._closing.set()
        with contextlib.suppress(queue.Full):  # full: the thread is busy and will see it
            self._queue.put_nowait(_STOP)

    def end_close(self, wait_s: float) -> None:
        self._thread.join(max(0.0, wait_s))
        self._abort.set()  # cut a backoff or a 429 wait short
        self._thread.join(0.05)
        left = sum(1 for item in list(self._queue.queue) if item is not _STOP)
        if left:
            self._count("dropped", left)

    # -- the delivery thread -----------------------------------------------------------
    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            while True:
                item = self._queue.get()
                texts: list[str] = []
                while True:
                    if item is not _STOP:
                        texts.append(str(item))
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                for msg in pack(texts, self.dest.max_chars):
                    if not self._deliver(client, msg):
                        self._count("failed")
                if self._deadline is not None and self._queue.empty():
                    return

    def _sleep(self, seconds: float, until_close: bool = True) -> bool:
        """Wait; False when closing and the wait would pass the close deadline, or the
        close gave up. ``until_close``: the close also ends the wait (a pacing wait: the
        last word is sent at once); otherwise only giving up does (a 429's wait)."""
        if self._abort.is_set():
            return False
        if seconds <= 0:
            return True
        if self._deadline is not None and self.clock() + seconds > self._deadline:
            return False
        (self._closing if until_close else self._abort).wait(seconds)
        return not self._abort.is_set()

    def _take_token(self) -> bool:
        d = self.dest
        while True:
            now = self.clock()
            if now < self._not_before:
                if not self._sleep(self._not_before - now, until_close=False):
                    return False
                continue
            if self._closing.is_set():
                return not self._abort.is_set()  # the last word does not wait for the bucket
            self._tokens = min(float(d.burst), self._tokens + (now - self._refilled) * d.rate_per_s)
            self._refilled = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            if not self._sleep((1.0 - self._tokens) / d.rate_per_s):
                return False

    def _deliver(self, client: httpx.Client, text: str) -> bool:
        url, body = self.dest.request(text)
        failures = 0
        for _attempt in range(MAX_ATTEMPTS):
            if not self._take_token():
                return False
            self._count("requests")
            try:
                resp = client.post(url, json=body)
            except httpx.HTTPError as exc:  # refused, timed out, reset: retry with backoff
                self._log_failure(None, f"{type(exc).__name__}: {exc}")
            else:
                if resp.is_success:
                    self._count("sent")
                    return True
                if resp.status_code == 429:
                    self._count("rate_limited")
                    wait = self.dest.retry_after_s(resp)
                    self._not_before = self.clock() + wait  # the wait is the pacing
                    event(log, logging.WARNING, "notify_rate_limited",
                          destination=self.dest.name, retry_after_s=wait)  # fmt: skip
                    continue
                self._log_failure(resp.status_code, resp.text[:200])
                if resp.status_code < 500:
                    return False  # the API refuses this message: retrying will not help
            if not self._sleep(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]):
                return False
            failures += 1
        return False

    def _log_failure(self, status: int | None, detail: str) -> None:
        event(log, logging.WARNING, "notify_failed", destination=self.dest.name,
              status=status, error=self.dest.redact(detail))  # fmt: skip
