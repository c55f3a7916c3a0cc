"""A Hyperliquid paper run reports a parameter set that can never quote when it starts,
priced from the venue's ``l2Book`` (Hyperliquid has no ticker).

The fake's BTC: lot 0.00001 (szDecimals 5), venue minimum 10 USDC; at a best bid near
105,000 the smallest order is ceil(10 / bid / 0.00001) lots, about 10.5 USDC, so a 3 USDT
position limit holds no order.
"""

from __future__ import annotations

import logging
import math
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fake_hyperliquid import FakeHyperliquid

from core.config import load_settings
from flows.live_mm import build_live_flow

pytestmark = pytest.mark.venue


def _build(
    fake: FakeHyperliquid, lake: Path, monkeypatch: pytest.MonkeyPatch, **values: Any
) -> None:
    """build_live_flow off the main thread (which keeps this process's signal handlers)."""
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MM_VENUE", "hyperliquid")
    settings = load_settings(env_file=None, symbols=["BTC"], lake=lake, mode="paper", **values)
    failed: list[BaseException] = []

    def build() -> None:
        try:
            build_live_flow(settings)
        except BaseException as exc:
            failed.append(exc)

    t = threading.Thread(target=build)
    t.start()
    t.join(60)
    assert not t.is_alive() and not failed, failed


def _never_quotes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("never_quotes")]


def test_paper_start_on_hyperliquid_prices_the_check_from_the_book(
    fake: FakeHyperliquid,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="flows.live_mm")
    with fake.lock:
        bids, asks = fake.books["BTC"]["levels"]
        bid, ask = Decimal(bids[0]["px"]), Decimal(asks[0]["px"])
    lots = math.ceil(Decimal(10) / bid / Decimal("0.00001"))
    _build(fake, tmp_path / "a", monkeypatch, params={"risk": {"max_position_usd": 3}})
    [message] = _never_quotes(caplog)
    low = lots * Decimal("0.00001") * bid
    assert (
        "hyperliquid:BTC can never quote: risk.max_position_usd 3 is below the smallest order,"
        f" {lots} lots = {low:.2f}" in message
    ), (message, ask)
    books = [c for c in fake.http_log if c.path == "/info" and c.body.get("type") == "l2Book"]
    assert books and all(c.status == 200 for c in books)
    caplog.clear()
    _build(fake, tmp_path / "b", monkeypatch)
    assert _never_quotes(caplog) == []  # the defaults quote
