"""Hyperliquid connector fixtures: a fake Hyperliquid per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_hyperliquid import FakeHyperliquid


@pytest.fixture
def fake() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid(interval_s=0.02) as f:
        yield f
