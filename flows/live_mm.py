"""Live market making on Bybit V5 (and paper trading on live data, Bybit or Hyperliquid).

    MM_SYMBOLS=XRPUSDT BYBIT_API_KEY=... BYBIT_API_SECRET=... python -m bytewax.run flows.live_mm
    MM_MODE=paper MM_SYMBOLS=XRPUSDT python -m bytewax.run flows.live_mm     # no keys, no orders
    MM_MODE=paper MM_VENUE=hyperliquid MM_SYMBOLS=BTC,ETH python -m bytewax.run flows.live_mm

MM_VENUE picks the venue's market side (flows/venues.py); see docs/hyperliquid.md.

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

Shutdown runs on a thread of its own, never inside the signal handler: Bytewax runs
the dataflow on the main thread, where the handler would interrupt a step half-way
(a lake flush holding its lock, the trader between two updates). The dataflow keeps
running meanwhile, so each trader receives a Shutdown item through the feedback bus,
stops deciding and hands over its last rows (fills still waiting for markouts, a
final PnL row, the summary), which are written to the lake before the process exits.
In paper mode the trader first cancels its simulated orders (and takes their answers),
so nothing fills after the shutdown: every fill logged is in the lake and the summary.

Liveness: Bybit sends a book snapshot only on subscribe, so every guard that stops
quoting (stale, crossed, out of sync, a bad snapshot, data lagging the exchange clock)
needs a way back. The trader emits ``ResyncRequest``s (TraderOutput.resync, with
backoff, see operators/book/resync.py); a BusSink puts them on the process-local bus
``{flow}/resync``, which the public source drains and answers by resubscribing the
symbol (or reconnecting, if the resubscribe brings no snapshot). The clock offset to
Bybit (``/v5/market/time``, measured at start) keeps a skewed local clock from reading
as lagging data.

Hot reload: with MM_PARAMS_FILE set, each trader's step polls the file on the clock's
Tick (flows/params_watch.py) and swaps a valid new parameter set in between two
messages, on the dataflow's own thread; an invalid one is refused and logged.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic

from connectors.bybit.config import BybitConfig, load_bybit_config
from connectors.bybit.data import BybitPublicSource
from connectors.bybit.execution import BybitGateway, make_run_tag
from connectors.bybit.instruments import BybitInstruments, refuse_inverse
from connectors.bybit.order_sink import WORKERS, BybitOrderSink, GatewayWorker
from connectors.bybit.private import BybitPrivateSource
from connectors.bybit.rest import BybitRest
from connectors.clock import ClockSource
from connectors.feedback import BusSink, FeedbackSource, Shutdown, bus
from connectors.hyperliquid.config import load_hyperliquid_config
from connectors.log_sink import LogSink, log_records
from connectors.sim.config import SimConfig
from connectors.sim.venue import SimVenue
from core.config import Settings, load_params_file, load_settings
from core.errors import ConfigError
from core.events import Tick
from core.instruments import InstrumentSpec, split_instrument_id
from core.lake import RUN_TABLES
from core.log import event, get_logger, setup_logging
from core.params import StrategyParams
from engine.select import engine_name, make_trader
from flows.entry import lazy_flow
from flows.hyperliquid_live import start_hyperliquid_live
from flows.params_watch import ParamsWatcher
from flows.start_checks import venue_prices, warn_never_quote
from flows.venues import LIVE_VENUES, VenueMarket, hyperliquid_market
from monitoring.metrics import start_from_env as start_metrics
from monitoring.trader_metrics import observe_step
from operators.trader import Trader, TraderOutput
from warehouse.lake_writer import write_rows
from warehouse.run_sink import (
    RECEIVED,
    RunSink,
    flush_all_run_sinks,
    rows_to_frame,
    write_summary,
)

log = get_logger("flows.live_mm")
SHUTDOWN_BUDGET_S = 4.5  # the bound is 5 s from the signal to exit
# "{flow name}/{instrument}" -> set once that trader's last rows are in the lake
FINISHED: dict[str, threading.Event] = {}
# TraderOutputs each trader handed downstream, by "{lake}/{instrument}" (see RECEIVED)
EMITTED: dict[str, int] = {}


class LiveTraderStep(StatefulLogic[tuple[str, Any], TraderOutput, Trader]):
    """The trader fed by the merged live inputs (market, private, feedback, clock)."""

    def __init__(
        self,
        make: Callable[[str], Trader],
        resume: Trader | None,
        flow_name: str = "",
        lake: Path | None = None,
        run_id: str = "",
        params_file: Path | None = None,
    ) -> None:
        self.make = make
        self.trader = resume
        self.flow_name = flow_name
        self.lake = lake
        self.run_id = run_id
        self.params_file = params_file
        self.watcher: ParamsWatcher | None = None

    def on_item(self, value: tuple[str, Any]) -> tuple[list[TraderOutput], bool]:
        inst, payload = value
        if isinstance(payload, Shutdown):
            return self._shutdown(inst, payload), StatefulLogic.RETAIN
        if self.trader is None:
            self.trader = self.make(inst)
        reload_logs: list[dict[str, Any]] = []
        if isinstance(payload, Tick) and self.params_file is not None:
            # hot reload on the heartbeat: between two messages, on the trader's thread
            if self.watcher is None:
                self.watcher = ParamsWatcher(self.params_file, inst)
            reload_logs = self.watcher.poll(self.trader)
        out = self.trader.on_item(payload)
        observe_step(inst, payload, out, self.trader)  # metrics (docs/monitoring.md)
        if reload_logs:
            out.logs[:0] = reload_logs
        worker = WORKERS.get(self.flow_name)
        if worker is not None and out.logs:
            for rec in out.logs:  # live: the rate budgets' headroom on the status line
                if rec.get("event") == "status":
                    rec["rate_budget"] = worker.budget_line()
        if out.empty():
            return [], StatefulLogic.RETAIN
        key = f"{self.lake}/{inst}"
        EMITTED[key] = EMITTED.get(key, 0) + 1
        return [out], StatefulLogic.RETAIN

    def _shutdown(self, inst: str, item: Shutdown) -> list[TraderOutput]:
        """The trader's last rows go straight to the lake, and its last log lines straight
        to the log: the process exits right after, so neither may wait in a sink (paper
        mode: a fill of the final cancel round is logged and stored, or neither)."""
        if self.trader is not None:
            out = self.trader.on_item(item)
            observe_step(inst, item, out, self.trader)
            if self.lake is not None:
                write_final_rows(self.lake, inst, out, self.run_id)
            log_records(out.logs)
        done = FINISHED.get(f"{self.flow_name}/{inst}")
        if done is not None:
            done.set()
        return []

    def notify_at(self) -> datetime | None:
        return None

    def snapshot(self) -> Trader:
        assert self.trader is not None
        return self.trader


def _params(settings: Settings, symbol: str) -> StrategyParams:
    if settings.params_file:
        return load_params_file(settings.params_file)
    return settings.params_for(symbol)


def build_live_flow(settings: Settings, cfg: BybitConfig | None = None) -> Dataflow:
    """``cfg``: Bybit's settings (read from the environment when None and MM_VENUE=bybit)."""
    mode = settings.mode
    if settings.venue not in LIVE_VENUES:
        raise ConfigError(
            f"venue {settings.venue!r} has no live connector yet",
            f"use MM_VENUE={'|'.join(LIVE_VENUES)}",
        )
    if not settings.symbols:
        raise ConfigError("no symbols to trade", "set MM_SYMBOLS, e.g. MM_SYMBOLS=BTCUSDT")
    hl_cfg = None
    if settings.venue == "hyperliquid":
        hl_cfg = load_hyperliquid_config()
        if mode == "live":
            hl_cfg.require_keys()  # one line: set the keys or use paper mode
    if settings.venue == "bybit":
        cfg = cfg or load_bybit_config()
        refuse_inverse(settings.symbols)
        if mode == "live":
            cfg.require_keys()  # one line: set the keys or use paper mode
    start_metrics()  # MM_METRICS_PORT: this process's endpoint (a taken port: one line)
    if engine_name(settings.engine) == "compiled":
        # load every kernel now (from numba's cache; compiled once per machine): a first
        # call inside the flow would stall the trader while market data and own-order
        # reports pile up in the sources
        from engine.warmup import warm_up

        warm_up()
    flow_name = f"live_mm_{os.getpid()}"
    resync_bus = f"{flow_name}/resync"  # trader -> public source: resubscribe this book
    if settings.venue == "hyperliquid":
        venue_market = hyperliquid_market(settings.symbols, resync_bus, hl_cfg)
    else:
        assert cfg is not None
        venue_market = bybit_market(settings, cfg, resync_bus)
    rest, specs = venue_market.rest, venue_market.specs
    insts = sorted(s.id for s in specs.values())
    params = {specs[s].id: _params(settings, s) for s in settings.symbols}
    by_inst = {s.id: s for s in specs.values()}
    clock_offset_ns = venue_market.clock_offset_ns

    flow = Dataflow("live_mm")
    market = op.input("public", flow, venue_market.public)
    clock = op.input("clock", flow, ClockSource(insts, interval_ms=1000))
    feedback = op.input("feedback", flow, FeedbackSource(flow_name, insts))  # + Shutdown
    inputs = [market, clock, feedback]
    for inst in insts:
        FINISHED[f"{flow_name}/{inst}"] = threading.Event()
    gateway: Any = None  # BybitGateway | HyperliquidGateway
    positions: dict[str, Any] = {}
    run_tag = make_run_tag()
    if mode == "live" and hl_cfg is not None:
        prefix = next(iter(params.values())).orders.client_id_prefix
        hl = start_hyperliquid_live(hl_cfg, specs, run_tag, prefix, flow_name)
        gateway, positions = hl.gateway, hl.positions
        inputs.append(op.input("private", flow, hl.private))
    elif mode == "live":
        assert cfg is not None
        prefix = next(iter(params.values())).orders.client_id_prefix
        gateway = BybitGateway(rest, specs, run_tag=run_tag, client_id_prefix=prefix)
        report = gateway.start(insts, dcp_window_s=cfg.dcp_window_s)
        positions = report.positions
        WORKERS[flow_name] = GatewayWorker(gateway, bus(flow_name))
        inputs.append(op.input("private", flow, BybitPrivateSource(settings.symbols, cfg, specs)))
    category = cfg.category if cfg is not None else "linear"
    warn_never_quote(venue_prices(settings.venue, rest, category), by_inst, params, positions)

    def make(inst: str) -> Trader:
        spec, p = by_inst[inst], params[inst]
        venue = SimVenue(spec, SimConfig.from_params(p)) if mode == "paper" else None
        trader = make_trader(spec, p, venue, run_tag, engine=settings.engine, log_quotes=True,
                        wait_for_own_stream=mode == "live")  # fmt: skip
        trader.clock_offset_ns = clock_offset_ns
        pos = positions.get(inst)
        if pos is not None and pos.qty:
            trader.seed_position(pos.qty, pos.entry_price)
        return trader

    merged = op.merge("inputs", *inputs)
    keyed = op.map("tag", merged, lambda kv: (kv[0], kv))  # the step learns its instrument
    outputs = op.stateful(
        "trader",
        keyed,
        lambda resume: LiveTraderStep(
            make, resume, flow_name, settings.lake, run_tag, settings.params_file
        ),
    )
    sink = RunSink(
        settings.lake, insts, flush_interval_s=settings.flush_interval_s, run_id=run_tag, mode=mode
    )
    op.output("run", outputs, sink)
    logs = op.filter_map_value("logs", outputs, lambda o: o.logs or None)
    op.output("log", logs, LogSink())
    resyncs = op.filter_map_value("resyncs", outputs, lambda o: o.resync or None)
    op.output("resync", resyncs, BusSink(resync_bus))
    if mode == "live":
        actions = op.filter_map_value("actions", outputs, lambda o: o.actions or None)
        op.output("orders", actions, BybitOrderSink(flow_name))
    event(log, logging.INFO, "live_mm_start", mode=mode, venue=settings.venue,
          network=venue_market.network, symbols=",".join(settings.symbols), run_tag=run_tag,
          lake=str(settings.lake), rest=venue_market.rest_url)  # fmt: skip
    install_shutdown(flow_name, gateway, insts)
    return flow


def bybit_market(settings: Settings, cfg: BybitConfig, resync_bus: str) -> VenueMarket:
    rest = BybitRest(cfg)
    specs: dict[str, InstrumentSpec] = BybitInstruments(rest, settings.symbols, cfg.category).load()
    public = BybitPublicSource(
        settings.symbols, settings.depth, True, cfg, specs, resync_bus=resync_bus
    )
    offset = measure_clock_offset(rest)
    assert cfg.rest_url is not None
    return VenueMarket("bybit", specs, public, offset, cfg.network, cfg.rest_url, rest, cfg)


def measure_clock_offset(rest: BybitRest, tries: int = 3) -> int:
    """Local clock minus Bybit's, in ns, from ``/v5/market/time`` (the sample with the
    shortest round trip; the error is at most half of it). The trader subtracts it from
    each book message's receive-minus-exchange time before its lag check, so a local
    clock that is off does not read as stale data. 0 if the venue does not answer."""
    best: tuple[int, int] | None = None  # (round trip, offset)
    for _ in range(tries):
        t0 = time.time_ns()
        try:
            resp = rest.call("/v5/market/time")
            server = int(resp.result.get("timeNano") or 0)
        except Exception:  # never block the start on this: a 0 offset is the fallback
            server = 0
        t1 = time.time_ns()
        if server > 0 and (best is None or t1 - t0 < best[0]):
            best = (t1 - t0, (t0 + t1) // 2 - server)
    if best is None:
        event(log, logging.WARNING, "clock_offset_unknown", hint="assuming 0")
        return 0
    event(log, logging.INFO, "clock_offset", offset_ms=round(best[1] / 1e6, 3),
          rtt_ms=round(best[0] / 1e6, 3))  # fmt: skip
    return best[1]


def write_final_rows(lake: Path, inst: str, out: TraderOutput, run_id: str) -> None:
    """Write a trader's last output (all run tables, the summary) to the lake now."""
    venue, symbol = split_instrument_id(inst)
    for table in RUN_TABLES:
        rows = getattr(out, table)
        if rows:
            write_rows(lake, table, venue, symbol, rows_to_frame(table, rows, run_id))
    if out.summary is not None:
        write_summary(lake, run_id, inst, out.summary)


def stop_live(
    flow_name: str,
    gateway: BybitGateway | None,
    insts: list[str],
    budget_s: float = SHUTDOWN_BUDGET_S,
    reason: str = "shutdown",
) -> bool:
    """Stop sending, cancel every order and confirm, let each trader hand over its last
    rows, flush the lake. Call it off the dataflow's thread (the dataflow must keep
    running to take the Shutdown items). True when the venue confirmed no open orders."""
    t0 = time.monotonic()

    def left() -> float:
        return budget_s - (time.monotonic() - t0)

    worker = WORKERS.get(flow_name)
    if worker is not None:
        worker.halt()
    feedback = bus(flow_name)
    now = time.time_ns()
    for inst in insts:
        feedback.put(inst, Shutdown(reason, now))
    ok = True
    if worker is not None and gateway is not None:
        worker.wait_idle(max(0.0, min(0.5, left() - 2.0)))
        ok = gateway.cancel_all_and_confirm(max(0.5, left() - 1.0), insts)
    for inst in insts:
        done = FINISHED.get(f"{flow_name}/{inst}")
        if done is not None and not done.wait(max(0.0, left() - 0.5)):
            event(log, logging.ERROR, "final_rows_missing", inst=inst)
    # outputs emitted before the Shutdown may still be on their way to the sink
    while left() > 0.3 and any(RECEIVED.get(k, 0) < n for k, n in list(EMITTED.items())):
        time.sleep(0.005)
    try:
        flush_all_run_sinks()
    except Exception as exc:  # never block the exit on the lake
        event(log, logging.ERROR, "flush_failed", error=str(exc))
    return ok


def install_shutdown(flow_name: str, gateway: BybitGateway | None, insts: list[str]) -> None:
    """SIGINT/SIGTERM: stop_live on a thread of its own, then exit (< 5 s in all)."""
    if threading.current_thread() is not threading.main_thread():
        return  # tests build flows off the main thread; only a real process handles signals
    started = threading.Event()

    def run(signame: str) -> None:
        t0 = time.monotonic()
        event(log, logging.WARNING, "shutdown", signal=signame)
        ok = False
        try:
            ok = stop_live(flow_name, gateway, insts, reason=f"signal {signame}")
        finally:
            event(log, logging.INFO, "shutdown_complete", cancelled_all=ok,
                  seconds=round(time.monotonic() - t0, 3))  # fmt: skip
            logging.shutdown()
            os._exit(0 if ok else 1)

    def handler(signum: int, _frame: Any) -> None:
        # the main thread runs the dataflow: do nothing here but hand over to a thread
        if not started.is_set():
            started.set()
            name = signal.Signals(signum).name
            threading.Thread(target=run, args=(name,), name="live-shutdown").start()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def flow_from_env() -> Dataflow:
    setup_logging()
    settings = load_settings()
    cfg = load_bybit_config() if settings.venue == "bybit" else None
    return build_live_flow(settings, cfg)


__getattr__ = lazy_flow("live_mm", flow_from_env)
