"""The ``record`` Prefect flow, in-process: a real recorder process against the fake Bybit,
a real broker (Tansu), the roll into a real Parquet lake and the day's compaction."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from core.errors import ConfigError
from core.lake import data_files
from orchestration.children import ChildFailed
from orchestration.record import next_midnight, record_flow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bybit"))  # the fake Bybit
from fake_bybit import FakeBybit

pytestmark = pytest.mark.kafka

MESSAGES = 25  # per recording: the capture's snapshot and 24 deltas


@pytest.fixture
def record_env(kafka_broker: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MM_KAFKA_BOOTSTRAP", kafka_broker)
    monkeypatch.setenv("MM_KAFKA_TOPIC_PREFIX", f"t{uuid.uuid4().hex[:10]}")
    monkeypatch.setenv("MM_KAFKA_CONNECT_TIMEOUT_S", "5")
    monkeypatch.setenv("MM_RECORD_MAX_MESSAGES", str(MESSAGES))
    monkeypatch.setenv("MM_RECORD_DEPTH", "500")
    monkeypatch.setenv("MM_PROGRESS", "0")
    return kafka_broker


def book(lake: Path) -> pl.DataFrame:
    return pl.read_parquet(lake / "book_deltas" / "**" / "*.parquet")


def record_once(lake: Path, state: Path, day: str) -> dict:
    # a recorder ends after MESSAGES messages; the roll waits for its end (roll_after_s)
    with FakeBybit(loop=False, interval_s=0.005) as fake, pytest.MonkeyPatch.context() as mp:
        mp.setenv("BYBIT_WS_PUBLIC_URL", fake.ws_public_url)
        return record_flow(symbols=["XRPUSDT"], lake=str(lake), day=day, record_seconds=120,
                           roll_after_s=120, restarts=0, state_dir=str(state),
                           retry_delay_s=0)  # fmt: skip


def test_record_rolls_and_compacts_the_day_into_the_lake(record_env: str, tmp_path: Path) -> None:
    lake, state = tmp_path / "lake", tmp_path / "roll"
    today = datetime.now(UTC).date().isoformat()
    first = record_once(lake, state, today)
    assert first["day"] == today and first["recorded"]["exit_code"] == 0
    one = book(lake)
    assert one["recv_ts"].n_unique() == MESSAGES and one.height > MESSAGES

    # the next run's roll resumes at the last roll's offsets: only the new recording is
    # added (a second file in the day's partition), then compaction merges the two
    second = record_once(lake, state, today)
    both = book(lake)
    assert both["recv_ts"].n_unique() == 2 * MESSAGES
    assert both.height == 2 * one.height
    assert both.unique().height == both.height  # nothing twice
    part = next((lake / "book_deltas").glob(f"venue=bybit/symbol=XRPUSDT/date={today}"))
    assert len(data_files(part)) == 1
    compacted = second["compacted"]
    assert compacted["partitions_compacted"] >= 1 and compacted["duplicates"] == 0


def test_a_recorder_that_keeps_failing_fails_the_run_with_its_last_output(
    record_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MM_KAFKA_BOOTSTRAP", "127.0.0.1:9")  # nothing listens: no broker
    monkeypatch.setenv("MM_KAFKA_CONNECT_TIMEOUT_S", "1")
    lake = tmp_path / "lake"
    lake.mkdir()
    with pytest.raises(ChildFailed) as err:
        record_flow(symbols=["XRPUSDT"], lake=str(lake), record_seconds=60, roll_after_s=0,
                    restarts=1, state_dir=str(tmp_path / "roll"), retry_delay_s=0)  # fmt: skip
    # restarts=1: the second attempt's error is the run's
    assert err.value.message.startswith("recorder bybit XRPUSDT (attempt 2) exited with code 1;")
    assert "127.0.0.1:9" in err.value.message  # the child's own error line


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"day": "yesterday"}, "record: day 'yesterday' is not a date"),
        ({"symbols": []}, "record: no symbols to record"),
        ({"record_seconds": 0}, "record: record_seconds must be > 0, got 0.0"),
    ],
)
def test_bad_parameters_are_one_clear_error(
    kwargs: dict, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MM_SYMBOLS", raising=False)
    args = {"symbols": ["XRPUSDT"], "lake": str(tmp_path), **kwargs}
    with pytest.raises(ConfigError) as err:
        record_flow(**args)
    assert err.value.message == message


def test_a_recording_ends_at_the_next_utc_midnight() -> None:
    noon = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()
    assert next_midnight(noon) == datetime(2026, 3, 2, tzinfo=UTC).timestamp()
    assert next_midnight(noon - 12 * 3600) == datetime(2026, 3, 2, tzinfo=UTC).timestamp()
