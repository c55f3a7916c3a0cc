"""Import of Binance futures captures: ``<recv ns> <combined-stream json>`` lines.

USD-M (linear, ``binance-usdm``) and COIN-M (inverse, ``binance-coinm``) speak the same
message shapes; COIN-M symbols name a USD pair (``BTCUSD_PERP``, ``ETHUSD_250328``) and
its messages add a ``ps`` pair field. Each loader claims only its own symbols, so
detection tells the two apart.

The REST depth snapshot line may carry no symbol (USD-M's does not); it takes the
symbol of the stream messages around it (held back until one is seen).
"""

from __future__ import annotations

from typing import Any

from connectors.binance import codec
from connectors.capture import Loader, require
from connectors.rows import Parsed
from core.errors import MalformedLine

VENUE = "binance-usdm"
COINM_VENUE = "binance-coinm"
_HANDLERS = {
    "depthUpdate": codec.depth_update,
    "trade": codec.trade,
    "aggTrade": codec.trade,
    "bookTicker": codec.book_ticker,
}


def is_coinm_symbol(symbol: str) -> bool:
    """COIN-M symbols are a USD pair, optionally ``_PERP`` or ``_YYMMDD`` after it."""
    return symbol.partition("_")[0].endswith("USD")


def _message_symbol(msg: dict) -> str | None:
    """The symbol a message names (a COIN-M snapshot names its own), or None."""
    data = msg.get("data") if "stream" in msg else msg
    if not isinstance(data, dict):
        return None
    symbol = data.get("s", data.get("symbol", data.get("ps", data.get("pair"))))
    return symbol if isinstance(symbol, str) and symbol else None


class BinanceFuturesLoader(Loader):
    venue = VENUE
    format_name = "binance-usdm"
    coin_margined = False

    def __init__(self, resolve_spec, symbol: str | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(resolve_spec)
        self._symbol = symbol
        self._held: list[tuple[int, int, dict]] = []

    def sniff(self, msg: Any) -> bool:
        if not isinstance(msg, dict):
            return False
        symbol = _message_symbol(msg)
        if symbol is not None and is_coinm_symbol(symbol) != self.coin_margined:
            return False
        if "lastUpdateId" in msg and "bids" in msg:
            return symbol is not None or not self.coin_margined
        data = msg.get("data") if "stream" in msg else msg
        return isinstance(data, dict) and data.get("e") in _HANDLERS

    def parse(self, msg_no: int, recv_ns: int | None, msg: Any) -> list[Parsed] | None:
        if not isinstance(msg, dict):
            raise MalformedLine("message is not a JSON object")
        if recv_ns is None:
            raise MalformedLine("capture line has no receive timestamp")
        if "lastUpdateId" in msg:
            own = msg.get("symbol")
            if self._symbol is None and isinstance(own, str) and own:
                self._symbol = own
            if self._symbol is None:
                self._held.append((msg_no, recv_ns, msg))
                return []
            return [codec.depth_snapshot(self.spec(self._symbol), recv_ns, msg_no, msg)]
        if "result" in msg and "id" in msg:
            return None  # subscription ack
        data = msg["data"] if "stream" in msg else msg
        if not isinstance(data, dict):
            raise MalformedLine("stream message without a data object")
        event = data.get("e")
        handler = _HANDLERS.get(event)
        if handler is None:
            raise MalformedLine(f"unknown event type {event!r}")
        symbol = require(data, "s", str(event))
        if not isinstance(symbol, str) or not symbol:
            raise MalformedLine("field 's' is not a symbol")
        if self._symbol is None:
            self._symbol = symbol
        return [handler(self.spec(symbol), recv_ns, msg_no, data)]

    def finish(self) -> list[tuple[int, Parsed | MalformedLine]]:
        out: list[tuple[int, Parsed | MalformedLine]] = []
        for msg_no, recv, msg in self._held:
            if self._symbol is None:
                out.append(
                    (msg_no, MalformedLine("depth snapshot but no symbol anywhere in the file"))
                )
                continue
            try:
                out.append(
                    (msg_no, codec.depth_snapshot(self.spec(self._symbol), recv, msg_no, msg))
                )
            except MalformedLine as exc:
                out.append((msg_no, exc))
        return out


class BinanceCoinMLoader(BinanceFuturesLoader):
    """Binance COIN-M (inverse) futures: the USD-M shapes, ``binance-coinm`` specs."""

    venue = COINM_VENUE
    format_name = "binance-coinm"
    coin_margined = True
