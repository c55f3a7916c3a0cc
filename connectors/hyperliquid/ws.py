"""Hyperliquid's websocket heartbeat and message shapes on the shared ReconnectingWs.

``{"method": "ping"}`` (answered ``{"channel": "pong"}``) keeps a link under the
server's 60 s idle limit. Data messages carry a ``channel`` (l2Book, trades, or a user
channel a subclass adds to ``data_channels``); the server answers subscribes with
``subscriptionResponse`` and refuses bad requests with ``{"channel": "error"}``, logged.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors import ws
from connectors.hyperliquid.instruments import VENUE
from core.log import event, get_logger

log = get_logger(__name__)


class HyperliquidWs(ws.ReconnectingWs):
    """One Hyperliquid websocket URL, kept connected (see connectors/ws.py)."""

    venue = VENUE
    data_channels: tuple[str, ...] = ("l2Book", "trades")

    def ping_message(self) -> dict[str, Any]:
        return {"method": "ping"}

    def is_pong(self, msg: dict[str, Any]) -> bool:
        return msg.get("channel") == "pong"

    def is_data(self, msg: dict[str, Any]) -> bool:
        return msg.get("channel") in self.data_channels

    def on_control(self, msg: dict[str, Any]) -> None:
        if msg.get("channel") == "error":
            event(log, logging.ERROR, "ws_request_failed", venue=VENUE, stream=self.name,
                  error=str(msg.get("data"))[:200])  # fmt: skip

    @staticmethod
    def subscription(method: str, sub: dict[str, Any]) -> dict[str, Any]:
        return {"method": method, "subscription": sub}
