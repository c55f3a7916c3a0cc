"""Run identity on disk: one directory of metadata per trading run, next to its tables.

A lake (paper/live) holds many runs and a run directory (backtest) one; both use

    {root}/runs/{run_id}/run.json                    mode, instruments, start (wall clock)
    {root}/runs/{run_id}/summaries/{venue}__{symbol}.json   one per instrument, at the end
    {root}/runs/{run_id}/summary.json                the instruments' summaries merged

so a new run never overwrites an earlier run's summary. ``run.json`` is written when the
run starts, so a run that crashed (no summary) is still listed with its mode. A run
directory also keeps ``{root}/summary.json`` (its one run's summary), which `mm backtest`
and `mm report` read. Paper and live runs use the run tag of their order ids as run id
(``orderLinkId`` = prefix + run tag + counter), so lake rows and venue orders match up.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from core.errors import MMError
from core.lake import LEGACY_RUN_ID

RUNS_DIR = "runs"
MODES = ("backtest", "paper", "live")
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def new_run_id(now_ns: int | None = None) -> str:
    """A fresh id for a backtest: UTC start time (sorts in time order) + random suffix."""
    ns = time.time_ns() if now_ns is None else now_ns
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ns / 1e9))
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def check_run_id(run_id: str) -> str:
    """Run ids name directories and sit in SQL: letters, digits, ``_.-`` only."""
    if not isinstance(run_id, str) or not _VALID.match(run_id):
        raise MMError(
            f"invalid run id {run_id!r}", "use 1-64 letters, digits, '_', '.', '-' (no '/')"
        )
    if run_id == LEGACY_RUN_ID:
        raise MMError(f"run id {run_id!r} is reserved", "it names rows written before run ids")
    return run_id


def run_dir(root: Path, run_id: str) -> Path:
    return Path(root) / RUNS_DIR / check_run_id(run_id)


def _inst_file(inst: str) -> str:
    return f"{inst.replace(':', '__')}.json"


def _clean(value: Any) -> Any:
    """NaN/inf -> null: JSON has no NaN, and DuckDB must be able to read the files."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def atomic_write_json(path: Path, data: Any) -> None:
    """``path`` is complete or absent (temp name unique per writer, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "w") as fh:
            json.dump(_clean(data), fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_manifest(
    root: Path, run_id: str, mode: str, instruments: list[str], started_ns: int
) -> Path:
    """Record a run when it starts (idempotent: every partition of the sink may call it)."""
    if mode not in MODES:
        raise MMError(f"unknown run mode {mode!r}", f"use one of {', '.join(MODES)}")
    path = run_dir(root, run_id) / "run.json"
    if not path.is_file():
        atomic_write_json(
            path,
            {"run_id": run_id, "mode": mode, "instruments": sorted(instruments),
             "started_ns": started_ns},
        )  # fmt: skip
    return path


def write_summary(
    root: Path, run_id: str, inst: str, summary: dict[str, Any], run_directory: bool = False
) -> None:
    """Store one instrument's summary of a run and rebuild the run's merged summary.

    ``run_directory``: ``root`` holds this one run (a backtest), so ``root/summary.json``
    is its summary too. Safe with several workers (one lock per root).
    """
    rdir = run_dir(root, run_id)
    atomic_write_json(rdir / "summaries" / _inst_file(inst), summary)
    with open(Path(root) / ".summary.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        parts = [json.loads(p.read_text()) for p in sorted((rdir / "summaries").glob("*.json"))]
        merged = merge_summaries(parts)
        atomic_write_json(rdir / "summary.json", merged)
        if run_directory:
            atomic_write_json(Path(root) / "summary.json", merged)


def merge_summaries(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary of a run's instruments: totals, and each instrument's own summary.

    PnL and fees add up only in one currency: a run mixing settlement currencies (a
    USDT contract and a BTC-margined one) totals them per currency instead.
    """
    if len(parts) == 1:
        return parts[0]
    total: dict[str, Any] = {
        k: sum(p.get(k) or 0 for p in parts)
        for k in ("net_pnl", "fees", "fills", "volume", "events")
    }
    currencies = sorted({str(p["pnl_currency"]) for p in parts if p.get("pnl_currency")})
    if len(currencies) == 1:
        total["pnl_currency"] = currencies[0]
    elif len(currencies) > 1:
        for k in ("net_pnl", "fees"):
            total[k] = None
            total[f"{k}_by_currency"] = {
                c: sum(p.get(k) or 0 for p in parts if p.get("pnl_currency") == c)
                for c in currencies
            }
    return {**total, "instruments": parts}


def read_run_summary(root: Path, run_id: str) -> dict[str, Any] | None:
    """A run's merged summary (None if it has none: still running, or crashed).

    The legacy run of a directory written before run ids has its summary in
    ``root/summary.json``.
    """
    root = Path(root)
    if run_id == LEGACY_RUN_ID:
        path = root / "summary.json"
    else:
        path = run_dir(root, run_id) / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None
