"""Helpers shared by the venue tests: polling, and reading the items a public source
emits (``(instrument, event array)``, one event kind per batch)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from core.events import Kind

Item = tuple[str, np.ndarray]
RESET, SNAP, DELTA, TRADE = (
    int(Kind.FEED_RESET),
    int(Kind.BOOK_SNAPSHOT),
    int(Kind.BOOK_DELTA),
    int(Kind.TRADE),
)


class Partition(Protocol):
    def next_batch(self) -> list[Any]: ...


def wait_for(cond: Callable[[], Any], timeout: float = 5.0, step: float = 0.01) -> Any:
    """Poll ``cond`` until truthy (returns its value) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s")


def kind(item: Item) -> int:
    return int(item[1]["kind"][0])


def count(items: list[Item], k: int) -> int:
    return sum(kind(i) == k for i in items)


def after(items: list[Item], start: int, *kinds: int) -> bool:
    """``kinds`` occur in this order (not necessarily adjacent) at or after ``start``."""
    it = iter(kind(i) for i in items[start:])
    return all(k in it for k in kinds)


def pump(
    part: Partition,
    items: list[Item],
    until: Callable[[list[Item]], bool],
    timeout: float = 5.0,
) -> list[Item]:
    """Drain ``part`` into ``items`` until ``until(items)``; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items.extend(part.next_batch())
        if until(items):
            return items
        time.sleep(0.005)
    raise AssertionError(f"not reached in {timeout}s; kinds seen: {[kind(i) for i in items][-20:]}")
