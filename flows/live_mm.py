"""Live market making on Bybit V5 (and paper trading on live data).

    MM_SYMBOLS=XRPUSDT BYBIT_API_KEY=... BYBIT_API_SECRET=... python -m bytewax.run flows.live_mm
    MM_MODE=paper MM_SYMBOLS=XRPUSDT python -m bytewax.run flows.live_mm     # no keys, no orders

Testnet is the default; mainnet needs MM_NETWORK=mainnet (and logs a loud warning).
Endpoints: BYBIT_REST_URL, BYBIT_WS_PUBLIC_URL, BYBIT_WS_PRIVATE_URL.

The dataflow is the backtest's: the same trader (features, quoting, risk, order
manager, inventory). Only the edges differ:

    live:  public WS + private WS + gateway feedback + clock -> trader -> order sink (REST)
    paper: public WS + clock -> trader with the simulated venue bound inside

Both write quotes, orders, fills and PnL to the lake (MM_LAKE) exactly as a backtest
writes its run directory, and log one line per event of interest plus a periodic
status line per symbol. SIGINT/SIGTERM: stop sending, cancel every order, confirm,
exit within 5 s. Live trading runs as one process (any number of worker threads).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic

from connectors.bybit.config import BybitConfig, load_bybit_config
from connectors.bybit.data import BybitPublicSource
from connectors.bybit.execution import BybitGateway, make_run_tag
from connectors.bybit.instruments import BybitInstruments
from connectors.bybit.order_sink import WORKERS, BybitOrderSink, GatewayWorker
from connectors.bybit.private import BybitPrivateSource
from connectors.bybit.rest import BybitRest
from connectors.clock import ClockSource
from connectors.feedback import FeedbackSource, bus
from connectors.log_sink import LogSink
from connectors.sim.config import SimConfig
from connectors.sim.venue import SimVenue
from core.config import Settings, load_params_file, load_settings
from core.errors import ConfigError
from core.instruments import InstrumentSpec
from core.log import event, get_logger, setup_logging
from core.params import StrategyParams
from flows.entry import lazy_flow
from operators.trader import Trader, TraderOutput
from warehouse.run_sink import RunSink, flush_all_run_sinks

log = get_logger("flows.live_mm")
SHUTDOWN_BUDGET_S = 4.5  # the bound is 5 s from the signal to exit


class LiveTraderStep(StatefulLogic[tuple[str, Any], TraderOutput, Trader]):
    """The trader fed by the merged live inputs (market, private, feedback, clock)."""

    def __init__(self, make: Callable[[str], Trader], resume: Trader | None) -> None:
        self.make = make
        self.trader = resume

    def on_item(self, value: tuple[str, Any]) -> tuple[list[TraderOutput], bool]:
        inst, payload = value
        if self.trader is None:
            self.trader = self.make(inst)
        out = self.trader.on_item(payload)
        return ([] if out.empty() else [out]), StatefulLogic.RETAIN

    def notify_at(self) -> datetime | None:
        return None

    def snapshot(self) -> Trader:
        assert self.trader is not None
        return self.trader


def _params(settings: Settings, symbol: str) -> StrategyParams:
    if settings.params_file:
        return load_params_file(settings.params_file)
    return settings.params_for(symbol)


def build_live_flow(settings: Settings, cfg: BybitConfig) -> Dataflow:
    mode = settings.mode
    if settings.venue != "bybit":
        raise ConfigError(
            f"venue {settings.venue!r} has no live connector yet", "use MM_VENUE=bybit"
        )
    if not settings.symbols:
        raise ConfigError("no symbols to trade", "set MM_SYMBOLS, e.g. MM_SYMBOLS=BTCUSDT")
    if mode == "live":
        cfg.require_keys()  # one line: set the keys or use paper mode
    rest = BybitRest(cfg)
    specs: dict[str, InstrumentSpec] = BybitInstruments(rest, settings.symbols, cfg.category).load()
    insts = sorted(s.id for s in specs.values())
    params = {specs[s].id: _params(settings, s) for s in settings.symbols}
    by_inst = {s.id: s for s in specs.values()}
    flow_name = f"live_mm_{os.getpid()}"

    flow = Dataflow("live_mm")
    market = op.input(
        "public", flow, BybitPublicSource(settings.symbols, settings.depth, True, cfg, specs)
    )
    clock = op.input("clock", flow, ClockSource(insts, interval_ms=1000))
    inputs = [market, clock]
    gateway: BybitGateway | None = None
    positions: dict[str, Any] = {}
    run_tag = make_run_tag()
    if mode == "live":
        prefix = next(iter(params.values())).orders.client_id_prefix
        gateway = BybitGateway(rest, specs, run_tag=run_tag, client_id_prefix=prefix)
        report = gateway.start(insts, dcp_window_s=cfg.dcp_window_s)
        positions = report.positions
        WORKERS[flow_name] = GatewayWorker(gateway, bus(flow_name))
        inputs.append(op.input("private", flow, BybitPrivateSource(settings.symbols, cfg, specs)))
        inputs.append(op.input("feedback", flow, FeedbackSource(flow_name, insts)))

    def make(inst: str) -> Trader:
        spec, p = by_inst[inst], params[inst]
        venue = SimVenue(spec, SimConfig.from_params(p)) if mode == "paper" else None
        trader = Trader(spec, p, venue, run_tag=run_tag, log_quotes=True)
        pos = positions.get(inst)
        if pos is not None and pos.qty:
            trader.seed_position(pos.qty, pos.entry_price)
        return trader

    merged = op.merge("inputs", *inputs)
    keyed = op.map("tag", merged, lambda kv: (kv[0], kv))  # the step learns its instrument
    outputs = op.stateful("trader", keyed, lambda resume: LiveTraderStep(make, resume))
    op.output(
        "run", outputs, RunSink(settings.lake, insts, flush_interval_s=settings.flush_interval_s)
    )
    logs = op.filter_map_value("logs", outputs, lambda o: o.logs or None)
    op.output("log", logs, LogSink())
    if mode == "live":
        actions = op.filter_map_value("actions", outputs, lambda o: o.actions or None)
        op.output("orders", actions, BybitOrderSink(flow_name))
    event(log, logging.INFO, "live_mm_start", mode=mode, network=cfg.network, symbols=",".join(settings.symbols),
          run_tag=run_tag, lake=str(settings.lake), rest=cfg.rest_url)  # fmt: skip
    install_shutdown(flow_name, gateway, insts)
    return flow


def install_shutdown(flow_name: str, gateway: BybitGateway | None, insts: list[str]) -> None:
    """SIGINT/SIGTERM: stop sending, cancel all and confirm, flush the lake, exit (< 5 s)."""
    if threading.current_thread() is not threading.main_thread():
        return  # tests build flows off the main thread; only a real process handles signals
    done = threading.Event()

    def shutdown(signum: int, _frame: Any) -> None:
        if done.is_set():
            return
        done.set()
        t0 = time.monotonic()
        event(log, logging.WARNING, "shutdown", signal=signal.Signals(signum).name)
        ok = True
        worker = WORKERS.get(flow_name)
        if worker is not None and gateway is not None:
            worker.halt()
            worker.wait_idle(0.5)
            ok = gateway.cancel_all_and_confirm(
                SHUTDOWN_BUDGET_S - 1.0 - (time.monotonic() - t0), insts
            )
        try:
            flush_all_run_sinks()
        except Exception as exc:  # never block the exit on the lake
            event(log, logging.ERROR, "flush_failed", error=str(exc))
        event(log, logging.INFO, "shutdown_complete", cancelled_all=ok,
              seconds=round(time.monotonic() - t0, 3))  # fmt: skip
        logging.shutdown()
        os._exit(0 if ok else 1)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)


def flow_from_env() -> Dataflow:
    setup_logging()
    settings = load_settings()
    cfg = load_bybit_config()
    return build_live_flow(settings, cfg)


__getattr__ = lazy_flow("live_mm", flow_from_env)
