"""The search space: schema paths, ranges inside each field's constraints, one line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.params import StrategyParams
from optimize.space import DEFAULT_SPACE, SpaceError, apply_values, load_space


def _space(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "space.yaml"
    p.write_text("params:\n" + body)
    return p


def test_default_space_is_valid_and_applies() -> None:
    space = load_space(DEFAULT_SPACE)
    assert "quote.base_spread_bps" in space.paths
    values = {d.path: (int(d.low) if d.kind == "int" else d.low) for d in space.dims}
    params = apply_values(StrategyParams(), values)
    assert params.quote.base_spread_bps == 0.5
    assert params.orders.replace_threshold_ticks == 0
    assert params.risk == StrategyParams().risk  # untouched groups stay default


def test_grid_values(small_space: Path) -> None:
    space = load_space(small_space)
    grid = {d.path: d.grid() for d in space.dims if d.step}
    assert grid == {"quote.order_size_usd": [50.0, 100.0, 150.0, 200.0, 250.0, 300.0]}
    with pytest.raises(SpaceError, match="a float range has no grid"):
        space.grid_size()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "  quote.base_sprad_bps: {low: 1, high: 2}\n",
            "unknown parameter path 'quote.base_sprad_bps': quote has no 'base_sprad_bps'",
        ),
        (
            "  qoute.levels: {low: 1, high: 2}\n",
            "unknown parameter path 'qoute.levels': the parameters has no 'qoute'",
        ),
        ("  quote: {low: 1, high: 2}\n", "parameter path 'quote' names a group, not a value"),
        (
            "  quote.base_spread_bps: {low: 3, high: 2}\n",
            "quote.base_spread_bps: low 3 is not below high 2",
        ),
        (
            "  quote.base_spread_bps: {low: -1, high: 2}\n",
            "quote.base_spread_bps: low -1.0 is not a valid value",
        ),
        (
            "  quote.levels: {low: 1, high: 2.5}\n",
            "quote.levels: an integer field needs whole-number bounds",
        ),
        (
            "  quote.use_regimes: {low: 0, high: 1}\n",
            "quote.use_regimes: a bool field cannot take a range",
        ),
        (
            "  sim.queue_model: {choices: [risk_averse, fifo]}\n",
            "sim.queue_model: choice 'fifo' is not a valid value",
        ),
        (
            "  quote.base_spread_bps: {low: 1}\n",
            "quote.base_spread_bps: a range needs both low and high",
        ),
        (
            "  quote.base_spread_bps: {low: 1, high: 2, stepp: 1}\n",
            "quote.base_spread_bps: unknown keys ['stepp']",
        ),
    ],
)
def test_bad_space_is_one_clear_error(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SpaceError) as err:
        load_space(_space(tmp_path, body))
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)


def test_missing_and_empty_space_files(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match="not found"):
        load_space(tmp_path / "nope.yaml")
    (tmp_path / "e.yaml").write_text("params: {}\n")
    with pytest.raises(SpaceError, match="has no params mapping"):
        load_space(tmp_path / "e.yaml")
