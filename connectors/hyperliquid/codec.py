"""Hyperliquid websocket messages -> lake rows (pure functions).

``l2Book`` is always a full snapshot (levels[0] bids, levels[1] asks, best first);
``trades`` side "B" is a buying aggressor, "A" a selling one.
"""

from __future__ import annotations

from connectors.capture import ms_to_ns, require
from connectors.rows import ROW_BITS, Parsed, book_rows
from core.errors import MalformedLine
from core.events import ASK, BID, BUY, SELL, Kind
from core.instruments import InstrumentSpec


def _level_list(
    spec: InstrumentSpec, side: int, raw: object, where: str
) -> list[tuple[int, int, int]]:
    if not isinstance(raw, list):
        raise MalformedLine(f"{where} is not a list")
    out = []
    for lv in raw:
        if not isinstance(lv, dict):
            raise MalformedLine(f"{where} has a malformed level")
        try:
            out.append(
                (
                    side,
                    spec.price_parser(require(lv, "px", where)),
                    spec.size_parser(require(lv, "sz", where)),
                )
            )
        except (ValueError, TypeError) as exc:
            raise MalformedLine(str(exc)) from None
    return out


def l2book(spec: InstrumentSpec, recv: int, msg_no: int, data: dict) -> Parsed:
    levels = require(data, "levels", "l2Book")
    if not isinstance(levels, list) or len(levels) != 2:
        raise MalformedLine("l2Book levels must be [bids, asks]")
    rows = _level_list(spec, BID, levels[0], "bids") + _level_list(spec, ASK, levels[1], "asks")
    exch = ms_to_ns(require(data, "time", "l2Book"), "time")
    return Parsed(
        spec.symbol, book_rows(recv, exch, msg_no, -1, -1, -1, Kind.BOOK_SNAPSHOT, rows), [], []
    )


def trades(spec: InstrumentSpec, recv: int, msg_no: int, data: list) -> Parsed:
    rows = []
    for i, t in enumerate(data):
        if not isinstance(t, dict):
            raise MalformedLine("trade entry is not an object")
        side = require(t, "side", "trade")
        if side not in ("A", "B"):
            raise MalformedLine(f"trade side {side!r} is not A/B")
        try:
            price = spec.price_parser(require(t, "px", "trade"))
            qty = spec.size_parser(require(t, "sz", "trade"))
        except (ValueError, TypeError) as exc:
            raise MalformedLine(str(exc)) from None
        rows.append(
            (
                recv,
                ms_to_ns(require(t, "time", "trade"), "time"),
                (msg_no << ROW_BITS) | i,
                str(require(t, "tid", "trade")),
                price,
                qty,
                BUY if side == "B" else SELL,
            )
        )
    return Parsed(spec.symbol, [], rows, [])
