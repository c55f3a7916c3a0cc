"""Recorded-file conventions shared by the venue loaders.

A capture line is ``<local receive ns> <raw websocket json>``; venue downloads (Bybit
history) are bare JSON lines without a receive time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from connectors.rows import Parsed
from core.errors import MalformedLine
from core.instruments import InstrumentSpec
from core.timeutil import NS_PER_MS

SpecResolver = Callable[[str, str], InstrumentSpec]

I64_MAX = 2**63 - 1  # every integer column of the lake is an int64
NO_RECV_NOTE = (
    "recv_ts = exchange time (the file has no receive time): "
    "set a feed latency for backtests (mm backtest --feed-latency-ms)"
)


def split_capture_line(line: bytes) -> tuple[int | None, bytes]:
    """``b"<ns> {json}"`` -> (ns, json); a bare JSON line -> (None, line)."""
    head = line[:1]
    if head.isdigit():
        prefix, sep, rest = line.partition(b" ")
        if not sep or not prefix.isdigit():
            raise MalformedLine("receive timestamp is not followed by a JSON message")
        recv = int(prefix)
        if recv > I64_MAX:
            raise MalformedLine(f"receive timestamp {prefix.decode()} is out of range")
        return recv, rest
    return None, line


def ms_to_ns(value: Any, field: str) -> int:
    try:
        ns = int(value) * NS_PER_MS
    except (TypeError, ValueError):
        raise MalformedLine(f"field {field!r} is not an integer millisecond time") from None
    if not 0 <= ns <= I64_MAX:
        raise MalformedLine(f"field {field!r} ({value}) is out of the millisecond time range")
    return ns


def check_i64(value: int, field: str) -> int:
    """``value`` if it fits the lake's int64 columns, else the line is malformed."""
    if not -I64_MAX - 1 <= value <= I64_MAX:
        raise MalformedLine(f"field {field!r} ({value}) is out of the int64 range")
    return value


def require(msg: dict, key: str, where: str = "") -> Any:
    try:
        return msg[key]
    except (KeyError, TypeError):
        raise MalformedLine(f"missing field {key!r}{' in ' + where if where else ''}") from None


class Loader(ABC):
    """Turns one decoded message of a venue's recording into lake rows."""

    venue: str
    format_name: str

    def __init__(self, resolve_spec: SpecResolver) -> None:
        self._resolve = resolve_spec
        self._specs: dict[str, InstrumentSpec] = {}

    def spec(self, symbol: str) -> InstrumentSpec:
        spec = self._specs.get(symbol)
        if spec is None:
            spec = self._specs[symbol] = self._resolve(self.venue, symbol)
        return spec

    @abstractmethod
    def sniff(self, msg: Any) -> bool:
        """True if ``msg`` is unmistakably this venue's format."""

    @abstractmethod
    def parse(self, msg_no: int, recv_ns: int | None, msg: Any) -> list[Parsed] | None:
        """Rows for one message; None for a control message (ack, pong) that carries no data.

        Raises MalformedLine if the message is broken; then no row of it is kept.
        """

    def finish(self) -> list[tuple[int, Parsed | MalformedLine]]:
        """Messages held back until the end of the file (e.g. a snapshot before its symbol)."""
        return []

    @staticmethod
    def levels(spec: InstrumentSpec, side: int, raw: Any, where: str) -> list[tuple[int, int, int]]:
        """``[[price, size], ...]`` -> [(side, ticks, lots)], exactly."""
        if not isinstance(raw, list):
            raise MalformedLine(f"{where} is not a list of levels")
        price, size = spec.price_parser, spec.size_parser
        pget, sget = price.cache.get, size.cache.get
        try:  # hot path: cached strings; a miss converts (0 lots re-checks the cache)
            return [(side, pget(p) or price(p), sget(q) or size(q)) for p, q in raw]
        except (IndexError, TypeError, KeyError, ValueError):
            pass  # an odd level or a bad value: the loop below finds and names it
        out = []
        try:
            for level in raw:
                out.append((side, price(level[0]), size(level[1])))
        except (IndexError, TypeError, KeyError):
            raise MalformedLine(f"{where} has a malformed level") from None
        except ValueError as exc:  # InexactValueError is a ValueError
            raise MalformedLine(str(exc)) from None
        return out
