"""An optuna study over one training window, run by J worker processes sharing its storage.

Each worker loads the window once and runs its share of the trials on it; every trial
reports its partial score at checkpoints so the median pruner can stop hopeless ones.
With one job and a seed the sequence of trials (and so the best) is reproducible.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import MMError
from core.params import StrategyParams
from core.progress import Progress
from optimize.evaluate import run_params
from optimize.objective import WORST, Weights, breach, score, score_inputs
from optimize.space import Space, apply_values, suggest
from optimize.storage import open_storage
from optimize.window import Window, WindowData, load_window

SAMPLERS = ("auto", "tpe", "grid", "random")
CHECKPOINTS = 4  # partial scores reported per trial (for pruning)


class StudyError(MMError):
    """A study that cannot be run or continued as asked."""


@dataclass(frozen=True)
class StudySpec:
    """Everything a worker process needs (picklable)."""

    lake: Path
    venue: str
    symbol: str
    train: Window
    storage: str
    name: str
    space: Space
    base: dict[str, Any]  # the baseline params (model_dump)
    weights: Weights
    sampler: str
    seed: int
    engine: str | None = None
    fidelity: str = "full"  # "full" or "screen" (see optimize.screen)


def resolve_sampler(name: str, space: Space, trials: int) -> str:
    """``auto``: a grid when the whole grid fits in the trial budget, else TPE."""
    if name not in SAMPLERS:
        raise StudyError(f"unknown sampler {name!r}", f"use one of {', '.join(SAMPLERS)}")
    if name == "grid":
        space.grid_size()  # raises if a dimension has no grid
        return name
    if name != "auto":
        return name
    try:
        return "grid" if space.grid_size() <= trials else "tpe"
    except MMError:
        return "tpe"


def make_sampler(spec: StudySpec, worker: int) -> Any:
    import optuna

    seed = spec.seed + worker  # parallel workers must not propose the same points
    if spec.sampler == "grid":
        grid = {d.path: d.grid() for d in spec.space.dims}
        return optuna.samplers.GridSampler(grid, seed=seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=min(10, max(2, 2 * len(spec.space.dims)))
    )


def load_study(spec: StudySpec, worker: int = 0) -> Any:
    """Create the study or continue it; refuses one made for another window or space."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(spec.storage)
    study = optuna.create_study(
        storage=storage,
        study_name=spec.name,
        direction="maximize",
        sampler=make_sampler(spec, worker),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0),
        load_if_exists=True,
    )
    made_for = {
        "instrument": f"{spec.venue}:{spec.symbol}",
        "train": spec.train.text,
        "space": spec.space.to_dict(),
        "fidelity": spec.fidelity,
    }
    existing = {k: study.user_attrs.get(k) for k in made_for}
    if all(v is None for v in existing.values()):
        for k, v in made_for.items():
            study.set_user_attr(k, v)
    elif existing != made_for:
        diff = [k for k in made_for if existing[k] != made_for[k]]
        raise StudyError(
            f"study {spec.name!r} was made for another {', '.join(diff)}"
            f" (it has {', '.join(f'{k}={existing[k]}' for k in diff)})",
            "use another --study to start a new one, or the same arguments to continue it",
        )
    return study


def objective_for(spec: StudySpec, data: WindowData) -> Any:
    import optuna

    base = StrategyParams.model_validate(spec.base)

    def objective(trial: optuna.Trial) -> float:
        values = suggest(trial, spec.space)
        try:
            params = apply_values(base, values)
        except ValueError as exc:  # a combination the schema refuses (floor >= ceiling ...)
            trial.set_user_attr("invalid", str(exc).splitlines()[0])
            return WORST
        if spec.fidelity == "screen":
            from optimize.screen import cheap_params

            params = cheap_params(params)

        def checkpoint(step: int, partial: dict[str, Any]) -> bool:
            trial.report(score(partial, params, spec.weights), step)
            return not trial.should_prune()

        summary = run_params(data, params, CHECKPOINTS, checkpoint, spec.engine)
        if summary is None:
            raise optuna.TrialPruned()
        trial.set_user_attr("summary", score_inputs(summary))
        why = breach(summary, params)
        if why:
            trial.set_user_attr("breach", why)
        return score(summary, params, spec.weights)

    return objective


def worker_data(spec: StudySpec) -> WindowData:
    data = load_window(spec.lake, spec.venue, spec.symbol, spec.train, "train window")
    if spec.fidelity == "screen":
        from optimize.screen import cheap_data

        data = cheap_data(data)
    return data


def _worker(spec: StudySpec, worker: int, n_trials: int) -> None:
    """A spawned worker: load the data once, run its share of the trials."""
    logging.getLogger("optuna").setLevel(logging.WARNING)
    study = load_study(spec, worker)
    study.optimize(objective_for(spec, worker_data(spec)), n_trials=n_trials)


def run_study(
    spec: StudySpec,
    trials: int,
    jobs: int = 1,
    progress: bool = True,
    data: WindowData | None = None,
) -> Any:
    """Run ``trials`` more trials (shared over ``jobs`` processes); returns the study."""
    if trials < 1:
        raise StudyError(f"--trials must be at least 1, got {trials}")
    if jobs < 1:
        raise StudyError(f"--jobs must be at least 1, got {jobs}")
    study = load_study(spec, 0)
    before = len(study.trials)
    data = data if data is not None else worker_data(spec)
    shares = [trials // jobs + (1 if i < trials % jobs else 0) for i in range(jobs)]
    ctx = mp.get_context("spawn")  # no forked SQLAlchemy connections or Prefect threads
    procs = [
        ctx.Process(target=_worker, args=(spec, i, n), daemon=True)
        for i, n in enumerate(shares)
        if i and n
    ]
    for p in procs:
        p.start()
    bar = Progress(f"optimize {spec.name}", trials, " trials", enabled=progress)

    def show(study: Any, trial: Any) -> None:
        done = len(study.trials) - before
        try:
            best = f"best {study.best_value:.4f} (trial {study.best_trial.number})"
        except ValueError:
            best = "no complete trial yet"
        bar.update(done, best)

    try:
        study.optimize(objective_for(spec, data), n_trials=shares[0], callbacks=[show])
        for p in procs:
            p.join()
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        bar.close()
    failed = [p.exitcode for p in procs if p.exitcode]
    if failed:
        raise StudyError(
            f"{len(failed)} worker process(es) failed (exit codes {failed})",
            "rerun with --jobs 1 to see the error",
        )
    return study
