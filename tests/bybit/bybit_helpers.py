"""Helpers for the Bybit connector tests (fixtures are in conftest.py)."""

from __future__ import annotations

import time
from typing import Any

from fake_bybit import FakeBybit
from feed_helpers import wait_for as wait_for  # the Bybit tests import it from here

from connectors.bybit.config import BybitConfig, load_bybit_config


class FakeClock:
    """Wall-clock-shaped time that only moves when the code under test sleeps."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)


def config_for(fake: FakeBybit, **overrides: Any) -> BybitConfig:
    values: dict[str, Any] = {
        "network": "testnet",
        "rest_url": fake.rest_url,
        "ws_public_url": fake.ws_public_url,
        "ws_private_url": fake.ws_private_url,
        "api_key": fake.api_key,
        "api_secret": fake.api_secret,
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.2,
        "stable_after_s": 0.3,
        "http_timeout_s": 5.0,
    }
    return load_bybit_config(**(values | overrides))
