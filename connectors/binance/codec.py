"""Binance USD-M futures wire messages -> lake rows (pure functions)."""

from __future__ import annotations

from typing import Any

from connectors.capture import Loader, check_i64, ms_to_ns, require
from connectors.rows import ROW_BITS, Parsed, book_rows
from core.errors import MalformedLine
from core.events import ASK, BID, BUY, SELL, Kind
from core.instruments import InstrumentSpec


def depth_update(spec: InstrumentSpec, recv: int, msg_no: int, d: dict) -> Parsed:
    """``depthUpdate`` diff: U (first id), u (last id), pu (previous diff's u)."""
    levels = Loader.levels(spec, BID, require(d, "b", "depthUpdate"), "bids")
    levels += Loader.levels(spec, ASK, require(d, "a", "depthUpdate"), "asks")
    exch = ms_to_ns(d.get("T", d.get("E")), "T")
    rows = book_rows(
        recv, exch, msg_no, _int(d, "u"), _int(d, "pu"), _int(d, "U"), Kind.BOOK_DELTA, levels
    )
    return Parsed(spec.symbol, rows, [], [])


def depth_snapshot(spec: InstrumentSpec, recv: int, msg_no: int, d: dict) -> Parsed:
    """REST ``/fapi/v1/depth`` snapshot: lastUpdateId anchors the diff chain."""
    levels = Loader.levels(spec, BID, require(d, "bids", "snapshot"), "bids")
    levels += Loader.levels(spec, ASK, require(d, "asks", "snapshot"), "asks")
    exch = ms_to_ns(d.get("T", d.get("E", recv // 1_000_000)), "T")
    rows = book_rows(
        recv, exch, msg_no, _int(d, "lastUpdateId"), -1, -1, Kind.BOOK_SNAPSHOT, levels
    )
    return Parsed(spec.symbol, rows, [], [])


def trade(spec: InstrumentSpec, recv: int, msg_no: int, d: dict) -> Parsed:
    """``trade`` / ``aggTrade``: m (buyer is maker) true means the aggressor sold."""
    trade_id = d.get("t", d.get("a"))
    if trade_id is None:
        raise MalformedLine("trade without id 't'/'a'")
    side = SELL if bool(require(d, "m", "trade")) else BUY
    row = (
        recv,
        ms_to_ns(require(d, "T", "trade"), "T"),
        msg_no << ROW_BITS,
        str(trade_id),
        _px(spec, require(d, "p", "trade")),
        _sz(spec, require(d, "q", "trade")),
        side,
    )
    return Parsed(spec.symbol, [], [row], [])


def book_ticker(spec: InstrumentSpec, recv: int, msg_no: int, d: dict) -> Parsed:
    """``bookTicker``: the venue's own best bid/offer, with its update id u."""
    exch = ms_to_ns(d.get("T", d.get("E")), "T")
    px, sz = spec.price_parser, spec.size_parser
    try:  # hot path; anything missing or bad is named by the checked version below
        row = (recv, exch, msg_no << ROW_BITS, _int(d, "u"), px(d["b"]), sz(d["B"]))
        row += (px(d["a"]), sz(d["A"]))
        return Parsed(spec.symbol, [], [], [row])
    except (KeyError, TypeError, ValueError):
        pass
    row = (
        recv,
        exch,
        msg_no << ROW_BITS,
        _int(d, "u"),
        _px(spec, require(d, "b", "bookTicker")),
        _sz(spec, require(d, "B", "bookTicker")),
        _px(spec, require(d, "a", "bookTicker")),
        _sz(spec, require(d, "A", "bookTicker")),
    )
    return Parsed(spec.symbol, [], [], [row])


def _int(d: dict, key: str) -> int:
    value = require(d, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedLine(f"field {key!r} is not an integer")
    return check_i64(value, key)


def _px(spec: InstrumentSpec, value: Any) -> int:
    try:
        return spec.price_parser(value)
    except (ValueError, TypeError) as exc:
        raise MalformedLine(str(exc)) from None


def _sz(spec: InstrumentSpec, value: Any) -> int:
    try:
        return spec.size_parser(value)
    except (ValueError, TypeError) as exc:
        raise MalformedLine(str(exc)) from None
