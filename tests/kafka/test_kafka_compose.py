"""docker-compose.yml, checked structurally (Docker itself is not available to the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SERVICES = {"kafka", "postgres", "prefect", "prometheus", "grafana"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_services_have_healthchecks_and_named_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == SERVICES
    named = set(compose["volumes"])
    for name, svc in services.items():
        hc = svc.get("healthcheck")
        assert hc and hc["test"][0] in ("CMD", "CMD-SHELL"), name
        assert {"interval", "timeout", "retries"} <= set(hc), name
        data = [v.split(":")[0] for v in svc.get("volumes", []) if not v.startswith("./")]
        if name == "prefect":
            assert data == []  # its state lives in postgres
        else:
            assert len(data) == 1 and data[0] in named, f"{name} keeps its data in a named volume"
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"
    assert named == {"kafka-data", "postgres-data", "prometheus-data", "grafana-data"}


def test_kafka_runs_in_kraft_mode_without_zookeeper(compose: dict[str, Any]) -> None:
    text = (REPO / "docker-compose.yml").read_text().lower()
    assert "zookeeper" not in text.replace("no zookeeper", "")
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "CONTROLLER://:9093" in env["KAFKA_LISTENERS"]
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert len(env["CLUSTER_ID"]) == 22  # a base64 UUID, as `kafka-storage.sh random-uuid`
    assert "HOST://localhost:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert kafka["volumes"] == ["kafka-data:/var/lib/kafka/data"]
    assert env["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"


def test_prefect_uses_postgres_and_waits_for_it(compose: dict[str, Any]) -> None:
    prefect = compose["services"]["prefect"]
    assert prefect["image"] == "prefecthq/prefect:3.8.8-python3.11"
    url = prefect["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert url.startswith("postgresql+asyncpg://") and url.endswith("@postgres:5432/prefect")
    assert prefect["depends_on"]["postgres"]["condition"] == "service_healthy"
    pg = compose["services"]["postgres"]
    assert pg["environment"]["POSTGRES_DB"] == "optuna"
    init = [v for v in pg["volumes"] if v.startswith("./")]
    assert init and (REPO / init[0].split(":")[0]).is_file()
    assert "CREATE DATABASE prefect" in (REPO / init[0].split(":")[0]).read_text()


def test_mounted_config_files_exist_and_parse(compose: dict[str, Any]) -> None:
    mounts = [
        v.split(":")[0]
        for svc in compose["services"].values()
        for v in svc.get("volumes", [])
        if v.startswith("./")
    ]
    assert mounts
    for m in mounts:
        assert (REPO / m).exists(), m
    prom = yaml.safe_load((REPO / "docker" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    assert jobs["bytewax"]["static_configs"][0]["targets"] == ["host.docker.internal:3030"]
    ds = yaml.safe_load(
        (REPO / "docker/grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
