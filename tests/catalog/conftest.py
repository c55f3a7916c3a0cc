"""Fixtures of the catalog tests: the fake venue server with every base URL pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_venues import FakeVenues

URL_VARS = (
    "MM_BYBIT_REST_URL",
    "MM_BINANCE_FAPI_URL",
    "MM_BINANCE_DAPI_URL",
    "MM_HYPERLIQUID_API_URL",
)


@pytest.fixture
def venues(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVenues]:
    with FakeVenues() as fake:
        for var in URL_VARS:
            monkeypatch.setenv(var, fake.url)
        yield fake
