"""Prefect flow for the daily report over the lake (per symbol per day).

    python -m orchestration.reports --lake data/lake --out reports        # run once, in-process
    python -m orchestration.reports --serve --cron "5 0 * * *"            # schedule (Prefect server)

With no PREFECT_API_URL, Prefect runs the flow against a temporary local API, so
the flow works offline; with docker compose's Prefect server it shows up in its UI.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow, task

from warehouse.report import daily_report


@task(name="daily-report", retries=1, retry_delay_seconds=30)
def build_daily_report(lake: str, out: str, day: str | None) -> dict[str, Any]:
    return daily_report(Path(lake), Path(out), day)


@flow(name="mm-daily-report", log_prints=True)
def daily_report_flow(
    lake: str = "data/lake", out_dir: str = "reports", day: str | None = None
) -> dict[str, Any]:
    """Yesterday's (UTC) report unless ``day`` (YYYY-MM-DD) is given; ``day="all"`` = every day."""
    if day is None:
        day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    which = None if day == "all" else day
    name = "daily.html" if which is None else f"daily-{which}.html"
    result = build_daily_report(lake, str(Path(out_dir) / name), which)
    print(f"daily report for {day}: {Path(out_dir) / name}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--lake", default="data/lake")
    ap.add_argument("--out", default="reports")
    ap.add_argument("--day", default=None, help="YYYY-MM-DD, or 'all' (default: yesterday UTC)")
    ap.add_argument(
        "--serve", action="store_true", help="register a schedule with the Prefect server"
    )
    ap.add_argument("--cron", default="5 0 * * *")
    args = ap.parse_args()
    if args.serve:
        daily_report_flow.serve(
            name="mm-daily-report",
            cron=args.cron,
            parameters={"lake": args.lake, "out_dir": args.out},
        )
    else:
        daily_report_flow(args.lake, args.out, args.day)


if __name__ == "__main__":
    main()
