"""Replay the lake through the book operator and write top-of-book features back.

    MM_LAKE=data/lake MM_VENUE=binance-usdm MM_SYMBOLS=BTCUSDT \\
        python -m bytewax.run flows.replay_book            # -w 2 for two workers

Parameters come from env / .env / MM_CONFIG YAML: MM_LAKE, MM_VENUE, MM_SYMBOLS (all
instruments in the lake if empty), MM_START, MM_END, MM_OUT (lake to write features
to; defaults to MM_LAKE).
"""

from __future__ import annotations

from pathlib import Path

import bytewax.operators as op
import numpy as np
from bytewax.dataflow import Dataflow

from connectors.replay.parquet_source import LakeReplaySource
from core.config import Settings, load_settings
from core.instruments import instrument_id, split_instrument_id
from core.lake import list_instruments, read_instrument
from core.timeutil import parse_time
from flows.entry import lazy_flow
from operators.features.top_of_book import TopOfBook
from warehouse.sinks import LakeSink


def instruments_from(settings: Settings) -> list[str]:
    if settings.symbols:
        return [instrument_id(settings.venue, s) for s in settings.symbols]
    return [instrument_id(v, s) for v, s in list_instruments(settings.lake)]


def build_flow(
    lake: Path,
    instruments: list[str],
    out: Path | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> Dataflow:
    ticks = {
        i: float(read_instrument(lake, *split_instrument_id(i)).tick_size) for i in instruments
    }

    def step(
        key_state: TopOfBook | None, item: tuple[str, np.ndarray]
    ) -> tuple[TopOfBook, np.ndarray]:
        inst, batch = item
        state = key_state or TopOfBook(split_instrument_id(inst)[0], ticks[inst])
        return state, state.process(batch)

    flow = Dataflow("replay_book")
    events = op.input("replay", flow, LakeReplaySource(lake, instruments, start_ns, end_ns))
    tagged = op.map("tag", events, lambda kv: (kv[0], kv))
    feats = op.stateful_map("top_of_book", tagged, step)
    op.output("features", feats, LakeSink(out or lake, "features", instruments))
    return flow


def flow_from_settings(settings: Settings | None = None) -> Dataflow:
    settings = settings or load_settings()
    return build_flow(
        settings.lake,
        instruments_from(settings),
        settings.out,
        parse_time(settings.start),
        parse_time(settings.end),
    )


__getattr__ = lazy_flow("replay_book", flow_from_settings)
