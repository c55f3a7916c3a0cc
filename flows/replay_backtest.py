"""Replay backtest: recorded data -> trader (with the simulated venue bound inside) -> run tables.

    MM_LAKE=data/lake MM_VENUE=binance-usdm MM_SYMBOLS=BTCUSDT MM_OUT=runs/x \\
        python -m bytewax.run flows.replay_backtest

MM_SYMBOLS may name instruments of several venues as VENUE:SYMBOL
(``binance-usdm:BTCUSDT,bybit:XRPUSDT``). Several processes share the instruments
(``-i 0 -a "host0:2101;host1:2101"`` on each): each instrument's replay, trader and run
tables live on one worker, and the run tables equal a one-process run's (docs/scale.md).

Parameters from env / .env / MM_CONFIG YAML (``params:`` section, per-symbol
``overrides:``) or a parameter file named by MM_PARAMS_FILE. The dataflow is the one
the live flow runs, with a replay source in place of the exchange and the simulated
venue in place of the order gateway.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import bytewax.operators as op
import numpy as np
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.operators import StatefulLogic

from connectors.replay.parquet_source import LakeReplaySource
from connectors.sim.config import SimConfig
from connectors.sim.venue import SimVenue
from core.config import Settings, load_params_file, load_settings
from core.errors import MMError
from core.instruments import InstrumentSpec, instrument_id, split_instrument_id
from core.lake import read_instrument
from core.lake_span import require_data
from core.params import StrategyParams
from core.timeutil import parse_time
from engine.select import engine_name, make_trader
from flows.entry import lazy_flow
from operators.quoting.feasibility import never_quote_warning
from operators.trader import Trader, TraderOutput
from warehouse.lake_writer import write_instrument
from warehouse.run_sink import RunSink
from warehouse.runs import check_run_id, new_run_id


class TraderStep(StatefulLogic[tuple[str, np.ndarray], TraderOutput, Trader]):
    """The trader as a Bytewax stateful step.

    Bytewax's builder is not told its key, so the trader is built on the first item,
    whose value carries the instrument id (the stream is keyed by it).
    """

    def __init__(self, make: Callable[[str], Trader], resume: Trader | None) -> None:
        self.make = make
        self.trader = resume

    def on_item(self, value: tuple[str, np.ndarray]) -> tuple[list[TraderOutput], bool]:
        inst, batch = value
        if self.trader is None:
            self.trader = self.make(inst)
        out = self.trader.on_market(batch)
        return ([] if out.empty() else [out]), StatefulLogic.RETAIN

    def on_eof(self) -> tuple[list[TraderOutput], bool]:
        if self.trader is None:
            return [], StatefulLogic.DISCARD
        return [self.trader.finish()], StatefulLogic.RETAIN

    def notify_at(self) -> datetime | None:
        return None

    def snapshot(self) -> Trader:
        assert self.trader is not None
        return self.trader


def build_backtest_flow(
    source: Source,
    specs: dict[str, InstrumentSpec],
    params: dict[str, StrategyParams],
    out_dir: Path,
    meta: dict[str, Any] | None = None,
    engine: str | None = None,
) -> Dataflow:
    """The backtest dataflow for any source emitting ``(instrument id, event batch)``.

    The run's id (``meta["run_id"]``, default a new one) is in run.json and every row."""
    out_dir.mkdir(parents=True, exist_ok=True)
    run_id = check_run_id((meta or {}).get("run_id") or new_run_id())
    engine = engine_name(engine)
    meta = {**(meta or {}), "engine": engine}
    for spec in specs.values():
        write_instrument(out_dir, spec)
    # every process of a cluster builds the flow: each writes the same run.json, atomically
    run_json = json.dumps(
        {
            **(meta or {}),
            "run_id": run_id,
            "instruments": {i: s.to_dict() for i, s in specs.items()},
            "params": {i: p.model_dump(mode="json") for i, p in params.items()},
        },
        indent=2,
        default=str,
    )
    tmp = out_dir / f".run.json.{os.getpid()}.tmp"
    tmp.write_text(run_json)
    tmp.replace(out_dir / "run.json")

    def make(inst: str) -> Trader:
        venue = SimVenue(specs[inst], SimConfig.from_params(params[inst]))
        return make_trader(specs[inst], params[inst], venue, engine=engine)

    flow = Dataflow("replay_backtest")
    events = op.input("replay", flow, source)
    keyed = op.map("tag", events, lambda kv: (kv[0], kv))
    outputs = op.stateful("trader", keyed, lambda resume: TraderStep(make, resume))
    op.output("run", outputs, RunSink(out_dir, list(specs), run_id=run_id, mode="backtest"))
    return flow


def lake_backtest(
    lake: Path,
    instruments: list[str],
    out_dir: Path,
    params: dict[str, StrategyParams],
    start_ns: int | None = None,
    end_ns: int | None = None,
    progress: bool = False,
    engine: str | None = None,
    run_id: str | None = None,
) -> Dataflow:
    specs = {i: read_instrument(lake, *split_instrument_id(i)) for i in instruments}
    source = LakeReplaySource(lake, instruments, start_ns, end_ns, progress=progress)
    meta = {"source": "parquet", "lake": str(lake), "start_ns": start_ns, "end_ns": end_ns}
    if run_id is not None:
        meta["run_id"] = run_id
    return build_backtest_flow(source, specs, params, out_dir, meta, engine)


def preflight(
    lake: Path,
    inst: str,
    params: StrategyParams,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> str | None:
    """Before anything is written: raises when the lake holds no data for ``inst`` in the
    range (naming what it does hold); returns a warning line if ``params`` can never quote."""
    venue, symbol = split_instrument_id(inst)
    spec = read_instrument(lake, venue, symbol)
    span = require_data(lake, venue, symbol, start_ns, end_ns)
    prices = None
    if span.price_lo is not None and span.price_hi is not None:
        prices = (float(span.price_lo * spec.tick_size), float(span.price_hi * spec.tick_size))
    return never_quote_warning(spec, params, prices)


def instruments_from(settings: Settings) -> list[str]:
    """MM_SYMBOLS as instrument ids: ``SYMBOL`` on MM_VENUE, or ``VENUE:SYMBOL``."""
    out = []
    for s in settings.symbols:
        venue, sep, symbol = s.partition(":")
        out.append(
            instrument_id(venue.lower(), symbol) if sep else instrument_id(settings.venue, s)
        )
    for inst in out:
        split_instrument_id(inst)  # a bad id fails here, with a hint
    return out


def flow_from_settings(settings: Settings | None = None) -> Dataflow:
    settings = settings or load_settings()
    if not settings.symbols:
        raise MMError("no symbols to backtest", "set MM_VENUE and MM_SYMBOLS")
    if settings.out is None:
        raise MMError("no run directory", "set MM_OUT")
    instruments = instruments_from(settings)
    base = load_params_file(settings.params_file) if settings.params_file else None
    params = {i: base or settings.params_for(split_instrument_id(i)[1]) for i in instruments}
    start_ns, end_ns = parse_time(settings.start), parse_time(settings.end)
    for inst in instruments:
        warning = preflight(settings.lake, inst, params[inst], start_ns, end_ns)
        if warning:
            print(f"replay_backtest: warning: {warning}", file=sys.stderr)
    # every process of a cluster runs this: they must agree on the run id without talking
    run_id = settings.run_id or cluster_run_id(settings.out, instruments, start_ns, end_ns)
    return lake_backtest(
        settings.lake, instruments, settings.out, params, start_ns, end_ns,
        engine=settings.engine, run_id=run_id,
    )  # fmt: skip


def cluster_run_id(
    out: Path, instruments: list[str], start_ns: int | None, end_ns: int | None
) -> str:
    """A run id every process derives alike: the run directory, instruments and range."""
    key = json.dumps([str(Path(out).resolve()), sorted(instruments), start_ns, end_ns])
    return "bt-" + hashlib.sha1(key.encode()).hexdigest()[:16]


def kafka_backtest(
    bootstrap: str,
    lake: Path | None,
    instruments: list[str],
    out_dir: Path,
    params: dict[str, StrategyParams],
    start_ns: int | None = None,
    end_ns: int | None = None,
    progress: bool = False,
    topic: str | None = None,
    engine: str | None = None,
) -> Dataflow:
    """The same backtest fed from a Kafka event topic (``mm publish``) instead of the lake.

    Reads each instrument's partition from the beginning to the end offset captured now.
    Tick/lot sizes come from the spec message in the topic, else from ``lake``.
    """
    from connectors.kafka import client as kc
    from connectors.kafka.config import load_kafka_settings
    from connectors.kafka.source import Conn, KafkaEventSource, read_topic_spec
    from core.lake import instrument_path

    ks = load_kafka_settings()
    conn = Conn(bootstrap, ks.connect_timeout_s, ks.request_timeout_ms, ks.stall_timeout_s)
    venues = sorted({split_instrument_id(i)[0] for i in instruments})
    if topic is None:
        if len(venues) != 1:
            raise MMError(
                "instruments of several venues need one --topic", "replay one venue at a time"
            )
        topic = kc.events_topic(venues[0], ks.topic_prefix)
    source = KafkaEventSource(conn, topic, instruments, start_ns, end_ns, progress=progress)
    specs: dict[str, InstrumentSpec] = {}
    for inst in instruments:
        spec = read_topic_spec(conn, topic, inst)
        if (
            spec is None
            and lake is not None
            and instrument_path(lake, *split_instrument_id(inst)).is_file()
        ):
            spec = read_instrument(lake, *split_instrument_id(inst))
        if spec is None:
            raise MMError(
                f"no instrument spec for {inst} in Kafka topic {topic} or lake {lake}",
                "publish it with `mm publish`, or pass --lake holding the instrument",
            )
        specs[inst] = spec
    meta = {
        "source": "kafka",
        "bootstrap": bootstrap,
        "topic": topic,
        "start_ns": start_ns,
        "end_ns": end_ns,
    }
    return build_backtest_flow(source, specs, params, out_dir, meta, engine)


__getattr__ = lazy_flow("replay_backtest", flow_from_settings)
