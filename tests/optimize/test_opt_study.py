"""Real optuna studies (SQLite in a temp dir) through `mm optimize`: outputs, determinism,
resuming, the trial history in the warehouse, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from opt_helpers import SYMBOL, TEST, TRAIN, VENUE
from typer.testing import CliRunner

from cli.main import app
from core.config import load_params_file
from optimize.objective import Weights, score
from optimize.pipeline import OptimizeRequest, optimize
from warehouse.duck import Catalog


def _req(lake: Path, tmp: Path, space: Path, **kw) -> OptimizeRequest:
    base = dict(
        lake=lake, venue=VENUE, symbol=SYMBOL, train=TRAIN, test=TEST, trials=6, out=tmp / "out",
        space=space, storage=f"sqlite:///{tmp / 'study.db'}", sampler="tpe", seed=7, progress=False,
    )  # fmt: skip
    return OptimizeRequest(**{**base, **kw})


@pytest.fixture(scope="module")
def first_run(opt_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("study")
    space = tmp / "space.yaml"
    space.write_text(
        "params:\n  quote.base_spread_bps: {low: 0.5, high: 6.0}\n  quote.order_size_usd: {low: 50.0, high: 300.0, step: 50.0}\n"
    )
    baseline = tmp / "base.yaml"
    baseline.write_text(
        yaml.safe_dump(
            {"quote": {"levels": 2, "base_spread_bps": 3.0}, "risk": {"max_position_usd": 400.0}}
        )
    )
    report = optimize(_req(opt_lake, tmp, space, params=baseline, study="t-first"))
    return tmp, report


def test_outputs(first_run: tuple[Path, dict]) -> None:
    tmp, r = first_run
    assert r["trials"] == 6 and r["study"] == "t-first" and r["sampler"] == "tpe"
    assert set(r["best"]["params"]) == {"quote.base_spread_bps", "quote.order_size_usd"}
    for who in ("best", "baseline"):
        for w in ("train", "test"):
            assert isinstance(r[who][w]["score"], float)
    assert r["train"]["window"] == "2024-08-08T23:54:00.000Z/2024-08-08T23:57:30.000Z"
    assert r["test"]["seeded"] and not r["train"]["seeded"]
    assert r["space"]["quote.order_size_usd"] == {"low": 50.0, "high": 300.0, "step": 50.0}
    # best on its own training window scores at least the baseline's there (it was a trial
    # candidate only if better; the baseline is not a trial, so compare to the study's best)
    assert r["best"]["train"]["score"] == pytest.approx(
        max_complete_score(tmp / "study.db", "t-first")
    )
    on_disk = json.loads((tmp / "out" / "optimize.json").read_text())
    assert on_disk["best"] == json.loads(json.dumps(r["best"]))


def max_complete_score(db: Path, study: str) -> float:
    import optuna

    s = optuna.load_study(study_name=study, storage=f"sqlite:///{db}")
    return s.best_value


def test_best_yaml_loads_and_keeps_the_baselines_other_keys(first_run: tuple[Path, dict]) -> None:
    tmp, r = first_run
    best = load_params_file(tmp / "out" / "best.yaml")
    assert best.quote.base_spread_bps == r["best"]["params"]["quote.base_spread_bps"]
    assert best.quote.order_size_usd == r["best"]["params"]["quote.order_size_usd"]
    assert best.quote.levels == 2 and best.risk.max_position_usd == 400.0  # not searched: kept
    raw = yaml.safe_load((tmp / "out" / "best.yaml").read_text())
    assert set(raw) == {"quote", "risk"}  # only what the baseline file had, plus the searched keys


def test_best_yaml_backtests_to_the_reported_train_score(
    first_run: tuple[Path, dict], opt_lake: Path
) -> None:
    """`mm backtest --params best.yaml` on the training window reproduces the best's score."""
    tmp, r = first_run
    best_file = tmp / "out" / "best.yaml"
    start, end = TRAIN.split("/")
    res = CliRunner().invoke(app, [
        "backtest", "--lake", str(opt_lake), "--params", str(best_file),
        "--start", start, "--end", end, "--out", str(tmp / "bt"), "--json",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output[res.output.index("{") :])
    params = load_params_file(best_file)
    assert score(summary, params, Weights()) == r["best"]["train"]["score"]
    assert summary["fills"] == r["best"]["train"]["fills"]


def test_trials_view(first_run: tuple[Path, dict], opt_lake: Path) -> None:
    _, r = first_run
    rows = Catalog(opt_lake).rows(
        "SELECT trial, state, score, params FROM trials WHERE study = 't-first' ORDER BY trial"
    )
    assert [x["trial"] for x in rows] == list(range(6))
    complete = [x for x in rows if x["state"] == "COMPLETE"]
    top = max(complete, key=lambda x: x["score"])
    assert top["trial"] == r["best"]["trial"]
    assert json.loads(top["params"]) == r["best"]["params"]


def test_same_seed_same_best_and_resume(
    first_run: tuple[Path, dict], opt_lake: Path, tmp_path: Path
) -> None:
    tmp, r = first_run
    again = optimize(
        _req(opt_lake, tmp_path, tmp / "space.yaml", params=tmp / "base.yaml", study="t-first")
    )
    assert again["trials"] == 6
    assert again["best"]["trial"] == r["best"]["trial"]
    assert again["best"]["params"] == r["best"]["params"]
    assert again["best"]["test"] == r["best"]["test"]
    # the same --study in the same storage continues: 6 more trials, numbered on
    more = optimize(
        _req(
            opt_lake,
            tmp_path,
            tmp / "space.yaml",
            params=tmp / "base.yaml",
            study="t-first",
            trials=2,
        )
    )
    assert more["trials"] == 8
    assert more["best"]["train"]["score"] >= again["best"]["train"]["score"]


def test_grid_sampler_tries_each_point_once(opt_lake: Path, tmp_path: Path) -> None:
    space = tmp_path / "grid.yaml"
    space.write_text("params:\n  quote.order_size_usd: {low: 100.0, high: 250.0, step: 50.0}\n")
    r = optimize(_req(opt_lake, tmp_path, space, sampler="auto", trials=4, study="t-grid"))
    assert r["sampler"] == "grid"
    rows = Catalog(opt_lake).rows("SELECT params FROM trials WHERE study = 't-grid'")
    assert sorted(json.loads(x["params"])["quote.order_size_usd"] for x in rows) == [
        100.0,
        150.0,
        200.0,
        250.0,
    ]


def test_two_jobs_share_one_study(opt_lake: Path, tmp_path: Path, small_space: Path) -> None:
    r = optimize(_req(opt_lake, tmp_path, small_space, jobs=2, trials=4, study="t-jobs"))
    assert r["trials"] == 4
    assert r["jobs"] == 2


def test_a_study_for_another_window_is_refused(
    first_run: tuple[Path, dict], opt_lake: Path, tmp_path: Path
) -> None:
    tmp, _ = first_run
    other = "2024-08-08T23:54:00Z/2024-08-08T23:57:00Z"
    with pytest.raises(Exception, match="study 't-first' was made for another train"):
        optimize(
            _req(
                opt_lake, tmp, tmp / "space.yaml", study="t-first", train=other, out=tmp_path / "o"
            )
        )


def _cli(*args: str) -> list[str]:
    res = CliRunner().invoke(app, ["optimize", *args])
    assert res.exit_code == 1, res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1, res.output
    return lines


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (
            ["--train", "2024-08-08T23:55:00Z/2024-08-08T23:55:00Z"],
            "mm optimize: error: train window '2024-08-08T23:55:00Z/2024-08-08T23:55:00Z' is empty",
        ),
        (
            ["--test", "2024-08-08T23:57:00Z/2024-08-08T23:59:00Z"],
            "mm optimize: error: the test window 2024-08-08T23:57:00.000Z/2024-08-08T23:59:00.000Z overlaps the training window",
        ),
        (
            ["--train", "2024-08-08T20:00:00Z/2024-08-08T21:00:00Z"],
            "mm optimize: error: train window: no market data for binance-usdm:BTCUSDT from 2024-08-08T20:00:00.000Z",
        ),
        (
            ["--storage", "sqlite:////nonexistent-dir/x/study.db"],
            "mm optimize: error: cannot open study storage sqlite:////nonexistent-dir/x/study.db: unable to open database file",
        ),
        (["--jobs", "0"], "mm optimize: error: --jobs must be at least 1, got 0"),
        (["--sampler", "anneal"], "mm optimize: error: unknown sampler 'anneal'"),
    ],
)
def test_bad_input_is_one_line(
    opt_lake: Path, tmp_path: Path, small_space: Path, extra: list[str], expect: str
) -> None:
    args = {"--lake": str(opt_lake), "--train": TRAIN, "--test": TEST, "--trials": "2", "--out": str(tmp_path / "o"),
            "--space": str(small_space), "--storage": f"sqlite:///{tmp_path / 's.db'}"}  # fmt: skip
    for k, v in zip(extra[::2], extra[1::2], strict=True):
        args[k] = v
    flat = [x for kv in args.items() for x in kv]
    (line,) = _cli(*flat)
    assert line.startswith(expect), line
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_unknown_space_path_is_one_line(opt_lake: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("params:\n  quote.spread: {low: 1, high: 2}\n")
    (line,) = _cli(
        "--lake",
        str(opt_lake),
        "--train",
        TRAIN,
        "--test",
        TEST,
        "--out",
        str(tmp_path / "o"),
        "--space",
        str(bad),
    )
    assert line.startswith(
        "mm optimize: error: unknown parameter path 'quote.spread': quote has no 'spread' (use one of: "
    )


def test_unreachable_postgres_is_one_line(
    opt_lake: Path, tmp_path: Path, small_space: Path
) -> None:
    """A refused port: with the driver installed, "cannot open"; without, the driver named."""
    import importlib.util

    if importlib.util.find_spec("psycopg") is not None:
        expect = "mm optimize: error: cannot open study storage postgresql://u:***@127.0.0.1:1/db: "
    else:
        expect = (
            "mm optimize: error: storage postgresql://u:***@127.0.0.1:1/db: the database driver"
            " 'psycopg' is not installed (install psycopg[binary] into mmflow's environment"
        )
    (line,) = _cli("--lake", str(opt_lake), "--train", TRAIN, "--test", TEST, "--out", str(tmp_path / "o"),
                   "--space", str(small_space), "--storage", "postgresql://u:p@127.0.0.1:1/db")  # fmt: skip
    assert line.startswith(expect), line
