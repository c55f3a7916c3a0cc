"""``mm lake stats``: what the lake costs on disk, per table and per symbol-day."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.main import app, emit_json, guarded

lake_app = typer.Typer(help="Inspect the Parquet lake.", no_args_is_help=True)
app.add_typer(lake_app, name="lake")


@lake_app.command("stats")
@guarded("lake stats")
def stats_cmd(
    lake: Annotated[Path, typer.Option("--lake", help="Lake (or run directory).")] = Path(
        "data/lake"
    ),
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rows, events, bytes, bytes/row and /event, time span and bytes per symbol-day, per table."""
    from warehouse.lake_stats import format_stats, lake_stats

    stats = lake_stats(lake)
    if as_json:
        emit_json(stats.to_dict())
    else:
        print(format_stats(stats))
