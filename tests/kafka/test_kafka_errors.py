"""Failure paths: no broker (bounded retries, one-line errors), missing topics, malformed
messages counted and skipped."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest
from kafka_helpers import BYBIT, produce, sample_lines
from typer.testing import CliRunner

from cli.cmd_backtest import run_backtest
from cli.main import app
from connectors.kafka import client as kc
from connectors.kafka.source import Conn
from core.errors import MMError
from core.lake import partition_dates, read_partition
from flows.kafka_to_lake import build_flow as kafka_to_lake_flow
from warehouse.runner import run_flow


@pytest.fixture
def dead_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_broker_retries_with_backoff_then_fails(dead_port: int) -> None:
    t0 = time.monotonic()
    with pytest.raises(kc.BrokerUnavailable) as err:
        kc.producer(f"127.0.0.1:{dead_port}", connect_timeout_s=1.5)
    elapsed = time.monotonic() - t0
    assert 1.4 <= elapsed < 5.0  # the budget, not a hang
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(f"cannot reach Kafka at 127.0.0.1:{dead_port} (")
    attempts = int(text.split("(", 1)[1].split(" attempt", 1)[0])
    assert attempts >= 2  # 375 ms per attempt with backoff 0.25 s, 0.5 s between them
    assert "docker compose up -d kafka" in text


def test_cli_reports_an_unreachable_broker_in_one_line(
    dead_port: int, sample_lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MM_KAFKA_CONNECT_TIMEOUT_S", "1")
    runner = CliRunner()
    res = runner.invoke(
        app, ["publish", "--lake", str(sample_lake), "--bootstrap", f"127.0.0.1:{dead_port}"]
    )
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("mm publish: error: cannot reach Kafka at ")
    res = runner.invoke(
        app,
        [
            "backtest",
            "--lake",
            str(sample_lake),
            "--out",
            str(tmp_path / "run"),
            "--source",
            "kafka",
            "--bootstrap",
            f"127.0.0.1:{dead_port}",
        ],
    )
    assert res.exit_code == 1
    assert res.output.strip().startswith("mm backtest: error: cannot reach Kafka at ")


@pytest.mark.kafka
def test_replay_of_a_missing_topic_says_so(
    kafka_env: str, sample_lake: Path, tmp_path: Path
) -> None:
    with pytest.raises(MMError, match=r"Kafka topic 't\w+\.events\.binance-usdm' does not exist"):
        run_backtest(
            sample_lake,
            "binance-usdm",
            "BTCUSDT",
            tmp_path / "run",
            progress=False,
            source="kafka",
            bootstrap=kafka_env,
        )


@pytest.mark.kafka
def test_malformed_raw_messages_are_counted_logged_and_skipped(
    kafka_broker: str, topic_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = [("bybit:XRPUSDT", line) for line in sample_lines(BYBIT)]  # bare lines: recv = ts
    bad = [
        ("bybit:XRPUSDT", b"not json at all"),
        ("bybit:XRPUSDT", b"1733011200000000000 {broken"),
        ("bybit:XRPUSDT", b"12x {}"),
        ("bybit:XRPUSDT", b'{"topic": "orderbook.500.XRPUSDT", "ts": 1, "type": "delta"}'),
        ("no-colon", good[1][1]),
        ("kraken:XBTUSD", good[1][1]),
        ("bybit:BTCUSDT", good[1][1]),  # a XRPUSDT message under another instrument's key
    ]
    items = good[:10] + bad + good[10:]
    topic = f"{topic_prefix}.raw.bybit"
    produce(kafka_broker, topic, items)
    lake = tmp_path / "lake"
    flow, decoder = kafka_to_lake_flow(Conn(kafka_broker, 5), [topic], lake, until_end=True)
    with caplog.at_level(logging.WARNING, logger="connectors.kafka.raw"):
        run_flow(flow)
    s = decoder.stats
    assert (s.messages, s.malformed, s.by_topic) == (50, 7, {topic: 7})
    logged = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("kafka_malformed")
    ]
    assert [int(m.split("offset=")[1].split()[0]) for m in logged] == list(range(10, 17))
    assert 'reason="not valid JSON"' in logged[0]
    assert "is not VENUE:SYMBOL" in logged[4] and "no loader for venue 'kraken'" in logged[5]
    assert "message for XRPUSDT under key bybit:BTCUSDT" in logged[6]
    days = partition_dates(lake, "book_deltas", "bybit", "XRPUSDT")
    assert (
        sum(read_partition(lake, "book_deltas", "bybit", "XRPUSDT", d).num_rows for d in days)
        == 3_966
    )
