"""Import of Hyperliquid captures: ``<recv ns> {"channel": "l2Book"|"trades", "data": ...}``."""

from __future__ import annotations

from typing import Any

from connectors.capture import Loader, require
from connectors.hyperliquid import codec
from connectors.rows import Parsed
from core.errors import MalformedLine

VENUE = "hyperliquid"
_CONTROL = {"subscriptionResponse", "pong", "post", "error"}


class HyperliquidLoader(Loader):
    venue = VENUE
    format_name = "hyperliquid"

    def sniff(self, msg: Any) -> bool:
        return isinstance(msg, dict) and msg.get("channel") in ("l2Book", "trades")

    def parse(self, msg_no: int, recv_ns: int | None, msg: Any) -> list[Parsed] | None:
        if not isinstance(msg, dict):
            raise MalformedLine("message is not a JSON object")
        channel = msg.get("channel")
        if channel in _CONTROL:
            return None
        if recv_ns is None:
            raise MalformedLine("capture line has no receive timestamp")
        data = require(msg, "data", str(channel))
        if channel == "l2Book":
            if not isinstance(data, dict):
                raise MalformedLine("l2Book data is not an object")
            coin = require(data, "coin", "l2Book")
            return [codec.l2book(self.spec(str(coin)), recv_ns, msg_no, data)]
        if channel == "trades":
            if not isinstance(data, list):
                raise MalformedLine("trades data is not a list")
            by_coin: dict[str, list] = {}
            for t in data:
                if not isinstance(t, dict):
                    raise MalformedLine("trade entry is not an object")
                by_coin.setdefault(str(require(t, "coin", "trade")), []).append(t)
            return [codec.trades(self.spec(c), recv_ns, msg_no, ts) for c, ts in by_coin.items()]
        raise MalformedLine(f"unknown channel {channel!r}")
