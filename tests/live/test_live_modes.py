"""Paper mode with no keys, live mode with no keys, and no secret in any output."""

from __future__ import annotations

import polars as pl
import pytest
from live_helpers import Run, read_table
from live_scenarios import Session

pytestmark = pytest.mark.venue

MISSING_KEYS = (
    "live_mm: error: BYBIT_API_KEY and BYBIT_API_SECRET are not set "
    "(set them, or use paper mode: MM_MODE=paper)"
)


def test_paper_mode_quotes_into_the_lake_and_sends_nothing(paper_run: Run) -> None:
    proc, fake = paper_run.proc, paper_run.fake
    assert proc.exit_code == 0 and proc.exit_seconds is not None and proc.exit_seconds < 5.0
    [start] = proc.events("live_mm_start")
    assert start["mode"] == "paper"
    assert proc.events("never_quotes") == []  # the default parameters can quote XRPUSDT
    quotes = read_table(paper_run.lake, "quotes")
    assert quotes.filter(pl.col("side") != 0).height >= 6  # two sides, three levels
    orders = read_table(paper_run.lake, "orders")
    assert "place" in set(orders["event"])  # the simulated venue got them, not Bybit
    # no authenticated REST call at all: only public market data was asked for
    paths = {c.path for c in fake.rest_log}
    assert paths and all(p.startswith("/v5/market/") for p in paths), paths
    assert fake.private_ops == [] and fake.signatures == []  # no private stream either


def test_live_mode_without_keys_fails_in_one_line(nokeys_run: Run) -> None:
    proc = nokeys_run.proc
    assert proc.exit_code == 1
    lines = [ln.raw for ln in proc.lines if ln.raw.strip()]
    assert lines == [MISSING_KEYS]
    assert proc.stdout == []
    assert nokeys_run.fake.rest_log == []  # refused before any request


def test_no_secret_in_any_output(live_session: Session, paper_run: Run, nokeys_run: Run) -> None:
    fake = live_session.fake
    secrets = [fake.api_key, fake.api_secret, *fake.signatures]
    assert len(fake.signatures) > 20  # REST calls and the websocket logins were signed
    for name, text in (
        ("live", live_session.proc.text()),
        ("paper", paper_run.proc.text()),
        ("no keys", nokeys_run.proc.text()),
    ):
        assert text, name
        leaked = [s for s in secrets if s in text]
        assert leaked == [], f"{name} run printed a secret"
    for run in (paper_run, nokeys_run):  # their fakes' keys were never given to the flow
        assert run.fake.api_key not in run.proc.text()
