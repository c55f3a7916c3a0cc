"""A trial is the same simulation as `mm backtest` on the same window and params."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from opt_helpers import SYMBOL, TRAIN, VENUE

from cli.cmd_backtest import run_backtest
from core.config import load_params_file
from optimize.evaluate import run_params
from optimize.objective import WORST, Weights, score, score_inputs
from optimize.window import load_window, parse_window

PARAMS = {
    "quote": {"base_spread_bps": 1.2, "order_size_usd": 150.0},
    "orders": {"replace_threshold_ticks": 2},
}


def test_trial_summary_equals_mm_backtest(opt_lake: Path, tmp_path: Path) -> None:
    pfile = tmp_path / "p.yaml"
    pfile.write_text(yaml.safe_dump(PARAMS))
    params = load_params_file(pfile)
    start, end = TRAIN.split("/")
    bt = run_backtest(opt_lake, VENUE, SYMBOL, tmp_path / "bt", pfile, start, end, progress=False)
    trial = run_params(load_window(opt_lake, VENUE, SYMBOL, parse_window(TRAIN)), params)
    assert trial is not None
    assert bt["fills"] > 5  # a run that trades, or the comparison means little
    assert score_inputs(trial) == score_inputs(bt)
    drop = {"wall_time_s", "events_per_s"}
    assert {k: v for k, v in trial.items() if k not in drop} == {
        k: v for k, v in bt.items() if k not in drop
    }
    assert score(trial, params, Weights()) == score(bt, params, Weights())


def test_pruning_stops_the_run_at_a_checkpoint(opt_lake: Path) -> None:
    data = load_window(opt_lake, VENUE, SYMBOL, parse_window(TRAIN))
    seen: list[tuple[int, int]] = []

    def stop_at_second(step: int, partial: dict) -> bool:
        seen.append((step, partial["events"]))
        return step < 1

    params = load_params_file_from(PARAMS)
    assert run_params(data, params, 4, stop_at_second) is None
    assert [s for s, _ in seen] == [0, 1]
    assert 0 < seen[0][1] < seen[1][1] < data.events


def load_params_file_from(d: dict):
    from core.params import StrategyParams

    return StrategyParams.model_validate(d)


def test_score_terms_and_breach() -> None:
    from core.params import StrategyParams

    p = StrategyParams()
    s = {
        "net_pnl": 2.0,
        "sharpe_annualized": 500.0,
        "max_drawdown": 1.0,
        "fill_rate": 0.5,
        "avg_abs_inventory_usd": 250.0,
    }
    # 0.01 x clip(500)=1.0 + 2/1000*100=0.2 - 1/1000*100=0.1 + 0.1 x 0.5 - 0.1 x 250/500
    assert score(s, p, Weights()) == 1.0 + 0.2 - 0.1 + 0.05 - 0.05
    assert score({**s, "max_drawdown": 100.0}, p, Weights()) == WORST
    assert score({**s, "net_pnl": -50.0}, p, Weights()) == WORST
    assert Weights.parse("pnl=2, sharpe=0") == Weights(pnl=2.0, sharpe=0.0)


def test_an_inverse_run_is_scored_in_usd_at_its_last_mid() -> None:
    """Coin PnL x the last mid: 0.00004 BTC at 50,000 is the linear run's 2 USD."""
    from core.params import StrategyParams

    p = StrategyParams()
    s = {
        "net_pnl": 0.00004,
        "sharpe_annualized": 500.0,
        "max_drawdown": 0.00002,
        "pnl_to_usd": 50_000.0,
        "fill_rate": 0.5,
        "avg_abs_inventory_usd": 250.0,
    }
    assert score(s, p, Weights()) == pytest.approx(1.0 + 0.2 - 0.1 + 0.05 - 0.05, abs=1e-12)
    # 0.0021 BTC of drawdown is 105 USD: past max_drawdown_usd (100), a breach
    assert p.risk.max_drawdown_usd == 100
    assert score({**s, "max_drawdown": 0.0021}, p, Weights()) == WORST
    assert score({**s, "max_drawdown": 0.0019}, p, Weights()) != WORST
