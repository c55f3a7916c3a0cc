"""Paper and live runs report a parameter set that can never quote when they start.

The flow is built (not run) against the fake Bybit, as ``python -m bytewax.run
flows.live_mm`` builds it: instruments and the ticker come from the fake's REST API.
The fake's XRPUSDT: lot 1 XRP, venue minimum 5 USDT; its book starts at 1.9531 / 1.9532,
so the smallest order is ceil(5 / 1.9531) = 3 lots = 5.8593 to 5.8596 USDT, and a 3 USDT
position limit (x 1.2 in the calm regime) holds floor(3.6 / 1.9532) = 1 lot.
"""

from __future__ import annotations

import logging
import os
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fake_bybit import FakeBybit

from connectors.bybit.config import load_bybit_config
from connectors.bybit.order_sink import WORKERS
from core.config import load_settings
from flows.live_mm import build_live_flow

pytestmark = pytest.mark.venue


def _build(fake: FakeBybit, lake: Path, monkeypatch: pytest.MonkeyPatch, **values: Any) -> None:
    """build_live_flow off the main thread (which keeps this process's signal handlers)."""
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    settings = load_settings(env_file=None, symbols=["XRPUSDT"], lake=lake, **values)
    cfg = load_bybit_config()
    failed: list[BaseException] = []

    def build() -> None:
        try:
            build_live_flow(settings, cfg)
        except BaseException as exc:
            failed.append(exc)

    t = threading.Thread(target=build)
    t.start()
    t.join(60)
    worker = WORKERS.pop(f"live_mm_{os.getpid()}", None)
    if worker is not None:  # live mode started its gateway thread: the flow never runs
        worker.halt()
    assert not t.is_alive() and not failed, failed


def _never_quotes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("never_quotes")]


def test_paper_start_names_the_parameter_and_its_minimum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="flows.live_mm")
    with FakeBybit() as fake:
        assert (fake.book.best_bid(), fake.book.best_ask()) == (
            Decimal("1.9531"),
            Decimal("1.9532"),
        )
        _build(fake, tmp_path, monkeypatch, mode="paper", params={"risk": {"max_position_usd": 3}})
        tickers = [c for c in fake.rest_log if c.path == "/v5/market/tickers"]
    assert len(tickers) == 1 and tickers[0].ret_code == 0
    line = (
        "bybit:XRPUSDT can never quote: risk.max_position_usd 3 is below the smallest order,"
        " 3 lots = 5.86 USDT at start: the position limit holds no order"
        " (raise it; one lot is 1 XRPUSDT)"
    )
    [message] = _never_quotes(caplog)
    assert message == f'never_quotes inst=bybit:XRPUSDT message="{line}"'


def test_live_start_warns_too_and_a_quotable_set_says_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="flows.live_mm")
    with FakeBybit() as fake:
        # live, flat at the venue: below the venue minimum, whatever the price
        _build(
            fake, tmp_path / "a", monkeypatch, mode="live", params={"orders": {"max_order_usd": 4}}
        )
        [message] = _never_quotes(caplog)
        assert "orders.max_order_usd 4 is below the smallest order, 3 lots = 5.86 USDT" in message
        caplog.clear()
        _build(fake, tmp_path / "b", monkeypatch, mode="paper")
        assert _never_quotes(caplog) == []  # the defaults quote
