"""A multi-instrument backtest on a 2-process Bytewax cluster equals the 1-process run.

Both runs are ``python -m bytewax.run flows.replay_backtest`` on the sample lake's three
instruments (three venues); the cluster is two processes (``-i 0/1 -a``) on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from core.lake import RUN_TABLES

pytestmark = pytest.mark.slow  # three Bytewax processes replay the sample

REPO = Path(__file__).resolve().parents[2]
INSTRUMENTS = ("binance-usdm:BTCUSDT", "bybit:XRPUSDT", "hyperliquid:BTC")
TIMING = {"wall_time_s", "events_per_s"}  # the only summary fields a rerun may change


def _env(lake: Path, out: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MM_") or k == "MM_HOME"}
    env.update(
        MM_LAKE=str(lake),
        MM_SYMBOLS=",".join(INSTRUMENTS),
        MM_OUT=str(out),
        MM_PROGRESS="0",
    )
    return env


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _run(lake: Path, out: Path, processes: int) -> None:
    cmd = [sys.executable, "-m", "bytewax.run", "flows.replay_backtest"]
    if processes == 1:
        procs = [subprocess.Popen(cmd, cwd=REPO, env=_env(lake, out), stderr=subprocess.PIPE)]
    else:
        addresses = ";".join(f"127.0.0.1:{p}" for p in _free_ports(processes))
        procs = [
            subprocess.Popen(
                [*cmd, "-i", str(i), "-a", addresses],
                cwd=REPO,
                env=_env(lake, out),
                stderr=subprocess.PIPE,
            )
            for i in range(processes)
        ]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()


def _tables(run: Path) -> dict[str, pa.Table]:
    """Every run table of every instrument, its files concatenated in name order."""
    out = {}
    for table in RUN_TABLES:
        for part in sorted((run / table).glob("venue=*/symbol=*")):
            files = sorted(part.rglob("*.parquet"))
            out[f"{table} {part.parent.name} {part.name}"] = pa.concat_tables(
                [pq.read_table(f) for f in files]
            )
    return out


@pytest.fixture(scope="module")
def runs(sample_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    base = tmp_path_factory.mktemp("scale_out")
    result = {}
    for processes in (1, 2):
        result[processes] = base / f"p{processes}"
        _run(sample_lake, result[processes], processes)
    return result


def test_two_processes_write_the_same_run_tables(runs: dict[int, Path]) -> None:
    one, two = _tables(runs[1]), _tables(runs[2])
    assert sorted(one) == sorted(two)
    # every instrument traded: quotes, orders and PnL for all three
    for inst in INSTRUMENTS:
        venue, symbol = inst.split(":")
        for table in ("quotes", "orders", "pnl"):
            assert one[f"{table} venue={venue} symbol={symbol}"].num_rows > 0, (table, inst)
    # both processes of the cluster agreed on one run id (each run its own)
    for tables in (one, two):
        ids = set()
        for t in tables.values():
            ids.update(t.column("run_id").unique().to_pylist())
        assert len(ids) == 1, ids
    for key, table in one.items():
        drop = table.schema.get_field_index("run_id")
        other = two[key]
        assert _same_bits(table.remove_column(drop), other.remove_column(drop)), key


def _same_bits(a: pa.Table, b: pa.Table) -> bool:
    """Same schema, rows, order and values, bit for bit (a NaN equals the same NaN)."""
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False
    for x, y in zip(a.columns, b.columns, strict=True):
        if pa.types.is_floating(x.type):
            if not pc.is_null(x).equals(pc.is_null(y)):
                return False
            bits = [c.fill_null(0.0).to_numpy().view(np.uint64) for c in (x, y)]
            if not np.array_equal(*bits):
                return False
        elif not x.equals(y):
            return False
    return True


def test_two_processes_write_the_same_summaries_and_run_json(runs: dict[int, Path]) -> None:
    def summaries(run: Path) -> dict[str, dict]:
        run_id = json.loads((run / "run.json").read_text())["run_id"]
        found = sorted((run / "runs" / run_id / "summaries").glob("*.json"))
        return {p.name: json.loads(p.read_text()) for p in found}

    one, two = summaries(runs[1]), summaries(runs[2])
    assert sorted(one) == sorted(f"{i.replace(':', '__')}.json" for i in INSTRUMENTS)
    assert sorted(two) == sorted(one)
    for name in one:
        assert {k: v for k, v in one[name].items() if k not in TIMING} == {
            k: v for k, v in two[name].items() if k not in TIMING
        }, name
    merged1 = json.loads((runs[1] / "summary.json").read_text())
    merged2 = json.loads((runs[2] / "summary.json").read_text())
    assert len(merged2["instruments"]) == 3  # both processes' instruments are in it
    for key in ("net_pnl", "fees", "fills", "volume", "events"):
        assert merged1[key] == merged2[key], key
    assert merged2["events"] == sum(s["events"] for s in two.values())

    def run_json(run: Path) -> dict:
        return {
            k: v for k, v in json.loads((run / "run.json").read_text()).items() if k != "run_id"
        }

    assert run_json(runs[1]) == run_json(runs[2])
    assert not list(runs[2].glob(".run.json.*"))  # no temp file left behind
