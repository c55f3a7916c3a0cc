"""`mm sql`: the real command in a subprocess for errors, in-process for the formats."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cli.main import app

MM = Path(sys.executable).with_name("mm")


def mm(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(MM), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_bad_sql_is_a_one_line_error(hand_run: Path, tmp_path: Path) -> None:
    r = mm("sql", "SELEC * FROM fills", "--run", str(hand_run), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("mm sql: error: Parser Error: syntax error at or near")


def test_missing_lake_is_a_one_line_error(tmp_path: Path) -> None:
    r = mm("sql", "SELECT * FROM trades", "--lake", str(tmp_path / "nope"), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"mm sql: error: lake {tmp_path / 'nope'} does not exist "
        "(import data first with `mm import`, or fix --lake)"
    ]


def test_default_lake_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no data/lake here, and no --lake / --run given
    res = CliRunner().invoke(app, ["sql", "SELECT 1"])
    assert res.exit_code == 1
    assert "mm sql: error: lake data/lake does not exist" in res.output
    assert "pass --lake DIR / --run RUN_DIR" in res.output


def test_sql_formats(hand_run: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    q = "SELECT client_id, side, markout_1s FROM markouts ORDER BY seq"
    res = runner.invoke(app, ["sql", q, "--run", str(hand_run), "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert [(r["client_id"], r["markout_1s"]) for r in rows] == [
        ("c1", "1"),
        ("c2", "0.25"),
        ("c6", "-0.25"),
    ]
    res = runner.invoke(app, ["sql", q, "--run", str(hand_run), "--json"])
    assert json.loads(res.output) == [
        {"client_id": "c1", "side": 1, "markout_1s": 1.0},
        {"client_id": "c2", "side": -1, "markout_1s": 0.25},  # -1 x (100 - 100.5) x 0.5
        {"client_id": "c6", "side": -1, "markout_1s": -0.25},  # -1 x (101 - 100.5) x 0.5
    ]
    res = runner.invoke(app, ["sql", q, "--run", str(hand_run)])
    assert res.output.splitlines()[0].split() == ["client_id", "side", "markout_1s"]
    assert res.output.splitlines()[-1] == "(3 rows)"
    res = runner.invoke(app, ["sql", q, "--run", str(hand_run), "--max-rows", "1"])
    assert "(3 rows, 2 not shown" in res.output
    out = tmp_path / "m.parquet"
    res = runner.invoke(
        app, ["sql", q, "--run", str(hand_run), "--format", "parquet", "--out", str(out)]
    )
    assert res.exit_code == 0
    assert pq.read_table(out).column("client_id").to_pylist() == ["c1", "c2", "c6"]
    res = runner.invoke(app, ["sql", q, "--run", str(hand_run), "--format", "parquet"])
    assert res.exit_code == 2  # bad usage: parquet needs --out
    res = runner.invoke(app, ["sql", q, "--run", str(hand_run), "--format", "xml"])
    assert res.exit_code == 2


def test_sql_without_query_lists_views(hand_run: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["sql", "--run", str(hand_run)])
    assert res.exit_code == 0
    assert "  attribution " in res.output and "markout_60s_bps DOUBLE" in res.output
    assert "views without data" in res.output and "trades" in res.output
    res = runner.invoke(app, ["sql", "--run", str(hand_run), "--json"])
    d = json.loads(res.output)
    assert d["views"]["fill_rates"]["columns"]["fills_per_quote_second"] == "DOUBLE"
    assert d["missing"]["trades"] == "no lake attached (pass --lake)"


# -- read-only by default -----------------------------------------------------------------
def _trades_lake(root: Path) -> Path:
    """A lake with two files of trades in one day partition."""
    from wh_data import SPEC, T0, frame

    from warehouse.lake_writer import write_instrument, write_rows

    write_instrument(root, SPEC)
    for k in range(2):
        rows = [
            {"recv_ts": T0 + i * 10**9, "exch_ts": T0 + i * 10**9, "ord": i,
             "trade_id": f"t{i}", "price": 200 + i, "qty": 1 + i, "side": 1}
            for i in range(3 * k, 3 * k + 3)
        ]  # fmt: skip
        write_rows(root, "trades", SPEC.venue, SPEC.symbol, frame("trades", rows))
    return root


def _partition(lake: Path) -> Path:
    (d,) = (lake / "trades").glob("venue=*/symbol=*/date=*")
    return d


def _copy_into(target: Path) -> str:
    return (
        "COPY (SELECT recv_ts, exch_ts, ord, trade_id, price, qty, side FROM trades) "
        f"TO '{target}' (FORMAT parquet)"
    )


def test_sql_refuses_copy_into_the_lake_by_default(tmp_path: Path) -> None:
    lake = _trades_lake(tmp_path / "lake")
    target = _partition(lake) / "copy.parquet"
    r = mm("sql", _copy_into(target), "--lake", str(lake), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "mm sql: error: COPY statements are refused: `mm sql` is read-only over the lake "
        "(pass --unsafe for a full DuckDB session)"
    ]
    assert not target.exists()
    r = mm("sql", "SELECT count(*) AS n FROM trades", "--lake", str(lake), "--json", cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout) == [{"n": 6}]  # reads still work


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("SELECT 1; {copy}", "COPY statements are refused"),  # hidden behind a read
        ("EXPLAIN ANALYZE {copy}", "COPY statements are refused"),  # EXPLAIN ANALYZE runs it
        ("ATTACH '{dir}/x.duckdb' AS x", "ATTACH statements are refused"),
        ("CREATE TABLE t AS SELECT * FROM trades", "CREATE statements are refused"),
        ("EXPORT DATABASE '{dir}/export'", "EXPORT statements are refused"),
        ("INSTALL httpfs", "LOAD statements are refused"),
        ("SET enable_external_access = true", "SET statements are refused"),
        ("SELECT * FROM read_csv('{dir}/other.csv')", "Permission Error: Cannot access file"),
    ],
)
def test_sql_read_only_session_refuses_writes_and_other_files(
    tmp_path: Path, sql: str, refused: str
) -> None:
    lake = _trades_lake(tmp_path / "lake")
    (tmp_path / "other.csv").write_text("a\n1\n")
    target = _partition(lake) / "copy.parquet"
    q = sql.format(copy=_copy_into(target), dir=tmp_path)
    res = CliRunner().invoke(app, ["sql", q, "--lake", str(lake)])
    assert res.exit_code == 1, res.output
    (line,) = res.output.splitlines()
    assert line.startswith(f"mm sql: error: {refused}"), line
    assert line.endswith("pass --unsafe for a full DuckDB session)"), line
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake", "other.csv"]


def test_sql_unsafe_copy_doubles_trades_and_compact_repairs_it(tmp_path: Path) -> None:
    """The issue's sequence: COPY ... TO a lake partition (now only with --unsafe) doubled
    trades; mm compact must drop the repeated rows, not keep them."""
    lake = _trades_lake(tmp_path / "lake")
    target = _partition(lake) / "copy.parquet"
    runner = CliRunner()
    res = runner.invoke(app, ["sql", _copy_into(target), "--lake", str(lake), "--unsafe"])
    assert res.exit_code == 0, res.output
    assert target.is_file()
    count = "SELECT count(*) AS n, count(DISTINCT trade_id) AS ids FROM trades"
    res = runner.invoke(app, ["sql", count, "--lake", str(lake), "--json"])
    assert json.loads(res.output) == [{"n": 12, "ids": 6}]  # every trade twice
    res = runner.invoke(app, ["compact", "--lake", str(lake)])
    assert res.exit_code == 0, res.output
    assert "6 repeated row(s) (same natural key) were dropped from 1 file(s)" in res.output
    res = runner.invoke(app, ["sql", count, "--lake", str(lake), "--json"])
    assert json.loads(res.output) == [{"n": 6, "ids": 6}]
    assert not target.exists()  # the copy held nothing new: it is gone
