"""Progress output for long work: a bar on a TTY, a line every few seconds otherwise.

Kept dependency-free and cheap: callers report progress every few thousand items, and
the display throttles itself to a few updates per second.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO


class Progress:
    def __init__(
        self,
        label: str,
        total: float | None,
        unit: str = "",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        interval: float | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        # MM_PROGRESS=0 silences progress everywhere (scripts, CI logs).
        self.enabled = (True if enabled is None else enabled) and os.environ.get(
            "MM_PROGRESS"
        ) != "0"
        self._closed = False
        self.interval = interval if interval is not None else (0.2 if self.tty else 5.0)
        self.start = time.monotonic()
        self._last = 0.0
        self.done = 0.0
        self.extra = ""

    def update(self, done: float, extra: str = "") -> None:
        self.done = done
        self.extra = extra
        now = time.monotonic()
        if self.enabled and now - self._last >= self.interval:
            self._last = now
            self._draw(final=False)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.enabled and (self.tty or time.monotonic() - self.start >= self.interval):
            self._draw(final=True)

    def _draw(self, final: bool) -> None:
        elapsed = time.monotonic() - self.start
        if self.total:
            frac = min(1.0, self.done / self.total) if self.total else 0.0
            width = 28
            filled = int(frac * width)
            bar = "#" * filled + "-" * (width - filled)
            eta = (elapsed / frac - elapsed) if 0 < frac < 1 else 0.0
            text = f"{self.label} [{bar}] {frac * 100:5.1f}% {elapsed:5.1f}s eta {eta:4.0f}s"
        else:
            text = f"{self.label} {self.done:,.0f}{self.unit} {elapsed:5.1f}s"
        if self.extra:
            text += f" {self.extra}"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
