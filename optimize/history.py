"""Trial history and apply decisions in the lake, for `mm sql` (views ``trials``,
``param_decisions``).

``optimize/trials/<study>.parquet`` holds every trial of a study, rewritten atomically
at the end of each run of it (a resumed study replaces its file: no duplicates).
``optimize/decisions/<time>-<id>.parquet`` is one row per gate decision, appended.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa

from warehouse.lake_writer import atomic_write_parquet

TRIALS_DIR = Path("optimize") / "trials"
DECISIONS_DIR = Path("optimize") / "decisions"

TRIALS_SCHEMA = pa.schema(
    [
        ("study", pa.string()),
        ("trial", pa.int64()),
        ("state", pa.string()),
        ("score", pa.float64()),
        ("params", pa.string()),  # JSON: path -> value
        ("net_pnl", pa.float64()),
        ("sharpe", pa.float64()),
        ("max_drawdown", pa.float64()),
        ("fill_rate", pa.float64()),
        ("fills", pa.int64()),
        ("breach", pa.string()),
        ("instrument", pa.string()),
        ("train", pa.string()),
        ("fidelity", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("duration_s", pa.float64()),
    ]
)

DECISIONS_SCHEMA = pa.schema(
    [
        ("decided_at", pa.timestamp("us", tz="UTC")),
        ("target", pa.string()),
        ("applied", pa.bool_()),
        ("reason", pa.string()),
        ("current_score", pa.float64()),
        ("new_score", pa.float64()),
        ("min_improvement", pa.float64()),
        ("instrument", pa.string()),
        ("test", pa.string()),
        ("study", pa.string()),
        ("best_trial", pa.int64()),
        ("params", pa.string()),
    ]
)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "study"


def trials_path(lake: Path, study_name: str) -> Path:
    return lake / TRIALS_DIR / f"{_safe(study_name)}.parquet"


def write_trials(lake: Path, study: Any) -> Path:
    """Every trial of ``study`` as one Parquet file in the lake (atomic)."""
    attrs = study.user_attrs
    rows: list[dict[str, Any]] = []
    for t in study.trials:
        s = t.user_attrs.get("summary") or {}
        rows.append(
            {
                "study": study.study_name,
                "trial": t.number,
                "state": t.state.name,
                "score": t.value,
                "params": json.dumps(t.params, sort_keys=True),
                "net_pnl": s.get("net_pnl"),
                "sharpe": s.get("sharpe_annualized"),
                "max_drawdown": s.get("max_drawdown"),
                "fill_rate": s.get("fill_rate"),
                "fills": s.get("fills"),
                "breach": t.user_attrs.get("breach") or t.user_attrs.get("invalid"),
                "instrument": attrs.get("instrument"),
                "train": attrs.get("train"),
                "fidelity": attrs.get("fidelity"),
                "started_at": t.datetime_start,
                "duration_s": t.duration.total_seconds() if t.duration else None,
            }
        )
    path = trials_path(lake, study.study_name)
    atomic_write_parquet(pa.Table.from_pylist(rows, schema=TRIALS_SCHEMA), path)
    return path


def append_decision(lake: Path, decision: dict[str, Any]) -> Path:
    """One gate decision as a new file of the decisions table."""
    from datetime import UTC, datetime

    row = {**decision, "decided_at": datetime.fromtimestamp(decision["decided_ns"] / 1e9, UTC)}
    row.pop("decided_ns", None)
    row["params"] = json.dumps(row.get("params") or {}, sort_keys=True)
    name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(decision['decided_ns'] / 1e9))}-{uuid.uuid4().hex[:8]}.parquet"
    path = lake / DECISIONS_DIR / name
    atomic_write_parquet(pa.Table.from_pylist([row], schema=DECISIONS_SCHEMA), path)
    return path
