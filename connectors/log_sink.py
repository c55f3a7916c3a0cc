"""A Bytewax sink writing structured log events (one line each) for every item."""

from __future__ import annotations

import logging
from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from core.log import event, get_logger

log = get_logger("mm.events")
_WARN = {"risk_state", "book_stale", "private_reset", "private_down", "position_reconciled",
         "unhandled_input", "book_lagging", "resync_request", "params_rejected"}  # fmt: skip


def log_records(records: list[dict[str, Any]]) -> None:
    """Write ``{"event": name, ...fields}`` records as log lines, now."""
    for r in records:
        fields = dict(r)
        name = str(fields.pop("event", "event"))
        event(log, logging.WARNING if name in _WARN else logging.INFO, name, **fields)


class _LogPartition(StatelessSinkPartition[tuple[str, list[dict[str, Any]]]]):
    def write_batch(self, items: list[tuple[str, list[dict[str, Any]]]]) -> None:
        for _key, records in items:
            log_records(records)


class LogSink(DynamicSink[tuple[str, list[dict[str, Any]]]]):
    """Items ``(key, [{"event": name, ...fields}, ...])``."""

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _LogPartition:
        return _LogPartition()
