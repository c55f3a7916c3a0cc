"""Live-flow fixtures: real ``flows.live_mm`` processes against the fake Bybit.

Each run is session-scoped (a process start costs seconds), so every test module here
asserts on the same recorded outputs: the log lines, the lake and the fake's state.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bybit"))  # the fake Bybit
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitoring"))  # fake notify

from fake_bybit import FakeBybit
from fake_notify import FakeNotify
from live_helpers import LiveProcess, Run, live_env, trade_through
from live_scenarios import Session, run_session
from liveness_scenarios import run_liveness_session


@pytest.fixture(scope="session")
def live_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    lake = tmp_path_factory.mktemp("live_lake")
    with FakeBybit() as fake:
        session = run_session(fake, lake)
    yield session


@pytest.fixture(scope="session")
def liveness_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """A venue that sends snapshots only on subscribe, and faults only a resync fixes."""
    lake = tmp_path_factory.mktemp("liveness_lake")
    with FakeBybit(snapshots=False) as fake:
        session = run_liveness_session(fake, lake)
    yield session


@pytest.fixture(scope="session")
def paper_notifier() -> Iterator[FakeNotify]:
    """The paper run's notifier endpoints: Telegram answers, Discord hangs every request."""
    with FakeNotify(api_modes={"discord": "hang"}) as notifier:
        yield notifier


@pytest.fixture(scope="session")
def paper_run(
    tmp_path_factory: pytest.TempPathFactory, paper_notifier: FakeNotify
) -> Iterator[Run]:
    """Paper mode with no keys in the environment: quotes into the lake, nothing sent.
    Public trades through both sides of the book fill the simulated orders all along,
    until the process has exited (so a simulated order left resting at the shutdown
    would fill after it). Notifications on, one endpoint hanging: nothing else changes."""
    lake = tmp_path_factory.mktemp("paper_lake")
    with FakeBybit() as fake:
        env = live_env(fake.env(), lake, MM_MODE="paper", **paper_notifier.env(),
                       MM_NOTIFY_FILL_BATCH_S="0.5")  # fmt: skip
        del env["BYBIT_API_KEY"], env["BYBIT_API_SECRET"]
        proc = LiveProcess(env).start()
        done = threading.Event()
        trades = threading.Thread(target=trade_through, args=(fake, done), daemon=True)
        try:
            proc.wait_for("paper: quotes logged", lambda: proc.events("quotes"), timeout=30)
            trades.start()
            proc.wait_for("paper: fills logged", lambda: len(proc.events("fill")) >= 4)
            # a few flushes' worth of quoting, paced by the venue's own deltas
            n = len(fake.ws_log)
            proc.wait_for("paper: 60 more deltas", lambda: len(fake.ws_log) >= n + 60)
            proc.terminate(timeout=15)
        finally:
            done.set()
            proc.kill()
            if trades.is_alive():
                trades.join(5)
    yield Run(proc, fake, lake)


@pytest.fixture(scope="session")
def nokeys_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Live mode with no keys: must refuse to start, in one line."""
    lake = tmp_path_factory.mktemp("nokeys_lake")
    with FakeBybit() as fake:
        env = live_env(fake.env(), lake, MM_MODE="live")
        del env["BYBIT_API_KEY"], env["BYBIT_API_SECRET"]
        proc = LiveProcess(env).start()
        try:
            proc.wait_exit(timeout=60)
        finally:
            proc.kill()
    yield Run(proc, fake, lake)
