"""Monitoring fixtures: a fake Discord + Telegram per test (one local HTTP server), and
one paper run of ``flows.live_mm`` against the fake Bybit with its metrics endpoint on,
scraped once trading has gone quiet (session-scoped)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bybit"))  # the fake Bybit
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "live"))  # live-flow helpers

from fake_bybit import FakeBybit
from fake_notify import FakeNotify
from live_helpers import LiveProcess, Run, live_env, trade_through
from metrics_helpers import SECRET_ENV, MetricsRun, Scrape, free_port, scrape


@pytest.fixture(scope="session")
def metrics_paper_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricsRun]:
    """Paper trading with public trades through the book until a few fills, then no more
    trades: once the fill count stands still, scrape, then SIGTERM (the final rows and the
    summary go to the lake)."""
    lake = tmp_path_factory.mktemp("metrics_lake")
    port = free_port()
    with FakeBybit() as fake:
        env = live_env(fake.env(), lake, MM_MODE="paper", MM_METRICS_PORT=str(port), **SECRET_ENV)
        del env["BYBIT_API_KEY"], env["BYBIT_API_SECRET"]
        proc = LiveProcess(env).start()
        done = threading.Event()
        trades = threading.Thread(target=trade_through, args=(fake, done), daemon=True)
        try:
            proc.wait_for("quotes logged", lambda: proc.events("quotes"), timeout=30)
            trades.start()
            proc.wait_for("fills logged", lambda: len(proc.events("fill")) >= 4)
            done.set()
            trades.join(5)
            last = proc.wait_for("fills counted", lambda: _settled(proc, port), step=0.3)
            proc.terminate(timeout=15)
        finally:
            done.set()
            proc.kill()
    yield MetricsRun(Run(proc, fake, lake), last, port)


def _settled(proc: LiveProcess, port: int) -> Scrape | None:
    """A scrape whose fill count equals the logged fills and the previous scrape's."""
    first = scrape(port)
    time.sleep(0.3)
    second = scrape(port)
    n = second.value("mm_fills_total")
    if n == first.value("mm_fills_total") == len(proc.events("fill")) > 0:
        return second
    return None


@pytest.fixture
def fake() -> Iterator[FakeNotify]:
    with FakeNotify() as f:
        yield f
