"""The registry, the endpoint, label safety and the trader observer, without a flow."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import generate_latest

from connectors.bybit.ratelimit import RateLimiter
from core.errors import ConfigError
from core.events import EVENT_DTYPE
from core.params import StrategyParams
from monitoring import metrics as mm
from monitoring.trader_metrics import TraderMetrics, reject_class
from operators.trader import TraderOutput

REPO = Path(__file__).resolve().parents[2]


class _Trader:  # what TraderMetrics reads of a trader: its parameters and clock offset
    params = StrategyParams()
    clock_offset_ns = 1_000_000


def test_metrics_port_from_env_bad_value_is_one_line() -> None:
    assert mm.metrics_port_from_env({}) == 0
    assert mm.metrics_port_from_env({"MM_METRICS_PORT": "0"}) == 0
    assert mm.metrics_port_from_env({"MM_METRICS_PORT": " 9101 "}) == 9101
    with pytest.raises(
        ConfigError,
        match=r"^MM_METRICS_PORT='http://x' is not a port \(use 1-65535, or 0 for off\)$",
    ):
        mm.metrics_port_from_env({"MM_METRICS_PORT": "http://x"})


def test_a_taken_port_is_a_one_line_error_and_a_free_one_serves() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"metrics port 127.0.0.1:{port} is not available"):
            mm.start_metrics_server(port)
    assert mm.current() is None  # nothing installed by the failed start
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        m = mm.start_metrics_server(port)
        m.fills.labels(venue="bybit", symbol="XRPUSDT", liquidity="maker").inc()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            body = r.read().decode()
        assert 'mm_fills_total{liquidity="maker",symbol="XRPUSDT",venue="bybit"} 1.0' in body
        assert "python_gc" not in body  # its own registry, not the process-global default
    finally:
        mm.install(None)


def test_no_url_or_token_can_become_a_label() -> None:
    assert mm.safe_label("XRPUSDT") == "XRPUSDT"
    assert mm.safe_label("binance-usdm") == "binance-usdm"
    for bad in ("https://discord.com/api/webhooks/1/abc", "123456:ABC-token", "", "a b", "x" * 41):
        assert mm.safe_label(bad) == "invalid"
    m = mm.MMMetrics()
    m.watch_ws("bybit", "public", "https://hook/secret", type("W", (), {"connects": 3})())
    out = TraderOutput(orders=[(1, 1, "c1", "rejected", 1, 5, 1, 0, 0,
                                "reject: bad key 123456:SECRET (bybit 10003 https://x/y)")])  # fmt: skip
    TraderMetrics(m, "bybit:XRPUSDT", _Trader()).observe(None, out)
    text = generate_latest(m.registry).decode()
    assert "secret" not in text.lower() and "https" not in text
    assert 'mm_ws_reconnects_total{stream="public",symbol="invalid",venue="bybit"} 2.0' in text
    assert 'mm_order_rejects_total{reason="other",symbol="XRPUSDT",venue="bybit"} 1.0' in text


def test_reject_reasons_fall_into_a_fixed_vocabulary() -> None:
    assert reject_class("post-only order would cross", False) == "post_only"
    assert (
        reject_class("backoff: rate limited (bybit 10006 Too many visits)", False) == "rate_limit"
    )
    assert reject_class("halt: gateway halted (bybit 10003)", False) == "halt"
    assert reject_class("order not found", False) == "not_found"
    assert reject_class("max open orders", True) == "pretrade"


def test_trader_output_moves_the_counters_and_gauges() -> None:
    m = mm.MMMetrics()
    obs = TraderMetrics(m, "bybit:XRPUSDT", _Trader())
    batch = np.zeros(2, dtype=EVENT_DTYPE)
    batch["recv_ts"] = [1_000_000_000, 1_050_000_000]
    batch["exch_ts"] = [990_000_000, 1_020_000_000]
    fill = {"event": "fill", "side": "buy", "price": "0.5123", "qty": "36", "maker": True}
    pnl = (1, 1, 36, 36.0, 0.51, -18.4, 0.25, -0.5, -0.01, -0.24, 18.4, 0.3, 1)
    out = TraderOutput(
        orders=[(1_040_000_000, 1, "c1", "place", 1, 5123, 36, 0, 0, ""),
                (1_050_000_000, 2, "c2", "cancel", 1, 5120, 36, 0, 1, "")],
        logs=[fill, fill], pnl=[pnl],
    )  # fmt: skip
    obs.observe(batch, out, now_ns=1_051_000_000)
    lb = {"venue": "bybit", "symbol": "XRPUSDT"}
    r = m.registry

    def v(name: str, **extra: str) -> float | None:
        return r.get_sample_value(name, {**lb, **extra})

    assert v("mm_order_actions_total", action="place") == 1
    assert v("mm_order_actions_total", action="cancel") == 1
    assert v("mm_fills_total", liquidity="maker") == 2
    assert v("mm_filled_volume_total", liquidity="maker") == 72.0
    assert v("mm_filled_notional_total", liquidity="maker") == pytest.approx(2 * 0.5123 * 36)
    assert (v("mm_position"), v("mm_realized_pnl"), v("mm_fees"), v("mm_risk_state")) == (
        36.0, 0.25, -0.01, 1.0)  # fmt: skip
    # lag of the batch's last message: 30 ms minus the 1 ms clock offset
    assert v("mm_message_lag_seconds_sum") == pytest.approx(0.029)
    # two decisions, made on messages received 11 ms and 1 ms before now
    assert v("mm_tick_to_decision_seconds_count") == 2
    assert v("mm_tick_to_decision_seconds_sum") == pytest.approx(0.012)


def test_rate_headroom_reads_without_spending() -> None:
    now = [100.0]
    lim = RateLimiter({"create": 10}, clock=lambda: now[0], sleep=lambda s: None)
    assert lim.headroom("create") == 1.0
    lim.acquire("create", 5)
    assert lim.headroom("create") == 0.5
    now[0] += 0.2  # 10 tokens/s: 2 back
    assert lim.headroom("create") == pytest.approx(0.7)
    lim.on_rate_limited("create", int((now[0] + 1) * 1000))
    assert lim.headroom("create") == 0.0


def test_live_flow_with_a_taken_metrics_port_stops_in_one_line() -> None:
    """Before the kernels load or the venue is asked: the error comes at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "BYBIT_"))}
        env |= {"MM_MODE": "paper", "MM_SYMBOLS": "XRPUSDT", "MM_METRICS_PORT": str(port),
                "BYBIT_REST_URL": "http://127.0.0.1:9"}  # fmt: skip
        proc = subprocess.run([sys.executable, "-m", "bytewax.run", "flows.live_mm"], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"live_mm: error: metrics port 127.0.0.1:{port} is not available (Address already in "
        "use) (set MM_METRICS_PORT to a free port, or 0 for off)"
    ]


def test_a_rebuilt_source_replaces_its_series() -> None:
    m = mm.MMMetrics()
    m.watch_ws("bybit", "public", "XRPUSDT", type("W", (), {"connects": 5})())
    m.watch_ws("bybit", "public", "XRPUSDT", type("W", (), {"connects": 1})())  # rebuilt
    text = generate_latest(m.registry).decode()
    assert text.count("mm_ws_reconnects_total{") == 1
    assert 'mm_ws_reconnects_total{stream="public",symbol="XRPUSDT",venue="bybit"} 0.0' in text
