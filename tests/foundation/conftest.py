"""Fixtures for the foundation tests (helpers live in fnd_helpers.py)."""

from __future__ import annotations

import pytest
from fnd_helpers import BINANCE_SAMPLE, BYBIT_SAMPLE, HYPERLIQUID_SAMPLE, raw_lines


@pytest.fixture(scope="session")
def binance_lines() -> list[bytes]:
    return raw_lines(BINANCE_SAMPLE)


@pytest.fixture(scope="session")
def bybit_lines() -> list[bytes]:
    return raw_lines(BYBIT_SAMPLE)


@pytest.fixture(scope="session")
def hyperliquid_lines() -> list[bytes]:
    return raw_lines(HYPERLIQUID_SAMPLE)
