"""Run the reference and the compiled trader over the same inputs; compare every output."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from core.events import LAST
from operators.trader import TraderOutput

WALL_FIELDS = ("wall_time_s", "events_per_s")


def canon(x: Any) -> Any:
    """A comparable form: NaN equals NaN, floats compared bit for bit (by repr)."""
    if isinstance(x, float):
        return "nan" if math.isnan(x) else repr(x)
    if isinstance(x, dict):
        return {k: canon(v) for k, v in x.items() if k not in WALL_FIELDS}
    if isinstance(x, (list, tuple)):
        return [canon(v) for v in x]
    if hasattr(x, "__slots__") and not isinstance(x, (str, bytes)):
        return [type(x).__name__, *(canon(getattr(x, s)) for s in x.__slots__)]
    return x


class Collected:
    """Everything a trader produced, concatenated over calls."""

    def __init__(self) -> None:
        self.quotes: list = []
        self.orders: list = []
        self.fills: list = []
        self.pnl: list = []
        self.logs: list = []
        self.actions: list = []
        self.summaries: list = []

    def add(self, out: TraderOutput) -> None:
        for name in ("quotes", "orders", "fills", "pnl", "logs", "actions"):
            getattr(self, name).extend(getattr(out, name))
        if out.summary is not None:
            self.summaries.append(out.summary)

    def assert_equal(self, other: Collected) -> None:
        for name in ("quotes", "orders", "fills", "pnl", "logs", "actions", "summaries"):
            a, b = canon(getattr(self, name)), canon(getattr(other, name))
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                assert x == y, f"{name}[{i}] differs:\n  reference {x}\n  compiled  {y}"
            assert len(a) == len(b), f"{name}: {len(a)} rows vs {len(b)}"


def batches(ev: np.ndarray, rows: int) -> Iterable[np.ndarray]:
    """Message-aligned batches of about ``rows`` rows (1 = one message per batch)."""
    ends = np.flatnonzero(ev["flags"] & LAST) + 1
    start = 0
    while start < len(ev):
        i = np.searchsorted(ends, start + rows)
        stop = int(ends[i]) if i < len(ends) else len(ev)
        yield ev[start:stop]
        start = stop


def head(ev: np.ndarray, rows: int) -> np.ndarray:
    """The first messages of ``ev``, about ``rows`` rows, never cutting a message."""
    ends = np.flatnonzero(ev["flags"] & LAST) + 1
    return ev[: int(ends[min(np.searchsorted(ends, rows), len(ends) - 1)])]


def run_both(
    ref: Any, fast: Any, ev: np.ndarray, rows: int = 5_000, fast_rows: int | None = None
) -> tuple[Collected, Collected]:
    a, b = Collected(), Collected()
    for batch in batches(ev, rows):
        a.add(ref.on_market(batch))
    for batch in batches(ev, fast_rows or rows):
        b.add(fast.on_market(batch))
    a.add(ref.finish())
    b.add(fast.finish())
    return a, b
