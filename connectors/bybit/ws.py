"""Bybit's websocket heartbeat and message shapes on the shared ReconnectingWs.

``{"req_id": n, "op": "ping"}`` every 20 s; public streams answer
``{"op": "ping", "ret_msg": "pong"}``, private ones ``{"op": "pong"}``; both count. Data
messages carry a ``topic``; every other message is an ``op`` answer, logged if it failed.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors import ws
from connectors.ws import SessionFailed, WsSettings, wire_log
from core.log import event, get_logger

log = get_logger(__name__)

__all__ = ["ReconnectingWs", "SessionFailed", "WsSettings", "wire_log"]


class ReconnectingWs(ws.ReconnectingWs):
    """One Bybit websocket URL, kept connected (see connectors/ws.py)."""

    venue = "bybit"

    def ping_message(self) -> dict[str, Any]:
        return {"req_id": self.next_req_id(), "op": "ping"}

    def is_pong(self, msg: dict[str, Any]) -> bool:
        op = msg.get("op")
        return op == "pong" or (op == "ping" and msg.get("ret_msg") == "pong")

    def is_data(self, msg: dict[str, Any]) -> bool:
        return "topic" in msg

    def on_control(self, msg: dict[str, Any]) -> None:
        """An ``op`` response (subscribe, auth, ...); failures are logged."""
        if msg.get("success") is False:
            event(log, logging.ERROR, "ws_request_failed", venue="bybit", stream=self.name,
                  op=msg.get("op"), ret_msg=msg.get("ret_msg"))  # fmt: skip
