"""The ``record`` Prefect flow: record the venue into Kafka for a day, and close yesterday.

One run a day (cron ``0 0 * * *`` by default, orchestration/schedules.py):

  1. ``record-venue``: the record dataflow (flows/record.py) as a child process, until
     the next UTC midnight (or for ``record_seconds``); it ends itself on time
     (MM_RECORD_SECONDS), and a crash is retried ``restarts`` times for the time left;
  2. meanwhile, once the recorder has run ``roll_after_s`` (yesterday's last messages
     have reached the broker) or has ended: ``roll-to-lake``, Kafka -> lake up to the
     topic's end (flows/kafka_to_lake.py with a recovery store, so each roll resumes
     where the last one stopped; a row already in the lake is never written twice),
     then ``compact-day``, compaction of that day's partitions (warehouse/compact.py);
  3. the run ends with the recorder, and fails if the recorder failed for good (after
     the roll and compaction are done: a crashed recorder does not keep yesterday open).

Runs must not overlap (two recorders would store every message twice): the deployment
has a concurrency limit of 1, and a recorder ends at midnight, when the next run starts.
Kafka and the venue come from the environment (MM_KAFKA_*, BYBIT_WS_PUBLIC_URL).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.context import TaskRunContext
from prefect.futures import wait

from core.config import load_settings
from core.errors import ConfigError
from orchestration.children import run_dataflow
from warehouse.compact import compact_lake

STOP_GRACE_S = 60.0  # past its own end, a recorder is stopped
ROLL_TIMEOUT_S = 3600.0


@task(name="record-venue", retry_delay_seconds=10)
def record_venue(venue: str, symbols: list[str], until: float) -> dict[str, Any]:
    """The recorder until ``until`` (epoch seconds); a retry records the time left."""
    left = until - time.time()
    if left < 1.0:
        return {"seconds": 0.0, "exit_code": 0}
    env = {"MM_VENUE": venue, "MM_SYMBOLS": ",".join(symbols), "MM_RECORD_SECONDS": f"{left:.3f}"}
    ctx = TaskRunContext.get()
    attempt = f" (attempt {ctx.task_run.run_count})" if ctx is not None else ""
    r = run_dataflow("flows.record", env, timeout_s=left + STOP_GRACE_S,
                     what=f"recorder {venue} {','.join(symbols)}{attempt}")  # fmt: skip
    return {"seconds": round(r.seconds, 3), "exit_code": r.exit_code}


@task(name="roll-to-lake", retries=2, retry_delay_seconds=30, timeout_seconds=ROLL_TIMEOUT_S)
def roll_to_lake(venue: str, lake: str, state_dir: str) -> dict[str, Any]:
    """Kafka -> lake up to the end offsets seen at its start, from the last roll's offsets."""
    from bytewax.recovery import init_db_dir

    state = Path(state_dir)
    if not any(state.glob("*.sqlite3")):
        state.mkdir(parents=True, exist_ok=True)
        init_db_dir(state, 1)
    env = {"MM_VENUE": venue, "MM_LAKE": str(lake), "MM_KAFKA_UNTIL_END": "1"}
    r = run_dataflow("flows.kafka_to_lake", env, args=("-r", str(state), "-s", "1", "-b", "0"),
                     timeout_s=ROLL_TIMEOUT_S, what="kafka -> lake roll")  # fmt: skip
    return {"seconds": round(r.seconds, 3)}


@task(name="compact-day", retries=1, retry_delay_seconds=30, timeout_seconds=ROLL_TIMEOUT_S)
def compact_day(lake: str, day: str) -> dict[str, Any]:
    return asdict(compact_lake(Path(lake), only_day=date.fromisoformat(day)))


def next_midnight(now: float) -> float:
    """The next 00:00 UTC after ``now`` (epoch seconds)."""
    today = datetime.fromtimestamp(now, UTC).date()
    return datetime(today.year, today.month, today.day, tzinfo=UTC).timestamp() + 86400


def _day(day: str | None, now: float) -> str:
    if day is None:
        return (datetime.fromtimestamp(now, UTC).date() - timedelta(days=1)).isoformat()
    try:
        return date.fromisoformat(day).isoformat()
    except ValueError:
        raise ConfigError(f"record: day {day!r} is not a date", "use YYYY-MM-DD") from None


@flow(name="mm-record", log_prints=True)
def record_flow(
    venue: str = "bybit",
    symbols: list[str] | None = None,
    lake: str = "data/lake",
    day: str | None = None,
    record_seconds: float | None = None,
    roll_after_s: float = 300.0,
    restarts: int = 5,
    state_dir: str = "state/record-roll",
    retry_delay_s: float = 30.0,
) -> dict[str, Any]:
    """Record ``symbols`` (default MM_SYMBOLS) until midnight; roll and compact ``day``
    (default yesterday, UTC) into ``lake``."""
    now = time.time()
    which = _day(day, now)
    symbols = symbols or load_settings().symbols
    if not symbols:
        raise ConfigError("record: no symbols to record", "pass symbols or set MM_SYMBOLS")
    if record_seconds is not None and record_seconds <= 0:
        raise ConfigError(f"record: record_seconds must be > 0, got {record_seconds}")
    until = now + record_seconds if record_seconds is not None else next_midnight(now)
    recorder = record_venue.with_options(
        retries=restarts, retry_delay_seconds=retry_delay_s
    ).submit(venue, symbols, until)
    wait([recorder], timeout=roll_after_s)
    closed: dict[str, Any] = {}
    failure: BaseException | None = None
    try:
        closed["rolled"] = roll_to_lake.with_options(retry_delay_seconds=retry_delay_s)(
            venue, lake, state_dir
        )
        closed["compacted"] = compact_day.with_options(retry_delay_seconds=retry_delay_s)(
            lake, which
        )
        print(f"day {which} rolled into {lake} and compacted: {closed['compacted']}")
    except Exception as exc:  # the recorder runs on: wait for it, then report this
        failure = exc
        print(f"closing day {which} failed: {exc}")
    recorded = recorder.result()
    if failure is not None:
        raise failure
    return {"day": which, "recorded": recorded, **closed}
