"""``mm publish``: recorded lake data -> a Kafka topic, for replay backtests through Kafka."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.main import app, emit_json, guarded


@app.command("publish")
@guarded("publish")
def publish_cmd(
    lake: Annotated[Path, typer.Option("--lake", help="Parquet lake directory.")] = Path(
        "data/lake"
    ),
    venue: Annotated[str, typer.Option(help="Venue of the instrument.")] = "binance-usdm",
    symbol: Annotated[str, typer.Option(help="Symbol of the instrument.")] = "BTCUSDT",
    start: Annotated[str | None, typer.Option(help="Start time (ISO-8601 or ns).")] = None,
    end: Annotated[str | None, typer.Option(help="End time (exclusive).")] = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka HOST:PORT (default MM_KAFKA_BOOTSTRAP).")
    ] = None,
    topic: Annotated[
        str | None, typer.Option(help="Topic (default {MM_KAFKA_TOPIC_PREFIX}.events.{venue}).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Publish an instrument's events from the lake into Kafka, one message per venue message."""
    from connectors.kafka import client as kc
    from connectors.kafka.config import load_kafka_settings
    from connectors.kafka.publisher import publish
    from core.errors import LakeError
    from core.timeutil import parse_time

    if not lake.is_dir():
        raise LakeError(f"lake {lake} does not exist", "import data first with `mm import`")
    ks = load_kafka_settings()
    report = publish(
        lake,
        venue,
        symbol.upper(),
        bootstrap or ks.bootstrap,
        topic or kc.events_topic(venue, ks.topic_prefix),
        parse_time(start),
        parse_time(end),
        partitions=ks.partitions,
        replication=ks.replication,
        connect_timeout_s=ks.connect_timeout_s,
        request_timeout_ms=ks.request_timeout_ms,
        compression=ks.compression,
        progress=not as_json,
    )
    if report.messages == 0:
        raise LakeError(
            f"no events of {report.instrument} in {lake} for that range", "check --start/--end"
        )
    if as_json:
        emit_json(report.to_dict())
        return
    print(f"published {report.instrument} -> {report.topic} (partition {report.partition})")
    print(
        f"  {report.messages:,} messages  {report.events:,} events  "
        f"{report.bytes / 1e6:,.1f} MB  in {report.seconds:.1f} s "
        f"({report.messages_per_s:,.0f} messages/s)"
    )
