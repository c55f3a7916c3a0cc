"""Restarts into one lake: consecutive paper runs (and a SIGKILLed one) keep every row.

Each run is a real ``flows.live_mm`` process (MM_MODE=paper) against one fake Bybit and
one MM_LAKE, all on the same UTC day, as a user restarting the trader would do. The
ground truth of a run is its own log (one ``quotes`` line per quote set, one ``fill``
line per fill) and its summary (the fills it counted when it stopped); the trader
numbers each table's rows 1, 2, 3 ... (``seq``), so a run that kept every row has every
seq from 1 to its last one.

A paper trader keeps trading on its simulated venue between SIGTERM and its exit: a fill
logged after the ``shutdown`` line can come after its last rows were handed over, and is
then in neither the summary nor the lake (reported; flows/live_mm.py is not this test's).
So fills are checked against the summary, and the log bounds it. Likewise the last log
lines of a run may miss the exit: the stop's own "quoting nothing" quote set is in the
lake, its ``quotes`` line sometimes not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from fake_bybit import FakeBybit
from live_helpers import TICK, LiveProcess, live_env
from live_scenarios import Session

from core.lake import RUN_TABLES
from warehouse.duck import Catalog

pytestmark = pytest.mark.venue


@dataclass
class PaperRun:
    proc: LiveProcess
    run_id: str  # the run tag the flow logged at start

    def logged(self, name: str) -> int:
        return len(self.proc.events(name))

    def before_stop(self, name: str) -> int:
        """Events logged before SIGTERM (the trader had them before its Shutdown item)."""
        (stop,) = self.proc.events("shutdown")
        return len([e for e in self.proc.events(name) if e["ts"] < stop["ts"]])

    def summary_fills(self, lake: Path) -> int:
        summary = json.loads((lake / "runs" / self.run_id / "summary.json").read_text())
        fills = summary["fills"]
        assert 2 <= self.before_stop("fill") <= fills <= self.logged("fill")
        return fills


def lake_rows(lake: Path, table: str) -> pl.DataFrame:
    files = sorted((lake / table).glob("venue=bybit/symbol=XRPUSDT/date=*/*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")


def two_sided(proc: LiveProcess) -> list[dict]:
    """The logged quote sets with a bid and an ask (an empty set is logged too)."""
    return [q for q in proc.events("quotes") if q["bids"] and q["asks"]]


def start_paper(fake: FakeBybit, lake: Path) -> PaperRun:
    """A paper run that is quoting and has fills of its own (trades through its quotes)."""
    env = live_env(fake.env(), lake, MM_MODE="paper")
    del env["BYBIT_API_KEY"], env["BYBIT_API_SECRET"]
    proc = LiveProcess(env).start()
    try:
        start = proc.wait_event("live_mm_start", timeout=30)
        # the last two-sided set: a lagging book (a loaded machine) logs an empty one
        quotes = proc.wait_for("paper: quoting", lambda: two_sided(proc), timeout=30)[-1]
        bid = Decimal(quotes["bids"].split(",")[0].split("x")[0])
        ask = Decimal(quotes["asks"].split(",")[0].split("x")[0])
        # aggressive trades through our best levels: the simulated venue fills us as maker
        fake.publish_trade(str(bid - 20 * TICK), "5000", "Sell")
        fake.publish_trade(str(ask + 20 * TICK), "5000", "Buy")
        proc.wait_for("paper: own fills", lambda: len(proc.events("fill")) >= 2)
        n = len(fake.ws_log)
        proc.wait_for("paper: 30 more deltas", lambda: len(fake.ws_log) >= n + 30)
    except BaseException:
        proc.kill()
        raise
    return PaperRun(proc, start["run_tag"])


def stop(run: PaperRun) -> None:
    try:
        assert run.proc.terminate(timeout=15) == 0, run.proc.tail()
    finally:
        run.proc.kill()


def assert_complete(lake: Path, run: PaperRun) -> None:
    """Every row the run logged is in the lake under its run id, numbered without a gap."""
    for table in RUN_TABLES:
        rows = lake_rows(lake, table).filter(pl.col("run_id") == run.run_id)
        seqs = sorted(set(rows["seq"].to_list()))
        assert seqs and seqs == list(range(1, seqs[-1] + 1)), (table, run.run_id, seqs[:10])
        if table != "quotes":  # one row per seq (quotes: one per side and level)
            assert rows.height == len(seqs), (table, run.run_id)
    fills = lake_rows(lake, "fills").filter(pl.col("run_id") == run.run_id)
    assert fills.height == run.summary_fills(lake)
    quotes = lake_rows(lake, "quotes").filter(pl.col("run_id") == run.run_id)
    sets = quotes["seq"].n_unique()
    assert run.before_stop("quotes") <= sets <= run.logged("quotes") + 1
    if sets > run.logged("quotes"):  # the stop's own set, whose log line missed the exit
        assert quotes.filter(pl.col("seq") == sets)["side"].to_list() == [0]


def runs_view(lake: Path) -> dict[str, dict]:
    with Catalog(lake) as cat:
        rows = cat.rows("SELECT * FROM runs ORDER BY start_time")
    for r in rows:
        r["summary"] = json.loads(r["summary"]) if r["summary"] is not None else None
    return {r["run_id"]: r for r in rows}


def test_consecutive_paper_runs_into_one_lake_keep_every_row(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    runs: list[PaperRun] = []
    with FakeBybit() as fake:
        for k in range(3):
            run = start_paper(fake, lake)
            stop(run)
            runs.append(run)
            if k == 0:
                continue
            # after the second and the third run: totals first (what the bug lost) ...
            sets = lake_rows(lake, "quotes").select("recv_ts", "seq").unique().height
            assert sum(r.before_stop("quotes") for r in runs) <= sets
            assert sets <= sum(r.logged("quotes") + 1 for r in runs)
            fills = lake_rows(lake, "fills").height
            assert fills == sum(r.summary_fills(lake) for r in runs)
            assert lake_rows(lake, "quotes")["run_id"].n_unique() == len(runs)
            for r in runs:  # ... then each run on its own
                assert_complete(lake, r)
    assert len({r.run_id for r in runs}) == 3
    view = runs_view(lake)
    assert list(view) == [r.run_id for r in runs]  # in start order
    for r in runs:
        row = view[r.run_id]
        assert (row["run"], row["mode"], row["venue"], row["symbol"]) == (
            "lake",
            "paper",
            "bybit",
            "XRPUSDT",
        )
        assert row["fills"] == r.summary_fills(lake)
        assert row["summary"] is not None  # each run kept its own summary
        assert row["summary"]["fills"] == row["fills"]
        assert row["start_time"] < row["end_time"]


def test_sigkilled_run_then_a_new_run_keeps_both(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with FakeBybit() as fake:
        killed = start_paper(fake, lake)
        # let a flush of quotes, orders and PnL reach disk (fills wait in the trader for
        # their 60 s markouts), then kill -9: no shutdown at all
        killed.proc.wait_for(
            "run 1: rows on disk",
            lambda: all(lake_rows(lake, t).height for t in ("quotes", "orders", "pnl")),
        )
        assert killed.proc.proc is not None
        killed.proc.proc.kill()
        killed.proc.wait_exit(timeout=10)
        on_disk = {t: lake_rows(lake, t) for t in RUN_TABLES}  # what run 1 left behind
        second = start_paper(fake, lake)
        stop(second)
    # totals first (what the bug lost): quote sets (one recv_ts and seq each) and fills
    sets = lake_rows(lake, "quotes").select("recv_ts", "seq").unique().height
    killed_sets = on_disk["quotes"].select("recv_ts", "seq").unique().height
    assert killed_sets + second.before_stop("quotes") <= sets
    assert sets <= killed_sets + second.logged("quotes") + 1
    fills = lake_rows(lake, "fills")
    assert fills.height == on_disk["fills"].height + second.summary_fills(lake)
    for table in RUN_TABLES:
        after = lake_rows(lake, table)
        assert (
            after.height
            == on_disk[table].height + after.filter(pl.col("run_id") == second.run_id).height
        )
        first = after.filter(pl.col("run_id") == killed.run_id).sort("seq")
        before = on_disk[table]
        assert first.height == before.height, table  # nothing of run 1 lost
        if table == "fills":
            continue
        assert first.equals(before.sort("seq").select(first.columns)), table
        seqs = sorted(set(first["seq"].to_list()))  # a flush is written in order: a prefix
        assert seqs and seqs == list(range(1, seqs[-1] + 1)), table
    assert_complete(lake, second)
    view = runs_view(lake)
    assert set(view) == {killed.run_id, second.run_id}
    assert view[killed.run_id]["summary"] is None  # killed: no summary, but its rows stay
    assert view[killed.run_id]["mode"] == "paper"
    assert view[killed.run_id]["pnl"] == on_disk["pnl"].height
    assert view[second.run_id]["summary"]["fills"] == second.summary_fills(lake)


def test_live_rows_carry_the_run_tag_of_their_order_ids(live_session: Session) -> None:
    """Live mode: the run id is the run tag inside every orderLinkId the run sent."""
    s = live_session
    run_id = s.run_prefix.removeprefix("mm").removesuffix("-")
    for table in RUN_TABLES:
        assert set(lake_rows(s.lake, table)["run_id"]) == {run_id}, table
    placed = lake_rows(s.lake, "orders").filter(pl.col("event") == "place")
    assert placed.height and all(c.startswith(s.run_prefix) for c in placed["client_id"])
    venue = {o.link_id for o in s.fake.orders.values() if o.link_id.startswith(s.run_prefix)}
    assert venue and venue <= set(placed["client_id"])  # each order the venue got is a row
    (row,) = runs_view(s.lake).values()
    assert (row["run_id"], row["mode"]) == (run_id, "live")
