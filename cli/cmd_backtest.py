"""``mm backtest``: the replay backtest of one instrument, writing a run directory."""

from __future__ import annotations

import json
import math
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.main import app, emit_json, guarded
from core.errors import MMError

if TYPE_CHECKING:
    from core.params import StrategyParams

RUN_MARKERS = ("run.json", "summary.json", "runs", "fills", "orders", "quotes", "pnl")


def prepare_run_dir(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise MMError(f"{out} is not a directory")
    if out.is_dir() and any((out / m).exists() for m in RUN_MARKERS):
        if not force:
            raise MMError(
                f"{out} already holds a run", "choose another --out or pass --force to replace it"
            )
        for m in (*RUN_MARKERS, "instruments", "summaries", ".summary.lock"):
            target = out / m
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()


def format_summary(s: dict[str, Any], run_dir: Path | None = None) -> str:
    def fmt(v: Any, spec: str = ",.4f") -> str:
        return "n/a" if v is None else format(v, spec)

    def pct(v: Any) -> str:
        return "n/a" if v is None else f"{v * 100:.2f} %"

    ccy = s.get("pnl_currency", "")
    inverse = s.get("kind") == "inverse"
    money = ",.8f" if inverse else ",.4f"  # coin PnL of a few contracts is small

    def cash(v: Any) -> str:
        return f"{fmt(v, money)} {ccy}".rstrip()

    exact = str(s["net_pnl_exact"])
    if len(exact) > 40:  # an inverse fraction: its 28-digit decimal here, all of it in the json
        exact = f"{s.get('net_pnl_decimal', '?')}; the exact fraction is in summary.json"
    mk = s.get("markouts", {})
    marks = "  ".join(
        f"{h} {fmt(mk[h]['avg_bps'], '+.3f')}" for h in ("1s", "5s", "30s", "60s") if h in mk
    )
    lines = [
        f"backtest {s['instrument']}",
        f"  net PnL          {cash(s['net_pnl'])}   (exact {exact})",
        f"  fees / rebates   {cash(s['fees'])}   (negative = rebates earned)",
        f"  realized / unrl. {fmt(s['realized_pnl'], money)} / {cash(s['unrealized_pnl'])}",
        f"  return           {fmt(s['return_pct'], '.4f')} % of capital",
        f"  Sharpe (annual.) {fmt(s['sharpe_annualized'], '.2f')}",
        f"  max drawdown     {cash(s['max_drawdown'])}",
        f"  fills            {s['fills']:,}   maker share {pct(s['maker_share'])}   volume {fmt(s['volume'], ',.2f')} {s.get('quote_currency', '')}".rstrip(),
        f"  orders           {s['orders_placed']:,} placed, {s['amends']:,} amends, {s['cancels']:,} cancels,"
        f" {s['rejects']:,} rejects",
        f"  fill rate        {pct(s['fill_rate'])}   cancel ratio {fmt(s['cancel_ratio'], '.3f')}",
        f"  inventory        avg |pos| {fmt(s['avg_abs_inventory'], '.6g')}  max |pos| "
        f"{fmt(s['max_abs_inventory'], '.6g')}  final {fmt(s['final_position'], '.6g')}",
        f"  markouts (bps)   {marks}",
        f"  events           {s['events']:,} in {s['wall_time_s']:.2f} s"
        f" ({fmt(s['events_per_s'], ',.0f')} events/s)",
    ]
    if run_dir is not None:
        lines.append(f"  run directory    {run_dir}")
    return "\n".join(lines)


def run_backtest(
    lake: Path,
    venue: str,
    symbol: str,
    out: Path,
    params_file: Path | None = None,
    start: str | None = None,
    end: str | None = None,
    force: bool = False,
    progress: bool = True,
    source: str = "parquet",
    bootstrap: str | None = None,
    warn: Callable[[str], None] | None = None,
    engine: str | None = None,
    feed_latency_ms: float | None = None,
) -> dict[str, Any]:
    """Run one backtest into ``out``; ``warn`` gets a line if the parameters can never
    quote (default: stderr). Bad input fails before ``out`` is touched, and a failed run
    removes the ``out`` it created (a folder that was there before stays)."""
    from core.config import load_params_file, load_settings
    from core.instruments import instrument_id
    from core.lake import instrument_path, read_instrument
    from core.lake_span import check_range
    from core.timeutil import parse_time
    from engine.select import engine_name
    from flows.replay_backtest import lake_backtest, preflight
    from operators.quoting.feasibility import never_quote_warning
    from warehouse.runner import run_flow

    if source not in ("parquet", "kafka"):
        raise MMError(f"unknown source {source!r}", "use parquet or kafka")
    if source == "kafka" and not bootstrap:
        raise MMError("--source kafka needs --bootstrap HOST:PORT")
    if not lake.is_dir() and source == "parquet":
        raise MMError(f"lake {lake} does not exist", "import data first with `mm import`")
    engine = engine_name(engine)
    start_ns, end_ns = parse_time(start), parse_time(end)
    check_range(start_ns, end_ns)
    params = load_params_file(params_file) if params_file else load_settings().params_for(symbol)
    if feed_latency_ms is not None:
        params = with_feed_latency(params, feed_latency_ms)
    inst = instrument_id(venue, symbol)
    if source == "parquet":
        warning = preflight(lake, inst, params, start_ns, end_ns)
    elif instrument_path(lake, venue, symbol).is_file():  # kafka: prices unknown until read
        warning = never_quote_warning(read_instrument(lake, venue, symbol), params)
    else:
        warning = None
    if warning:
        (warn or _warn_stderr)(warning)
    prepare_run_dir(out, force)
    created = not out.exists()
    try:
        if source == "kafka":
            from flows.replay_backtest import kafka_backtest

            assert bootstrap is not None
            flow = kafka_backtest(
                bootstrap, lake, [inst], out, {inst: params}, start_ns, end_ns, progress,
                engine=engine,
            )  # fmt: skip
        else:
            flow = lake_backtest(
                lake, [inst], out, {inst: params}, start_ns, end_ns, progress=progress,
                engine=engine,
            )  # fmt: skip
        run_flow(flow)
        summary_path = out / "summary.json"
        if not summary_path.is_file():
            raise MMError(
                f"the run produced no summary (no data for {inst} in the range?)",
                "check --start/--end",
            )
        return json.loads(summary_path.read_text())
    except Exception:
        if created:  # leave nothing behind: a re-run must not need --force
            shutil.rmtree(out, ignore_errors=True)
        raise


def with_feed_latency(params: StrategyParams, ms: float) -> StrategyParams:
    """``params`` with a constant market-data latency of ``ms``: each recorded message
    happened at the venue ``ms`` before the trader sees it. For data without a receive
    time (Bybit history, whose recv_ts is the exchange time) this is the feed latency."""
    from core.params import SimParams

    if not math.isfinite(ms) or ms < 0:
        raise MMError(f"--feed-latency-ms {ms} must be a number >= 0")
    sim = SimParams(**{**params.sim.model_dump(), "md_latency": "constant", "md_latency_ms": ms})
    return params.model_copy(update={"sim": sim})


def _warn_stderr(message: str) -> None:
    print(f"mm backtest: warning: {message}", file=sys.stderr)


@app.command("backtest")
@guarded("backtest")
def backtest_cmd(
    lake: Annotated[Path, typer.Option(help="Parquet lake directory.")] = Path("data/lake"),
    venue: Annotated[str, typer.Option(help="Venue of the instrument.")] = "binance-usdm",
    symbol: Annotated[str, typer.Option(help="Symbol of the instrument.")] = "BTCUSDT",
    out: Annotated[Path, typer.Option(help="Run directory to write.")] = Path("runs/latest"),
    params: Annotated[Path | None, typer.Option("--params", help="Parameter YAML file.")] = None,
    start: Annotated[str | None, typer.Option(help="Start time (ISO-8601 or ns).")] = None,
    end: Annotated[str | None, typer.Option(help="End time (exclusive).")] = None,
    source: Annotated[str, typer.Option(help="parquet (the lake) or kafka.")] = "parquet",
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap HOST:PORT for --source kafka.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing run in --out.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    engine: Annotated[
        str | None,
        typer.Option(help="compiled (default) or python: the plain-Python reference trader."),
    ] = None,
    feed_latency_ms: Annotated[
        float | None,
        typer.Option(
            help="Constant market-data latency (ms), overriding the params' sim.md_latency: "
            "set it for data without a receive time (Bybit history)."
        ),
    ] = None,
) -> None:
    """Replay-backtest one instrument against the simulated venue; writes quotes, orders, fills, PnL."""
    summary = run_backtest(
        lake, venue, symbol.upper(), out, params, start, end, force, not as_json, source,
        bootstrap, engine=engine, feed_latency_ms=feed_latency_ms,
    )  # fmt: skip
    if as_json:
        emit_json(summary)
    else:
        print(format_summary(summary, out))
