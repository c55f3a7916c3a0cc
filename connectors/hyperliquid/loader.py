"""Import of Hyperliquid captures: ``<recv ns> {"channel": "l2Book"|"trades", "data": ...}``.

l2Book carries no sequence numbers, only the venue's ``time``: a snapshot older than the
coin's previous one is stale (a lagging server node) and is refused as a malformed line,
the rule the live source (connectors/hyperliquid/data.py) applies, so a recording
imports to the rows the live trader saw.
"""

from __future__ import annotations

from typing import Any

from connectors.capture import Loader, SpecResolver, require
from connectors.hyperliquid import codec
from connectors.rows import Parsed
from core.errors import MalformedLine

VENUE = "hyperliquid"
_CONTROL = {"subscriptionResponse", "pong", "post", "error"}


class HyperliquidLoader(Loader):
    venue = VENUE
    format_name = "hyperliquid"

    def __init__(self, resolve_spec: SpecResolver) -> None:
        super().__init__(resolve_spec)
        self._last_time: dict[str, int] = {}  # coin -> time (ms) of its newest snapshot

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
            coin = str(require(data, "coin", "l2Book"))
            parsed = codec.l2book(self.spec(coin), recv_ns, msg_no, data)
            t, last = int(data["time"]), self._last_time.get(coin)
            if last is not None and t < last:
                raise MalformedLine(f"l2Book time {t} is older than the previous snapshot's {last}")
            self._last_time[coin] = t
            return [parsed]
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
