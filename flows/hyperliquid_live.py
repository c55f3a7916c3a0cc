"""Live trading on Hyperliquid: what flows/live_mm.py adds next to the market side.

Start-up, in this order: keys from the environment (one line, suggesting paper mode,
when they are missing); the gateway reconciles (positions read, earlier runs' orders
cancelled, other orders left alone); the dead man's switch starts beating
(``scheduleCancel`` ``now + HYPERLIQUID_DEAD_MANS_SWITCH_S``, refreshed every
``HYPERLIQUID_HEARTBEAT_S``) before any order exists; the order sink's worker thread
and the private source come last. Shutdown is live_mm's: stop sending, cancel all and
confirm with openOrders, then the heartbeat is disarmed (a clean exit spends none of
the venue's 10 daily triggers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.bybit.order_sink import WORKERS, GatewayWorker
from connectors.feedback import bus
from connectors.hyperliquid.api import HyperliquidApi
from connectors.hyperliquid.config import HyperliquidConfig
from connectors.hyperliquid.execution import HyperliquidGateway
from connectors.hyperliquid.heartbeat import DeadMansSwitch
from connectors.hyperliquid.private import HyperliquidPrivateSource
from connectors.hyperliquid.ratelimit import HyperliquidLimiter
from connectors.hyperliquid.signing import Signer
from core.instruments import InstrumentSpec
from core.log import protect


@dataclass
class HyperliquidLive:
    gateway: HyperliquidGateway
    private: HyperliquidPrivateSource
    heartbeat: DeadMansSwitch
    positions: dict[str, Any]


def start_hyperliquid_live(
    cfg: HyperliquidConfig,
    specs: dict[str, InstrumentSpec],
    run_tag: str,
    client_id_prefix: str,
    flow_name: str,
) -> HyperliquidLive:
    key, account = cfg.require_keys()
    protect(key, account)
    limiter = HyperliquidLimiter()
    signer = Signer(key, cfg.network == "mainnet")
    user = account.get_secret_value()

    def gateway(api: HyperliquidApi, assets: dict[str, int] | None = None) -> HyperliquidGateway:
        return HyperliquidGateway(api, signer, specs, user, run_tag=run_tag,
                                  client_id_prefix=client_id_prefix, assets=assets)  # fmt: skip

    gw = gateway(HyperliquidApi(cfg.rest_url, limiter, cfg.http_timeout_s))
    insts = sorted(s.id for s in specs.values())
    report = gw.start(insts)
    # the heartbeat signs on its own thread and HTTP session (the gateway is single-threaded)
    beat = gateway(HyperliquidApi(cfg.rest_url, limiter, cfg.http_timeout_s), gw._assets)
    switch = DeadMansSwitch(beat.schedule_cancel, cfg.dead_mans_switch_s, cfg.heartbeat_s)
    switch.start()
    gw.heartbeat = switch
    WORKERS[flow_name] = GatewayWorker(gw, bus(flow_name))
    private = HyperliquidPrivateSource({s.id: s for s in specs.values()}, gw.ids, cfg)
    return HyperliquidLive(gw, private, switch, report.positions)
