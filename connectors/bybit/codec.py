"""Bybit V5 public websocket messages -> lake rows (pure functions).

``orderbook.{depth}.{symbol}``: ``type`` snapshot resets the book, delta upserts levels
(size "0" deletes); ``u`` is the update id, contiguous per book; ``u == 1`` is a full
re-send after a service restart. ``publicTrade.{symbol}``: ``S`` is the taker side.
"""

from __future__ import annotations

from typing import Any

from connectors.capture import Loader, ms_to_ns, require
from connectors.rows import ROW_BITS, Parsed, book_rows
from core.errors import MalformedLine
from core.events import ASK, BID, BUY, SELL, Kind
from core.instruments import InstrumentSpec


def topic_kind(topic: Any) -> tuple[str, str] | None:
    """``orderbook.50.BTCUSDT`` -> ("orderbook", "BTCUSDT"); None for other topics."""
    if not isinstance(topic, str):
        return None
    parts = topic.split(".")
    if parts[0] == "orderbook" and len(parts) == 3:
        return "orderbook", parts[2]
    if parts[0] == "publicTrade" and len(parts) == 2:
        return "publicTrade", parts[1]
    return None


def orderbook(spec: InstrumentSpec, recv: int | None, msg_no: int, msg: dict) -> Parsed:
    data = require(msg, "data", "orderbook message")
    if not isinstance(data, dict):
        raise MalformedLine("orderbook data is not an object")
    mtype = require(msg, "type", "orderbook message")
    if mtype not in ("snapshot", "delta"):
        raise MalformedLine(f"unknown orderbook type {mtype!r}")
    ts = ms_to_ns(require(msg, "ts", "orderbook message"), "ts")
    exch = ms_to_ns(msg["cts"], "cts") if "cts" in msg else ts
    update_id = require(data, "u", "orderbook data")
    if isinstance(update_id, bool) or not isinstance(update_id, int):
        raise MalformedLine("field 'u' is not an integer")
    levels = Loader.levels(spec, BID, data.get("b", []), "bids")
    levels += Loader.levels(spec, ASK, data.get("a", []), "asks")
    kind = Kind.BOOK_SNAPSHOT if mtype == "snapshot" else Kind.BOOK_DELTA
    rows = book_rows(
        recv if recv is not None else ts, exch, msg_no, update_id, -1, -1, kind, levels
    )
    return Parsed(spec.symbol, rows, [], [])


def public_trades(spec: InstrumentSpec, recv: int | None, msg_no: int, msg: dict) -> Parsed:
    data = require(msg, "data", "publicTrade message")
    if not isinstance(data, list):
        raise MalformedLine("publicTrade data is not a list")
    fallback = ms_to_ns(require(msg, "ts", "publicTrade message"), "ts")
    rows = []
    for i, t in enumerate(data):
        if not isinstance(t, dict):
            raise MalformedLine("publicTrade entry is not an object")
        side_raw = require(t, "S", "trade")
        if side_raw not in ("Buy", "Sell"):
            raise MalformedLine(f"trade side {side_raw!r} is not Buy/Sell")
        try:
            price = spec.price_parser(require(t, "p", "trade"))
            qty = spec.size_parser(require(t, "v", "trade"))
        except (ValueError, TypeError) as exc:
            raise MalformedLine(str(exc)) from None
        rows.append(
            (
                recv if recv is not None else fallback,
                ms_to_ns(require(t, "T", "trade"), "T"),
                (msg_no << ROW_BITS) | i,
                str(require(t, "i", "trade")),
                price,
                qty,
                BUY if side_raw == "Buy" else SELL,
            )
        )
    return Parsed(spec.symbol, [], rows, [])
