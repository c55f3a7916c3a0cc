"""Shared constants of the optimizer tests (importable: conftest modules are not)."""

from __future__ import annotations

VENUE, SYMBOL = "binance-usdm", "BTCUSDT"
TRAIN = "2024-08-08T23:54:00Z/2024-08-08T23:57:30Z"
TEST = "2024-08-08T23:57:30Z/2024-08-08T23:59:50Z"
