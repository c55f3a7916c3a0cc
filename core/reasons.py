"""Why things happen, as numbers inside the compiled loop and as text at its edge.

The plain-Python operators carry human-readable reasons (``"level 2"``, ``"drawdown
101.50 >= 100.0"``, ``"update id gap: 7 -> 9"``) into the run tables and logs. Compiled
kernels cannot build strings, so they carry a reason as a fixed set of numbers: a
``code``, a nested ``sub`` code (``"book unusable: <sync reason>"``, ``"kill switch:
<cause>"``), two integers, three floats and a ``tok`` (an index into the edge's table of
strings that came from outside: a venue's reject text, a kill-file path). The edge turns
them back into exactly the reference's text with :func:`format_reason`, so the compiled
path's run tables equal the reference's character for character.

Kernels embed ``REASON_FIELDS`` in their record dtypes under a prefix (e.g. ``r_code``).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

import numpy as np

REASON_FIELDS: list[tuple[str, type]] = [
    ("code", np.int16),
    ("sub", np.int16),
    ("i0", np.int64),
    ("i1", np.int64),
    ("f0", np.float64),
    ("f1", np.float64),
    ("f2", np.float64),
    ("tok", np.int64),
]


def reason_fields(prefix: str) -> list[tuple[str, type]]:
    """The reason slots of a record dtype, named ``{prefix}code``, ``{prefix}sub``, ..."""
    return [(prefix + name, t) for name, t in REASON_FIELDS]


class R(IntEnum):
    NONE = 0  # ""
    EXTERNAL = 1  # strings[tok]: text from outside the kernel (a venue's reason)
    # simulated venue (connectors.sim.venue)
    SIM_DUPLICATE = 10  # "duplicate client_id"
    SIM_MISSING_ID = 11  # "missing client_id"
    SIM_SIDE = 12  # "invalid side"
    SIM_QTY = 13  # "qty must be positive"
    SIM_PRICE = 14  # "invalid price"
    SIM_NOTIONAL = 15  # "notional below minimum"
    SIM_REDUCE = 16  # "reduce-only would increase position"
    SIM_CROSS = 17  # "post-only would cross"
    SIM_NOT_FOUND = 18  # "order not found"
    SIM_INSTRUMENT = 19  # "unknown instrument"
    SIM_ACTION = 20  # "unknown action"
    SIM_CANCEL_ALL = 21  # "cancel all"
    SIM_IOC_REMAINDER = 22  # "immediate-or-cancel: remainder canceled"
    SIM_AMEND_LE_FILLED = 23  # "amended qty <= filled"
    SIM_CANCELED = 24  # "canceled"
    SIM_CROSS_HL = 25  # "post-only would cross: Post only order would have immediately matched"
    # order manager (operators.orders.manager)
    OM_LEVEL = 30  # "level {i0}"
    OM_CANCEL_ALL = 31  # "cancel all"
    OM_MAX_AGE = 32  # "max order age"
    OM_NOT_QUOTED = 33  # "level not quoted"
    OM_HANGING_EXPIRED = 34  # "hanging order expired"
    OM_PRETRADE_NOTIONAL = 35  # "order notional {f0:.2f} > max_order_usd {f1}"
    OM_PRETRADE_OPEN = 36  # "{i0} open orders >= max_open_orders {i1}"
    OM_PRETRADE_BAND = 37  # "price {i0} ticks outside {f0} bps of mid"
    OM_PRETRADE_ZERO = 38  # "order size rounds to 0 lots"
    # risk manager (operators.risk.manager)
    RISK_KILL = 50  # "kill switch: {sub}"
    RISK_DRAWDOWN = 51  # "drawdown {f0:.2f} >= {f1}"
    RISK_KILL_FILE = 52  # "kill file {strings[tok]} present"
    RISK_DAILY_LOSS = 53  # "daily loss {f0:.2f} <= -{f1}"
    RISK_ERRORS = 54  # "{i0} consecutive order errors"
    RISK_VOL_SPIKE = 55  # "volatility spike {f0:.2f} bps > {f1} x {f2:.2f}"
    RISK_POSITION_LIMIT = 56  # "position {i0} lots at limit {i1}"
    RISK_TRAILING = 57  # "trailing stop: {f0:.2f} bps, best {f1:.2f}"
    RISK_BREAK_EVEN = 58  # "break-even stop after {f0:.2f} bps in profit"
    # book sync (operators.book.sync)
    SYNC_NO_SNAPSHOT = 70  # "no snapshot yet"
    SYNC_GAP = 71  # "update id gap: {i0} -> {i1}"
    SYNC_PU_BROKEN = 72  # "pu chain broken: pu={i0}, previous u={i1}"
    SYNC_FIRST_DIFF = 73  # "first diff after snapshot starts at U={i0} > lastUpdateId={i1}"
    SYNC_FEED_RESET = 74  # "feed reset (reconnect)"
    SYNC_STALE = 75  # "stale book: no update for {f0:.1f} s"
    SYNC_CROSSED = 76  # "crossed book"
    SYNC_RESET = 77  # core.events.reset_text(i0): a live feed's FEED_RESET with its reason
    # trader (operators.trader)
    TRADER_BOOK_UNUSABLE = 90  # "book unusable: {sub}"
    TRADER_PRIVATE_DOWN = 91  # "private stream down: {strings[tok]}"
    TRADER_RECONCILE = 92  # "reconcile after private stream reset"
    TRADER_LAGGING = 93  # "stale data: exchange time lags {f0:.1f} s"
    TRADER_SHUTDOWN = 94  # "shutdown"


_FIXED: dict[int, str] = {
    R.NONE: "",
    R.SIM_DUPLICATE: "duplicate client_id",
    R.SIM_MISSING_ID: "missing client_id",
    R.SIM_SIDE: "invalid side",
    R.SIM_QTY: "qty must be positive",
    R.SIM_PRICE: "invalid price",
    R.SIM_NOTIONAL: "notional below minimum",
    R.SIM_REDUCE: "reduce-only would increase position",
    R.SIM_CROSS: "post-only would cross",
    R.SIM_NOT_FOUND: "order not found",
    R.SIM_INSTRUMENT: "unknown instrument",
    R.SIM_ACTION: "unknown action",
    R.SIM_CANCEL_ALL: "cancel all",
    R.SIM_IOC_REMAINDER: "immediate-or-cancel: remainder canceled",
    R.SIM_AMEND_LE_FILLED: "amended qty <= filled",
    R.SIM_CANCELED: "canceled",
    R.SIM_CROSS_HL: "post-only would cross: Post only order would have immediately matched",
    R.OM_CANCEL_ALL: "cancel all",
    R.OM_MAX_AGE: "max order age",
    R.OM_NOT_QUOTED: "level not quoted",
    R.OM_HANGING_EXPIRED: "hanging order expired",
    R.OM_PRETRADE_ZERO: "order size rounds to 0 lots",
    R.SYNC_NO_SNAPSHOT: "no snapshot yet",
    R.SYNC_FEED_RESET: "feed reset (reconnect)",
    R.SYNC_CROSSED: "crossed book",
    R.TRADER_RECONCILE: "reconcile after private stream reset",
    R.TRADER_SHUTDOWN: "shutdown",
}


def format_reason(
    code: int,
    sub: int = 0,
    i0: int = 0,
    i1: int = 0,
    f0: float = 0.0,
    f1: float = 0.0,
    f2: float = 0.0,
    tok: int = -1,
    strings: Sequence[str] = (),
) -> str:
    """The reference's text for a reason the kernel carried as numbers.

    For nested reasons (``RISK_KILL``, ``TRADER_BOOK_UNUSABLE``) ``sub`` is the inner
    reason's code and the numbers belong to it.
    """
    code = int(code)
    fixed = _FIXED.get(code)
    if fixed is not None:
        return fixed
    if code == R.EXTERNAL:
        return strings[tok] if tok >= 0 else ""
    if code == R.OM_LEVEL:
        return f"level {i0}"
    if code == R.OM_PRETRADE_NOTIONAL:
        return f"order notional {f0:.2f} > max_order_usd {f1}"
    if code == R.OM_PRETRADE_OPEN:
        return f"{i0} open orders >= max_open_orders {i1}"
    if code == R.OM_PRETRADE_BAND:
        return f"price {i0} ticks outside {f0} bps of mid"
    if code == R.RISK_KILL:
        return "kill switch: " + format_reason(sub, 0, i0, i1, f0, f1, f2, tok, strings)
    if code == R.RISK_DRAWDOWN:
        return f"drawdown {f0:.2f} >= {f1}"
    if code == R.RISK_KILL_FILE:
        return f"kill file {strings[tok]} present"
    if code == R.RISK_DAILY_LOSS:
        return f"daily loss {f0:.2f} <= -{f1}"
    if code == R.RISK_ERRORS:
        return f"{i0} consecutive order errors"
    if code == R.RISK_VOL_SPIKE:
        return f"volatility spike {f0:.2f} bps > {f1} x {f2:.2f}"
    if code == R.RISK_POSITION_LIMIT:
        return f"position {i0} lots at limit {i1}"
    if code == R.RISK_TRAILING:
        return f"trailing stop: {f0:.2f} bps, best {f1:.2f}"
    if code == R.RISK_BREAK_EVEN:
        return f"break-even stop after {f0:.2f} bps in profit"
    if code == R.SYNC_GAP:
        return f"update id gap: {i0} -> {i1}"
    if code == R.SYNC_PU_BROKEN:
        return f"pu chain broken: pu={i0}, previous u={i1}"
    if code == R.SYNC_FIRST_DIFF:
        return f"first diff after snapshot starts at U={i0} > lastUpdateId={i1}"
    if code == R.SYNC_STALE:
        return f"stale book: no update for {f0:.1f} s"
    if code == R.TRADER_BOOK_UNUSABLE:
        return "book unusable: " + format_reason(sub, 0, i0, i1, f0, f1, f2, tok, strings)
    if code == R.SYNC_RESET:
        from core.events import reset_text

        return reset_text(i0)
    if code == R.TRADER_LAGGING:
        return f"stale data: exchange time lags {f0:.1f} s"
    if code == R.TRADER_PRIVATE_DOWN:
        return f"private stream down: {strings[tok]}"
    raise ValueError(f"unknown reason code {code}")


def record_reason(rec: Any, prefix: str, strings: Sequence[str] = ()) -> str:
    """The text of the reason a kernel stored in ``rec``'s ``{prefix}code`` ... fields."""
    return format_reason(
        int(rec[prefix + "code"]),
        int(rec[prefix + "sub"]),
        int(rec[prefix + "i0"]),
        int(rec[prefix + "i1"]),
        float(rec[prefix + "f0"]),
        float(rec[prefix + "f1"]),
        float(rec[prefix + "f2"]),
        int(rec[prefix + "tok"]),
        strings,
    )


class StringTable:
    """Strings from outside the kernel (venue reasons, paths), interned to ``tok`` ids."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self._ids: dict[str, int] = {}

    def tok(self, s: str) -> int:
        i = self._ids.get(s)
        if i is None:
            i = self._ids[s] = len(self.strings)
            self.strings.append(s)
        return i
