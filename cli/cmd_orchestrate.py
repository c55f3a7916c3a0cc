"""``mm orchestrate list`` / ``mm orchestrate serve``: the scheduled Prefect flows.

``serve`` registers every enabled flow (record, reoptimize, daily_report) with its cron
schedule and runs them as they come due, until interrupted. With no PREFECT_API_URL it
runs against a temporary local Prefect API; with PREFECT_API_URL (docker compose's
server: http://localhost:4200/api) the deployments and runs show in that server's UI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.main import app, emit_json, guarded

orchestrate_app = typer.Typer(
    help="Scheduled Prefect flows: recording, nightly reoptimization, daily report.",
    no_args_is_help=True,
)
app.add_typer(orchestrate_app, name="orchestrate")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="Schedules YAML (default MM_SCHEDULES_FILE): cron per flow."),
]
FlowOpt = Annotated[
    list[str] | None,
    typer.Option("--flow", help="Only this flow (repeat for several; default: every enabled)."),
]


def _deployments(config: Path | None, flows: list[str] | None) -> tuple[list[Any], list[Any]]:
    from core.config import load_settings
    from orchestration.schedules import build_deployments, load_schedules, select

    chosen = select(load_schedules(config), flows)
    return chosen, build_deployments(chosen, load_settings().lake)


def _api() -> str:
    return os.environ.get("PREFECT_API_URL") or "a temporary local Prefect API"


@orchestrate_app.command("list")
@guarded("orchestrate list")
def list_cmd(
    config: ConfigOpt = None,
    flows: FlowOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show the deployments `serve` would register (flows imported and checked)."""
    chosen, deps = _deployments(config, flows)
    rows = [
        {
            "name": d.name,
            "flow": d.flow_name,
            "cron": s.cron,
            "timezone": "UTC",
            "parameters": d.parameters,
            "path": s.path,
        }
        for s, d in zip(chosen, deps, strict=True)
    ]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        print(f"{r['flow']}/{r['name']}  cron '{r['cron']}' UTC  parameters {r['parameters']}")


@orchestrate_app.command("serve")
@guarded("orchestrate serve")
def serve_cmd(config: ConfigOpt = None, flows: FlowOpt = None) -> None:
    """Register the flows with their schedules and run them when due (Ctrl-C stops)."""
    from prefect import serve

    chosen, deps = _deployments(config, flows)
    for s, d in zip(chosen, deps, strict=True):
        print(f"serving {d.flow_name}/{d.name}: cron '{s.cron}' UTC")
    print(f"api: {_api()}")
    serve(*deps)
