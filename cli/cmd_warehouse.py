"""``mm sql``, ``mm report``, ``mm report-daily``, ``mm compact``: the warehouse commands."""

from __future__ import annotations

import io
import json
import math
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.main import app, emit_json, guarded
from core.errors import MMError

DEFAULT_LAKE = Path("data/lake")
FORMATS = ("table", "csv", "json", "parquet")

LakeOpt = Annotated[
    Path | None,
    typer.Option("--lake", help="Parquet lake directory (default data/lake when no --run)."),
]
RunOpt = Annotated[
    list[str] | None,
    typer.Option("--run", help="Run directory, or NAME=DIR to name it; repeat for several."),
]


def _open_catalog(
    lake: Path | None, runs: list[str] | None, db: Path | None = None, read_only: bool = False
) -> Any:
    from warehouse.duck import Catalog

    if lake is None and not runs:
        lake = DEFAULT_LAKE
        if not lake.is_dir():
            raise MMError(
                f"lake {lake} does not exist",
                "import data first with `mm import`, or pass --lake DIR / --run RUN_DIR",
            )
    return Catalog(lake, runs or (), str(db) if db else ":memory:", read_only=read_only)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def format_table(t: Any, max_rows: int) -> str:
    """A plain aligned text table (every column, up to ``max_rows`` rows)."""
    names = t.column_names
    rows = t.slice(0, max_rows).to_pylist()

    def show(v: Any) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, float):
            return f"{v:.10g}"
        return str(v)

    cells = [[show(r[n]) for n in names] for r in rows]
    widths = [max([len(n)] + [len(c[i]) for c in cells]) for i, n in enumerate(names)]
    numeric = [
        all(isinstance(r[n], (int, float)) or r[n] is None for r in rows) and bool(rows)
        for n in names
    ]

    def line(vals: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(vals, widths, numeric, strict=True)
        ).rstrip()

    out = [line(names), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in cells]
    more = t.num_rows - len(rows)
    out.append(
        f"({t.num_rows:,} rows"
        + (f", {more:,} not shown: use --max-rows, or --format csv --out FILE)" if more else ")")
    )
    return "\n".join(out)


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)


def _listing(cat: Any) -> str:
    d = cat.describe()
    src = [f"lake {cat.lake}"] if cat.lake is not None else []
    src += [f"run {r.name} ({r.path})" for r in cat.run_dirs]
    lines = [f"views over {', '.join(src)}:"]
    for name, v in d["views"].items():
        lines.append(f"  {name:<22} {v['description']}")
        cols = ", ".join(f"{c} {t}" for c, t in v["columns"].items())
        lines.append(f"  {'':<22} columns: {cols}")
    if d["missing"]:
        lines.append("views without data (querying them explains why):")
        for name, why in d["missing"].items():
            lines.append(f"  {name:<22} {why}")
    return "\n".join(lines)


@app.command("sql")
@guarded("sql")
def sql_cmd(
    query: Annotated[
        str | None,
        typer.Argument(help="SQL over the views; '-' reads it from stdin; omit to list the views."),
    ] = None,
    lake: LakeOpt = None,
    run: RunOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json | parquet")] = "table",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the result to this file.")
    ] = None,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="Keep the views in this DuckDB file for other tools."),
    ] = None,
    max_rows: Annotated[int, typer.Option(help="Rows shown by --format table.", min=1)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    unsafe: Annotated[
        bool,
        typer.Option(
            "--unsafe",
            help="A full DuckDB session (COPY TO, ATTACH, CREATE, other files): can change the lake.",
        ),
    ] = False,
) -> None:
    """Run SQL over the lake and run directories (DuckDB views: runs, fills, markouts, attribution ...).

    Read-only unless --unsafe: only SELECT / EXPLAIN, and only the lake and run directories."""
    if as_json:
        fmt = "json"
    if fmt not in FORMATS:
        raise typer.BadParameter(
            f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="--format"
        )
    if fmt == "parquet" and out is None:
        raise typer.BadParameter("parquet output needs --out FILE", param_hint="--format")
    if query == "-":
        query = sys.stdin.read()
    with _open_catalog(lake, run, db, read_only=not unsafe) as cat:
        if query is None or not query.strip():
            if fmt == "json":
                emit_json(cat.describe())
            else:
                print(_listing(cat))
            return
        t = cat.query(query)
    if fmt == "table":
        _emit(format_table(t, max_rows), out)
    elif fmt == "json":
        rows = [{k: _clean(v) for k, v in r.items()} for r in t.to_pylist()]
        _emit(json.dumps(rows, indent=2, default=str), out)
    elif fmt == "csv":
        import pyarrow.csv as pcsv

        buf = io.BytesIO()
        pcsv.write_csv(t, buf)
        _emit(buf.getvalue().decode(), out)
    else:
        import pyarrow.parquet as pq

        assert out is not None
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(t, out, compression="zstd")
    if out is not None:
        print(f"{t.num_rows:,} rows written to {out}", file=sys.stderr)


@app.command("report")
@guarded("report")
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Run directory (`mm backtest --out`).")],
    compare: Annotated[
        Path | None, typer.Option("--compare", help="Second run, shown side by side.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML file (default RUN_DIR/report.html).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Write a self-contained HTML report of a run: PnL attribution, inventory, quotes, markouts."""
    from warehouse.report import run_report

    result = run_report(run_dir, out, compare)
    if as_json:
        emit_json(result.to_dict())
    else:
        print(
            f"report written to {result.out} ({result.plots} plots, {result.bytes / 1024:,.0f} KiB, "
            f"{', '.join(result.instruments)})"
        )


@app.command("report-daily")
@guarded("report-daily")
def report_daily_cmd(
    lake: Annotated[Path, typer.Option("--lake", help="Parquet lake directory.")] = DEFAULT_LAKE,
    day: Annotated[str | None, typer.Option("--date", help="Only this day (YYYY-MM-DD).")] = None,
    run: RunOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML file (default reports/daily[-DATE].html).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Per symbol per day: trading PnL, fees, Sharpe, drawdown, volume, and market statistics."""
    from warehouse.report import daily_report

    if day is not None:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise typer.BadParameter(f"{day!r} is not YYYY-MM-DD", param_hint="--date") from None
    out = out or Path("reports") / (f"daily-{day}.html" if day else "daily.html")
    result = daily_report(lake, out, day, tuple(run or ()))
    if as_json:
        emit_json(result)
    else:
        print(
            f"daily report written to {out} ({len(result['trading'])} trading rows, "
            f"{len(result['market'])} market rows, {result['plots']} plots)"
        )


@app.command("compact")
@guarded("compact")
def compact_cmd(
    lake: Annotated[Path, typer.Option("--lake", help="Lake (or run directory).")] = DEFAULT_LAKE,
    small_rows: Annotated[
        int, typer.Option(help="Files with fewer rows are merged.", min=1)
    ] = 1_000_000,
    target_rows: Annotated[
        int, typer.Option(help="Largest merged file (>= 2 x --small-rows).", min=2)
    ] = 5_000_000,
    drop_before: Annotated[
        str | None,
        typer.Option(help="Retention: delete date partitions before this day (YYYY-MM-DD)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report what would change.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Merge small Parquet files per partition and drop repeated rows (no row lost; crash-safe)."""
    from warehouse.compact import compact_lake

    cutoff = None
    if drop_before is not None:
        try:
            cutoff = date.fromisoformat(drop_before)
        except ValueError:
            raise typer.BadParameter(
                f"{drop_before!r} is not YYYY-MM-DD", param_hint="--drop-before"
            ) from None
    r = compact_lake(lake, small_rows, target_rows, dry_run, cutoff)
    if as_json:
        emit_json(r.to_dict())
        return
    verb = "would be" if dry_run else "were"
    print(
        f"{'dry run: ' if dry_run else ''}{r.partitions} partitions, {r.partitions_compacted} compacted: "
        f"{r.files_before:,} files -> {r.files_after:,} ({r.rows_rewritten:,} rows rewritten)"
    )
    if r.recovered:
        print(f"  finished {len(r.recovered)} interrupted compaction(s): {', '.join(r.recovered)}")
    if r.duplicates:
        print(
            f"  {r.duplicates:,} repeated row(s) (same natural key) {verb} dropped from "
            f"{r.files_deduplicated:,} file(s)"
        )
    if r.dropped:
        print(
            f"  {len(r.dropped)} partition(s) {verb} dropped (before {cutoff}): {', '.join(r.dropped)}"
        )
