"""Lake -> Kafka (`mm publish`) -> replay backtest: identical to the Parquet replay."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli.cmd_backtest import run_backtest
from cli.main import app
from connectors.kafka.publisher import publish
from connectors.kafka.source import Conn, topic_has_messages
from core.timeutil import parse_time

pytestmark = pytest.mark.kafka

VENUE, SYMBOL = "binance-usdm", "BTCUSDT"
END = "2024-08-08T23:56:30Z"  # from the REST snapshot (the book needs it) to here: 7 fills
WALL_FIELDS = {"wall_time_s", "events_per_s"}


def _fills(run: Path) -> pl.DataFrame:
    """A run's fills without its run id (each backtest is a run of its own)."""
    return pl.read_parquet(str(run / "fills" / "**" / "*.parquet")).sort("seq").drop("run_id")


def test_kafka_replay_equals_parquet_replay(
    sample_lake: Path,
    kafka_env: str,
    topic_prefix: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic = f"{topic_prefix}.events.{VENUE}"
    result = CliRunner().invoke(
        app,
        [
            "publish",
            "--lake",
            str(sample_lake),
            "--venue",
            VENUE,
            "--symbol",
            SYMBOL,
            "--end",
            END,
            "--bootstrap",
            kafka_env,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["topic"] == topic  # default name from MM_KAFKA_TOPIC_PREFIX
    assert report["events"] == 214_200  # rows with recv_ts < END, bbo counted per side
    # 1 instrument-spec message + one per venue message
    assert topic_has_messages(Conn(kafka_env), topic)["messages"] == report["messages"] + 1

    # publishing an overlapping range again only adds duplicates, which the replay drops
    again = publish(
        sample_lake,
        VENUE,
        SYMBOL,
        kafka_env,
        topic,
        parse_time("2024-08-08T23:56:00Z"),
        parse_time(END),
        progress=False,
    )
    assert 0 < again.messages < report["messages"]

    parquet = run_backtest(
        sample_lake, VENUE, SYMBOL, tmp_path / "parquet", end=END, progress=False
    )
    with caplog.at_level(logging.INFO, logger="connectors.kafka.source"):
        kafka = run_backtest(
            sample_lake,
            VENUE,
            SYMBOL,
            tmp_path / "kafka",
            end=END,
            progress=False,
            source="kafka",
            bootstrap=kafka_env,
        )
    done = [r.getMessage() for r in caplog.records if "kafka_replay_done" in r.getMessage()]
    assert len(done) == 1
    assert f"messages={report['messages']} " in done[0]
    assert f"duplicates={again.messages} " in done[0] and "malformed=0 " in done[0]
    assert parquet["fills"] == 7 and parquet["events"] == 214_200
    assert {k: v for k, v in kafka.items() if k not in WALL_FIELDS} == {
        k: v for k, v in parquet.items() if k not in WALL_FIELDS
    }
    assert _fills(tmp_path / "kafka").equals(_fills(tmp_path / "parquet"))
    run = json.loads((tmp_path / "kafka" / "run.json").read_text())
    assert (run["source"], run["topic"]) == ("kafka", topic)


def test_kafka_replay_without_the_lake_uses_the_topic_spec(
    sample_lake: Path, kafka_env: str, topic_prefix: str, tmp_path: Path
) -> None:
    """The spec message makes a topic replayable on a machine without the lake."""
    end = "2024-08-08T23:54:30Z"
    publish(
        sample_lake,
        VENUE,
        SYMBOL,
        kafka_env,
        end_ns=parse_time(end),
        topic=f"{topic_prefix}.events.{VENUE}",
        progress=False,
    )
    parquet = run_backtest(sample_lake, VENUE, SYMBOL, tmp_path / "p", end=end, progress=False)
    kafka = run_backtest(
        tmp_path / "no_lake",
        VENUE,
        SYMBOL,
        tmp_path / "k",
        end=end,
        progress=False,
        source="kafka",
        bootstrap=kafka_env,
    )
    assert kafka["events"] == parquet["events"] > 0
    assert (
        json.loads((tmp_path / "k" / "run.json").read_text())["instruments"]
        == json.loads((tmp_path / "p" / "run.json").read_text())["instruments"]
    )
