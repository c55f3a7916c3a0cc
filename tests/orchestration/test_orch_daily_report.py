"""The daily report as a real Prefect flow, run in-process (PREFECT_HOME is a temp dir)."""

from __future__ import annotations

from pathlib import Path

from orchestration.reports import daily_report_flow


def test_daily_report_flow_runs_offline(sample_lake: Path, tmp_path: Path) -> None:
    result = daily_report_flow(str(sample_lake), str(tmp_path), day="2024-08-08")
    html = tmp_path / "daily-2024-08-08.html"
    assert html.is_file() and "<svg" in html.read_text()
    symbols = {row["symbol"] for row in result["market"]}
    assert "BTCUSDT" in symbols
