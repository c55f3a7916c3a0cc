"""SimConfig validation: every bad value fails at construction, naming the field."""

from __future__ import annotations

import pytest

from connectors.sim.config import SimConfig, SimConfigError
from core.errors import ConfigError


def test_defaults() -> None:
    c = SimConfig()
    assert (c.maker_rate_e8, c.taker_rate_e8) == (-15_000, 45_000)
    assert (c.order_latency_ms, c.response_latency_ms, c.md_latency_ms) == (5.0, 5.0, 5.0)
    assert (c.md_latency, c.queue_model, c.queue_power) == ("constant", "risk_averse", 2.0)


def test_float_fee_rates_are_exact() -> None:
    c = SimConfig(maker_fee=-0.0002, taker_fee=0.0005)
    assert (c.maker_rate_e8, c.taker_rate_e8) == (-20_000, 50_000)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("maker_fee", "0.000000001", "maker_fee.*more than 8 decimal places"),
        ("taker_fee", "abc", "taker_fee 'abc' is not a number"),
        ("taker_fee", None, "taker_fee must be a number"),
        ("taker_fee", True, "taker_fee must be a number"),
        ("order_latency_ms", -1.0, "order_latency_ms must be a finite number >= 0"),
        ("response_latency_ms", float("nan"), "response_latency_ms must be"),
        ("md_latency_ms", float("inf"), "md_latency_ms must be"),
        ("md_latency_ms", "5", "md_latency_ms must be"),
        ("md_latency", "exchange", "md_latency must be one of constant, recorded"),
        ("queue_model", "fifo", "queue_model must be one of risk_averse, power, log"),
        ("queue_power", 0.0, "queue_power must be a finite number > 0"),
        ("queue_power", -2.0, "queue_power must be"),
    ],
)
def test_bad_values(field: str, value: object, match: str) -> None:
    with pytest.raises(SimConfigError, match=match) as info:
        SimConfig(**{field: value})  # type: ignore[arg-type]
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, ValueError)


def test_from_strategy_params() -> None:
    from core.params import StrategyParams

    p = StrategyParams.model_validate(
        {
            "fees": {"maker": -0.0001, "taker": 0.0004},
            "sim": {"order_latency_ms": 2.5, "md_latency": "recorded", "queue_model": "log"},
        }
    )
    c = SimConfig.from_params(p)
    assert (c.maker_rate_e8, c.taker_rate_e8) == (-10_000, 40_000)
    assert (c.order_latency_ms, c.md_latency, c.queue_model) == (2.5, "recorded", "log")
    assert (c.response_latency_ms, c.md_latency_ms, c.queue_power) == (5.0, 5.0, 2.0)
