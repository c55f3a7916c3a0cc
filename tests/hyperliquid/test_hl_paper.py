"""Paper trading on Hyperliquid: ``flows.live_mm`` with MM_VENUE=hyperliquid against the
fake quotes into the lake from the public websocket and never calls ``/exchange``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from fake_hyperliquid import FakeHyperliquid

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "live"))  # the live-flow helpers

from live_helpers import LiveProcess, Run, live_env, read_table

pytestmark = pytest.mark.venue


@pytest.fixture(scope="module")
def hl_paper_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    lake = tmp_path_factory.mktemp("hl_paper_lake")
    with FakeHyperliquid(interval_s=0.02) as fake:
        env = live_env(fake.env(), lake, MM_MODE="paper", MM_VENUE="hyperliquid",
                       MM_SYMBOLS="BTCUSDC")  # fmt: skip
        env = {k: v for k, v in env.items() if not k.startswith("BYBIT_")}
        proc = LiveProcess(env).start()
        try:
            proc.wait_for("paper: quotes logged", lambda: len(proc.events("quotes")) >= 5, 60)
            n = len(fake.sent)
            proc.wait_for("paper: 40 more pushes", lambda: len(fake.sent) >= n + 40)
            proc.terminate(timeout=15)
        finally:
            proc.kill()
    yield Run(proc, fake, lake)


def test_paper_on_hyperliquid_quotes_into_the_lake_with_no_exchange_call(
    hl_paper_run: Run,
) -> None:
    proc, fake = hl_paper_run.proc, hl_paper_run.fake
    assert proc.exit_code == 0, proc.tail()
    [start] = proc.events("live_mm_start")
    assert (start["mode"], start["venue"], start["network"]) == ("paper", "hyperliquid", "testnet")
    assert start["rest"] == fake.base_url
    quotes = read_table(hl_paper_run.lake, "quotes", "hyperliquid", "BTC")
    assert quotes.filter(pl.col("side") != 0).height >= 2  # two sides at least
    orders = read_table(hl_paper_run.lake, "orders", "hyperliquid", "BTC")
    assert "place" in set(orders["event"])  # the simulated venue got them
    # zero /exchange calls: only public /info requests and the public websocket
    assert fake.exchange_calls == []
    assert {c.path for c in fake.http_log} == {"/info"}
    kinds = {c.body["type"] for c in fake.http_log}
    assert kinds <= {"meta", "l2Book"}, kinds
    subs = [d["subscription"]["type"] for _, w, d in fake.ws_log if w == "subscribe"]
    assert set(subs) == {"l2Book", "trades"}
