"""Import of Bybit V5 recordings: historical order-book downloads (one websocket message
per line, no receive time) and captures with a ``<recv ns>`` prefix (also trades).

Without a receive time, a message's ``ts`` (Bybit's send time) stands in for it.
"""

from __future__ import annotations

from typing import Any

from connectors.bybit import codec
from connectors.capture import Loader
from connectors.rows import Parsed
from core.errors import MalformedLine

VENUE = "bybit"


class BybitLoader(Loader):
    venue = VENUE
    format_name = "bybit"

    def sniff(self, msg: Any) -> bool:
        return isinstance(msg, dict) and codec.topic_kind(msg.get("topic")) is not None

    def parse(self, msg_no: int, recv_ns: int | None, msg: Any) -> list[Parsed] | None:
        if not isinstance(msg, dict):
            raise MalformedLine("message is not a JSON object")
        if "op" in msg or "success" in msg:
            return None  # subscribe/pong acknowledgement
        kind = codec.topic_kind(msg.get("topic"))
        if kind is None:
            raise MalformedLine(f"unsupported topic {msg.get('topic')!r}")
        stream, symbol = kind
        spec = self.spec(symbol)
        if stream == "orderbook":
            return [codec.orderbook(spec, recv_ns, msg_no, msg)]
        return [codec.public_trades(spec, recv_ns, msg_no, msg)]
