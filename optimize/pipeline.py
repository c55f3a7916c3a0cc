"""``mm optimize`` end to end: validate, study the training window, score out of sample,
write best.yaml / optimize.json / the trial history, and optionally gate a live file.

Everything that can be checked before a trial runs is checked first (windows, space,
storage, params files, data in every window), so bad input costs no compute and leaves
nothing behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import load_params_file
from core.errors import MMError
from core.params import StrategyParams
from optimize import history
from optimize.evaluate import run_params
from optimize.gate import gate
from optimize.objective import Weights, breach, score, score_inputs
from optimize.paramfile import read_raw, with_values, write_params_file
from optimize.screen import cheap_data, spearman, top_trials
from optimize.space import Space, apply_values, load_space
from optimize.storage import default_storage, open_storage, redact
from optimize.study import StudySpec, resolve_sampler, run_study
from optimize.walk import walk_windows
from optimize.window import WindowData, check_window, load_window, parse_window
from warehouse.runs import atomic_write_json


@dataclass
class OptimizeRequest:
    lake: Path
    venue: str
    symbol: str
    train: str
    test: str
    trials: int
    out: Path
    jobs: int = 1
    space: Path | None = None
    storage: str | None = None
    study: str | None = None
    sampler: str = "auto"
    seed: int = 0
    params: Path | None = None  # the baseline (default: --apply-to's file, else defaults)
    weights: Weights = field(default_factory=Weights)
    walk: int = 1
    apply_to: Path | None = None
    min_improvement: float = 0.0
    screen: int = 0  # trials on the cheap model (0 = no screening stage)
    confirm: int = 5  # top screened trials confirmed at full fidelity
    engine: str | None = None
    progress: bool = True


def _evaluate(
    data: WindowData, params: StrategyParams, w: Weights, engine: str | None
) -> dict[str, Any]:
    summary = run_params(data, params, engine=engine)
    assert summary is not None
    return {
        "score": score(summary, params, w),
        "breach": breach(summary, params),
        **score_inputs(summary),
    }


def optimize(req: OptimizeRequest) -> dict[str, Any]:
    """Run the whole optimization; returns the report written to ``out/optimize.json``."""
    if not req.lake.is_dir():
        raise MMError(f"lake {req.lake} does not exist", "import data first with `mm import`")
    for flag, value, least in (("--trials", req.trials, 1), ("--jobs", req.jobs, 1),
                               ("--screen", req.screen, 0), ("--confirm", req.confirm, 1)):  # fmt: skip
        if value < least:
            raise MMError(f"{flag} must be at least {least}, got {value}")
    if req.out.exists() and not req.out.is_dir():
        raise MMError(f"{req.out} is not a directory", "choose another --out")
    folds = walk_windows(
        parse_window(req.train, "train window"), parse_window(req.test, "test window"), req.walk
    )
    space = load_space(req.space)
    sampler = resolve_sampler(req.sampler, space, req.screen or req.trials)
    baseline_file = req.params or req.apply_to
    raw = read_raw(baseline_file)
    base = StrategyParams() if baseline_file is None else load_params_file(baseline_file)
    storage = req.storage or default_storage(req.lake)
    open_storage(storage)  # unreachable: one line now, not after loading data
    name = req.study or f"{req.venue}:{req.symbol}:{folds[0][0].text}"
    for tr, te in folds:  # every window must hold data before the first trial runs
        check_window(req.lake, req.venue, req.symbol, tr, "train window")
        check_window(req.lake, req.venue, req.symbol, te, "test window")
    current = load_params_file(req.apply_to) if req.apply_to is not None else None
    results = []
    for i, (tr, te) in enumerate(folds):  # one fold's events in memory at a time
        fold_name = name if len(folds) == 1 else f"{name}/walk{i}"
        train = load_window(req.lake, req.venue, req.symbol, tr, "train window")
        test = load_window(req.lake, req.venue, req.symbol, te, "test window")
        results.append(_fold(req, space, sampler, storage, fold_name, base, current, train, test))
    last = results[-1]
    best_values = last["best"]["params"]
    best_data = with_values(raw, best_values)
    header = (
        f"mm optimize: study {last['study']}, trial {last['best']['trial']}\n"
        f"train {last['train']['window']}: score {last['best']['train']['score']:.6g}\n"
        f"test {last['test']['window']}: score {last['best']['test']['score']:.6g}"
    )
    req.out.mkdir(parents=True, exist_ok=True)
    write_params_file(req.out / "best.yaml", best_data, header)
    report: dict[str, Any] = {
        "instrument": f"{req.venue}:{req.symbol}",
        "lake": str(req.lake),
        "storage": redact(storage),
        "sampler": sampler,
        "seed": req.seed,
        "jobs": req.jobs,
        "weights": req.weights.to_dict(),
        "space": space.to_dict(),
        "space_file": space.source,
        "baseline_file": str(baseline_file) if baseline_file else None,
        **{k: last[k] for k in ("study", "trials", "train", "test", "best", "baseline", "current")},
        "screen": last.get("screen"),
        "best_file": str(req.out / "best.yaml"),
    }
    if len(folds) > 1:
        report["walk"] = [
            {k: r[k] for k in ("study", "train", "test")}
            | {
                "best_test_score": r["best"]["test"]["score"],
                "baseline_test_score": r["baseline"]["test"]["score"],
                "best_params": r["best"]["params"],
            }
            for r in results
        ]
    if req.apply_to is not None:
        report["decision"] = apply_gate(
            req.lake, report, best_data, req.apply_to, req.min_improvement, header
        )
    atomic_write_json(req.out / "optimize.json", report)
    return report


def apply_gate(
    lake: Path,
    report: dict[str, Any],
    best_data: dict[str, Any],
    target: Path,
    min_improvement: float,
    header: str = "",
) -> dict[str, Any]:
    """Gate ``target`` on the report's out-of-sample scores; record the decision in the lake.

    The current score is the report's ``current`` (``target``'s params on the test
    window, when ``mm optimize`` had ``--apply-to``), else its baseline's."""
    now = (report.get("current") or report["baseline"])["test"]["score"]
    decision = gate(
        target, best_data, now, report["best"]["test"]["score"],
        min_improvement, report["test"]["window"], header,
    )  # fmt: skip
    history.append_decision(
        lake,
        {
            **decision.to_dict(),
            "instrument": report["instrument"],
            "study": report["study"],
            "best_trial": report["best"]["trial"],
            "params": report["best"]["params"],
        },
    )
    return decision.to_dict()


def _fold(
    req: OptimizeRequest,
    space: Space,
    sampler: str,
    storage: str,
    name: str,
    base: StrategyParams,
    current: StrategyParams | None,
    train: WindowData,
    test: WindowData,
) -> dict[str, Any]:
    """One train/test pair: the study on train, then best and baseline on both windows."""
    spec = StudySpec(
        req.lake, req.venue, req.symbol, train.window, storage, name, space,
        base.model_dump(mode="json"), req.weights, sampler, req.seed, req.engine,
    )  # fmt: skip
    screen = None
    if req.screen:
        cheap_spec = StudySpec(**{**spec.__dict__, "name": f"{name}/screen", "fidelity": "screen"})
        study = run_study(cheap_spec, req.screen, req.jobs, req.progress, cheap_data(train))
        history.write_trials(req.lake, study)
        candidates = top_trials(study, req.confirm)
        if not candidates:
            raise MMError("no screening trial completed", "raise --screen")
        rows = []
        for t in candidates:
            params = apply_values(base, t.params)
            full = _evaluate(train, params, req.weights, req.engine)
            rows.append(
                {
                    "trial": t.number,
                    "params": t.params,
                    "screen_score": t.value,
                    "full_score": full["score"],
                }
            )
        rows.sort(key=lambda r: (-r["full_score"], r["trial"]))
        screen = {
            "study": study.study_name,
            "trials": len(study.trials),
            "confirmed": rows,
            "rank_agreement": spearman(
                [r["screen_score"] for r in rows], [r["full_score"] for r in rows]
            ),
        }
        best_number, best_values = rows[0]["trial"], rows[0]["params"]
        study_name, n_trials = study.study_name, len(study.trials)
    else:
        study = run_study(spec, req.trials, req.jobs, req.progress, train)
        history.write_trials(req.lake, study)
        try:
            best_trial = study.best_trial
        except ValueError:
            raise MMError(
                f"no trial of study {name!r} completed (all pruned or failed)", "raise --trials"
            ) from None
        best_number, best_values = best_trial.number, best_trial.params
        study_name, n_trials = study.study_name, len(study.trials)
    best = apply_values(base, best_values)
    return {
        "study": study_name,
        "trials": n_trials,
        "train": {"window": train.window.text, "events": train.events, "seeded": train.seeded},
        "test": {"window": test.window.text, "events": test.events, "seeded": test.seeded},
        "best": {
            "trial": best_number,
            "params": best_values,
            "train": _evaluate(train, best, req.weights, req.engine),
            "test": _evaluate(test, best, req.weights, req.engine),
        },
        "baseline": {
            "train": _evaluate(train, base, req.weights, req.engine),
            "test": _evaluate(test, base, req.weights, req.engine),
        },
        "current": (
            None if current is None else {"test": _evaluate(test, current, req.weights, req.engine)}
        ),
        "screen": screen,
    }


def load_report(out: Path) -> dict[str, Any]:
    return json.loads((out / "optimize.json").read_text())
