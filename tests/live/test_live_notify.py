"""The paper run with notifications on: Telegram gets the fills and the day's summary,
Discord hangs on every request, and the run is the same run (its other tests pass on
it, the 5 s shutdown included)."""

from __future__ import annotations

import pytest
from fake_notify import DISCORD_TOKEN, TELEGRAM_TOKEN, FakeNotify
from live_helpers import Run

pytestmark = pytest.mark.venue


def test_a_paper_run_notifies_its_fills_and_summary_past_a_hanging_endpoint(
    paper_run: Run, paper_notifier: FakeNotify
) -> None:
    proc = paper_run.proc
    assert proc.exit_code == 0 and proc.exit_seconds is not None and proc.exit_seconds < 5.0
    [started] = proc.events("notifier_started")
    assert started["destinations"] == "discord,telegram"
    lines = "\n".join(paper_notifier.texts("telegram")).split("\n")
    fills = [ln for ln in lines if ln.startswith("fills bybit:XRPUSDT: ")]
    logged = proc.events("fill")
    assert fills and sum(int(ln.split(": ")[1].split(",")[0]) for ln in fills) == len(logged)
    summary = [ln for ln in lines if ln.startswith("bybit:XRPUSDT: ")]
    assert summary[-1].startswith(f"bybit:XRPUSDT: {len(logged)} fills ")  # at the shutdown
    assert any(r.api == "discord" for r in paper_notifier.requests)  # it hung, nothing else
    text = proc.text()
    assert DISCORD_TOKEN not in text and TELEGRAM_TOKEN not in text
