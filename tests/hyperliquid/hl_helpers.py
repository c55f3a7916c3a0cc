"""Helpers for the Hyperliquid tests (fixtures are in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fake_hyperliquid import FakeHyperliquid
from feed_helpers import RESET, SNAP, TRADE, Item, Partition, after, count, kind  # noqa: F401
from feed_helpers import pump as feed_pump
from feed_helpers import wait_for as feed_wait_for

from connectors.hyperliquid.config import HyperliquidConfig, load_hyperliquid_config


def config_for(fake: FakeHyperliquid, **overrides: Any) -> HyperliquidConfig:
    values: dict[str, Any] = {
        "network": "testnet",
        "api_url": fake.base_url,
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.2,
        "stable_after_s": 0.3,
        "http_timeout_s": 5.0,
    }
    return load_hyperliquid_config(**(values | overrides))


def wait_for(cond: Callable[[], Any], timeout: float = 10.0, step: float = 0.01) -> Any:
    """feed_helpers.wait_for with the 10 s default these tests were written against."""
    return feed_wait_for(cond, timeout, step)


def pump(
    part: Partition, items: list[Item], until: Callable[[list[Item]], bool], timeout: float = 10.0
) -> list[Item]:
    """feed_helpers.pump with the 10 s default these tests were written against."""
    return feed_pump(part, items, until, timeout)
