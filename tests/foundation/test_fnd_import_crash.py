"""A killed import leaves nothing behind for long: the next import removes the staging
directories and temp files of dead writers (never a live one's) and the result is exact.

Regression tests for issue 10 item 11: after SIGKILL, ``.staging`` kept 281 MB until it
was an hour old, and a hidden ``.part…tmp`` stayed in a partition.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from fnd_helpers import (
    BINANCE_SAMPLE,
    HYPERLIQUID_SAMPLE,
    REPO,
    clean_env,
    expected_binance,
    expected_hyperliquid,
    lake_table,
    raw_lines,
)

from warehouse.importer import import_file
from warehouse.staging import LOCK, STAGING, owner_tag

BOOK_COLS = ("recv_ts", "kind", "side", "price", "qty")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _hidden(lake: Path) -> list[Path]:
    return sorted(
        p for p in lake.rglob("*") if any(s.startswith(".") for s in p.relative_to(lake).parts)
    )


def test_dead_writers_leftovers_are_removed_live_ones_kept(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    import_file(HYPERLIQUID_SAMPLE, lake, progress=False)
    host = owner_tag().split("@")[0]
    dead = _dead_pid()
    part = next((lake / "book_deltas").rglob("date=*"))
    staging = lake / STAGING
    # a killed import: its staging directory (lock no longer held) with data in it
    killed = staging / f"{host}@{dead}.0123456789ab"
    (killed / "runs").mkdir(parents=True)
    (killed / LOCK).touch()
    (killed / "runs" / "run-00000.arrow").write_bytes(b"x" * 1_000_000)
    # a live import (this process holds the lock) must be left alone
    live = staging / f"{owner_tag()}.ba9876543210"
    live.mkdir(parents=True)
    held = open(live / LOCK, "w")  # noqa: SIM115
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    # temp files in a partition: a killed writer's, a live writer's, another host's
    stray = part / f".part-1.parquet.{host}@{dead}.0badcafe.tmp"
    mine = part / f".part-2.parquet.{owner_tag()}.0badcafe.tmp"
    foreign = part / ".part-3.parquet.otherhost@1.0badcafe.tmp"
    for f in (stray, mine, foreign):
        f.write_bytes(b"partial")
    try:
        report = import_file(HYPERLIQUID_SAMPLE, lake, progress=False)
        assert not killed.exists() and not stray.exists()
        assert live.is_dir() and mine.is_file() and foreign.is_file()
    finally:
        held.close()
    assert all(c["written"] == 0 for c in report.rows.values())
    # once the live writer is gone too, the next import removes its directory
    os.rename(live, staging / f"{host}@{dead}.ba9876543210")
    mine.unlink()
    foreign.unlink()
    import_file(HYPERLIQUID_SAMPLE, lake, progress=False)
    assert _hidden(lake) == []
    book = lake_table(lake, "book_deltas", "hyperliquid", "BTC")
    exp = expected_hyperliquid(raw_lines(HYPERLIQUID_SAMPLE))
    assert Counter(zip(*(book.column(c).to_pylist() for c in BOOK_COLS), strict=True)) == Counter(
        exp.book
    )


_IMPORT = "import sys; from warehouse.importer import import_file; import_file(*sys.argv[1:3])"


def test_sigkill_mid_import_then_reimport_is_clean_and_exact(tmp_path: Path) -> None:
    lines = raw_lines(BINANCE_SAMPLE)[:60_000]  # rows are staged after ~29k lines
    capture = tmp_path / "capture.txt"
    capture.write_bytes(b"\n".join(lines) + b"\n")
    lake = tmp_path / "lake"
    proc = subprocess.Popen(
        [sys.executable, "-c", _IMPORT, str(capture), str(lake)],
        cwd=REPO,
        env=clean_env(),
    )
    deadline = time.monotonic() + 60
    try:
        while not list(lake.glob(f"{STAGING}/*/runs/*/run-*.arrow")):  # parsing, rows staged
            assert proc.poll() is None, "the import finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert [p.name for p in (lake / STAGING).iterdir()]  # the killed import's leftovers
    assert not list(lake.rglob("*.parquet"))  # nothing committed
    report = import_file(capture, lake, progress=False)
    assert not (lake / STAGING).exists()
    assert _hidden(lake) == []
    exp = expected_binance(lines)
    assert report.rows["book_deltas binance-usdm:BTCUSDT"]["written"] == len(exp.book)
    book = lake_table(lake, "book_deltas", "binance-usdm", "BTCUSDT")
    assert Counter(zip(*(book.column(c).to_pylist() for c in BOOK_COLS), strict=True)) == Counter(
        exp.book
    )
    trades = lake_table(lake, "trades", "binance-usdm", "BTCUSDT")
    assert sorted(trades.column("trade_id").to_pylist()) == sorted(t[0] for t in exp.trades)
    assert lake_table(lake, "bbo", "binance-usdm", "BTCUSDT").num_rows == len(exp.bbo)
