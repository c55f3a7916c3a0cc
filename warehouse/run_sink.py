"""Bytewax sink for a trading run: quotes, orders, fills and PnL tables plus summary.json.

The same sink serves backtests (a run directory) and paper/live trading (the lake):
both get identical tables in the hive layout, so DuckDB views read either.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import queue
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
from bytewax.outputs import StatefulSinkPartition

from core.instruments import split_instrument_id
from core.lake import RUN_TABLES, table_def
from operators.trader import TraderOutput
from warehouse.lake_writer import write_rows
from warehouse.sinks import InstrumentSink

SUMMARY_DIR = "summaries"


def rows_to_frame(table: str, rows: list[tuple]) -> Any:
    import polars as pl

    schema = table_def(table).schema
    cols = list(zip(*rows, strict=True))
    arrays = [pa.array(c, type=f.type) for c, f in zip(cols, schema, strict=True)]
    return pl.from_arrow(pa.Table.from_arrays(arrays, schema=schema))


_OPEN: list[_RunPartition] = []  # live partitions of this process, for a flush at shutdown
_OPEN_LOCK = threading.Lock()


def flush_all_run_sinks() -> None:
    """Write every buffered row now (live shutdown: nothing recorded may be lost)."""
    with _OPEN_LOCK:
        parts = list(_OPEN)
    for p in parts:
        p.flush(wait=True)


class _RunPartition(StatefulSinkPartition[TraderOutput, None]):
    def __init__(
        self, out_dir: Path, inst: str, flush_rows: int, flush_interval_s: float | None
    ) -> None:
        self.out_dir = out_dir
        self.inst = inst
        self.venue, self.symbol = split_instrument_id(inst)
        self.flush_rows = flush_rows
        self.flush_interval = flush_interval_s
        self.buffers: dict[str, list[tuple]] = {t: [] for t in RUN_TABLES}
        self.pending = 0
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        # Live runs write on a thread of their own: a Parquet write takes tens of ms and
        # must not hold up the dataflow (the next tick). Backtests write inline.
        self._writer: _Writer | None = _Writer(self) if flush_interval_s is not None else None
        with _OPEN_LOCK:
            _OPEN.append(self)

    def write_batch(self, values: list[TraderOutput]) -> None:
        for out in values:
            for table in RUN_TABLES:
                rows = getattr(out, table)
                if rows:
                    self.buffers[table].extend(rows)
                    self.pending += len(rows)
            if out.summary is not None:
                write_summary(self.out_dir, self.inst, out.summary)
        due = (
            self.flush_interval is not None
            and time.monotonic() - self._last_flush >= self.flush_interval
        )
        if self.pending >= self.flush_rows or (due and self.pending):
            self.flush()

    def flush(self, wait: bool = False) -> None:
        """Write what is buffered: inline, or handed to the writer thread (``wait``: until
        it is on disk)."""
        with self._lock:
            batch = {t: rows for t, rows in self.buffers.items() if rows}
            self.buffers = {t: [] for t in RUN_TABLES}
            self.pending = 0
            self._last_flush = time.monotonic()
        if self._writer is None:
            self._write(batch)
            return
        if batch:
            self._writer.put(batch)
        if wait:
            self._writer.join()

    def _write(self, batch: dict[str, list[tuple]]) -> None:
        for table, rows in batch.items():
            write_rows(self.out_dir, table, self.venue, self.symbol, rows_to_frame(table, rows))

    def snapshot(self) -> None:
        self.flush(wait=True)  # everything before a recovery snapshot is durable
        return None

    def close(self) -> None:
        self.flush(wait=True)
        if self._writer is not None:
            self._writer.stop()
        with _OPEN_LOCK:
            if self in _OPEN:
                _OPEN.remove(self)


class _Writer:
    """One background thread per live partition, writing batches in order."""

    def __init__(self, part: _RunPartition) -> None:
        self.part = part
        self.q: queue.Queue[dict[str, list[tuple]] | None] = queue.Queue()
        self.thread = threading.Thread(
            target=self._run, name=f"lake-writer-{part.inst}", daemon=True
        )
        self.thread.start()

    def put(self, batch: dict[str, list[tuple]]) -> None:
        self.q.put(batch)

    def join(self) -> None:
        self.q.join()

    def stop(self) -> None:
        self.q.put(None)
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            batch = self.q.get()
            try:
                if batch is None:
                    return
                self.part._write(batch)
            except Exception as exc:  # keep writing later batches; say what was lost
                logging.getLogger(__name__).error(
                    "lake write failed for %s: %s", self.part.inst, exc
                )
            finally:
                self.q.task_done()


class RunSink(InstrumentSink):
    def __init__(
        self,
        out_dir: str | Path,
        instruments: list[str],
        flush_rows: int = 200_000,
        flush_interval_s: float | None = None,
    ) -> None:
        """``flush_interval_s``: live runs never end, so write at least this often."""
        super().__init__(instruments)
        self.out_dir = Path(out_dir)
        self.flush_interval_s = flush_interval_s
        self.flush_rows = flush_rows

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _RunPartition:
        return _RunPartition(self.out_dir, for_part, self.flush_rows, self.flush_interval_s)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def write_summary(out_dir: Path, inst: str, summary: dict[str, Any]) -> None:
    """Store one instrument's summary and rebuild summary.json (safe with many workers)."""
    sdir = out_dir / SUMMARY_DIR
    sdir.mkdir(parents=True, exist_ok=True)
    (sdir / f"{inst.replace(':', '__')}.json").write_text(
        json.dumps(_clean(summary), indent=2, sort_keys=True)
    )
    with open(out_dir / ".summary.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        parts = [json.loads(p.read_text()) for p in sorted(sdir.glob("*.json"))]
        merged = merge_summaries(parts)
        tmp = out_dir / ".summary.json.tmp"
        tmp.write_text(json.dumps(merged, indent=2, sort_keys=True))
        tmp.replace(out_dir / "summary.json")


def merge_summaries(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if len(parts) == 1:
        return parts[0]
    total = {
        k: sum(p.get(k) or 0 for p in parts)
        for k in ("net_pnl", "fees", "fills", "volume", "events")
    }
    return {**total, "instruments": parts}
