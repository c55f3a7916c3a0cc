"""Bytewax sink for a trading run: quotes, orders, fills and PnL tables plus its summary.

The same sink serves backtests (a run directory) and paper/live trading (the lake):
both get identical tables in the hive layout, so DuckDB views read either. The sink,
not the trader, stamps every row with the run's id (``run_id``, the first column and
the start of each run table's natural key), records the run when it starts and keeps
its summary apart from other runs' (``warehouse.runs``): a restart into the same lake
adds a run instead of colliding with the previous one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
from bytewax.outputs import StatefulSinkPartition

from core.instruments import split_instrument_id
from core.lake import RUN_ID, RUN_TABLES, table_def
from operators.trader import TraderOutput
from warehouse.lake_writer import write_rows
from warehouse.runs import MODES, check_run_id, new_run_id, write_manifest, write_summary
from warehouse.sinks import InstrumentSink

__all__ = ["RunSink", "flush_all_run_sinks", "rows_to_frame", "write_summary"]


def rows_to_frame(table: str, rows: list[tuple], run_id: str | None = None) -> Any:
    """Row tuples (the trader's, or a loader's) -> a frame with the table's exact schema.

    Run tables need ``run_id``: their tuples hold every column but it.
    """
    import polars as pl

    schema = table_def(table).schema
    fields = [f for f in schema if f.name != RUN_ID]
    cols = list(zip(*rows, strict=True))
    arrays = {f.name: pa.array(c, type=f.type) for c, f in zip(cols, fields, strict=True)}
    if len(fields) < len(schema):
        if run_id is None:
            raise ValueError(f"rows of run table {table} need a run id")
        arrays[RUN_ID] = pa.array([check_run_id(run_id)] * len(rows), type=pa.string())
    return pl.from_arrow(pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema))


_OPEN: list[_RunPartition] = []  # live partitions of this process, for a flush at shutdown
_OPEN_LOCK = threading.Lock()
# TraderOutputs each live partition has taken in, by "{out_dir}/{instrument}": a shutdown
# waits until every output its trader emitted has reached the sink before the last flush
RECEIVED: dict[str, int] = {}


def flush_all_run_sinks() -> None:
    """Write every buffered row now (live shutdown: nothing recorded may be lost)."""
    with _OPEN_LOCK:
        parts = list(_OPEN)
    for p in parts:
        p.flush(wait=True)


class _RunPartition(StatefulSinkPartition[TraderOutput, None]):
    def __init__(
        self, sink: RunSink, inst: str, flush_rows: int, flush_interval_s: float | None
    ) -> None:
        self.out_dir = sink.out_dir
        self.run_id = sink.run_id
        self.run_directory = sink.mode == "backtest"  # a backtest's out_dir holds one run
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
        key = f"{self.out_dir}/{self.inst}"
        with _OPEN_LOCK:
            RECEIVED[key] = RECEIVED.get(key, 0) + len(values)
        for out in values:
            for table in RUN_TABLES:
                rows = getattr(out, table)
                if rows:
                    self.buffers[table].extend(rows)
                    self.pending += len(rows)
            if out.summary is not None:
                write_summary(self.out_dir, self.run_id, self.inst, out.summary, self.run_directory)
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
            frame = rows_to_frame(table, rows, self.run_id)
            write_rows(self.out_dir, table, self.venue, self.symbol, frame)

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
        run_id: str | None = None,
        mode: str = "backtest",
    ) -> None:
        """``flush_interval_s``: live runs never end, so write at least this often.
        ``run_id``: stamped on every row (paper/live pass their run tag; default: new)."""
        if mode not in MODES:
            raise ValueError(f"unknown run mode {mode!r} (use one of {', '.join(MODES)})")
        super().__init__(instruments)
        self.out_dir = Path(out_dir)
        self.flush_interval_s = flush_interval_s
        self.flush_rows = flush_rows
        self.run_id = check_run_id(run_id) if run_id is not None else new_run_id()
        self.mode = mode
        self.started_ns = time.time_ns()

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _RunPartition:
        write_manifest(self.out_dir, self.run_id, self.mode, self.instruments, self.started_ns)
        return _RunPartition(self, for_part, self.flush_rows, self.flush_interval_s)
