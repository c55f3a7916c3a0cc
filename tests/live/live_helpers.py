"""Helpers for the end-to-end live-flow tests: run ``python -m bytewax.run flows.live_mm``
as a real subprocess against the fake Bybit, collect its JSON log lines, read its lake.

Times on both sides are ``time.time_ns()`` of this machine: the flow stamps log lines and
every event's ``recv_ts`` with it, the fake stamps its REST and websocket timelines with
it, so the three can be laid on one time axis.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

REPO = Path(__file__).resolve().parents[2]
TICK = Decimal("0.0001")
ORDER_CREATE = ("/v5/order/create", "/v5/order/create-batch")
ORDER_AMEND = ("/v5/order/amend", "/v5/order/amend-batch")
ORDER_CANCEL = ("/v5/order/cancel", "/v5/order/cancel-batch", "/v5/order/cancel-all")
ORDER_PATHS = ORDER_CREATE + ORDER_AMEND + ORDER_CANCEL


def live_env(fake_env: dict[str, str], lake: Path, **extra: str) -> dict[str, str]:
    """os.environ + the fake's endpoints and keys + the flow's settings for a test run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "BYBIT_"))}
    env |= fake_env
    env |= {
        "MM_MODE": "live",
        "MM_SYMBOLS": "XRPUSDT",
        "MM_LAKE": str(lake),
        "MM_LOG_FORMAT": "json",
        "MM_FLUSH_INTERVAL_S": "0.3",
        "MM_PROGRESS": "0",
        # reconnect at once after a drop (the defaults back off 0.5 s and up)
        "BYBIT_RECONNECT_INITIAL_S": "0.05",
        "BYBIT_RECONNECT_MAX_S": "0.3",
        "BYBIT_STABLE_AFTER_S": "0.5",
        "PYTHONUNBUFFERED": "1",
    }
    env |= extra
    return env


@dataclass
class LogLine:
    t_read_ns: int  # when this test process read the line
    raw: str
    rec: dict[str, Any] | None  # the parsed JSON object, None for a non-JSON line

    @property
    def name(self) -> str | None:
        return None if self.rec is None else self.rec.get("event")


@dataclass
class LiveProcess:
    """One ``python -m bytewax.run flows.live_mm`` subprocess; stderr parsed as it comes."""

    env: dict[str, str]
    proc: subprocess.Popen[str] | None = None
    lines: list[LogLine] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    exit_code: int | None = None
    sigterm_ns: int | None = None
    exit_seconds: float | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __repr__(self) -> str:
        return f"LiveProcess(exit={self.exit_code}, lines={len(self.lines)})"

    def start(self) -> LiveProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bytewax.run", "flows.live_mm"],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        for stream, sink in (
            (self.proc.stderr, self._on_stderr),
            (self.proc.stdout, self._on_stdout),
        ):
            t = threading.Thread(target=self._pump, args=(stream, sink), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    @staticmethod
    def _pump(stream: Any, sink: Callable[[str], None]) -> None:
        for raw in stream:
            sink(raw.rstrip("\n"))

    def _on_stderr(self, raw: str) -> None:
        rec: dict[str, Any] | None
        try:
            parsed = json.loads(raw)
            rec = parsed if isinstance(parsed, dict) else None
        except ValueError:
            rec = None
        with self._lock:
            self.lines.append(LogLine(time.time_ns(), raw, rec))

    def _on_stdout(self, raw: str) -> None:
        with self._lock:
            self.stdout.append(raw)

    # -- reading the log ----------------------------------------------------------------
    def events(self, name: str | None = None, **match: Any) -> list[dict[str, Any]]:
        with self._lock:
            recs = [ln.rec for ln in self.lines if ln.rec is not None]
        return [
            r
            for r in recs
            if (name is None or r.get("event") == name)
            and all(r.get(k) == v for k, v in match.items())
        ]

    def text(self) -> str:
        with self._lock:
            return "\n".join([ln.raw for ln in self.lines] + self.stdout)

    def tail(self, n: int = 25) -> str:
        """The last ``n`` lines that are not quote updates (for failure messages)."""
        with self._lock:
            lines = [ln.raw for ln in self.lines if ln.name != "quotes"]
        return "\n".join(lines[-n:])

    def wait_for(
        self, what: str, cond: Callable[[], Any], timeout: float = 30.0, step: float = 0.02
    ) -> Any:
        """Poll ``cond`` until truthy; fail with the log's tail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = cond()
            if value:
                return value
            if self.proc is not None and self.proc.poll() is not None:
                time.sleep(0.1)  # let the readers catch the last lines
                raise AssertionError(
                    f"{what}: the flow exited with {self.proc.returncode}\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout}s\n{self.tail()}")
            time.sleep(step)

    def wait_event(self, name: str, after_ns: int = 0, timeout: float = 30.0, **match: Any) -> dict:
        return self.wait_for(
            f"log event {name} {match or ''}",
            lambda: next((r for r in self.events(name, **match) if r["ts"] >= after_ns), None),
            timeout,
        )

    # -- stopping ------------------------------------------------------------------------
    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait for the exit; records the seconds from signal to exit."""
        assert self.proc is not None
        self.sigterm_ns = time.time_ns()
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.proc.wait(timeout)
        finally:
            self.exit_seconds = time.monotonic() - t0
        self.join()
        return self.exit_code

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.exit_code = self.proc.wait(timeout)
        self.join()
        return self.exit_code

    def join(self) -> None:
        for t in self._threads:
            t.join(5)

    def kill(self) -> None:
        """Last resort for a test that failed half-way (the process must not outlive it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.join()


@dataclass
class Run:
    """A finished run: its process (logs, exit), its fake venue and its lake."""

    proc: LiveProcess
    fake: Any  # fake_bybit.FakeBybit
    lake: Path


# -- the lake ---------------------------------------------------------------------------
def read_table(
    lake: Path, table: str, venue: str = "bybit", symbol: str = "XRPUSDT"
) -> pl.DataFrame:
    """All rows of one run table (empty frame if none were written), in write order."""
    files = sorted((lake / table).glob(f"venue={venue}/symbol={symbol}/date=*/*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f) for f in files], how="vertical").sort("seq")


def quote_sets(quotes: pl.DataFrame) -> list[tuple[int, int, list[tuple[int, int, int, int]]]]:
    """Quote sets as (recv_ts, seq, [(side, level, price, qty), ...]); [] = quoting nothing."""
    out = []
    for (seq,), g in quotes.group_by(["seq"], maintain_order=True):
        levels = [
            (int(r["side"]), int(r["level"]), int(r["price"]), int(r["qty"]))
            for r in g.iter_rows(named=True)
            if r["side"] != 0
        ]
        out.append((int(g["recv_ts"][0]), int(seq), sorted(levels)))
    return sorted(out, key=lambda x: x[1])


def ticks(price: str) -> int:
    """A wire price string -> integer ticks; fails unless exactly on the 0.0001 grid."""
    q = Decimal(price) / TICK
    if q != q.to_integral_value():
        raise AssertionError(f"price {price} is off the {TICK} grid")
    return int(q)


def order_items(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The order entries of a single or batch order request."""
    reqs = params.get("request")
    return list(reqs) if isinstance(reqs, list) else [params]


def decimal_grid(value: str) -> bool:
    """True when ``value`` is a plain decimal string on the 0.0001 price grid."""
    d = Decimal(value)
    return "e" not in value.lower() and d == d.quantize(TICK) and d > 0


def trade_through(fake: Any, done: threading.Event) -> None:
    """Until ``done``: every 10 ms a seller 50 ticks under the fake Bybit's best bid and a
    buyer 50 over its best ask: each fills whatever simulated order rests on its side."""
    while not done.wait(0.01):
        with fake.lock:
            bid, ask = fake.book.best_bid(), fake.book.best_ask()
        if bid is None or ask is None:
            continue
        fake.publish_trade(format(bid - 50 * TICK, "f"), "500", "Sell")
        fake.publish_trade(format(ask + 50 * TICK, "f"), "500", "Buy")
