"""Prefect flow ``reoptimize``: every night, re-tune on yesterday's data and apply only if better.

    python -m orchestration.reoptimize --lake data/lake --venue bybit --symbol BTCUSDT \\
        --apply-to live_params.yaml [--day 2024-08-08]

The day's recorded span is split into walk-forward folds (each training window followed
by an out-of-sample window), the study runs on them, and the apply gate replaces the
live params file only if the newest fold's out-of-sample score beats the file's own by
``min_improvement``. Every decision lands in the lake (``mm sql`` view
``param_decisions``). ``mm orchestrate serve`` registers this flow by its import path
``orchestration.reoptimize:reoptimize``.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from prefect import flow, task

from core.errors import MMError
from core.lake_span import lake_span
from core.timeutil import NS_PER_DAY, date_to_ns, ns_to_iso

WALK_FOLDS = 2
TRAIN_SHARE = 0.6  # of the day's span: the first training window; the rest is tested


def _iso(ns: int) -> str:
    return ns_to_iso(ns).replace("+00:00", "Z")


def yesterday_utc() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).date().isoformat()


@task(name="plan-walk-forward-windows", retries=0)
def plan_windows(
    lake: str, venue: str, symbol: str, day: str, folds: int = WALK_FOLDS
) -> dict[str, str]:
    """The first train/test pair over the day's recorded span (later folds roll forward)."""
    try:
        d = date.fromisoformat(day)
    except ValueError:
        raise MMError(f"day {day!r} is not a date", "use YYYY-MM-DD") from None
    lo = date_to_ns(d)
    span = lake_span(Path(lake), venue, symbol, lo, lo + NS_PER_DAY)
    if not span.rows or span.first_ns is None or span.last_ns is None:
        raise MMError(
            f"no market data for {venue}:{symbol} on {day}", "record that day first, or pass day="
        )
    start, end = span.first_ns, span.last_ns + 1
    train_len = int((end - start) * TRAIN_SHARE)
    test_len = (end - start - train_len) // folds
    if test_len <= 0:
        raise MMError(f"{day} holds too little data to walk forward", "pass an earlier day")
    return {
        "train": f"{_iso(start)}/{_iso(start + train_len)}",
        "test": f"{_iso(start + train_len)}/{_iso(start + train_len + test_len)}",
    }


@task(name="optimize-walk-forward", retries=1, retry_delay_seconds=60, timeout_seconds=4 * 3600)
def run_optimization(
    lake: str, venue: str, symbol: str, windows: dict[str, str], folds: int, baseline: str,
    space: str | None, trials: int, storage: str | None, out: str, study: str, jobs: int,
) -> dict[str, Any]:  # fmt: skip
    """The study (resumed on a retry: same study name) and the out-of-sample scores."""
    from optimize.pipeline import OptimizeRequest, optimize

    req = OptimizeRequest(
        lake=Path(lake), venue=venue, symbol=symbol, train=windows["train"], test=windows["test"],
        trials=trials, out=Path(out), jobs=jobs, space=Path(space) if space else None,
        storage=storage, study=study, params=Path(baseline), walk=folds, progress=False,
    )  # fmt: skip
    return optimize(req)


@task(name="apply-gate", retries=0, timeout_seconds=300)
def gate_and_apply(lake: str, out: str, apply_to: str, min_improvement: float) -> dict[str, Any]:
    """Replace ``apply_to`` with best.yaml only if it won out of sample; record the decision."""
    from optimize.pipeline import apply_gate
    from warehouse.runs import atomic_write_json

    out_dir = Path(out)
    report = json.loads((out_dir / "optimize.json").read_text())
    best_text = (out_dir / "best.yaml").read_text()
    header = "\n".join(line[2:] for line in best_text.splitlines() if line.startswith("# "))
    decision = apply_gate(
        Path(lake), report, yaml.safe_load(best_text), Path(apply_to), min_improvement, header
    )
    atomic_write_json(out_dir / "optimize.json", {**report, "decision": decision})
    return decision


@flow(name="mm-reoptimize", log_prints=True)
def reoptimize(
    lake: str = "data/lake",
    venue: str = "bybit",
    symbol: str = "BTCUSDT",
    apply_to: str = "live_params.yaml",
    space: str | None = None,
    trials: int = 100,
    min_improvement: float = 0.0,
    storage: str | None = None,
    day: str | None = None,
    folds: int = WALK_FOLDS,
    jobs: int = 1,
    out_dir: str | None = None,
) -> dict[str, Any]:
    """Yesterday's (UTC) data unless ``day`` (YYYY-MM-DD): walk-forward study, gate, apply."""
    day = day or yesterday_utc()
    symbol = symbol.upper()
    out = out_dir or str(Path(lake) / "optimize" / "runs" / f"{venue}_{symbol}_{day}")
    windows = plan_windows(lake, venue, symbol, day, folds)
    study = f"reoptimize:{venue}:{symbol}:{day}"
    report = run_optimization(
        lake, venue, symbol, windows, folds, apply_to, space, trials, storage, out, study, jobs
    )
    decision = gate_and_apply(lake, out, apply_to, min_improvement)
    verdict = "applied" if decision["applied"] else "kept"
    print(f"reoptimize {venue}:{symbol} {day}: {verdict} {apply_to}: {decision['reason']}")
    return {"day": day, "windows": windows, "out": out, "report": report, "decision": decision}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--lake", default="data/lake")
    ap.add_argument("--venue", default="bybit")
    ap.add_argument("--symbol", default="BTCUSDT")
    ap.add_argument("--apply-to", default="live_params.yaml")
    ap.add_argument("--space", default=None)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--min-improvement", type=float, default=0.0)
    ap.add_argument("--storage", default=None)
    ap.add_argument("--day", default=None, help="YYYY-MM-DD (default: yesterday UTC)")
    args = ap.parse_args()
    reoptimize(
        args.lake, args.venue, args.symbol, args.apply_to, args.space, args.trials,
        args.min_improvement, args.storage, args.day,
    )  # fmt: skip


if __name__ == "__main__":
    main()
