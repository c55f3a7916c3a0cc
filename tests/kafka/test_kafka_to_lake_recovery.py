"""Kafka -> lake under SIGKILL: `python -m bytewax.run flows.kafka_to_lake` with recovery,
killed mid-run and restarted, leaves every row in the lake exactly once."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import polars as pl
import pytest
from kafka_helpers import BINANCE, clean_env, produce, sample_lines

from connectors.kafka import client as kc
from warehouse.importer import import_file

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

LINES = 20_000
INST = "binance-usdm:BTCUSDT"
TABLES = ("book_deltas", "trades", "bbo")
# rows of the first 20,000 lines of the Binance sample (as `mm import` counts them)
EXPECTED = {"book_deltas": 97_910, "trades": 3_024, "bbo": 15_377}


def _table(lake: Path, table: str) -> pl.DataFrame:
    files = sorted((lake / table).rglob("*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f) for f in files]).sort(["recv_ts", "ord"])


def _committed_epoch(rec: Path) -> int:
    """Bytewax's last committed recovery epoch (its sqlite store), 0 while there is none."""
    try:
        with closing(sqlite3.connect(f"file:{rec / 'part-0.sqlite3'}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT max(commit_epoch) FROM commits").fetchone()
    except sqlite3.OperationalError:  # locked by the writer for a moment
        return 0
    return int(row[0] or 0)


def _rows(lake: Path) -> int:
    return sum(_table(lake, t).height for t in TABLES)


def _wait(what: str, ok, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not ok():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s\n{log.read_text()}"
        time.sleep(0.05)


def test_killed_and_restarted_flow_loses_and_duplicates_nothing(
    kafka_broker: str, topic_prefix: str, tmp_path: Path
) -> None:
    lines = sample_lines(BINANCE, LINES)
    half = LINES // 2
    topic = f"{topic_prefix}.raw.binance-usdm"
    produce(kafka_broker, topic, [(INST, v) for v in lines[:half]], partitions=2)
    lake, rec = tmp_path / "lake", tmp_path / "recovery"
    rec.mkdir()
    subprocess.run([sys.executable, "-m", "bytewax.recovery", str(rec), "1"], check=True)
    env = clean_env() | {
        "MM_LAKE": str(lake),
        "MM_VENUE": "binance-usdm",
        "MM_KAFKA_BOOTSTRAP": kafka_broker,
        "MM_KAFKA_TOPIC_PREFIX": topic_prefix,
        "MM_KAFKA_FLUSH_ROWS": "5000",
        "MM_PROGRESS": "0",
    }
    cmd = [
        sys.executable,
        "-m",
        "bytewax.run",
        "flows.kafka_to_lake",
        "-r",
        str(rec),
        "-s",
        "1",
        "-b",
        "0",
    ]

    # run 1 tails the topic: it holds the first half; a snapshot commits; the second half
    # arrives; the flow is killed as soon as any of it reaches the lake
    log1 = tmp_path / "run1.log"
    with open(log1, "wb") as out:
        first = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait("a snapshot", lambda: _committed_epoch(rec) >= 2 and _rows(lake) > 0, first, log1)
            in_lake = _rows(lake)
            produce(kafka_broker, topic, [(INST, v) for v in lines[half:]], partitions=2)
            _wait("second-half rows", lambda: _rows(lake) > in_lake, first, log1)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
    assert 0 < _rows(lake) <= sum(EXPECTED.values())

    # run 2 resumes from the committed snapshot and stops at the end of the topic
    second = subprocess.run(
        cmd,
        env=env | {"MM_KAFKA_UNTIL_END": "1"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    part = kc.partition_for(INST.encode(), 2)
    opened = re.search(
        rf"kafka_partition_open topic=\S+ partition={part} offset=(\d+) resumed=True", second.stderr
    )
    assert opened is not None, second.stderr
    assert 0 < int(opened.group(1)) <= LINES

    # exactly the rows `mm import` makes of the same lines, except ord: the importer numbers
    # messages by line (from 1), the flow by (partition << 32) | offset (from 0)
    src = tmp_path / "lines.txt"
    src.write_bytes(b"\n".join(lines) + b"\n")
    direct = tmp_path / "direct"
    import_file(src, direct, progress=False)
    for table in TABLES:
        got, want = _table(lake, table), _table(direct, table)
        assert got.height == EXPECTED[table] == want.height, table
        shift = (part << 52) - (1 << 20)
        assert got.equals(want.with_columns(pl.col("ord") + shift)), table
