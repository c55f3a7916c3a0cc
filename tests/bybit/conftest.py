"""Bybit connector fixtures: a fake Bybit per test, a config pointing at it, a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bybit_helpers import FakeClock, config_for
from fake_bybit import FakeBybit

from connectors.bybit.config import BybitConfig


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake() -> Iterator[FakeBybit]:
    with FakeBybit() as f:
        yield f


@pytest.fixture
def fake_config(fake: FakeBybit) -> BybitConfig:
    return config_for(fake)
