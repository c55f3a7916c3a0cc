"""Fixtures of the simulated-venue tests (the harness itself is in sim_harness.py)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from sim_harness import IMPLS, Harness

from core.instruments import InstrumentSpec


@pytest.fixture
def spec() -> InstrumentSpec:
    return InstrumentSpec("sim", "TEST", Decimal("0.1"), Decimal("1"), Decimal("10"))


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest) -> str:
    """Every venue test runs against the reference SimVenue and the compiled kernel."""
    return request.param


@pytest.fixture
def make(spec: InstrumentSpec, impl: str) -> Callable[..., Harness]:
    """``make(**SimConfig fields)`` -> Harness with 5 ms latencies unless overridden."""

    def factory(**config: object) -> Harness:
        return Harness(spec, impl, **config)

    return factory


@pytest.fixture
def h(make: Callable[..., Harness]) -> Harness:
    """Default harness: risk-averse queue, 5 ms order / response / market-data latency."""
    return make()
