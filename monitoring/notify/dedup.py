"""The same text within a window is sent once; its repeats become one count line.

A flapping condition (the same risk transition, the same "down" line) would otherwise
fill the channel and spend the rate limit that a new, different alert needs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Seen:
    first: float
    repeats: int = 0


class Deduper:
    def __init__(self, window_s: float = 300.0) -> None:
        self.window_s = window_s
        self._seen: dict[str, _Seen] = {}
        self.suppressed = 0

    def admit(self, text: str, now: float) -> bool:
        """True for a text not sent within the window (it opens a window of its own)."""
        if self.window_s <= 0:
            return True
        seen = self._seen.get(text)
        if seen is not None and now - seen.first < self.window_s:
            seen.repeats += 1
            self.suppressed += 1
            return False
        self._seen[text] = _Seen(now)
        return True

    def tick(self, now: float) -> list[str]:
        """Close the windows that have passed: one line per text that repeated in one."""
        out = []
        for text in [t for t, s in self._seen.items() if now - s.first >= self.window_s]:
            seen = self._seen.pop(text)
            if seen.repeats:
                first_line = text.split("\n", 1)[0]
                out.append(f"(repeated {seen.repeats}x in {self.window_s:g} s) {first_line}")
        return out
