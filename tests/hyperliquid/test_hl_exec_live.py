"""Live trading on Hyperliquid end to end: ``python -m bytewax.run flows.live_mm`` with
MM_VENUE=hyperliquid MM_MODE=live against the fake server + fake exchange.

One run (module scope) quotes, gets filled by trades pushed through its quotes, loses
its websockets once, and is stopped with SIGTERM; the tests read its log, its lake and
the fake's own record.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fake_exchange import FakeExchange
from fake_hyperliquid import FakeHyperliquid
from hl_exec_helpers import ACCOUNT, AGENT, AGENT_KEY, COINS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "live"))  # the live-flow helpers
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitoring"))  # scrapes

from live_helpers import LiveProcess, Run, live_env, read_table
from metrics_helpers import Scrape, free_port, scrape

from connectors.hyperliquid.signing import ClientIds

pytestmark = [pytest.mark.venue, pytest.mark.slow]
SCRAPES: list[Scrape] = []  # the run's metrics endpoint, read once the fills are in
LOT = Decimal("0.00001")  # BTC: szDecimals 5


def _trade_through(ex: FakeExchange, done: threading.Event) -> None:
    """Every 20 ms a seller 20 under the best bid and a buyer 20 over the best ask: each
    fills whatever of ours rests in between, a little at a time."""
    while not done.wait(0.02):
        with ex.lock:
            b = ex.books["BTC"]
            bid, ask = b.bid, b.ask
        if bid is None or ask is None:
            continue
        trades = [
            {"coin": "BTC", "side": "A", "px": str(bid - 20), "sz": "0.0003", "time": 0, "tid": 0},
            {"coin": "BTC", "side": "B", "px": str(ask + 20), "sz": "0.0003", "time": 0, "tid": 0},
        ]
        ex.on_market("BTC", None, trades, 0)


@pytest.fixture(scope="module")
def hl_live_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    lake = tmp_path_factory.mktemp("hl_live_lake")
    ex = FakeExchange(ACCOUNT, AGENT, COINS)
    done = threading.Event()
    port = free_port()
    with FakeHyperliquid(ex, interval_s=0.02) as fake:
        env = live_env(fake.env(), lake, MM_MODE="live", MM_VENUE="hyperliquid",
                       MM_METRICS_PORT=str(port),
                       MM_SYMBOLS="BTC", HYPERLIQUID_SECRET_KEY=AGENT_KEY,
                       HYPERLIQUID_ACCOUNT_ADDRESS=ACCOUNT,
                       HYPERLIQUID_RECONNECT_INITIAL_S="0.05",
                       HYPERLIQUID_RECONNECT_MAX_S="0.3", HYPERLIQUID_STABLE_AFTER_S="0.5")  # fmt: skip
        env = {k: v for k, v in env.items() if not k.startswith("BYBIT_")}
        proc = LiveProcess(env).start()
        trades = threading.Thread(target=_trade_through, args=(ex, done), daemon=True)
        try:
            proc.wait_for("resting orders", lambda: len(ex.orders) >= 2, 60)
            trades.start()
            proc.wait_for("fills", lambda: len(ex.fills) >= 4)
            done.set()
            trades.join(5)
            proc.wait_for("fills counted", lambda: _counted(port, len(ex.fills)), step=0.2)
            n = len(proc.events("private_reset"))
            fake.drop_connections()
            proc.wait_for("private reset", lambda: len(proc.events("private_reset")) > n)
            proc.wait_for("quoting again", lambda: len(ex.orders) >= 1)
            proc.terminate(timeout=15)
        finally:
            done.set()
            proc.kill()
    yield Run(proc, (fake, ex), lake)


def _counted(port: int, fills: int) -> bool:
    """A scrape whose fill count has reached the venue's (kept for the metrics test)."""
    s = scrape(port)
    if s.value("mm_fills_total", venue="hyperliquid") < fills:
        return False
    SCRAPES.append(s)
    return True


def test_metrics_and_status_line_show_the_venues_latency_fills_and_budgets(
    hl_live_run: Run,
) -> None:
    proc, (_, ex) = hl_live_run.proc, hl_live_run.fake
    s = SCRAPES[-1]
    fills = [f for f in ex.fills if f["time"] * 1_000_000 <= s.t0_ns] or ex.fills
    assert s.value("mm_fills_total", venue="hyperliquid", symbol="BTC") >= len(fills) >= 4
    assert s.value("mm_order_ack_seconds_count", venue="hyperliquid", action="create") >= 1
    assert s.value("mm_decision_to_request_seconds_count", venue="hyperliquid") >= 1
    for group in ("ip_weight", "address_requests"):
        share = s.value("mm_rate_budget_headroom", venue="hyperliquid", group=group)
        assert 0.0 < share <= 1.0, group
    statuses = [r for r in proc.events("status") if "rate_budget" in r]
    assert statuses and statuses[-1]["rate_budget"].startswith("ip_weight:")


def test_quotes_are_alo_on_the_grid_with_this_runs_cloids(hl_live_run: Run) -> None:
    proc, (_, ex) = hl_live_run.proc, hl_live_run.fake
    [start] = proc.events("live_mm_start")
    assert (start["mode"], start["venue"]) == ("live", "hyperliquid")
    ids = ClientIds("mm", start["run_tag"])
    wires = [o for a in ex.actions if a["type"] == "order" for o in a["orders"]]
    wires += [m["order"] for a in ex.actions if a["type"] == "batchModify" for m in a["modifies"]]
    assert len(wires) >= 2 and not ex.refused
    for w in wires:
        px = Decimal(w["p"])
        # BTC, szDecimals 5: <= 5 significant figures (integers here) and whole lots
        assert px == px.to_integral_value() and len(w["p"]) <= 6, w
        assert Decimal(w["s"]) % LOT == 0 and Decimal(w["s"]) * px >= 10
        assert w["t"] == {"limit": {"tif": "Alo"}} and ids.client_id(w["c"]), w


def test_fills_change_position_and_pnl_as_the_venue_booked_them(hl_live_run: Run) -> None:
    (_, ex), lake = hl_live_run.fake, hl_live_run.lake
    fills = read_table(lake, "fills", "hyperliquid", "BTC")
    assert fills.height == len(ex.fills) >= 4
    lake_fills = sorted(
        (int(r["price"]), int(r["qty"]), int(r["side"])) for r in fills.iter_rows(named=True)
    )
    venue_fills = sorted((int(Decimal(f["px"]) / Decimal("0.1")), int(Decimal(f["sz"]) / LOT),
                          1 if f["side"] == "B" else -1) for f in ex.fills)  # fmt: skip
    assert lake_fills == venue_fills
    # fees exact, per fill, in fee units (1e-8 of tick x lot = 1e-14 USDC)
    by_tid = {str(f["tid"]): f for f in ex.fills}
    for r in fills.iter_rows(named=True):
        fee = Decimal(by_tid[r["exec_id"]]["fee"])
        assert r["fee_units"] == int(fee / Decimal("1e-14")) and fee % Decimal("1e-14") == 0
    led = ex.ledgers["BTC"]
    last = read_table(lake, "pnl", "hyperliquid", "BTC").row(-1, named=True)
    assert int(last["position"]) == int(led.szi / LOT)
    # PnL: the venue's cash flows valued at the trader's last mid, less the venue's fees
    cash = -sum(
        (1 if f["side"] == "B" else -1) * Decimal(f["px"]) * Decimal(f["sz"]) for f in ex.fills
    )
    assert last["cash"] == pytest.approx(float(cash), rel=1e-12, abs=1e-9)
    assert last["fees"] == pytest.approx(float(led.fees), rel=1e-12, abs=1e-12)
    venue_total = cash + led.szi * Decimal(repr(last["mid"])) - led.fees
    assert last["total"] == pytest.approx(float(venue_total), rel=1e-9, abs=1e-6)


def test_private_stream_resubscribes_after_a_drop(hl_live_run: Run) -> None:
    proc, (fake, _) = hl_live_run.proc, hl_live_run.fake
    for kind in ("orderUpdates", "userFills", "userEvents"):
        assert fake.count("subscribe", subscription={"type": kind, "user": ACCOUNT}) >= 2, kind
    assert proc.events("private_reset")


def test_sigterm_cancels_everything_within_5s_and_disarms_the_switch(hl_live_run: Run) -> None:
    proc, (_, ex) = hl_live_run.proc, hl_live_run.fake
    assert proc.exit_code == 0, proc.tail()
    assert proc.exit_seconds is not None and proc.exit_seconds < 5.0
    assert not ex.orders and ex.schedule_at is None and ex.triggers == 0
    [done] = proc.events("shutdown_complete")
    assert done["cancelled_all"] is True
    assert any(a["type"] == "scheduleCancel" and "time" in a for a in ex.actions)


def test_no_key_or_signature_in_any_output(hl_live_run: Run) -> None:
    proc, (fake, _) = hl_live_run.proc, hl_live_run.fake
    text = proc.text().lower()
    assert AGENT_KEY[2:].lower() not in text
    sigs = [c["signature"] for c in fake.exchange_calls]
    assert len(sigs) >= 3
    for s in sigs:
        assert s["r"][2:].lower() not in text and s["s"][2:].lower() not in text


def test_a_killed_process_leaves_its_orders_to_the_dead_mans_switch(
    tmp_path: Path,
) -> None:
    """SIGKILL: no cancel-all can run, the heartbeats stop, and the venue cancels every
    resting order once the last scheduled time passes (one trigger spent)."""
    ex = FakeExchange(ACCOUNT, AGENT, COINS)
    with FakeHyperliquid(ex, interval_s=0.02) as fake:
        env = live_env(fake.env(), tmp_path, MM_MODE="live", MM_VENUE="hyperliquid",
                       MM_SYMBOLS="BTC", HYPERLIQUID_SECRET_KEY=AGENT_KEY,
                       HYPERLIQUID_ACCOUNT_ADDRESS=ACCOUNT,
                       HYPERLIQUID_DEAD_MANS_SWITCH_S="6", HYPERLIQUID_HEARTBEAT_S="1")  # fmt: skip
        env = {k: v for k, v in env.items() if not k.startswith("BYBIT_")}
        proc = LiveProcess(env).start()
        try:
            proc.wait_for("resting orders", lambda: len(ex.orders) >= 2, 60)
            proc.wait_for("a heartbeat", lambda: ex.schedule_at is not None)
            proc.proc.kill()  # SIGKILL: the process gets no chance to cancel
            proc.proc.wait(10)
            with ex.lock:
                resting, deadline = set(ex.orders), ex.schedule_at
            assert resting and deadline is not None and ex.triggers == 0
            deadline = time.monotonic() + 15  # the process is gone: poll the venue alone
            while ex.orders and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not ex.orders, "the venue did not cancel"
            assert ex.triggers == 1 and ex.clock_ms() >= deadline
            assert {ex.done[oid][1] for oid in resting} == {"scheduledCancel"}
        finally:
            proc.kill()


def test_live_without_keys_is_one_line_suggesting_paper(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.config import load_settings
    from core.errors import ConfigError
    from flows.live_mm import build_live_flow

    for k, v in {"MM_VENUE": "hyperliquid", "MM_MODE": "live", "MM_SYMBOLS": "BTC",
                 "HYPERLIQUID_API_URL": "http://127.0.0.1:9"}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as err:
        build_live_flow(load_settings())
    text = str(err.value)
    assert "HYPERLIQUID_SECRET_KEY" in text and "MM_MODE=paper" in text and "\n" not in text
