"""The nightly `reoptimize` Prefect flow, run in-process on the sample's day (PREFECT_HOME
is a temp dir): walk-forward study, gate, apply or keep, decisions in the lake."""

from __future__ import annotations

from pathlib import Path

import optuna
import yaml
from opt_helpers import SYMBOL, VENUE

from core.config import load_params_file
from orchestration.reoptimize import reoptimize
from warehouse.duck import Catalog


def test_reoptimize_keeps_then_applies(opt_lake: Path, tmp_path: Path, small_space: Path) -> None:
    live = tmp_path / "live.yaml"
    live.write_text(yaml.safe_dump({"quote": {"base_spread_bps": 5.0}}))
    before = live.read_bytes()
    storage = f"sqlite:///{tmp_path / 'nightly.db'}"
    kept = reoptimize(
        lake=str(opt_lake), venue=VENUE, symbol=SYMBOL, apply_to=str(live), space=str(small_space),
        trials=4, min_improvement=1e6, storage=storage, day="2024-08-08", out_dir=str(tmp_path / "n1"),
    )  # fmt: skip
    assert kept["decision"]["applied"] is False
    assert live.read_bytes() == before
    # two walk-forward folds, each test window right after its train window, both in the day
    walk = kept["report"]["walk"]
    assert len(walk) == 2
    assert walk[0]["test"]["window"].split("/")[0] == walk[0]["train"]["window"].split("/")[1]
    assert walk[1]["test"]["window"].split("/")[0] == walk[0]["test"]["window"].split("/")[1]
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    assert names == {
        f"reoptimize:{VENUE}:{SYMBOL}:2024-08-08/walk0",
        f"reoptimize:{VENUE}:{SYMBOL}:2024-08-08/walk1",
    }
    assert (tmp_path / "n1" / "best.yaml").is_file()
    assert (
        load_params_file(tmp_path / "n1" / "best.yaml").quote.base_spread_bps
        == (kept["report"]["best"]["params"]["quote.base_spread_bps"])
    )

    applied = reoptimize(
        lake=str(opt_lake), venue=VENUE, symbol=SYMBOL, apply_to=str(live), space=str(small_space),
        trials=2, min_improvement=-1e9, storage=f"sqlite:///{tmp_path / 'n2.db'}", day="2024-08-08",
        out_dir=str(tmp_path / "n2"), folds=1,
    )  # fmt: skip
    assert applied["decision"]["applied"] is True  # a negative margin accepts any best
    assert load_params_file(live) == load_params_file(tmp_path / "n2" / "best.yaml")
    rows = Catalog(opt_lake).rows(
        "SELECT applied, target FROM param_decisions WHERE target = ? ORDER BY decided_at",
        [str(live)],
    )
    assert [x["applied"] for x in rows] == [False, True]
