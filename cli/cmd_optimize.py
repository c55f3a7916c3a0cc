"""``mm optimize``: an optuna study over the compiled backtest, out-of-sample scores, apply gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.main import app, emit_json, guarded


def format_report(r: dict[str, Any]) -> str:
    def sc(v: dict[str, Any]) -> str:
        s = f"{v['score']:+.6g}"
        return s + (f"  (breach: {v['breach']})" if v.get("breach") else "")

    best, base = r["best"], r["baseline"]
    lines = [
        f"optimize {r['instrument']}: study {r['study']} ({r['trials']} trials, {r['sampler']})",
        f"  train {r['train']['window']}   test {r['test']['window']}",
        f"  best trial {best['trial']}: train {sc(best['train'])}   test {sc(best['test'])}",
        f"  baseline:       train {sc(base['train'])}   test {sc(base['test'])}",
        "  best params      "
        + ", ".join(
            f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in best["params"].items()
        ),
    ]
    if r.get("screen"):
        s = r["screen"]
        agree = "n/a" if s["rank_agreement"] is None else f"{s['rank_agreement']:+.2f}"
        lines.append(
            f"  screening        {s['trials']} cheap trials; top {len(s['confirmed'])} confirmed, rank agreement {agree}"
        )
        for c in s["confirmed"]:
            lines.append(
                f"    trial {c['trial']:>4}  cheap {c['screen_score']:+.6g}  full {c['full_score']:+.6g}"
            )
    for w in r.get("walk") or []:
        lines.append(
            f"  walk test {w['test']['window']}: best {w['best_test_score']:+.6g}  baseline {w['baseline_test_score']:+.6g}"
        )
    if r.get("decision"):
        d = r["decision"]
        lines.append(
            f"  {'APPLIED to' if d['applied'] else 'NOT applied to'} {d['target']}: {d['reason']}"
        )
    lines.append(f"  wrote {r['best_file']}")
    return "\n".join(lines)


@app.command("optimize")
@guarded("optimize")
def optimize_cmd(
    train: Annotated[str, typer.Option(help="Training window START/END (ISO 8601).")],
    test: Annotated[str, typer.Option(help="Out-of-sample window START/END, after --train.")],
    out: Annotated[Path, typer.Option(help="Directory for best.yaml and optimize.json.")],
    lake: Annotated[Path, typer.Option(help="Parquet lake directory.")] = Path("data/lake"),
    venue: Annotated[str, typer.Option(help="Venue of the instrument.")] = "binance-usdm",
    symbol: Annotated[str, typer.Option(help="Symbol of the instrument.")] = "BTCUSDT",
    trials: Annotated[int, typer.Option(help="Trials to run (more on a continued study).")] = 50,
    jobs: Annotated[int, typer.Option(help="Worker processes sharing the study.")] = 1,
    space: Annotated[
        Path | None, typer.Option(help="Search space YAML (default: shipped).")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna storage URL (default: SQLite in the lake, or MM_OPTUNA_STORAGE)."
        ),
    ] = None,
    study: Annotated[
        str | None, typer.Option(help="Study name; the same name continues it.")
    ] = None,
    sampler: Annotated[
        str, typer.Option(help="auto (grid if it fits, else tpe), tpe, grid or random.")
    ] = "auto",
    seed: Annotated[
        int, typer.Option(help="Sampler seed (same seed + data + --jobs 1 = same trials).")
    ] = 0,
    params: Annotated[
        Path | None,
        typer.Option(
            "--params", help="Baseline params file (default: --apply-to's, else defaults)."
        ),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            help="Score weights, e.g. sharpe=0.01,pnl=1,drawdown=1,fill_rate=0.1,inventory=0.1."
        ),
    ] = None,
    walk: Annotated[
        int, typer.Option(help="Roll K consecutive train/test windows (walk-forward).")
    ] = 1,
    screen: Annotated[
        int, typer.Option(help="Screen this many trials on the cheap model first (0 = off).")
    ] = 0,
    confirm: Annotated[int, typer.Option(help="Screened trials confirmed at full fidelity.")] = 5,
    apply_to: Annotated[
        Path | None,
        typer.Option(help="Live params file to replace if the best wins out of sample."),
    ] = None,
    min_improvement: Annotated[
        float,
        typer.Option(help="Out-of-sample score margin the best must beat the current file by."),
    ] = 0.0,
    engine: Annotated[str | None, typer.Option(help="compiled (default) or python.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Optimize strategy parameters on --train, score them on --test, write best.yaml (and gate --apply-to)."""
    from optimize.objective import Weights
    from optimize.pipeline import OptimizeRequest, optimize

    req = OptimizeRequest(
        lake=lake, venue=venue, symbol=symbol.upper(), train=train, test=test, trials=trials,
        out=out, jobs=jobs, space=space, storage=storage, study=study, sampler=sampler, seed=seed,
        params=params, weights=Weights.parse(weights), walk=walk, apply_to=apply_to,
        min_improvement=min_improvement, screen=screen, confirm=confirm, engine=engine,
        progress=not as_json,
    )  # fmt: skip
    report = optimize(req)
    if as_json:
        emit_json(report)
    else:
        print(format_report(report))
