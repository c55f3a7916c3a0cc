"""The report of the sample backtest renders its plots in a real browser (headless Chromium)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check_report.py"

pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/chromium").is_file(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
)


def test_sample_backtest_report_renders_in_chromium(sample_run: Path, tmp_path: Path) -> None:
    from warehouse.report import run_report

    report = run_report(sample_run, tmp_path / "report.html").out
    r = subprocess.run(
        [sys.executable, str(SCRIPT), str(report), "--screenshot", str(tmp_path / "shot.png")],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    verdict = json.loads(r.stdout)
    assert verdict["ok"] and verdict["plots_in_dom"] == 6
    assert all(n >= 20 for n in verdict["drawn_elements_per_plot"])
    assert verdict["non_white_share"] > 0.02
    assert (tmp_path / "shot.png").stat().st_size > 10_000
