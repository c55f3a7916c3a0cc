"""Helpers for the Hyperliquid tests (fixtures are in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from fake_hyperliquid import FakeHyperliquid

from connectors.hyperliquid.config import HyperliquidConfig, load_hyperliquid_config
from core.events import Kind

Item = tuple[str, np.ndarray]
RESET, SNAP, TRADE = int(Kind.FEED_RESET), int(Kind.BOOK_SNAPSHOT), int(Kind.TRADE)


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
    """Poll ``cond`` until truthy (returns its value) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s")


def kind(item: Item) -> int:
    return int(item[1]["kind"][0])


def after(items: list[Item], start: int, *kinds: int) -> bool:
    """``kinds`` occur in this order (not necessarily adjacent) at or after ``start``."""
    it = iter(kind(i) for i in items[start:])
    return all(k in it for k in kinds)
