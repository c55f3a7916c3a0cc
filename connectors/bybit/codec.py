"""Bybit V5 websocket messages -> lake rows and own-order records (pure functions).

``orderbook.{depth}.{symbol}``: ``type`` snapshot resets the book, delta upserts levels
(size "0" deletes); ``u`` is the update id, contiguous per book; ``u == 1`` is a full
re-send after a service restart. ``publicTrade.{symbol}``: ``S`` is the taker side.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from connectors.bybit.records import DcpStatus, PositionUpdate
from connectors.capture import Loader, check_i64, ms_to_ns, require
from connectors.rows import ROW_BITS, Parsed, book_rows
from core.errors import MalformedLine
from core.events import ASK, BID, BUY, SELL, Fill, Kind, OrderStatus, OrderUpdate
from core.instruments import InstrumentSpec
from core.money import FEE_SCALE


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
    check_i64(update_id, "u")
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


# ---- private stream: order / execution / position / dcp ------------------------------
#
# Private messages are ``{"id", "topic", "creationTime", "data": [...]}``; each data item
# carries its own symbol. Prices and sizes convert exactly (an off-grid value is a
# MalformedLine, never a silent rounding); execFee converts to exact fee units.

ORDER_STATUS = {
    "New": OrderStatus.NEW,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELED,
    "PartiallyFilledCanceled": OrderStatus.CANCELED,
    "Deactivated": OrderStatus.CANCELED,
    "Rejected": OrderStatus.REJECTED,
}
FILL_EXEC_TYPES = frozenset({"Trade", "AdlTrade", "BustTrade"})  # change the position
POST_ONLY_REJECT = "EC_PostOnlyWillTakeLiquidity"


def private_topic(topic: Any) -> str | None:
    """``order`` / ``execution`` / ``position`` / ``dcp`` (also ``dcp.future``), else None.

    ``execution.fast`` is not a fill source here: it carries no fee.
    """
    if not isinstance(topic, str):
        return None
    base, _, sub = topic.partition(".")
    if base in ("order", "position", "dcp"):
        return base
    if base == "execution" and sub != "fast":
        return base
    return None


def _side(raw: Any) -> int:
    if raw == "Buy":
        return BUY
    if raw == "Sell":
        return SELL
    raise MalformedLine(f"side {raw!r} is not Buy/Sell")


def _ticks(spec: InstrumentSpec, raw: Any, what: str) -> int:
    if raw in (None, "", "0"):
        return 0
    try:
        return spec.price_to_ticks(str(raw))
    except ValueError as exc:
        raise MalformedLine(f"{what}: {exc}") from None


def _lots(spec: InstrumentSpec, raw: Any, what: str) -> int:
    if raw in (None, ""):
        return 0
    try:
        return spec.size_to_lots(str(raw))
    except ValueError as exc:
        raise MalformedLine(f"{what}: {exc}") from None


def fee_units(spec: InstrumentSpec, fee: Any) -> int:
    """Quote-currency fee string -> exact fee units (core.money): fee / (tick*lot) * 1e8.

    Positive is paid, negative a rebate received (Bybit's sign convention is the same).
    """
    try:
        d = Decimal(str(fee)) if fee not in (None, "") else Decimal(0)
    except InvalidOperation:
        raise MalformedLine(f"execFee {fee!r} is not a number") from None
    with localcontext() as ctx:
        ctx.prec = 60
        units = d * FEE_SCALE / (spec.tick_size * spec.lot_size)
    if units != units.to_integral_value():
        raise MalformedLine(
            f"execFee {fee} is not a whole number of fee units for {spec.id} "
            f"(1 unit = {spec.tick_size * spec.lot_size / FEE_SCALE} {spec.quote_currency})"
        )
    return int(units)


def order_update(spec: InstrumentSpec, item: dict, recv_ns: int) -> OrderUpdate | None:
    """One ``order`` item -> OrderUpdate; None for conditional-order states we never use.

    A PostOnly order that would cross is accepted by the API and then cancelled by the
    engine with rejectReason ``EC_PostOnlyWillTakeLiquidity``: that is a REJECTED here,
    with "post-only" in the reason (the trader does not count it as an error).
    """
    raw_status = require(item, "orderStatus", "order")
    status = ORDER_STATUS.get(raw_status)
    if status is None:
        return None  # Untriggered / Triggered: conditional orders
    reject = str(item.get("rejectReason") or "")
    reasons = []
    if status == OrderStatus.CANCELED and reject == POST_ONLY_REJECT:
        status = OrderStatus.REJECTED
        reasons.append("post-only would take liquidity")
    if reject and reject != "EC_NoError":
        reasons.append(reject)
    cancel_type = str(item.get("cancelType") or "")
    if status == OrderStatus.CANCELED and cancel_type and cancel_type != "UNKNOWN":
        reasons.append(cancel_type)
    return OrderUpdate(
        inst=spec.id,
        client_id=str(item.get("orderLinkId") or ""),
        status=status,
        side=_side(require(item, "side", "order")),
        price=_ticks(spec, item.get("price"), "order price"),
        qty=_lots(spec, item.get("qty"), "order qty"),
        filled=_lots(spec, item.get("cumExecQty"), "order cumExecQty"),
        exch_ts=ms_to_ns(item.get("updatedTime") or item.get("createdTime") or 0, "updatedTime"),
        recv_ts=recv_ns,
        venue_order_id=str(item.get("orderId") or ""),
        reason=", ".join(reasons),
    )


def fill(spec: InstrumentSpec, item: dict, recv_ns: int) -> Fill | None:
    """One ``execution`` item -> Fill; None for executions that are not trades (funding)."""
    if item.get("execType", "Trade") not in FILL_EXEC_TYPES:
        return None
    is_maker = item.get("isMaker", False)
    if isinstance(is_maker, str):
        is_maker = is_maker.lower() == "true"
    return Fill(
        inst=spec.id,
        client_id=str(item.get("orderLinkId") or ""),
        side=_side(require(item, "side", "execution")),
        price=_ticks(spec, require(item, "execPrice", "execution"), "execPrice"),
        qty=_lots(spec, require(item, "execQty", "execution"), "execQty"),
        fee=fee_units(spec, item.get("execFee")),
        is_maker=bool(is_maker),
        exch_ts=ms_to_ns(require(item, "execTime", "execution"), "execTime"),
        recv_ts=recv_ns,
        exec_id=str(item.get("execId") or ""),
    )


def _dec(raw: Any) -> Decimal:
    try:
        return Decimal(str(raw)) if raw not in (None, "") else Decimal(0)
    except InvalidOperation:
        raise MalformedLine(f"{raw!r} is not a number") from None


def position_update(spec: InstrumentSpec, item: dict, recv_ns: int) -> PositionUpdate:
    """One ``position`` item (or a ``/v5/position/list`` entry) -> PositionUpdate."""
    lots = _lots(spec, item.get("size") or "0", "position size")
    side = item.get("side")
    sign = 1 if side == "Buy" else -1 if side == "Sell" else 0
    return PositionUpdate(
        inst=spec.id,
        qty=sign * lots,
        entry_price=_dec(item.get("entryPrice", item.get("avgPrice"))),
        mark_price=_dec(item.get("markPrice")),
        unrealised_pnl=_dec(item.get("unrealisedPnl")),
        cum_realised_pnl=_dec(item.get("cumRealisedPnl")),
        exch_ts=ms_to_ns(item.get("updatedTime") or 0, "updatedTime"),
        recv_ts=recv_ns,
        seq=int(item.get("seq", -1) or -1),
    )


def dcp_status(topic: str, item: dict, recv_ns: int) -> DcpStatus:
    product = str(item.get("product") or item.get("category") or topic.partition(".")[2])
    return DcpStatus(
        product=product,
        status=str(item.get("dcpStatus") or item.get("status") or ""),
        time_window_s=int(item.get("timeWindow") or 0),
        exch_ts=ms_to_ns(item.get("updatedTime") or 0, "updatedTime"),
        recv_ts=recv_ns,
    )
