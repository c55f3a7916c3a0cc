"""Run ids: several trading runs in one lake keep every row, their own summary, and stay
apart in every view; old lakes without run ids stay readable as one 'legacy' run."""

from __future__ import annotations

import json
from pathlib import Path

import bytewax.operators as op
import pyarrow.parquet as pq
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main
from wh_data import FILLS, ORDERS, PNL, QUOTES, SPEC, SUMMARY, frame

from core.errors import MMError
from core.lake import RUN_ID, RUN_TABLES, table_def
from operators.trader import TraderOutput
from warehouse.attribution import attribute
from warehouse.duck import Catalog
from warehouse.lake_writer import write_instrument
from warehouse.report import run_report
from warehouse.run_sink import RunSink
from warehouse.runs import check_run_id, read_run_summary

INST = SPEC.id
HAND = {"quotes": QUOTES, "orders": ORDERS, "fills": FILLS, "pnl": PNL}


def _tuples(table: str, rows: list[dict]) -> list[tuple]:
    """The hand-made rows as the trader emits them: every column but run_id, in order."""
    names = [f.name for f in table_def(table).schema if f.name != RUN_ID]
    return [tuple(r[n] for n in names) for r in rows]


def run_once(root: Path, run_id: str, mode: str = "paper", summary: dict | None = None) -> None:
    """The hand-made run through a real RunSink in a real Bytewax flow: the rows in two
    outputs (two flushes' worth), the summary at the end."""
    tables = {t: _tuples(t, rows) for t, rows in HAND.items()}
    half = {t: len(rows) // 2 for t, rows in tables.items()}
    first = TraderOutput(**{t: rows[: half[t]] for t, rows in tables.items()})
    last = TraderOutput(**{t: rows[half[t] :] for t, rows in tables.items()})
    last.summary = summary if summary is not None else SUMMARY
    flow = Dataflow(f"run_{run_id}")
    items = op.input("in", flow, TestingSource([(INST, first), (INST, last)]))
    op.output("run", items, RunSink(root, [INST], flush_rows=10, run_id=run_id, mode=mode))
    run_main(flow)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    write_instrument(root, SPEC)
    return root


def _count(root: Path, table: str) -> dict[str | None, int]:
    out: dict[str | None, int] = {}
    for f in (root / table).rglob("*.parquet"):
        t = pq.read_table(f, schema=table_def(table).schema)
        for rid in t.column(RUN_ID).to_pylist():
            out[rid] = out.get(rid, 0) + 1
    return out


def test_two_runs_with_the_same_seqs_keep_every_row_and_their_own_summary(lake: Path) -> None:
    run_once(lake, "run1", summary={**SUMMARY, "net_pnl": 1.5})
    run_once(lake, "run2")  # the trader numbers rows from 1 again: same seqs, same day
    for table, rows in HAND.items():
        assert _count(lake, table) == {"run1": len(rows), "run2": len(rows)}, table
    assert read_run_summary(lake, "run1")["net_pnl"] == 1.5  # not overwritten by run2
    assert read_run_summary(lake, "run2")["net_pnl"] == SUMMARY["net_pnl"]
    assert not (lake / "summary.json").exists()  # a lake holds many runs: no "the" summary
    run_once(lake, "run2")  # replaying a run is still a no-op (the key is run_id + seq)
    assert _count(lake, "fills") == {"run1": 3, "run2": 3}
    with Catalog(lake) as cat:
        runs = cat.rows("SELECT * FROM runs ORDER BY run_id")
        per_run = {a.run_id: a for a in attribute(cat)}
        curve = cat.rows(
            "SELECT run_id, fills, avg_pnl FROM markout_curve WHERE side = 0 AND horizon_s = 1 "
            "ORDER BY run_id"
        )
    assert [(r["run"], r["run_id"], r["mode"], r["venue"], r["symbol"]) for r in runs] == [
        ("lake", "run1", "paper", SPEC.venue, SPEC.symbol),
        ("lake", "run2", "paper", SPEC.venue, SPEC.symbol),
    ]
    for r in runs:
        assert (r["quotes"], r["orders"], r["fills"], r["pnl"]) == (7, 26, 3, 10)
        assert r["start_time"] < r["end_time"] and r["started_at"] is not None
        assert json.loads(r["summary"])["fills"] == 3
    assert [r["net_pnl"] for r in runs] == [1.5, SUMMARY["net_pnl"]]
    # each run's analytics are the hand-made run's, not a mix of the two
    assert sorted(per_run) == ["run1", "run2"]
    for a in per_run.values():
        assert (a.total_pnl, a.spread_capture, a.fills, a.intervals) == (0.96875, 0.5, 3, 10)
    assert curve == [
        {"run_id": "run1", "fills": 3, "avg_pnl": pytest.approx(1 / 3)},  # (1 + 0.25 - 0.25) / 3
        {"run_id": "run2", "fills": 3, "avg_pnl": pytest.approx(1 / 3)},
    ]


def test_a_backtest_run_directory_keeps_summary_json(tmp_path: Path) -> None:
    out = tmp_path / "bt"
    write_instrument(out, SPEC)
    run_once(out, "bt1", mode="backtest")
    assert json.loads((out / "summary.json").read_text()) == SUMMARY
    assert json.loads((out / "runs" / "bt1" / "summary.json").read_text()) == SUMMARY
    manifest = json.loads((out / "runs" / "bt1" / "run.json").read_text())
    assert {k: manifest[k] for k in ("run_id", "mode", "instruments")} == {
        "run_id": "bt1",
        "mode": "backtest",
        "instruments": [INST],
    }


def test_a_run_that_wrote_nothing_yet_is_listed(lake: Path) -> None:
    """A run is recorded when it starts: one killed before its first flush still shows."""
    sink = RunSink(lake, [INST], run_id="early", mode="live")
    sink.build_part("run", INST, None).close()
    with Catalog(lake) as cat:
        (row,) = cat.rows("SELECT * FROM runs")
    assert (row["run_id"], row["mode"], row["fills"], row["summary"]) == ("early", "live", 0, None)
    assert row["start_time"] is None and row["started_at"] is not None


def _legacy(root: Path) -> Path:
    """A lake as written before run ids: no run_id column, summaries/<inst>.json."""
    write_instrument(root, SPEC)
    for table, rows in HAND.items():
        d = root / table / f"venue={SPEC.venue}" / f"symbol={SPEC.symbol}" / "date=2024-08-08"
        d.mkdir(parents=True)
        pq.write_table(frame(table, rows).drop(RUN_ID).to_arrow(), d / "part-0-old.parquet")
    (root / "summaries").mkdir()
    (root / "summaries" / f"{SPEC.venue}__{SPEC.symbol}.json").write_text(json.dumps(SUMMARY))
    (root / "summary.json").write_text(json.dumps(SUMMARY))
    return root


def test_a_lake_from_before_run_ids_reads_as_one_legacy_run(tmp_path: Path) -> None:
    lake = _legacy(tmp_path / "old")
    with Catalog(lake) as cat:
        (a,) = attribute(cat)
        (row,) = cat.rows("SELECT * FROM runs")
        assert cat.rows("SELECT DISTINCT run_id FROM fills") == [{"run_id": "legacy"}]
    assert (a.run_id, a.total_pnl, a.fills) == ("legacy", 0.96875, 3)
    assert (row["run_id"], row["mode"], row["fills"], row["pnl"]) == ("legacy", None, 3, 10)
    assert json.loads(row["summary"]) == SUMMARY
    # a new run into the old lake: the writer reads the old files' keys, nothing collides
    run_once(lake, "new1")
    for table, rows in HAND.items():
        assert _count(lake, table) == {None: len(rows), "new1": len(rows)}, table
    with Catalog(lake) as cat:
        assert {a.run_id: a.total_pnl for a in attribute(cat)} == {
            "legacy": 0.96875,
            "new1": 0.96875,
        }
        assert [r["run_id"] for r in cat.rows("SELECT run_id FROM runs ORDER BY run_id")] == [
            "legacy",
            "new1",
        ]


def test_report_of_a_directory_with_two_runs_is_a_clear_error(tmp_path: Path) -> None:
    many = tmp_path / "many"
    write_instrument(many, SPEC)
    run_once(many, "run1")
    run_once(many, "run2")
    with pytest.raises(MMError) as err:
        run_report(many)
    assert str(err.value) == (
        f"{many} holds 2 trading runs (run1, run2) (a report shows one run per directory "
        f'(`mm backtest --out` writes one); list them with `mm sql --run {many} "SELECT * FROM '
        'runs"`)'
    )


def test_report_shows_the_summary_of_the_directory_s_run(tmp_path: Path) -> None:
    out = tmp_path / "bt"
    write_instrument(out, SPEC)
    run_once(out, "bt1", mode="backtest", summary={**SUMMARY, "net_pnl": 2.25})
    (out / "summary.json").write_text(json.dumps(SUMMARY))  # a stale top-level file
    text = run_report(out).out.read_text()
    assert "<td>net_pnl</td><td>2.25</td>" in text  # the run's own, from runs/bt1


def test_backtest_rows_carry_the_run_id_of_run_json(sample_run: Path) -> None:
    run_id = json.loads((sample_run / "run.json").read_text())["run_id"]
    check_run_id(run_id)
    for table in RUN_TABLES:
        assert set(_count(sample_run, table)) == {run_id}, table
    assert read_run_summary(sample_run, run_id) == json.loads(
        (sample_run / "summary.json").read_text()
    )
    with Catalog(runs=[sample_run]) as cat:
        (row,) = cat.rows("SELECT run_id, mode, fills FROM runs")
        fills = cat.rows("SELECT count(*) AS n FROM fills")[0]["n"]
    assert row == {"run_id": run_id, "mode": "backtest", "fills": fills}


def test_mm_backtest_force_replaces_the_previous_run(tmp_path: Path) -> None:
    """--force starts the directory afresh: the old run's record goes with its rows."""
    from cli.cmd_backtest import prepare_run_dir

    out = tmp_path / "bt"
    write_instrument(out, SPEC)
    run_once(out, "old", mode="backtest")
    with pytest.raises(MMError, match="already holds a run"):
        prepare_run_dir(out, force=False)
    prepare_run_dir(out, force=True)
    assert not (out / "runs").exists() and not (out / "fills").exists()


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "legacy", "x" * 65, "white space", None])
def test_bad_run_ids_are_refused(bad: object) -> None:
    with pytest.raises(MMError, match="run id"):
        check_run_id(bad)  # type: ignore[arg-type]


def test_mm_sql_lists_the_runs_read_only(lake: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    run_once(lake, "run1")
    run_once(lake, "run2", summary={**SUMMARY, "net_pnl": -0.5})
    q = "SELECT run_id, mode, fills, net_pnl, summary->>'fills' AS s_fills FROM runs ORDER BY 1"
    res = CliRunner().invoke(app, ["sql", q, "--lake", str(lake), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == [
        {"run_id": "run1", "mode": "paper", "fills": 3, "net_pnl": 0.96875, "s_fills": "3"},
        {"run_id": "run2", "mode": "paper", "fills": 3, "net_pnl": -0.5, "s_fills": "3"},
    ]


def test_a_run_of_two_instruments_writes_each_under_its_own_path(lake: Path) -> None:
    """Instruments in any order: each instrument's rows land in its own partition, the
    run is recorded once with both, and its summary merges the two."""
    other = f"{SPEC.venue}:AAAUSDT"  # sorts before TESTUSDT
    rows = TraderOutput(fills=_tuples("fills", FILLS[:1]), summary=SUMMARY)
    items = [(INST, rows), (other, TraderOutput(fills=_tuples("fills", FILLS), summary=SUMMARY))]
    flow = Dataflow("two")
    stream = op.input("in", flow, TestingSource(items))
    op.output("run", stream, RunSink(lake, [INST, other], run_id="two", mode="paper"))
    run_main(flow)
    counts = {
        d.parent.name: pq.read_table(next(d.glob("*.parquet"))).num_rows
        for d in (lake / "fills").glob("venue=*/symbol=*/date=*")
    }
    assert counts == {f"symbol={SPEC.symbol}": 1, "symbol=AAAUSDT": 3}
    manifest = json.loads((lake / "runs" / "two" / "run.json").read_text())
    assert manifest["instruments"] == sorted([INST, other])
    assert read_run_summary(lake, "two")["fills"] == 2 * SUMMARY["fills"]
