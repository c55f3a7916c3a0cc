"""Optimizer throughput on the bundled sample: trials per minute with 1 and 2 jobs, and the
screening stage's speed-up and rank agreement with full fidelity.

    python -m bench.optimize [--trials 24] [--repeat 2] [--lake DIR] [--json]

Trials/min: a fresh study (SQLite in a temp dir, random sampler, the default space) over
the sample's first 3.5 minutes, wall time of ``run_study`` only (data loaded once per
worker, study storage, pruning checkpoints included), best of ``--repeat``. On a loaded
machine the numbers are noisy: read best-of-N.

Screening: ``--screen-sets`` random parameter sets scored on the cheap model (no
latency, the first quarter of the window) and at full fidelity; speed-up = full time /
cheap time per trial, rank agreement = Spearman correlation of the two score lists, and
whether both pick the same best set.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna

from core.params import StrategyParams
from optimize.evaluate import run_params
from optimize.objective import Weights, score
from optimize.screen import cheap_data, cheap_params, spearman
from optimize.space import apply_values, load_space, suggest
from optimize.study import StudySpec, run_study
from optimize.window import load_window, parse_window
from warehouse.importer import import_file

SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
)
VENUE, SYMBOL = "binance-usdm", "BTCUSDT"
TRAIN = "2024-08-08T23:54:00Z/2024-08-08T23:57:30Z"


def trials_per_minute(
    lake: Path, tmp: Path, trials: int, jobs: int, repeat: int, window: str = TRAIN
) -> float:
    space = load_space()
    train = parse_window(window)
    best = float("inf")
    for r in range(repeat):
        spec = StudySpec(
            lake, VENUE, SYMBOL, train, f"sqlite:///{tmp / f'bench-{jobs}-{r}.db'}", f"bench-{jobs}-{r}",
            space, StrategyParams().model_dump(mode="json"), Weights(), "random", r,
        )  # fmt: skip
        t0 = time.perf_counter()
        run_study(spec, trials, jobs, progress=False)
        best = min(best, time.perf_counter() - t0)
    return trials / best * 60


def screening(lake: Path, sets: int, share: float) -> dict[str, Any]:
    space = load_space()
    data = load_window(lake, VENUE, SYMBOL, parse_window(TRAIN))
    cheap = cheap_data(data, share)
    sampler = optuna.samplers.RandomSampler(seed=11)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    full_scores, cheap_scores, t_full, t_cheap = [], [], 0.0, 0.0
    w = Weights()
    for _ in range(sets):
        trial = study.ask()
        params = apply_values(StrategyParams(), suggest(trial, space))
        cp = cheap_params(params)
        t0 = time.perf_counter()
        s_cheap = run_params(cheap, cp)
        t1 = time.perf_counter()
        s_full = run_params(data, params)
        t2 = time.perf_counter()
        t_cheap += t1 - t0
        t_full += t2 - t1
        assert s_cheap is not None and s_full is not None
        cheap_scores.append(score(s_cheap, cp, w))
        full_scores.append(score(s_full, params, w))
        study.tell(trial, full_scores[-1])
    top = max(range(sets), key=lambda i: full_scores[i])
    top_cheap = max(range(sets), key=lambda i: cheap_scores[i])
    return {
        "share": share,
        "sets": sets,
        "full_s_per_trial": t_full / sets,
        "cheap_s_per_trial": t_cheap / sets,
        "speedup": t_full / t_cheap,
        "rank_agreement_spearman": spearman(cheap_scores, full_scores),
        "same_best": top == top_cheap,
        "full_rank_of_cheap_best": sorted(range(sets), key=lambda i: -full_scores[i]).index(
            top_cheap
        )
        + 1,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--screen-sets", type=int, default=20)
    ap.add_argument("--screen-shares", default="0.25,0.5,1.0", help="cheap models: data shares")
    ap.add_argument("--jobs", default="1,2")
    ap.add_argument("--train", default=TRAIN, help="window of the trials/min runs (START/END)")
    ap.add_argument(
        "--lake", type=Path, default=None, help="a lake holding the sample (default: import it)"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="mm-bench-opt-") as d:
        tmp = Path(d)
        lake = args.lake
        if lake is None:
            lake = tmp / "lake"
            import_file(SAMPLE, lake, progress=False)
        out = {
            "trials": args.trials,
            "trials_per_min": {
                j: trials_per_minute(lake, tmp, args.trials, j, args.repeat, args.train)
                for j in (int(x) for x in args.jobs.split(","))
            },
            "screen": [  # --screen-sets 0: trials/min only (e.g. on a bench.make_day lake)
                screening(lake, args.screen_sets, float(x))
                for x in args.screen_shares.split(",")
                if args.screen_sets > 0
            ],
        }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"optimize on {args.train} ({args.trials} trials, best of {args.repeat}):")
    for jobs, rate in out["trials_per_min"].items():
        print(f"  {jobs} job(s) {rate:8.1f} trials/min")
    print(
        f"screening, {args.screen_sets} random parameter sets (cheap = no latency + a data share):"
    )
    for s in out["screen"]:
        agree = s["rank_agreement_spearman"]
        print(
            f"  share {s['share']:.2f}: full {s['full_s_per_trial'] * 1e3:7.1f} ms/trial, cheap"
            f" {s['cheap_s_per_trial'] * 1e3:7.1f} ms/trial, speed-up {s['speedup']:4.1f}x,"
            f" Spearman {'n/a' if agree is None else f'{agree:+.2f}'}, cheap best ="
            f" full rank {s['full_rank_of_cheap_best']}/{s['sets']}"
        )


if __name__ == "__main__":
    main()
