"""Walk-forward (`--walk K`) and the screening stage (`--screen N --confirm k`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from opt_helpers import SYMBOL, VENUE

from core.params import StrategyParams
from optimize.evaluate import run_params
from optimize.pipeline import OptimizeRequest, optimize
from optimize.screen import cheap_data, cheap_params, spearman
from optimize.window import load_window, parse_window

TRAIN = "2024-08-08T23:54:00Z/2024-08-08T23:56:30Z"
TEST = "2024-08-08T23:56:30Z/2024-08-08T23:58:00Z"


def _req(lake: Path, tmp: Path, space: Path, **kw) -> OptimizeRequest:
    base = dict(
        lake=lake, venue=VENUE, symbol=SYMBOL, train=TRAIN, test=TEST, trials=4, out=tmp / "out",
        space=space, storage=f"sqlite:///{tmp / 'study.db'}", sampler="random", seed=1, progress=False,
    )  # fmt: skip
    return OptimizeRequest(**{**base, **kw})


def test_walk_forward_reports_the_out_of_sample_series(
    opt_lake: Path, tmp_path: Path, small_space: Path
) -> None:
    r = optimize(_req(opt_lake, tmp_path, small_space, walk=2, study="w"))
    walk = r["walk"]
    assert [w["study"] for w in walk] == ["w/walk0", "w/walk1"]
    assert [w["test"]["window"] for w in walk] == [
        "2024-08-08T23:56:30.000Z/2024-08-08T23:58:00.000Z",
        "2024-08-08T23:58:00.000Z/2024-08-08T23:59:30.000Z",
    ]
    assert walk[1]["train"]["window"] == "2024-08-08T23:55:30.000Z/2024-08-08T23:58:00.000Z"
    # the report's best/test are the newest fold's; each fold's own best scored out of sample
    assert r["test"]["window"] == walk[1]["test"]["window"]
    assert r["best"]["test"]["score"] == walk[1]["best_test_score"]
    for w in walk:
        assert w["test"]["window"].split("/")[0] >= w["train"]["window"].split("/")[1]


def test_walk_past_the_data_fails_before_any_trial(
    opt_lake: Path, tmp_path: Path, small_space: Path
) -> None:
    with pytest.raises(Exception, match="test window: no market data"):
        optimize(_req(opt_lake, tmp_path, small_space, walk=4, study="w4"))
    import optuna

    assert (
        optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 'study.db'}") == []
    )  # no trial ran


def test_cheap_model() -> None:
    p = cheap_params(StrategyParams())
    assert (p.sim.order_latency_ms, p.sim.response_latency_ms, p.sim.md_latency_ms) == (
        0.0,
        0.0,
        0.0,
    )
    assert p.quote == StrategyParams().quote
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert spearman([1.0], [2.0]) is None


def test_screen_then_confirm(opt_lake: Path, tmp_path: Path, small_space: Path) -> None:
    r = optimize(_req(opt_lake, tmp_path, small_space, screen=6, confirm=3, study="s"))
    s = r["screen"]
    assert s["study"] == "s/screen" and s["trials"] == 6
    assert len(s["confirmed"]) == 3
    fulls = [c["full_score"] for c in s["confirmed"]]
    assert fulls == sorted(fulls, reverse=True)
    assert r["best"]["trial"] == s["confirmed"][0]["trial"]
    assert r["best"]["train"]["score"] == fulls[0]  # the winner is chosen at full fidelity
    # each confirmed trial's cheap score is its score on the cheap model, reproduced here
    data = load_window(opt_lake, VENUE, SYMBOL, parse_window(TRAIN))
    from optimize.objective import Weights, score
    from optimize.space import apply_values

    c = s["confirmed"][0]
    params = cheap_params(apply_values(StrategyParams(), c["params"]))
    summary = run_params(cheap_data(data), params)
    assert summary is not None
    assert score(summary, params, Weights()) == c["screen_score"]
